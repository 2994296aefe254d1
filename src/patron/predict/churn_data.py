"""Time-split churn data. A window of h days ends at ``end`` (exclusive) and starts at the cut
``end − h``: features describe each customer as of the cut (purchases strictly before it), and
the label says whether the customer made no purchase in [cut, end). A purchase on the cut day
belongs to the label window. Only customers who bought before the cut are in a window: a
customer who never bought is a prospect, not a churn candidate.

Days are calendar days of the transaction dates (times of day dropped, same-day purchases one
transaction), so the windows agree with :func:`patron.predict.calibration.split`, which builds
the summary of the cohort (in days) and counts its purchases in the label window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd

from patron.errors import InputError
from patron.predict.calibration import Split, split
from patron.predict.units import TimeUnit

FeatureSource = Callable[[date], pd.DataFrame]
"""Extra features as of the start of a day, one row per customer (index customer_id), for
instance the analytics profiles of the shop as of that day."""

RECENT_DAYS = (30, 90, 180, 365)
"""Purchases are also counted over each of these many days before the cut (recent behaviour)."""


@dataclass(frozen=True)
class Window:
    cut: date
    end: date
    data: Split
    """The calibration summary to the day before the cut (days); its holdout is the label
    window."""
    features: pd.DataFrame
    """One row per customer of ``data.summary``, in its order."""

    @property
    def horizon_days(self) -> int:
        return (self.end - self.cut).days

    @property
    def churned(self) -> npt.NDArray[np.bool_]:
        """No purchase in [cut, end)."""
        return np.asarray(self.data.summary["frequency_holdout"].to_numpy() == 0)


def window(
    transactions: pd.DataFrame, end: date, horizon_days: int, extra: FeatureSource | None = None
) -> Window:
    """The window of ``horizon_days`` days that ends at ``end``, over transactions with
    customer_id, date and amount; ``extra`` adds features as of the cut."""
    if horizon_days < 1:
        raise InputError(
            f"the horizon must be at least 1 day, not {horizon_days}", field="horizon_days"
        )
    cut = end - timedelta(days=horizon_days)
    data = split(transactions, cut - timedelta(days=1), end - timedelta(days=1), TimeUnit.DAYS)
    features = purchase_features(data, cut)
    if extra is not None:
        features = features.join(categorical(extra(cut)), how="left", rsuffix="_extra")
    return Window(cut, end, data, features)


def purchase_features(data: Split, cut: date) -> pd.DataFrame:
    """Recency, frequency, spend and recent purchases of each customer of the summary as of
    the cut; a gap is missing (NaN) for a customer with a single purchase."""
    s = data.summary
    days = data.days[data.days["date"] < pd.Timestamp(cut)]
    before = (pd.Timestamp(cut) - days["date"]).dt.days
    by = days.groupby("customer_id")
    purchases = s["frequency"] + 1
    spend = by["amount"].sum().reindex(s.index)
    mean_gap = s["recency"] / s["frequency"].where(s["frequency"] > 0)
    since_last = s["T"] - s["recency"] + 1
    features = pd.DataFrame(
        {
            "purchases": purchases,
            "days_since_first": s["T"] + 1,
            "days_since_last": since_last,
            "spend": spend,
            "mean_spend": spend / purchases,
            "mean_repeat_spend": s["monetary_value"],
            "mean_gap_days": mean_gap,
            "overdue": since_last / mean_gap,
        },
        index=s.index,
    )
    for span in RECENT_DAYS:
        recent = days[before <= span].groupby("customer_id").size()
        features[f"purchases_{span}d"] = recent.reindex(s.index, fill_value=0)
    return features.astype(np.float64)


def categorical(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as categories (tags, segments, stages), booleans as 0/1; columns holding
    lists or other objects are left out."""
    columns: dict[str, pd.Series] = {}
    for name, column in frame.items():
        if pd.api.types.is_bool_dtype(column):
            columns[str(name)] = column.astype(np.float64)
        elif pd.api.types.is_numeric_dtype(column):
            columns[str(name)] = column
        elif column.map(_text_or_missing).all():
            columns[str(name)] = column.astype("category")
    return pd.DataFrame(columns, index=frame.index)


def _text_or_missing(value: object) -> bool:
    return isinstance(value, str) or value is None or (isinstance(value, float) and np.isnan(value))
