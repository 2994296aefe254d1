"""Every customer's predictions as of a day, from the shop's purchases: a purchase model and a
Gamma-Gamma spend model fitted on the purchase summary, the churn risk of the shop's churn
model. Values in, values out; :mod:`patron.predict.service` reads and stores them.

Who gets what:

- A customer who never bought has no purchase history: the buy-till-you-die models describe
  customers from their first purchase on, so every prediction of theirs is null.
- expected_aov and clv need the spend model: null for everyone when the repeat buyers are too
  few to fit it (the reason is kept in the run), and null for one-time buyers when the fitted
  q ≤ 1 (their expected order value, the population mean, is then unbounded). Otherwise a
  one-time buyer's is the population mean.
- A repeat buyer whose repeat purchases were all refunded (mean net value ≤ 0) carries no
  Gamma data: left out of the spend fit, and predicted with a mean of one minor unit, which
  the model shrinks towards the population mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from patron.errors import InputError, PatronError
from patron.predict.calibration import split
from patron.predict.churn import churn_scores
from patron.predict.churn_data import FeatureSource
from patron.predict.clv.gamma_gamma import GammaGamma
from patron.predict.clv.purchases import PurchaseModel
from patron.predict.clv.registry import purchase_model
from patron.predict.clv.value import LONGEST_WAIT_DAYS, customer_value
from patron.predict.units import TimeUnit

PREDICTION_COLUMNS = (
    "expected_orders",
    "p_alive",
    "prob_purchase",
    "churn_risk",
    "expected_aov_minor",
    "clv_minor",
    "next_order_at",
)


@dataclass(frozen=True)
class ScoreOptions:
    model: str
    horizon_days: int
    unit: TimeUnit
    annual_discount_rate: float
    margin: float
    churn_model: str
    churn_horizon_days: int

    def to_json(self) -> dict[str, Any]:
        return {
            "unit": str(self.unit),
            "annual_discount_rate": self.annual_discount_rate,
            "margin": self.margin,
            "churn_model": self.churn_model,
            "churn_horizon_days": self.churn_horizon_days,
        }


@dataclass(frozen=True)
class Scores:
    predictions: pd.DataFrame
    """One row per customer (index customer_id) with :data:`PREDICTION_COLUMNS`."""
    summary: pd.DataFrame
    """The purchase summary the models were fitted on (buyers only)."""
    purchases: PurchaseModel[Any]
    spend: GammaGamma | None
    spend_refused: str | None
    """Why there is no spend model, when there is none."""

    def fit_json(self) -> dict[str, Any]:
        return {
            "purchases": self.purchases.to_json(),
            "spend": self.spend.to_json() if self.spend is not None else None,
            "spend_refused": self.spend_refused,
        }


def score(
    transactions: pd.DataFrame,
    customers: pd.Index,
    last_day: date,
    moment: datetime,
    options: ScoreOptions,
    extra: FeatureSource | None = None,
) -> Scores:
    """Predictions of every customer of ``customers`` from ``transactions`` (customer_id, date
    as the shop's local day, amount as the order's net value in minor units) up to and
    including ``last_day``; the next order is timed from ``moment``, the end of the scoring."""
    unit = options.unit
    summary = split(transactions, last_day, last_day + timedelta(days=1), unit).summary
    fitted = purchase_model(options.model).fit(summary)
    horizon = options.horizon_days / unit.days
    wait_days = fitted.next_purchase_in(summary) * unit.days
    buyers = pd.DataFrame(
        {
            "expected_orders": fitted.expected_purchases(summary, horizon),
            "p_alive": fitted.p_alive(summary),
            "prob_purchase": fitted.p_purchase(summary, horizon),
            "next_order_at": [
                moment + timedelta(days=float(days)) if days < LONGEST_WAIT_DAYS else None
                for days in wait_days
            ],
        },
        index=summary.index,
    )
    risk = churn_scores(
        transactions,
        last_day + timedelta(days=1),
        options.churn_model,
        options.churn_horizon_days,
        extra,
    )
    buyers["churn_risk"] = risk.set_index("customer_id")["churn_risk"].reindex(summary.index)
    spend, refused = _fit_spend(summary)
    buyers["expected_aov_minor"], buyers["clv_minor"] = _values(
        fitted, spend, summary, horizon, options
    )
    _require_finite(buyers, options.model)
    for name in ("expected_aov_minor", "clv_minor"):
        buyers[name] = buyers[name].round().astype("Int64")
    predictions = buyers.reindex(customers)[list(PREDICTION_COLUMNS)]
    return Scores(predictions, summary, fitted, spend, refused)


def _fit_spend(summary: pd.DataFrame) -> tuple[GammaGamma | None, str | None]:
    """Gamma-Gamma on the repeat buyers with a positive mean net value, when there are enough."""
    positive = summary[summary["monetary_value"] > 0]
    try:
        return GammaGamma().fit(positive), None
    except InputError as error:
        return None, error.message


def _values(
    purchases: PurchaseModel[Any],
    spend: GammaGamma | None,
    summary: pd.DataFrame,
    horizon: float,
    options: ScoreOptions,
) -> tuple[pd.Series, pd.Series]:
    """Expected order value and CLV in minor units, NaN where there is none."""
    aov = pd.Series(np.nan, index=summary.index)
    clv = pd.Series(np.nan, index=summary.index)
    if spend is None:
        return aov, clv
    frame = summary.assign(monetary_value=summary["monetary_value"].clip(lower=1.0))
    if spend.params_.q <= 1:
        frame = frame[frame["frequency"] > 0]
    aov[frame.index] = spend.expected_spend(frame)
    clv[frame.index] = customer_value(
        purchases,
        spend,
        frame,
        horizon=horizon,
        unit=options.unit,
        annual_discount_rate=options.annual_discount_rate,
        margin=options.margin,
    )
    return aov, clv


def _require_finite(buyers: pd.DataFrame, model: str) -> None:
    """Refuse to store a prediction that is infinite or missing where one is due (none is
    expected: the models work in log space; this keeps a regression from reaching the
    database)."""
    required = ("expected_orders", "p_alive", "prob_purchase", "churn_risk")
    for name in (*required, "expected_aov_minor", "clv_minor"):
        values = buyers[name].to_numpy(np.float64)
        bad = np.isinf(values) | (np.isnan(values) & (name in required))
        if bad.any():
            customer = buyers.index[int(np.argmax(bad))]
            raise PatronError(
                f"{model} gave {name} = {values[bad][0]} for customer {customer}: "
                "the predictions were not stored",
                field=name,
                customer=str(customer),
            )
