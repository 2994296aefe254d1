"""The loyalty programme in figures, for the operator: members by tier, the points outstanding
(the programme's liability), points earned, redeemed, expired and reversed per local month,
the redemption rate, and why points were adjusted by hand. Read-only queries.

The figures are as of ``now``: points whose lot has expired by then count as expired (in the
local month of their expiry) and points whose return window has ended count as spendable,
whether or not an operation or the daily run has written it yet — as a member's own figures
do (:func:`patron.loyalty.service.member_json`). The other monthly figures count the ledger
entries written up to ``now`` by their local month in the programme's time zone. Members and
their tiers are counted as they stand.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, case, func, or_, select

from patron.db import tables as t
from patron.db.engine import reader
from patron.loyalty.calendar import local_date, month_bounds
from patron.loyalty.model import EntryKind
from patron.loyalty.programme import Programme

MONTHS = 12
"""Months of the monthly figures: the month of ``now`` and the eleven before."""
TOP_REASONS = 10

_members = t.loyalty_members.c
_entries = t.loyalty_entries.c
_lots = t.loyalty_lots.c
_uses = t.loyalty_lot_uses.c


@dataclass(frozen=True, slots=True)
class TierCount:
    code: str
    label_en: str
    label_zh: str
    members: int
    share: float | None
    """Of all members; None when there are none."""


@dataclass(frozen=True, slots=True)
class Liability:
    outstanding: int
    """Points members hold and may still spend: ``pending + spendable``."""
    pending: int
    """Of which still inside their order's return window."""
    spendable: int
    debt: int
    """Points members owe: refunds of points already spent (a debt, or a negative balance)."""
    members_in_debt: int


@dataclass(frozen=True, slots=True)
class Month:
    month: str
    """The local month, ``YYYY-MM``."""
    earned: int
    redeemed: int
    """Spent, less points given back (a cancelled reservation)."""
    expired: int
    reversed: int
    """Taken back by refunds and cancellations."""
    adjusted: int
    """Net of the manual corrections."""


@dataclass(frozen=True, slots=True)
class RedemptionRate:
    earned: int
    """Over the months of the report."""
    redeemed: int
    rate: float | None
    """``redeemed / earned``; None when nothing was earned."""
    members: int
    ever_redeemed: int
    """Members who ever spent points."""
    member_share: float | None


@dataclass(frozen=True, slots=True)
class AdjustmentReason:
    reason: str
    count: int
    points: int


@dataclass(frozen=True, slots=True)
class LoyaltyReport:
    as_of: datetime
    programme: str
    version: int
    timezone: str
    """The programme's: its local months and days."""
    members_by_tier: tuple[TierCount, ...]
    """Lowest tier first, as the programme lists them (then tiers it no longer has)."""
    liability: Liability
    monthly: tuple[Month, ...]
    """Oldest month first."""
    redemption_rate: RedemptionRate
    adjustments: tuple[AdjustmentReason, ...]
    """The most frequent reasons of manual corrections over the months of the report."""

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "programme": {
                "name": self.programme,
                "version": self.version,
                "timezone": self.timezone,
            },
            "members_by_tier": [
                {
                    "tier": tier.code,
                    "label": {"en": tier.label_en, "zh": tier.label_zh},
                    "members": tier.members,
                    "share": tier.share,
                }
                for tier in self.members_by_tier
            ],
            "liability": asdict(self.liability),
            "monthly": [asdict(month) for month in self.monthly],
            "redemption_rate": asdict(self.redemption_rate),
            "adjustments": [asdict(reason) for reason in self.adjustments],
        }


def loyalty_report(
    engine: Engine, shop_id: int, programme: Programme, now: datetime
) -> LoyaltyReport:
    """The shop's loyalty figures as of ``now`` under ``programme`` (its tiers' labels, its
    time zone's months)."""
    months = _months(programme, now)
    bounds = [month_bounds(programme, first)[0] for first in months]
    bounds.append(month_bounds(programme, months[-1])[1])
    with reader(engine).connect() as connection:
        tiers = _tiers(connection, shop_id, programme)
        liability = _liability(connection, shop_id, now)
        flows = _flows(connection, shop_id, bounds, now)
        expired = _expired(connection, shop_id, bounds, now)
        reasons = _reasons(connection, shop_id, bounds, now)
        members, redeemers = connection.execute(
            select(
                func.count(),
                func.count().filter(_members.redeemed_total > 0),
            ).where(_members.shop_id == shop_id)
        ).one()
    monthly = tuple(
        Month(
            f"{first:%Y-%m}",
            flows[n]["earned"],
            flows[n]["redeemed"],
            expired[n],
            flows[n]["reversed"],
            flows[n]["adjusted"],
        )
        for n, first in enumerate(months)
    )
    earned = sum(month.earned for month in monthly)
    redeemed = sum(month.redeemed for month in monthly)
    rate = RedemptionRate(
        earned,
        redeemed,
        _ratio(redeemed, earned),
        members,
        redeemers,
        _ratio(redeemers, members),
    )
    return LoyaltyReport(
        now,
        programme.name,
        programme.version,
        programme.timezone,
        tiers,
        liability,
        monthly,
        rate,
        reasons,
    )


def _months(programme: Programme, now: datetime) -> list[date]:
    """First days of the report's local months, oldest first."""
    today = local_date(programme, now)
    index = today.year * 12 + today.month - 1
    return [date(n // 12, n % 12 + 1, 1) for n in range(index - MONTHS + 1, index + 1)]


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _tiers(connection: Connection, shop_id: int, programme: Programme) -> tuple[TierCount, ...]:
    counts: dict[str, int] = {
        str(tier): int(count)
        for tier, count in connection.execute(
            select(_members.tier, func.count())
            .where(_members.shop_id == shop_id)
            .group_by(_members.tier)
        )
    }
    total = sum(counts.values())
    labels = {level.code: (level.label.en, level.label.zh) for level in programme.tiers.levels}
    codes = [level.code for level in programme.tiers.levels]
    codes += sorted(code for code in counts if code not in labels)
    return tuple(
        TierCount(
            code,
            *labels.get(code, (code, code)),
            counts.get(code, 0),
            _ratio(counts.get(code, 0), total),
        )
        for code in codes
    )


def _liability(connection: Connection, shop_id: int, now: datetime) -> Liability:
    pending, outstanding = connection.execute(
        select(
            func.coalesce(
                func.sum(_lots.remaining).filter(_lots.pending, _lots.available_from > now), 0
            ),
            func.coalesce(func.sum(_lots.remaining), 0),
        ).where(
            _lots.shop_id == shop_id,
            _lots.remaining > 0,
            or_(_lots.expires_at.is_(None), _lots.expires_at > now),
        )
    ).one()
    owed = _members.debt + case((_members.balance < 0, -_members.balance), else_=0)
    debt, in_debt = connection.execute(
        select(func.coalesce(func.sum(owed), 0), func.count().filter(owed > 0)).where(
            _members.shop_id == shop_id
        )
    ).one()
    # PostgreSQL sums big integers as numeric: back to int.
    return Liability(
        int(outstanding),
        int(pending),
        int(outstanding) - int(pending),
        int(debt),
        int(in_debt),
    )


def _month_of(moment: ColumnElement[Any], bounds: list[datetime]) -> ColumnElement[Any]:
    """The index of the report's month holding ``moment`` (the caller keeps it in range)."""
    return case(*((moment < end, n) for n, end in enumerate(bounds[1:])), else_=None)


def _flows(
    connection: Connection, shop_id: int, bounds: list[datetime], now: datetime
) -> list[defaultdict[str, int]]:
    """Earned, redeemed (net of points given back), reversed (taken back) and adjusted points
    of each month, by when the entries were written."""
    entries = (
        select(
            _month_of(_entries.created_at, bounds).label("month"),
            _entries.kind,
            _entries.points,
        )
        .where(
            _entries.shop_id == shop_id,
            _entries.created_at >= bounds[0],
            _entries.created_at < bounds[-1],
            _entries.created_at <= now,
            _entries.kind.in_(
                [EntryKind.EARN, EntryKind.REDEEM, EntryKind.REVERSE, EntryKind.ADJUST]
            ),
        )
        .subquery()
    )
    sums = connection.execute(
        select(
            entries.c.month,
            entries.c.kind,
            func.coalesce(func.sum(entries.c.points).filter(entries.c.points > 0), 0),
            func.coalesce(func.sum(entries.c.points).filter(entries.c.points < 0), 0),
        ).group_by(entries.c.month, entries.c.kind)
    ).all()
    flows: list[defaultdict[str, int]] = [defaultdict(int) for _ in bounds[1:]]
    for month, kind, plus, minus in sums:
        row, gained, lost = flows[int(month)], int(plus), int(minus)
        if kind == EntryKind.EARN:
            row["earned"] += gained
        elif kind == EntryKind.REDEEM:
            row["redeemed"] -= lost
        elif kind == EntryKind.REVERSE:
            # A positive reversal gives back points spent by a cancelled reservation.
            row["redeemed"] -= gained
            row["reversed"] -= lost
        else:
            row["adjusted"] += gained + lost
    return flows


def _expired(
    connection: Connection, shop_id: int, bounds: list[datetime], now: datetime
) -> list[int]:
    """Points expired in each month, by the moment their lot expired: what expiry entries took
    from the lots, and what lots past their expiry still hold, not written yet."""
    month = _month_of(_lots.expires_at, bounds).label("month")
    in_range = (_lots.expires_at >= bounds[0], _lots.expires_at <= now)
    written = (
        select(month, (-_uses.points).label("points"))
        .select_from(t.loyalty_lot_uses)
        .join(t.loyalty_lots, _lots.id == _uses.lot_id)
        .join(t.loyalty_entries, _entries.id == _uses.entry_id)
        .where(_uses.shop_id == shop_id, _entries.kind == EntryKind.EXPIRE, *in_range)
    )
    unwritten = select(month, _lots.remaining.label("points")).where(
        _lots.shop_id == shop_id, _lots.remaining > 0, *in_range
    )
    both = written.union_all(unwritten).subquery()
    expired = [0] * (len(bounds) - 1)
    for index, points in connection.execute(
        select(both.c.month, func.sum(both.c.points)).group_by(both.c.month)
    ):
        expired[int(index)] += int(points)
    return expired


def _reasons(
    connection: Connection, shop_id: int, bounds: list[datetime], now: datetime
) -> tuple[AdjustmentReason, ...]:
    count = func.count().label("count")
    rows = connection.execute(
        select(_entries.reason, count, func.sum(_entries.points))
        .where(
            _entries.shop_id == shop_id,
            _entries.kind == EntryKind.ADJUST,
            _entries.created_at >= bounds[0],
            _entries.created_at < bounds[-1],
            _entries.created_at <= now,
        )
        .group_by(_entries.reason)
        .order_by(count.desc(), _entries.reason)
        .limit(TOP_REASONS)
    )
    return tuple(AdjustmentReason(str(r), int(n), int(p)) for r, n, p in rows)
