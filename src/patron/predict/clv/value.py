"""Customer lifetime value and the per-customer predictions a shop reads: expected purchases,
P(alive), P(buying again), next purchase date, expected order value and discounted CLV."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from patron.errors import InputError
from patron.predict.clv.base import Vector, as_frame
from patron.predict.clv.gamma_gamma import GammaGamma
from patron.predict.clv.purchases import PurchaseModel
from patron.predict.units import TimeUnit

# A next purchase further away than this means "not expected"; capped so that it stays a date.
LONGEST_WAIT_DAYS = 100 * 365


def _check(name: str, value: float, ok: bool, expected: str) -> None:
    if not (math.isfinite(value) and ok):
        raise InputError(f"{name} must be {expected}, not {value!r}", field=name)


def customer_value(
    purchases: PurchaseModel[Any],
    spend: GammaGamma,
    summary: object,
    *,
    horizon: float,
    unit: TimeUnit,
    annual_discount_rate: float,
    margin: float = 1.0,
    steps_per_year: int = 12,
) -> Vector:
    """Discounted expected margin of each customer's purchases over the next ``horizon`` time
    units: Σ_k margin · E[order value] · (E[Y(t_k)] − E[Y(t_k−1)]) / (1 + d)^(t_k in years),
    over steps of 1/steps_per_year of a year (the last one shorter), each discounted at its end.
    The purchase and spend models are independent, as the Gamma-Gamma model assumes."""
    _check("horizon", horizon, horizon > 0, "a positive number of time units")
    _check("annual_discount_rate", annual_discount_rate, annual_discount_rate > -1, "above -1")
    _check("margin", margin, 0 < margin <= 1, "a fraction of revenue in (0, 1]")
    _check("steps_per_year", steps_per_year, steps_per_year > 0, "a positive whole number")
    step = unit.per_year / steps_per_year
    ends = np.minimum(step * np.arange(1, math.ceil(horizon / step - 1e-9) + 1), horizon)
    cumulative = purchases.expected_purchases(summary, ends.tolist())
    per_step = np.diff(cumulative, axis=0, prepend=0.0)
    discount = (1 + annual_discount_rate) ** (-ends / unit.per_year)
    return np.asarray(margin * spend.expected_spend(summary) * (discount @ per_step))


def customer_predictions(
    purchases: PurchaseModel[Any],
    spend: GammaGamma,
    summary: object,
    *,
    as_of: date,
    horizon: float,
    unit: TimeUnit,
    annual_discount_rate: float,
    margin: float = 1.0,
) -> pd.DataFrame:
    """One row per customer of ``summary`` (same index) whose T ends at ``as_of``:
    expected_purchases and p_purchase over the horizon, p_alive, next_purchase (median date of
    the next purchase if still alive), expected_order_value and clv."""
    frame = as_frame(summary)
    wait_days = np.minimum(purchases.next_purchase_in(frame) * unit.days, LONGEST_WAIT_DAYS)
    next_purchase = np.datetime64(as_of, "D") + np.round(wait_days).astype("timedelta64[D]")
    return pd.DataFrame(
        {
            "expected_purchases": purchases.expected_purchases(frame, horizon),
            "p_purchase": purchases.p_purchase(frame, horizon),
            "p_alive": purchases.p_alive(frame),
            "next_purchase": next_purchase,
            "expected_order_value": spend.expected_spend(frame),
            "clv": customer_value(
                purchases,
                spend,
                frame,
                horizon=horizon,
                unit=unit,
                annual_discount_rate=annual_discount_rate,
                margin=margin,
            ),
        },
        index=frame.index,
    )
