"""Day arithmetic in the programme's time zone: local dates, day/month/year boundaries, when an
order's points become available, when points expire, where the tier window starts.

Moments go in time-zone aware (any zone) and come out in UTC. A *local day* D runs from its
start — the first instant whose local date is D, normally local midnight — to the start of
D + 1, so it lasts 23 or 25 hours across a DST change; where a zone skips midnight itself
(America/Santiago in September) the day starts at the first local time that exists (01:00).
"End of day D" means the start of D + 1 (24:00 local): the policies below are day-rounded so a
whole day's grants share one boundary and the daily run for D settles them together.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from patron.loyalty.programme import ExpiryPolicy, Programme, TierWindow


def local_date(programme: Programme, at: datetime) -> date:
    """The programme's local date of the moment ``at``."""
    return _aware(at).astimezone(programme.zone).date()


def day_start(programme: Programme, day: date) -> datetime:
    """The first instant (UTC) of the local day ``day``."""
    # fold=0 reads a wall time that a DST gap skips with the offset before the gap, which is
    # the instant of the transition: the first instant of the day.
    return datetime.combine(day, time(), tzinfo=programme.zone).astimezone(UTC)


def day_bounds(programme: Programme, day: date) -> tuple[datetime, datetime]:
    """``[start, end)`` of the local day ``day`` in UTC: what a daily run for ``day`` covers
    and what per-day caps count within."""
    return day_start(programme, day), day_start(programme, day + timedelta(days=1))


def month_bounds(programme: Programme, day: date) -> tuple[datetime, datetime]:
    """``[start, end)`` of the local calendar month holding ``day`` (per-month caps)."""
    first = day.replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return day_start(programme, first), day_start(programme, following)


def year_bounds(programme: Programme, year: int) -> tuple[datetime, datetime]:
    """``[start, end)`` of the local calendar year (the yearly cap on earned points)."""
    return day_start(programme, date(year, 1, 1)), day_start(programme, date(year + 1, 1, 1))


def available_from(programme: Programme, paid_at: datetime) -> datetime:
    """When an order's points become spendable: at the end of the local day ``pending_days``
    after the day of payment (paid 2026-11-29 at any hour, 15 days: 2026-12-15 00:00 local);
    with ``pending_days = 0`` at the moment of payment itself."""
    if programme.pending_days == 0:
        return _aware(paid_at).astimezone(UTC)
    paid_on = local_date(programme, paid_at)
    return day_start(programme, paid_on + timedelta(days=programme.pending_days + 1))


def expires_at(programme: Programme, earned_at: datetime) -> datetime | None:
    """When points earned at ``earned_at`` expire (``None``: never). Counted from the moment
    of earning — the grant, not the end of the pending period:

    - ``days_after_earning`` N: at the end of the local day N days after the day of earning
      (earned 2026-11-29 at any hour, N = 365: 2027-11-30 00:00 local);
    - ``end_of_year_after``: at the end of the year after the year of earning
      (earned in 2026: 2027-12-31 24:00, i.e. 2028-01-01 00:00 local).

    Always at a local day boundary and after ``earned_at``.
    """
    policy = programme.expiry.policy
    if policy is ExpiryPolicy.NEVER:
        return None
    earned_on = local_date(programme, earned_at)
    if policy is ExpiryPolicy.DAYS_AFTER_EARNING:
        assert programme.expiry.days is not None  # validated with the policy
        return day_start(programme, earned_on + timedelta(days=programme.expiry.days + 1))
    return day_start(programme, date(earned_on.year + 2, 1, 1))


def tier_window_start(programme: Programme, at: datetime) -> datetime:
    """Start (UTC) of the window of qualifying facts for tier growth as of ``at``; the window
    ends at ``at``.

    - ``rolling_12_months``: the twelve months of whole local days ending with the local day of
      ``at`` — as of 2026-11-29 it starts at 2025-11-30 00:00 local (as of 29 February, at
      1 March of the year before);
    - ``calendar_year``: 1 January 00:00 local of the year of ``at``.
    """
    today = local_date(programme, at)
    if programme.tiers.window is TierWindow.CALENDAR_YEAR:
        return day_start(programme, date(today.year, 1, 1))
    try:
        year_ago = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        year_ago = date(today.year - 1, 2, 28)
    return day_start(programme, year_ago + timedelta(days=1))


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"expected a time-zone aware moment, got naive {at.isoformat()}")
    return at
