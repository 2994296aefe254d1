"""Predictions against independent computations: the paper's printed formulas (with the
textbook 2F1), and expectations integrated numerically over the posterior of the customer's
drop-out probability or time alive."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import hyp2f1
from scipy.stats import beta as beta_dist

from patron.predict.clv import BGNBD, MBGNBD, BGNBDParams, MBGNBDParams, ParetoNBD
from patron.predict.clv.pareto_nbd import ParetoNBDParams

from .models import summary, with_params

BG = BGNBDParams(r=0.25, alpha=4.0, a=0.8, b=2.5)
MBG = MBGNBDParams(r=0.5, alpha=6.0, a=0.9, b=1.6)
PARETO = ParetoNBDParams(r=0.55, alpha=10.5, s=0.6, beta=11.7)
HISTORY = summary([0, 1, 2, 7], [0.0, 5.5, 20.0, 29.0], [30.0, 30.0, 30.0, 30.0])


def test_bgnbd_one_time_buyer_is_alive_for_sure() -> None:
    model = with_params(BGNBD(), BG)
    alive = model.p_alive(HISTORY)
    assert alive[0] == 1.0
    x, t_x, age = 2, 20.0, 30.0
    odds = BG.a / (BG.b + x - 1) * ((BG.alpha + age) / (BG.alpha + t_x)) ** (BG.r + x)
    assert alive[2] == pytest.approx(1 / (1 + odds), rel=1e-12)


def test_mbgnbd_p_alive_counts_the_first_purchase() -> None:
    alive = with_params(MBGNBD(), MBG).p_alive(HISTORY)
    for i, (x, t_x) in enumerate([(0, 0.0), (2, 20.0)]):
        odds = MBG.a / (MBG.b + x) * ((MBG.alpha + 30) / (MBG.alpha + t_x)) ** (MBG.r + x)
        assert alive[2 * i] == pytest.approx(1 / (1 + odds), rel=1e-12)


def posterior_expectation(r: float, scale: float, a: float, b: float, t: float) -> float:
    """E over p ~ Beta(a, b) of (1 − E_λ e^{−λpt})/p, λ ~ Gamma(r, scale), numerically."""
    value, _ = quad(
        lambda p: (1 - (scale / (scale + p * t)) ** r) / p * beta_dist.pdf(p, a, b),
        0,
        1,
        epsabs=0,
        epsrel=1e-11,
        limit=200,
    )
    return value


@pytest.mark.parametrize("t", [1.0, 39.0, 520.0])
def test_bgnbd_conditional_expectation(t: float) -> None:
    model = with_params(BGNBD(), BG)
    found = model.expected_purchases(HISTORY, t)
    alive = model.p_alive(HISTORY)
    for i, (x, _, age) in enumerate(HISTORY.itertuples(index=False)):
        expected = alive[i] * posterior_expectation(BG.r + x, BG.alpha + age, BG.a, BG.b + x, t)
        assert found[i] == pytest.approx(expected, rel=1e-8)


def test_bgnbd_conditional_expectation_is_fhl_equation_10() -> None:
    r, alpha, a, b = BG.r, BG.alpha, BG.a, BG.b
    x, t_x, age, t = 2, 20.0, 30.0, 39.0
    z = t / (alpha + age + t)
    bracket = 1 - ((alpha + age) / (alpha + age + t)) ** (r + x) * hyp2f1(
        r + x, b + x, a + b + x - 1, z
    )
    ratio = ((alpha + age) / (alpha + t_x)) ** (r + x)
    expected = (a + b + x - 1) / (a - 1) * bracket / (1 + a / (b + x - 1) * ratio)
    assert with_params(BGNBD(), BG).expected_purchases(HISTORY, t)[2] == pytest.approx(
        expected, rel=1e-10
    )


@pytest.mark.parametrize("t", [1.0, 39.0, 520.0])
def test_mbgnbd_conditional_expectation(t: float) -> None:
    model = with_params(MBGNBD(), MBG)
    found = model.expected_purchases(HISTORY, t)
    alive = model.p_alive(HISTORY)
    for i, (x, _, age) in enumerate(HISTORY.itertuples(index=False)):
        posterior = posterior_expectation(MBG.r + x, MBG.alpha + age, MBG.a, MBG.b + x + 1, t)
        assert found[i] == pytest.approx(alive[i] * posterior, rel=1e-8)


@pytest.mark.parametrize("t", [1.0, 39.0, 520.0])
def test_pareto_nbd_conditional_expectation(t: float) -> None:
    # Alive at T: rate Gamma(r + x, α + T) times the expected time alive in the next t.
    model = with_params(ParetoNBD(), PARETO)
    found = model.expected_purchases(HISTORY, t)
    alive = model.p_alive(HISTORY)
    p = PARETO
    for i, (x, _, age) in enumerate(HISTORY.itertuples(index=False)):
        scale = p.beta + age
        time_alive, _ = quad(lambda u, scale=scale: (scale / (scale + u)) ** p.s, 0, t)
        expected = alive[i] * (p.r + x) / (p.alpha + age) * time_alive
        assert found[i] == pytest.approx(expected, rel=1e-9)


def test_new_customer_expectations_are_the_papers_formulas() -> None:
    t = np.array([0.0, 13.0, 78.0])
    z = t / (BG.alpha + t)
    shrink = (BG.alpha / (BG.alpha + t)) ** BG.r
    bg = (BG.a + BG.b - 1) / (BG.a - 1) * (1 - shrink * hyp2f1(BG.r, BG.b, BG.a + BG.b - 1, z))
    np.testing.assert_allclose(with_params(BGNBD(), BG).expected_purchases_new(t), bg, rtol=1e-10)
    z = t / (MBG.alpha + t)
    shrink = (MBG.alpha / (MBG.alpha + t)) ** MBG.r
    mbg = MBG.b / (MBG.a - 1) * (1 - shrink * hyp2f1(MBG.r, MBG.b + 1, MBG.a + MBG.b, z))
    found = with_params(MBGNBD(), MBG).expected_purchases_new(t)
    np.testing.assert_allclose(found, mbg, rtol=1e-10)
    p = PARETO
    pareto = p.r * p.beta / (p.alpha * (p.s - 1)) * (1 - (p.beta / (p.beta + t)) ** (p.s - 1))
    found = with_params(ParetoNBD(), PARETO).expected_purchases_new(t)
    np.testing.assert_allclose(found, pareto, rtol=1e-12)


def test_p_purchase_of_a_one_time_bgnbd_buyer() -> None:
    # Alive for sure with rate Gamma(r, α + T): P(no purchase in t) = ((α+T)/(α+T+t))^r.
    t = 26.0
    found = with_params(BGNBD(), BG).p_purchase(HISTORY, t)[0]
    assert found == pytest.approx(1 - ((BG.alpha + 30) / (BG.alpha + 30 + t)) ** BG.r)


def test_p_purchase_of_a_repeat_bgnbd_buyer() -> None:
    # Gone (no purchase ever) or alive and no purchase in t (rate Gamma(r + x, α + T)).
    model = with_params(BGNBD(), BG)
    x, age, t = 2, 30.0, 26.0
    alive = model.p_alive(HISTORY)[2]
    quiet = ((BG.alpha + age) / (BG.alpha + age + t)) ** (BG.r + x)
    assert model.p_purchase(HISTORY, t)[2] == pytest.approx(alive * (1 - quiet), rel=1e-12)


def test_next_purchase_is_the_median_wait_of_an_alive_customer() -> None:
    waits = with_params(BGNBD(), BG).next_purchase_in(HISTORY)
    for wait, (x, _, age) in zip(waits, HISTORY.itertuples(index=False), strict=True):
        survival = ((BG.alpha + age) / (BG.alpha + age + wait)) ** (BG.r + x)
        assert survival == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("model", "params"), [(BGNBD(), BG), (MBGNBD(), MBG), (ParetoNBD(), PARETO)]
)
def test_heavy_buyers_get_finite_predictions(model: Any, params: Any) -> None:
    heavy = summary(
        [5000, 5000, 1e5, 300, 0],
        [78.0, 0.5, 77.9, 1e-9, 0.0],
        [78.0, 78.0, 78.0, 1000.0, 1e-9],
    )
    fitted = with_params(model, params)
    for values in (
        fitted.p_alive(heavy),
        fitted.expected_purchases(heavy, 52.0),
        fitted.p_purchase(heavy, 52.0),
        fitted.next_purchase_in(heavy),
    ):
        assert np.isfinite(values).all()
        assert (values >= 0).all()
    # Still buying at T: thousands of purchases ahead; long gone: almost none.
    expected = fitted.expected_purchases(heavy, 52.0)
    assert expected[0] > 1000
    assert expected[1] < 1e-6


def test_a_equal_to_one_stays_finite() -> None:
    # The closed form is 0/0 at a = 1; the value is continuous there.
    near = [BGNBDParams(0.25, 4.0, 1.0 + d, 2.5) for d in (-1e-4, 0.0, 1e-4)]
    values = [with_params(BGNBD(), p).expected_purchases(HISTORY, 39.0) for p in near]
    np.testing.assert_allclose(values[1], (values[0] + values[2]) / 2, rtol=1e-5)


def test_a_plus_b_equal_to_one_stays_finite() -> None:
    # A new BG/NBD customer's 2F1 has c = a + b − 1: 0 here; the value is continuous in b.
    near = [BGNBDParams(0.25, 4.0, 0.5, 0.5 + d) for d in (-1e-4, 0.0, 1e-4)]
    values = [with_params(BGNBD(), p).expected_purchases_new([13.0, 52.0]) for p in near]
    assert np.isfinite(values[1]).all()
    np.testing.assert_allclose(values[1], (values[0] + values[2]) / 2, rtol=1e-5)
