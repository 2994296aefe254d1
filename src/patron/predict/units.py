"""The time unit in which a customer summary counts recency, age and horizons."""

from __future__ import annotations

from enum import StrEnum

DAYS_PER_YEAR = 365.25


class TimeUnit(StrEnum):
    DAYS = "days"
    WEEKS = "weeks"

    @property
    def days(self) -> int:
        return 7 if self is TimeUnit.WEEKS else 1

    @property
    def per_year(self) -> float:
        return DAYS_PER_YEAR / self.days
