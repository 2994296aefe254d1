"""Model comparison, holdout errors, expected order value and discounted CLV."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from patron.errors import InputError
from patron.predict.calibration import Split
from patron.predict.clv import BGNBD, GammaGamma, compare, holdout_errors
from patron.predict.clv.value import customer_predictions, customer_value
from patron.predict.units import TimeUnit


def test_holdout_errors_by_hand() -> None:
    errors = holdout_errors(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 5.0]))
    assert (errors.actual, errors.predicted) == (7.0, 6.0)
    assert errors.error == pytest.approx(6 / 7 - 1)
    assert errors.mae == pytest.approx(1.0)
    assert errors.rmse == pytest.approx(math.sqrt(5 / 3))
    # Deviations from the means (2, 7/3): (−1, 0, 1) and (−4/3, −4/3, 8/3).
    assert errors.correlation == pytest.approx(4 / math.sqrt(2 * 96 / 9))


@pytest.mark.shared_data
def test_compare_ranks_the_models_by_bic(cdnow: Split) -> None:
    results = compare(cdnow.summary, holdout_length=cdnow.holdout_length)
    assert [r.model for r in results] == ["mbgnbd", "bgnbd", "pareto_nbd"]
    bg = results[1]
    assert round(bg.log_likelihood, 1) == -9582.4
    assert bg.bic == pytest.approx(4 * math.log(2357) + 2 * 9582.429, abs=0.01)
    assert bg.holdout is not None
    assert bg.holdout.actual == 1882
    assert round(bg.holdout.correlation, 3) == 0.626


@pytest.fixture(scope="module")
def models(cdnow: Split) -> tuple[BGNBD, GammaGamma]:
    return BGNBD().fit(cdnow.summary), GammaGamma().fit(cdnow.summary)


@pytest.mark.shared_data
def test_expected_order_value_shrinks_to_the_population_mean(
    cdnow: Split, models: tuple[BGNBD, GammaGamma]
) -> None:
    spend = models[1]
    p, q, g = spend.params_.p, spend.params_.q, spend.params_.gamma
    value = spend.expected_spend(cdnow.summary)
    x, m = cdnow.summary["frequency"].to_numpy(), cdnow.summary["monetary_value"].to_numpy()
    np.testing.assert_allclose(value, (g + x * m) * p / (p * x + q - 1))
    assert value[x == 0] == pytest.approx(g * p / (q - 1))


@pytest.mark.shared_data
def test_clv_without_discount_is_margin_times_value_times_purchases(
    cdnow: Split, models: tuple[BGNBD, GammaGamma]
) -> None:
    purchases, spend = models
    clv = customer_value(
        purchases,
        spend,
        cdnow.summary,
        horizon=52,
        unit=TimeUnit.WEEKS,
        annual_discount_rate=0.0,
        margin=0.3,
    )
    expected = (
        0.3 * spend.expected_spend(cdnow.summary) * purchases.expected_purchases(cdnow.summary, 52)
    )
    np.testing.assert_allclose(clv, expected, rtol=1e-12)


@pytest.mark.shared_data
def test_clv_discounts_each_month_at_its_end(
    cdnow: Split, models: tuple[BGNBD, GammaGamma]
) -> None:
    purchases, spend = models
    month = TimeUnit.WEEKS.per_year / 12
    clv = customer_value(
        purchases,
        spend,
        cdnow.summary,
        horizon=2 * month,
        unit=TimeUnit.WEEKS,
        annual_discount_rate=0.1,
    )
    first = purchases.expected_purchases(cdnow.summary, month)
    both = purchases.expected_purchases(cdnow.summary, 2 * month)
    expected = spend.expected_spend(cdnow.summary) * (
        first / 1.1 ** (1 / 12) + (both - first) / 1.1 ** (2 / 12)
    )
    np.testing.assert_allclose(clv, expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("horizon", 0.0, "horizon must be a positive number"),
        ("margin", 1.5, r"margin must be a fraction of revenue in \(0, 1\]"),
        ("annual_discount_rate", -1.0, "annual_discount_rate must be above -1"),
    ],
)
@pytest.mark.shared_data
def test_clv_refuses_bad_options(
    cdnow: Split, models: tuple[BGNBD, GammaGamma], option: str, value: float, message: str
) -> None:
    options = {"horizon": 52.0, "annual_discount_rate": 0.1, "margin": 1.0, option: value}
    with pytest.raises(InputError, match=message) as raised:
        customer_value(*models, cdnow.summary, unit=TimeUnit.WEEKS, **options)  # type: ignore[arg-type]
    assert raised.value.details["field"] == option


@pytest.mark.shared_data
def test_customer_predictions(cdnow: Split, models: tuple[BGNBD, GammaGamma]) -> None:
    table = customer_predictions(
        *models,
        cdnow.summary,
        as_of=date(1997, 9, 30),
        horizon=52,
        unit=TimeUnit.WEEKS,
        annual_discount_rate=0.1,
    )
    assert list(table.columns) == [
        "expected_purchases",
        "p_purchase",
        "p_alive",
        "next_purchase",
        "expected_order_value",
        "clv",
    ]
    assert table.index.equals(cdnow.summary.index)
    numbers = table.drop(columns="next_purchase").to_numpy()
    assert np.isfinite(numbers).all()
    assert (table["next_purchase"] > np.datetime64("1997-09-30")).all()
    # Customer 1: x = 2, t_x = 30.43, T = 38.86 weeks; rate Gamma(r + 2, alpha + T) if alive.
    bg = models[0].params_
    wait = (bg.alpha + 272 / 7) * (2 ** (1 / (bg.r + 2)) - 1)
    expected = np.datetime64("1997-09-30") + np.timedelta64(round(wait * 7), "D")
    assert table["next_purchase"].iloc[0] == expected
