"""The shop's fixed two-year calendar and its seasonality.

Times are whole seconds since ``START`` (2024-11-01 00:00:00 Asia/Shanghai, which has no daylight
saving, so local seconds are uniform). Seasonality is a time warp: processes are simulated with a
constant rate in *operational time* (days of average shopping intensity) and mapped back to the
calendar through the cumulative hourly intensity, which is exactly a non-homogeneous Poisson
process with intensity proportional to the hourly weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from patron.demo.sampling import BoolArray, FloatArray, IntArray

TIMEZONE = "Asia/Shanghai"
CURRENCY = "CNY"
START_DATE = date(2024, 11, 1)
END_DATE = date(2026, 11, 1)
"""Exclusive: the last orders are placed on 2026-10-31."""
START = np.datetime64("2024-11-01T00:00:00", "s")
DAY = 86_400
HOUR = 3_600
DAYS = (END_DATE - START_DATE).days
END = DAYS * DAY

# Relative traffic by hour of the day: lunch break and an evening peak after 20:00.
HOUR_PROFILE: tuple[float, ...] = (
    0.55, 0.30, 0.15, 0.08, 0.06, 0.07, 0.15, 0.35, 0.60, 0.85, 1.05, 1.10,
    1.15, 1.10, 1.00, 0.95, 0.95, 0.95, 0.95, 1.05, 1.35, 1.60, 1.55, 1.10,
)  # fmt: skip
WEEKDAY_FACTOR: tuple[float, ...] = (0.96, 0.97, 0.98, 0.99, 1.03, 1.12, 1.12)
LUNAR_NEW_YEAR: tuple[date, ...] = (date(2025, 1, 29), date(2026, 2, 17))
GROWTH = 0.15
"""The shop's traffic grows by this fraction over the two years."""

# (month, day) → demand multiplier of the day: 双十一, 双十二, 618 and the smaller festivals.
_PROMO_DAYS: dict[tuple[int, int], float] = {
    (11, 11): 11.0, (11, 12): 1.6, (11, 13): 1.2,
    (12, 12): 3.2, (12, 11): 1.3,
    (6, 18): 6.0, (6, 17): 1.8, (6, 1): 2.2, (5, 20): 1.6,
    (3, 8): 1.9, (3, 7): 1.3, (9, 9): 1.6, (5, 21): 1.2, (8, 18): 1.4,
}  # fmt: skip
_PEAK_MIDNIGHT = frozenset({(11, 11), (6, 18), (12, 12), (6, 1)})
"""Sales that open at 00:00: the first hour of the day is a rush."""
_EVENING_LAUNCH = frozenset({(10, 20), (10, 31), (5, 20), (5, 31)})
"""Pre-sales that open at 20:00."""


@dataclass(frozen=True, slots=True)
class Calendar:
    hour_weight: FloatArray
    """Shopping intensity of every hour of the period, mean 1."""
    cum: FloatArray
    """Operational time (days) at the start of every hour, plus the end."""
    promo_day: BoolArray
    """Days inside a sales campaign window: heavier discounts, bigger baskets."""
    peak_day: BoolArray
    """Days whose sale opens at midnight (11.11, 12.12, 6.1, 6.18): impulse buys, cancellations."""

    @property
    def operational_end(self) -> float:
        return float(self.cum[-1])

    def to_calendar(self, u: FloatArray) -> IntArray:
        """Operational time (days) to calendar seconds since START."""
        idx = np.clip(np.searchsorted(self.cum, u, side="right") - 1, 0, self.hour_weight.size - 1)
        frac = (u - self.cum[idx]) / (self.hour_weight[idx] / 24.0)
        seconds = (idx + np.clip(frac, 0.0, 1.0)) * HOUR
        return np.asarray(np.clip(np.floor(seconds), 0, END - 1), dtype=np.int64)

    def to_operational(self, seconds: IntArray) -> FloatArray:
        """Calendar seconds since START to operational time (days)."""
        clipped = np.clip(seconds, 0, END - 1)
        idx = clipped // HOUR
        frac = (clipped % HOUR) / HOUR
        return np.asarray(self.cum[idx] + frac * self.hour_weight[idx] / 24.0, dtype=np.float64)

    def day_of(self, seconds: IntArray) -> IntArray:
        return np.asarray(np.clip(seconds // DAY, 0, DAYS - 1), dtype=np.int64)


def _lunar_factor(day: date) -> float:
    """年货节 shopping before the Spring Festival, then the logistics pause around it."""
    for new_year in LUNAR_NEW_YEAR:
        offset = (day - new_year).days
        if -20 <= offset <= -8:
            return 1.25
        if -7 <= offset <= 6:
            return 0.45
        if 7 <= offset <= 10:
            return 0.8
    return 1.0


def _campaign_factor(day: date) -> float:
    """Warm-up weeks before 双十一 and 618 lift everyday demand."""
    md = (day.month, day.day)
    if (10, 20) <= md <= (11, 10):
        return 1.5
    if (6, 2) <= md <= (6, 16):
        return 1.4
    if (5, 22) <= md <= (5, 31):
        return 1.15
    return 1.0


def _day_factor(day: date, index: int) -> float:
    md = (day.month, day.day)
    trend = 1.0 + GROWTH * index / DAYS
    promo = _PROMO_DAYS.get(md, 1.0)
    return (
        trend * promo * _campaign_factor(day) * _lunar_factor(day) * WEEKDAY_FACTOR[day.weekday()]
    )


def _hour_profile(day: date) -> list[float]:
    profile = list(HOUR_PROFILE)
    md = (day.month, day.day)
    if md in _PEAK_MIDNIGHT:
        profile[0] *= 9.0
        profile[1] *= 3.0
    if md in _EVENING_LAUNCH:
        profile[20] *= 3.0
        profile[21] *= 1.8
    return profile


def is_promo_window(day: date) -> bool:
    md = (day.month, day.day)
    return (10, 20) <= md <= (11, 13) or (5, 20) <= md <= (6, 18) or md in {(12, 11), (12, 12)}


def build_calendar() -> Calendar:
    days = [START_DATE + timedelta(days=i) for i in range(DAYS)]
    weights = np.array(
        [
            [_day_factor(day, i) * h / sum(HOUR_PROFILE) * 24 for h in _hour_profile(day)]
            for i, day in enumerate(days)
        ],
        dtype=np.float64,
    ).ravel()
    weights /= weights.mean()
    cum = np.concatenate([np.zeros(1), np.cumsum(weights) / 24.0])
    promo = np.array([is_promo_window(day) for day in days], dtype=np.bool_)
    peak = np.array([(d.month, d.day) in _PEAK_MIDNIGHT for d in days], dtype=np.bool_)
    return Calendar(weights, cum, promo, peak)
