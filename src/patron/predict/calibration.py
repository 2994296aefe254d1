"""From raw transactions to the calibration and holdout summaries the buy-till-you-die models
fit on, and the holdout evaluation of a fitted model (Fader, Hardie & Lee 2005, section 4).

Conventions, those of the CDNOW literature: purchases of one customer on one day are one
transaction (amounts added); the cohort is every customer whose first purchase falls on or
before the calibration end; frequency x counts repeat transactions only; recency t_x and age T
run from the first purchase to the last one and to the calibration end, in the time unit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from patron.errors import ErrorCode, InputError
from patron.predict.clv.base import Vector
from patron.predict.clv.compare import HoldoutErrors, holdout_errors
from patron.predict.clv.purchases import PurchaseModel
from patron.predict.clv.registry import purchase_model
from patron.predict.units import TimeUnit

TRANSACTION_COLUMNS = ("customer_id", "date", "amount")
# Customers with more repeat purchases than this share the last row of the frequency table.
FREQUENCY_CAP = 7


def merge_same_day(transactions: pd.DataFrame) -> pd.DataFrame:
    """One row per customer and day (customer_id, date, amount summed), sorted, from rows with
    customer_id, date (dates, timestamps or ISO 8601 text; the time of day is dropped) and
    amount."""
    missing = [c for c in TRANSACTION_COLUMNS if c not in transactions.columns]
    if missing:
        raise InputError(
            f"transactions lack the column(s) {', '.join(missing)}; "
            f"expected {', '.join(TRANSACTION_COLUMNS)}",
            code=ErrorCode.COLUMNS_MISSING,
            columns=missing,
        )
    days = pd.to_datetime(transactions["date"], errors="coerce", format="ISO8601")
    if days.dt.tz is not None:
        days = days.dt.tz_localize(None)
    amount = pd.to_numeric(transactions["amount"], errors="coerce")
    for name, parsed in (("date", days), ("amount", amount)):
        bad = parsed.isna().to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            raise InputError(
                f"transaction {row + 1}: {name} {transactions[name].iloc[row]!r} is not a "
                f"{'date' if name == 'date' else 'number'}",
                field=name,
                row=row + 1,
            )
    frame = pd.DataFrame(
        {"customer_id": transactions["customer_id"], "date": days.dt.normalize(), "amount": amount}
    )
    merged = frame.groupby(["customer_id", "date"], as_index=False, sort=True).agg(
        amount=("amount", "sum")
    )
    return merged.reset_index(drop=True)


@dataclass(frozen=True)
class Split:
    """A cohort's transactions cut at two dates: ``summary`` has one row per customer (index
    customer_id) with frequency, recency, T, monetary_value (mean value of the repeat
    transactions, 0 without one), first_purchase, frequency_holdout and monetary_value_holdout;
    ``days`` holds the cohort's merged transactions up to the holdout end."""

    summary: pd.DataFrame
    days: pd.DataFrame
    calibration_end: pd.Timestamp
    holdout_end: pd.Timestamp
    unit: TimeUnit

    @property
    def holdout_length(self) -> float:
        """Length of the holdout period in the time unit."""
        return (self.holdout_end - self.calibration_end).days / self.unit.days


def split(
    transactions: pd.DataFrame,
    calibration_end: date,
    holdout_end: date,
    unit: TimeUnit = TimeUnit.WEEKS,
) -> Split:
    """Calibration summary up to ``calibration_end`` (inclusive) and holdout counts up to
    ``holdout_end`` (inclusive) of the customers who first bought by ``calibration_end``."""
    cut, end = pd.Timestamp(calibration_end), pd.Timestamp(holdout_end)
    if end <= cut:
        raise InputError(
            f"the holdout end {end.date()} must come after the calibration end {cut.date()}",
            field="holdout_end",
        )
    days = merge_same_day(transactions)
    first = days.groupby("customer_id")["date"].transform("min")
    days = days[(first <= cut) & (days["date"] <= end)]
    if days.empty:
        raise InputError(
            f"no customer made a first purchase on or before {cut.date()}",
            field="calibration_end",
        )
    calibration = days[days["date"] <= cut].groupby("customer_id")
    first_day, last_day = calibration["date"].min(), calibration["date"].max()
    frequency = calibration.size() - 1
    repeat_value = calibration["amount"].sum() - calibration["amount"].first()
    holdout = days[days["date"] > cut].groupby("customer_id")["amount"]
    summary = pd.DataFrame(
        {
            "frequency": frequency.astype(np.int64),
            "recency": (last_day - first_day).dt.days / unit.days,
            "T": (cut - first_day).dt.days / unit.days,
            "monetary_value": (repeat_value / frequency.where(frequency > 0)).fillna(0.0),
            "first_purchase": first_day,
            "frequency_holdout": holdout.size().reindex(frequency.index, fill_value=0),
            "monetary_value_holdout": holdout.mean().reindex(frequency.index, fill_value=0.0),
        }
    )
    return Split(summary, days.reset_index(drop=True), cut, end, unit)


# --- the holdout evaluation -------------------------------------------------------------------


@dataclass(frozen=True)
class FrequencyRow:
    """Customers with a given number of calibration repeat purchases (``frequency``, or that
    many or more when ``or_more``) and their mean holdout purchases, actual and predicted."""

    frequency: int
    or_more: bool
    customers: int
    actual: float
    predicted: float


@dataclass(frozen=True)
class Evaluation:
    """How a purchase model fitted on the calibration period forecasts the holdout period."""

    model: str
    params: dict[str, float]
    log_likelihood: float
    customers: int
    holdout_length: float
    unit: TimeUnit
    holdout: HoldoutErrors
    # Cumulative repeat transactions of the cohort at the end of each week since its first day.
    week_ends: list[date]
    cumulative_actual: Vector
    cumulative_predicted: Vector
    by_frequency: list[FrequencyRow]

    @property
    def cumulative_error(self) -> float:
        """Relative error of the cumulative forecast at the end of the holdout period."""
        return float(self.cumulative_predicted[-1] / self.cumulative_actual[-1] - 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "params": self.params,
            "log_likelihood": self.log_likelihood,
            "customers": self.customers,
            "unit": str(self.unit),
            "holdout_length": self.holdout_length,
            "holdout_actual": self.holdout.actual,
            "holdout_predicted": self.holdout.predicted,
            "holdout_error": self.holdout.error,
            "cumulative_error": self.cumulative_error,
            "individual_correlation": self.holdout.correlation,
            "mae": self.holdout.mae,
            "rmse": self.holdout.rmse,
            "weekly": [
                {"week": i + 1, "end": str(day), "actual": int(a), "predicted": float(p)}
                for i, (day, a, p) in enumerate(
                    zip(
                        self.week_ends,
                        self.cumulative_actual,
                        self.cumulative_predicted,
                        strict=True,
                    )
                )
            ],
            "by_frequency": [asdict(row) for row in self.by_frequency],
        }


def evaluate(model: PurchaseModel[Any], data: Split) -> Evaluation:
    """Holdout check of a model fitted on ``data.summary`` (FHL 2005, figures 2–4 and the
    correlation of section 4)."""
    summary = data.summary
    predicted = model.expected_purchases(summary, data.holdout_length)
    actual = summary["frequency_holdout"].to_numpy(np.float64)
    week_ends, cumulative_actual, cumulative_predicted = _weekly_tracking(model, data)
    return Evaluation(
        model=model.name,
        params=model.params_.as_dict(),
        log_likelihood=model.log_likelihood_,
        customers=len(summary),
        holdout_length=data.holdout_length,
        unit=data.unit,
        holdout=holdout_errors(predicted, actual),
        week_ends=week_ends,
        cumulative_actual=cumulative_actual,
        cumulative_predicted=cumulative_predicted,
        by_frequency=_by_frequency(summary["frequency"].to_numpy(), actual, predicted),
    )


def _weekly_tracking(model: PurchaseModel[Any], data: Split) -> tuple[list[date], Vector, Vector]:
    """Actual and expected cumulative repeat transactions of the cohort at each week's end.
    Expected: each customer's E[X(t)] with t from the first purchase; customers who share a
    first day share it, so it is computed once per first day."""
    first = data.summary["first_purchase"]
    start = first.min()
    weeks = -(-((data.holdout_end - start).days + 1) // 7)
    ends = [
        min(start + pd.Timedelta(days=7 * k - 1), data.holdout_end) for k in range(1, weeks + 1)
    ]
    end_values = np.array(ends, dtype="datetime64[ns]")
    repeat = data.days[data.days["date"] > data.days["customer_id"].map(first)]
    repeat_days = np.sort(repeat["date"].to_numpy("datetime64[ns]"))
    actual = np.searchsorted(repeat_days, end_values, side="right").astype(np.float64)
    firsts = first.value_counts()
    first_days = firsts.index.to_numpy("datetime64[ns]")
    ages = (end_values[:, None] - first_days[None, :]) / np.timedelta64(data.unit.days, "D")
    expected = model.expected_purchases_new(np.maximum(ages, 0.0))
    predicted = expected @ firsts.to_numpy(np.float64)
    return [e.date() for e in ends], actual, predicted


def _by_frequency(x: Vector, actual: Vector, predicted: Vector) -> list[FrequencyRow]:
    bucket = np.minimum(x, FREQUENCY_CAP)
    return [
        FrequencyRow(
            frequency=int(k),
            or_more=k == FREQUENCY_CAP,
            customers=int(np.count_nonzero(bucket == k)),
            actual=float(actual[bucket == k].mean()),
            predicted=float(predicted[bucket == k].mean()),
        )
        for k in np.unique(bucket)
    ]


def holdout_check(
    transactions: pd.DataFrame,
    calibration_end: date,
    holdout_end: date,
    model: str = "bgnbd",
    unit: TimeUnit = TimeUnit.WEEKS,
) -> Evaluation:
    """Split the transactions, fit the named purchase model on the calibration period and
    evaluate it on the holdout period."""
    data = split(transactions, calibration_end, holdout_end, unit)
    return evaluate(purchase_model(model).fit(data.summary), data)
