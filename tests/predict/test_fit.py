"""The estimator API: fit, fitted state, summary, JSON files, and refusals of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from patron.errors import ErrorCode, InputError
from patron.predict.clv import (
    BGNBD,
    MBGNBD,
    BGNBDParams,
    GammaGamma,
    ParetoNBD,
    load_model,
    purchase_model,
    simulate,
)

from .models import summary

TRUE = BGNBDParams(r=0.5, alpha=5.0, a=1.2, b=3.0)


@pytest.fixture(scope="module")
def simulated() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return simulate.bgnbd(TRUE, rng.integers(52 * 7, 104 * 7 + 1, 5000) / 7.0, rng)


@pytest.fixture(scope="module")
def fitted(simulated: pd.DataFrame) -> BGNBD:
    return BGNBD().fit(simulated)


def test_fit_sets_the_fitted_state(fitted: BGNBD, simulated: pd.DataFrame) -> None:
    assert fitted.converged_
    assert fitted.customers_ == 5000
    assert fitted.repeat_buyers_ == int((simulated["frequency"] > 0).sum())
    assert len(fitted.fingerprint_) == 64
    table = fitted.summary()
    assert list(table.index) == [
        "r",
        "alpha",
        "a",
        "b",
        "log_likelihood",
        "bic",
        "customers",
        "repeat_buyers",
    ]
    assert table.loc["bic", "value"] == pytest.approx(4 * np.log(5000) - 2 * fitted.log_likelihood_)


def test_the_optimum_is_a_maximum(fitted: BGNBD, simulated: pd.DataFrame) -> None:
    columns = fitted.read(simulated)
    best = fitted.log_likelihood(fitted.params_, columns).sum()
    assert best == pytest.approx(fitted.log_likelihood_, rel=1e-12)
    for i in range(4):
        for factor in (0.999, 1.001):
            moved = fitted.params_.vector()
            moved[i] *= factor
            assert fitted.log_likelihood(BGNBDParams.of(moved), columns).sum() < best


def test_row_order_and_arrow_input_give_the_same_fit(
    fitted: BGNBD, simulated: pd.DataFrame
) -> None:
    shuffled = simulated.sample(frac=1.0, random_state=3)
    again = BGNBD().fit(pa.Table.from_pandas(shuffled))
    assert again.fingerprint_ == fitted.fingerprint_
    assert again.params_.vector() == pytest.approx(fitted.params_.vector(), rel=1e-9)


def test_finite_difference_fit_agrees_with_the_closed_form_gradient(
    fitted: BGNBD, simulated: pd.DataFrame
) -> None:
    class NumericBGNBD(BGNBD):
        closed_form_gradient = False

    numeric = NumericBGNBD().fit(simulated)
    assert numeric.params_.vector() == pytest.approx(fitted.params_.vector(), rel=1e-5)
    assert numeric.log_likelihood_ == pytest.approx(fitted.log_likelihood_, abs=1e-6)


def test_saved_model_loads_back(fitted: BGNBD, tmp_path: Path) -> None:
    path = tmp_path / "bgnbd.json"
    fitted.save(path)
    document = json.loads(path.read_text())
    assert {k: document[k] for k in ("format", "version", "model")} == {
        "format": "patron.clv",
        "version": 1,
        "model": "bgnbd",
    }
    assert document["fingerprint"] == fitted.fingerprint_
    for loaded in (BGNBD.load(path), load_model(path)):
        assert isinstance(loaded, BGNBD)
        assert loaded.params_ == fitted.params_
        assert loaded.to_json() == fitted.to_json()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"format": "lifetimes"}, "format"),
        ({"version": 2}, "version"),
        ({"model": "pareto_nbd"}, "model"),
        ({"params": {"r": 1.0, "alpha": 1.0, "a": 1.0}}, "params"),
        ({"params": {"r": 1.0, "alpha": -1.0, "a": 1.0, "b": 1.0}}, "params"),
        ({"log_likelihood": "high"}, "log_likelihood"),
        ({"customers": -1}, "customers"),
        ({"fingerprint": "abc"}, "fingerprint"),
        ({"converged": "yes"}, "converged"),
    ],
)
def test_loading_checks_the_format(
    fitted: BGNBD, tmp_path: Path, change: dict[str, object], field: str
) -> None:
    path = tmp_path / "model.json"
    path.write_text(json.dumps({**fitted.to_json(), **change}))
    with pytest.raises(InputError) as raised:
        BGNBD.load(path)
    assert raised.value.details["field"] == field


def test_load_model_refuses_unknown_models_and_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text('{"model": "lifetimes"}')
    with pytest.raises(InputError, match="'lifetimes' is not one of"):
        load_model(path)
    path.write_text("[1, 2]")
    with pytest.raises(InputError, match="one JSON object"):
        load_model(path)
    path.write_text("{")
    with pytest.raises(InputError, match="not a readable model file"):
        load_model(path)


@pytest.mark.parametrize(
    ("columns", "field", "message"),
    [
        ({"frequency": [-1]}, "frequency", "frequency must be a whole number, 0 or more"),
        ({"frequency": [1.5]}, "frequency", "frequency must be a whole number"),
        ({"recency": [31.0]}, "recency", "recency must be between 0 and T"),
        ({"recency": [-1.0]}, "recency", "recency must be between 0 and T"),
        ({"T": [-2.0], "recency": [0.0], "frequency": [0]}, "T", "T must be 0 or more"),
        ({"frequency": [0], "recency": [3.0]}, "recency", "0 for a customer with no repeat"),
        ({"T": [float("nan")]}, "T", "T must be a finite number"),
        ({"frequency": ["two"]}, "frequency", "frequency must be a finite number"),
    ],
)
def test_bad_summaries_are_refused_naming_the_field(
    columns: dict[str, list[object]], field: str, message: str
) -> None:
    frame = pd.DataFrame({"frequency": [2], "recency": [10.0], "T": [30.0]}, index=["c-7"])
    for name, values in columns.items():
        frame[name] = values
    with pytest.raises(InputError, match=message) as raised:
        BGNBD().fit(frame)
    assert raised.value.details["field"] == field
    assert raised.value.details["customer"] == "c-7"


def test_missing_columns_are_named() -> None:
    with pytest.raises(InputError, match="lacks the column") as raised:
        ParetoNBD().fit(pd.DataFrame({"frequency": [1], "T": [3.0]}))
    assert raised.value.code is ErrorCode.COLUMNS_MISSING
    assert raised.value.details["columns"] == ["recency"]
    with pytest.raises(InputError, match="monetary_value"):
        GammaGamma().fit(pd.DataFrame({"frequency": [1]}))
    with pytest.raises(InputError, match="pandas DataFrame or an Arrow table"):
        BGNBD().fit([[1, 2, 3]])


def test_too_little_data_is_refused_naming_the_threshold(simulated: pd.DataFrame) -> None:
    with pytest.raises(
        InputError, match="needs at least 200 customers to fit, the summary has 150"
    ):
        BGNBD().fit(simulated.head(150))
    one_timers = summary([0] * 300, [0.0] * 300, [30.0] * 300)
    with pytest.raises(InputError, match="at least 50 repeat buyers to fit, the summary has 0"):
        MBGNBD().fit(one_timers)
    small = MBGNBD(min_customers=100, min_repeat_buyers=10).fit(simulated.head(150))
    assert small.customers_ == 150


def test_gamma_gamma_refuses_a_repeat_buyer_without_spend() -> None:
    frame = summary([0, 2], [0.0, 3.0], [9.0, 9.0], monetary_value=[0.0, 0.0])
    with pytest.raises(InputError, match="monetary_value must be positive for a repeat buyer"):
        GammaGamma().fit(frame)


def test_unknown_model_names_are_refused() -> None:
    with pytest.raises(InputError, match="unknown model 'pnbd'"):
        purchase_model("pnbd")
