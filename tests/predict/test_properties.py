"""Invariants of every purchase model over the whole parameter and history space."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.predict.clv import BGNBD, MBGNBD, BGNBDParams, MBGNBDParams, ParetoNBD
from patron.predict.clv.pareto_nbd import ParetoNBDParams
from patron.predict.clv.purchases import PurchaseModel

from .models import summary, with_params

positive = st.floats(min_value=0.05, max_value=50.0)
rate_scale = st.floats(min_value=0.1, max_value=500.0)


@st.composite
def models(draw: st.DrawFn) -> PurchaseModel[Any]:
    kind = draw(st.sampled_from(["bgnbd", "mbgnbd", "pareto_nbd"]))
    r, alpha, shape, scale = draw(positive), draw(rate_scale), draw(positive), draw(rate_scale)
    if kind == "pareto_nbd":
        return with_params(ParetoNBD(), ParetoNBDParams(r, alpha, shape, scale))
    b = draw(st.floats(min_value=0.05, max_value=50.0))
    if kind == "bgnbd":
        return with_params(BGNBD(), BGNBDParams(r, alpha, shape, b))
    return with_params(MBGNBD(), MBGNBDParams(r, alpha, shape, b))


@st.composite
def histories(draw: st.DrawFn) -> tuple[int, float, float]:
    x = draw(st.integers(min_value=0, max_value=2000))
    age = draw(st.floats(min_value=0.0, max_value=500.0))
    share = draw(st.floats(min_value=0.0, max_value=1.0))
    return x, (age * share if x else 0.0), age


PROPERTY = settings(max_examples=300, deadline=None)


@PROPERTY
@given(models(), histories(), st.floats(min_value=0.01, max_value=1000.0), st.floats(1.0, 10.0))
def test_probabilities_are_probabilities_and_grow_with_the_horizon(
    model: PurchaseModel[Any], history: tuple[int, float, float], t: float, longer: float
) -> None:
    customer = summary(*([v] for v in history))
    alive = model.p_alive(customer)[0]
    assert 0.0 <= alive <= 1.0
    soon, later = model.p_purchase(customer, t)[0], model.p_purchase(customer, t * longer)[0]
    assert 0.0 <= soon <= later <= 1.0
    assert np.isfinite(model.next_purchase_in(customer)[0])


@PROPERTY
@given(models(), histories(), st.floats(min_value=0.01, max_value=1000.0), st.floats(1.0, 10.0))
def test_expected_purchases_are_finite_and_grow_with_the_horizon(
    model: PurchaseModel[Any], history: tuple[int, float, float], t: float, longer: float
) -> None:
    customer = summary(*([v] for v in history))
    soon, later = model.expected_purchases(customer, [t, t * longer])[:, 0]
    assert np.isfinite(later)
    assert 0.0 <= soon <= later * (1 + 1e-9)
    new_soon, new_later = model.expected_purchases_new([t, t * longer])
    assert 0.0 <= new_soon <= new_later * (1 + 1e-9)
