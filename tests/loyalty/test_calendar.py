"""Programme time-zone arithmetic: local days around midnight, across DST changes (New York,
Berlin), in a zone without DST (Shanghai) and where DST skips midnight itself (Santiago)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.loyalty.calendar import (
    available_from,
    day_bounds,
    day_start,
    expires_at,
    local_date,
    month_bounds,
    tier_window_start,
    year_bounds,
)
from patron.loyalty.programme import Programme, parse_programme, sample_programme, to_dict

ZONES = ("Asia/Shanghai", "America/New_York", "Europe/Berlin", "America/Santiago")


def programme(
    timezone: str = "Asia/Shanghai",
    *,
    pending_days: int = 15,
    expiry: dict[str, Any] | None = None,
    window: str = "rolling_12_months",
) -> Programme:
    data = to_dict(sample_programme())
    data.update(
        timezone=timezone,
        pending_days=pending_days,
        expiry=expiry or {"policy": "end_of_year_after"},
    )
    data["tiers"]["window"] = window
    return parse_programme(data, "test")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


SHANGHAI = programme()
NEW_YORK = programme("America/New_York")
BERLIN = programme("Europe/Berlin")
SANTIAGO = programme("America/Santiago")


# --- local dates and day boundaries --------------------------------------------------------------


def test_23_30_and_00_30_local_fall_on_different_days() -> None:
    # Shanghai is UTC+8 all year.
    assert local_date(SHANGHAI, utc(2026, 11, 29, 15, 30)) == date(2026, 11, 29)  # 23:30
    assert local_date(SHANGHAI, utc(2026, 11, 29, 16, 30)) == date(2026, 11, 30)  # 00:30
    # New York on the night DST starts: 23:30 EST, then 00:30 EST.
    assert local_date(NEW_YORK, utc(2026, 3, 8, 4, 30)) == date(2026, 3, 7)
    assert local_date(NEW_YORK, utc(2026, 3, 8, 5, 30)) == date(2026, 3, 8)
    # Berlin on the night DST starts: 23:30 CET, then 00:30 CET.
    assert local_date(BERLIN, utc(2026, 3, 28, 22, 30)) == date(2026, 3, 28)
    assert local_date(BERLIN, utc(2026, 3, 28, 23, 30)) == date(2026, 3, 29)


def test_the_repeated_hour_of_a_dst_end_stays_on_its_day() -> None:
    assert local_date(NEW_YORK, utc(2026, 11, 1, 5, 30)) == date(2026, 11, 1)  # second 01:30
    assert local_date(NEW_YORK, utc(2026, 11, 2, 4, 30)) == date(2026, 11, 1)  # 23:30 EST
    assert local_date(NEW_YORK, utc(2026, 11, 2, 5, 30)) == date(2026, 11, 2)  # 00:30 EST


def test_a_moment_in_any_zone_gives_the_same_local_date() -> None:
    moment = datetime.fromisoformat("2026-11-30T00:30:00+08:00")
    assert local_date(NEW_YORK, moment) == date(2026, 11, 29)  # 11:30 EST the day before
    with pytest.raises(ValueError, match="time-zone aware"):
        local_date(SHANGHAI, datetime(2026, 11, 29, 12))


@pytest.mark.parametrize(
    ("prog", "day", "start", "end"),
    [
        (SHANGHAI, date(2026, 11, 29), utc(2026, 11, 28, 16), utc(2026, 11, 29, 16)),
        (NEW_YORK, date(2026, 3, 8), utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)),  # 23 hours
        (NEW_YORK, date(2026, 11, 1), utc(2026, 11, 1, 4), utc(2026, 11, 2, 5)),  # 25 hours
        (BERLIN, date(2026, 3, 29), utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)),  # 23 hours
        (BERLIN, date(2026, 10, 25), utc(2026, 10, 24, 22), utc(2026, 10, 25, 23)),  # 25 hours
        # Santiago skips 00:00-01:00 on 6 September: the day starts at 01:00 -03.
        (SANTIAGO, date(2026, 9, 6), utc(2026, 9, 6, 4), utc(2026, 9, 7, 3)),
    ],
    ids=["shanghai", "ny-spring", "ny-fall", "berlin-spring", "berlin-fall", "santiago-gap"],
)
def test_day_bounds_of_a_daily_run(
    prog: Programme, day: date, start: datetime, end: datetime
) -> None:
    assert day_bounds(prog, day) == (start, end)
    assert local_date(prog, start) == day
    assert local_date(prog, end - timedelta(microseconds=1)) == day


def test_month_and_year_bounds_are_local() -> None:
    assert month_bounds(SHANGHAI, date(2026, 12, 15)) == (
        utc(2026, 11, 30, 16),
        utc(2026, 12, 31, 16),
    )
    assert month_bounds(BERLIN, date(2026, 3, 1)) == (utc(2026, 2, 28, 23), utc(2026, 3, 31, 22))
    assert year_bounds(SHANGHAI, 2026) == (utc(2025, 12, 31, 16), utc(2026, 12, 31, 16))
    assert year_bounds(NEW_YORK, 2026) == (utc(2026, 1, 1, 5), utc(2027, 1, 1, 5))


# --- available from ------------------------------------------------------------------------------


def test_order_points_become_available_at_the_end_of_the_15th_local_day() -> None:
    # Paid 2026-11-29 23:30 local: available 2026-12-15 00:00 local (end of 12-14).
    assert available_from(SHANGHAI, utc(2026, 11, 29, 15, 30)) == utc(2026, 12, 14, 16)
    # Paid an hour later, 00:30 on 11-30: a day later.
    assert available_from(SHANGHAI, utc(2026, 11, 29, 16, 30)) == utc(2026, 12, 15, 16)


def test_available_from_lands_on_local_midnight_across_a_dst_change() -> None:
    # Paid 2026-02-21 23:30 EST; 15 days: available 2026-03-09 00:00 EDT.
    assert available_from(NEW_YORK, utc(2026, 2, 22, 4, 30)) == utc(2026, 3, 9, 4)
    # Paid 2026-10-15 12:00 CEST; 15 days: available 2026-10-31 00:00 CET.
    assert available_from(BERLIN, utc(2026, 10, 15, 10)) == utc(2026, 10, 30, 23)


def test_without_a_pending_period_points_are_available_when_paid() -> None:
    prog = programme(pending_days=0)
    paid = datetime.fromisoformat("2026-11-29T23:30:00+08:00")
    assert available_from(prog, paid) == utc(2026, 11, 29, 15, 30)
    assert available_from(prog, paid).tzinfo is UTC


# --- expiry --------------------------------------------------------------------------------------


def test_points_never_expire_under_never() -> None:
    assert expires_at(programme(expiry={"policy": "never"}), utc(2026, 1, 1)) is None


def test_end_of_year_after_is_the_end_of_the_next_local_year() -> None:
    # Earned 2026-12-31 23:30 local: expires 2027-12-31 24:00 local.
    assert expires_at(SHANGHAI, utc(2026, 12, 31, 15, 30)) == utc(2027, 12, 31, 16)
    # Earned an hour later, 2027-01-01 00:30 local: a year later.
    assert expires_at(SHANGHAI, utc(2026, 12, 31, 16, 30)) == utc(2028, 12, 31, 16)
    assert expires_at(NEW_YORK, utc(2026, 6, 1)) == utc(2028, 1, 1, 5)


def test_days_after_earning_ends_with_the_local_day() -> None:
    year = programme(expiry={"policy": "days_after_earning", "days": 365})
    # Earned 2026-11-29 23:30 local: expires at the end of 2027-11-29.
    assert expires_at(year, utc(2026, 11, 29, 15, 30)) == utc(2027, 11, 29, 16)
    assert expires_at(year, utc(2026, 11, 29, 16, 30)) == utc(2027, 11, 30, 16)
    month = programme("America/New_York", expiry={"policy": "days_after_earning", "days": 30})
    # Earned 2026-10-02 12:00 EDT: expires at the end of 2026-11-01, 2026-11-02 00:00 EST.
    assert expires_at(month, utc(2026, 10, 2, 16)) == utc(2026, 11, 2, 5)


# --- tier window ---------------------------------------------------------------------------------


def test_the_rolling_window_holds_twelve_months_of_whole_local_days() -> None:
    assert tier_window_start(SHANGHAI, utc(2026, 11, 29, 2)) == utc(2025, 11, 29, 16)
    # 23:30 vs 00:30 local: the window moves by a day at local midnight.
    assert tier_window_start(SHANGHAI, utc(2026, 11, 29, 15, 30)) == utc(2025, 11, 29, 16)
    assert tier_window_start(SHANGHAI, utc(2026, 11, 29, 16, 30)) == utc(2025, 11, 30, 16)
    # As of 29 February 2028 it starts on 1 March 2027, like 28 February.
    assert tier_window_start(SHANGHAI, utc(2028, 2, 29, 4)) == utc(2027, 2, 28, 16)
    assert tier_window_start(SHANGHAI, utc(2028, 2, 28, 4)) == utc(2027, 2, 28, 16)
    # Berlin, as of 2026-10-25: starts 2025-10-26 00:00 CEST (that day ends DST in 2025).
    assert tier_window_start(BERLIN, utc(2026, 10, 25, 11)) == utc(2025, 10, 25, 22)


def test_the_calendar_year_window_starts_on_local_new_year() -> None:
    prog = programme(window="calendar_year")
    assert tier_window_start(prog, utc(2026, 11, 29)) == utc(2025, 12, 31, 16)
    assert tier_window_start(prog, utc(2026, 12, 31, 15, 30)) == utc(2025, 12, 31, 16)
    assert tier_window_start(prog, utc(2026, 12, 31, 16, 30)) == utc(2026, 12, 31, 16)
    berlin = programme("Europe/Berlin", window="calendar_year")
    assert tier_window_start(berlin, utc(2026, 7, 1)) == utc(2025, 12, 31, 23)


# --- properties ----------------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(UTC)
)
zones = st.sampled_from(ZONES)
EXPIRIES = {
    "year": {"policy": "end_of_year_after"},
    "days": {"policy": "days_after_earning", "days": 30},
    "long": {"policy": "days_after_earning", "days": 400},
}
PROGRAMMES = {(z, e): programme(z, expiry=x) for z in ZONES for e, x in EXPIRIES.items()}


def _is_day_start(prog: Programme, at: datetime) -> bool:
    return local_date(prog, at - timedelta(microseconds=1)) != local_date(prog, at)


@given(zone=zones, expiry=st.sampled_from(list(EXPIRIES)), earned=moments)
def test_expiry_is_after_earning_and_at_a_local_day_start(
    zone: str, expiry: str, earned: datetime
) -> None:
    prog = PROGRAMMES[zone, expiry]
    expiry_at = expires_at(prog, earned)
    assert expiry_at is not None and expiry_at > earned
    assert _is_day_start(prog, expiry_at)
    assert expiry_at == day_start(prog, local_date(prog, expiry_at))
    if zone != "America/Santiago":  # the only one here whose DST can skip midnight
        assert expiry_at.astimezone(prog.zone).time().isoformat() == "00:00:00"


@given(zone=zones, paid=moments)
def test_available_from_is_the_start_of_the_day_after_the_pending_days(
    zone: str, paid: datetime
) -> None:
    prog = PROGRAMMES[zone, "year"]
    available = available_from(prog, paid)
    assert available > paid
    assert local_date(prog, available) == local_date(prog, paid) + timedelta(days=16)
    assert _is_day_start(prog, available)


@given(zone=zones, at=moments)
def test_every_moment_lies_in_its_local_day_and_days_last_23_to_25_hours(
    zone: str, at: datetime
) -> None:
    prog = PROGRAMMES[zone, "year"]
    start, end = day_bounds(prog, local_date(prog, at))
    assert start <= at < end
    assert timedelta(hours=23) <= end - start <= timedelta(hours=25)
    assert start.tzinfo is UTC and end.tzinfo is UTC
    window = tier_window_start(prog, at)
    assert timedelta(days=364) < at - window <= timedelta(days=366)
