"""A customer's order history replayed through the programme, in time order, as pure
functions: what their ledger, balance and tier would be had the programme run all along.

Each paid order earns (pending until its return window ends, at the member's tier of the
moment, the first-order bonus on the first purchase), each refund takes back its share when it
happened, the bonus goes when an order is refunded in full, tiers rise as growth crosses a
threshold and fall only at the programme's evaluations after the grace period, and the
member is finally settled (activations, expiries) at ``as_of``. The same functions as the
online path compute every figure (:mod:`earn`, :mod:`ledger`, :mod:`tiers`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from patron.loyalty import calendar, earn, ledger, tiers
from patron.loyalty.ledger import Grant, Posting
from patron.loyalty.model import Entry, EntryKind, Member
from patron.loyalty.order_facts import PaidOrder, earn_detail, refund_points
from patron.loyalty.programme import Programme


@dataclass(frozen=True, slots=True)
class Timed:
    """An order with the moments of its refunds (``refunded_at`` by refund id)."""

    order: PaidOrder
    refunded_at: dict[int, datetime]


@dataclass(frozen=True, slots=True)
class Posted:
    entry: Entry
    at: datetime
    detail: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class TierChange:
    before: str
    after: str
    growth: int
    reason: str
    at: datetime


@dataclass
class History:
    """The replayed member: every entry with its moment, the points, the tier."""

    member: Member = field(default_factory=Member)
    posted: list[Posted] = field(default_factory=list)
    tier: tiers.TierState = field(default_factory=lambda: tiers.TierState(""))
    tier_since: datetime | None = None
    growth: int = 0
    changes: list[TierChange] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What an earned order's refunds take back: points by refund id, and the bonus with the
    refund that completes the order's return."""

    order: PaidOrder
    refunds: dict[int, int]
    bonus: int
    bonus_back: int | None


def replay(programme: Programme, orders: list[Timed], as_of: datetime) -> History:
    """The history of one customer's purchases (placed before ``as_of``, any order)."""
    timeline: list[tuple[datetime, int, int, Timed]] = []
    for timed in orders:
        timeline.append((timed.order.paid_at, 0, 0, timed))
        for refund in timed.order.refunds:
            at = max(timed.refunded_at[refund.id], timed.order.paid_at)
            if at < as_of:
                timeline.append((at, 1, refund.id, timed))
    timeline.sort(key=lambda item: (item[0], item[1], item[3].order.id, item[2]))
    history = History(tier=tiers.TierState(programme.tiers.levels[0].code))
    if not timeline:
        return history
    history.tier_since = timeline[0][0]
    plans: dict[int, _Plan] = {}
    first = min(orders, key=lambda timed: (timed.order.placed_at, timed.order.id)).order.id
    evaluations = _evaluation_days(programme, timeline[0][0], as_of)
    for at, kind, refund_id, timed in timeline:
        while evaluations and calendar.day_start(programme, evaluations[0]) <= at:
            _evaluate(programme, history, orders, evaluations.pop(0))
        if kind == 0:
            plans[timed.order.id] = _earn(programme, history, timed, timed.order.id == first, at)
        elif timed.order.id in plans:
            _refund(programme, history, plans[timed.order.id], refund_id, at)
        _upgrade(programme, history, orders, at)
    for day in evaluations:
        _evaluate(programme, history, orders, day)
    _post(history, ledger.settle(history.member, as_of), as_of)
    history.growth = _growth(programme, orders, as_of)
    return history


def _post(
    history: History, posting: Posting, at: datetime, detail: dict[str, Any] | None = None
) -> None:
    history.member = posting.member
    for entry in posting.entries:
        history.posted.append(Posted(entry, at, detail if entry.kind is EntryKind.EARN else None))


def _earn(
    programme: Programme, history: History, timed: Timed, is_first: bool, at: datetime
) -> _Plan:
    order = timed.order
    year = calendar.local_date(programme, at).year
    start, end = calendar.year_bounds(programme, year)
    this_year = sum(
        p.entry.points
        for p in history.posted
        if p.entry.kind is EntryKind.EARN and start <= p.at < end
    )
    points = earn.order_points(
        programme, order.lines, history.tier.tier, is_first, earned_this_year=this_year
    )
    lines = {
        line_id: line.points for line_id, line in zip(order.line_ids, points.lines, strict=True)
    }
    refunds = {refund.id: share for refund, share in refund_points(order, lines)}
    plan = _Plan(order, refunds, points.bonus, _completing_refund(order))
    if points.total == 0:
        return plan
    key = f"order:{order.id}"
    grant = Grant(
        points.total,
        key,
        "order paid",
        order.source,
        calendar.available_from(programme, order.paid_at),
        calendar.expires_at(programme, order.paid_at),
    )
    detail = earn_detail(order, points)
    _post(history, ledger.earn(history.member, grant, at), at, {**detail, "backfill": True})
    return plan


def _completing_refund(order: PaidOrder) -> int | None:
    """The refund (in id order) from which the order is refunded in full."""
    total = 0
    for refund in order.refunds:
        total += refund.amount_minor
        if total >= order.net_minor:
            return refund.id
    return None


def _refund(
    programme: Programme, history: History, plan: _Plan, refund_id: int, at: datetime
) -> None:
    dues = [(f"refund:{refund_id}", plan.refunds.get(refund_id, 0), "refund")]
    if refund_id == plan.bonus_back:
        dues.append((f"order:{plan.order.id}:bonus", plan.bonus, "first-order bonus returned"))
    for key, points, reason in dues:
        if points > 0:
            posting = ledger.reverse(
                history.member, points, key, reason, plan.order.source, at, programme.refund_policy
            )
            _post(history, posting, at)


def _growth(programme: Programme, orders: list[Timed], at: datetime) -> int:
    """Growth value as of ``at`` (included): orders placed in the window, less what was
    refunded by then."""
    start = calendar.tier_window_start(programme, at)
    net = counted = 0
    for timed in orders:
        order = timed.order
        if not start <= order.placed_at <= at:
            continue
        paid = order.paid_minor
        refunded = sum(r.amount_minor for r in order.refunds if timed.refunded_at[r.id] <= at)
        net += paid - refunded
        counted += refunded < paid
    return tiers.growth(programme, tiers.Facts(net, counted))


def _upgrade(programme: Programme, history: History, orders: list[Timed], at: datetime) -> None:
    growth = _growth(programme, orders, at)
    changed = tiers.on_growth_change(programme, history.tier, growth)
    if changed is None:
        return
    if changed.tier != history.tier.tier:
        history.changes.append(TierChange(history.tier.tier, changed.tier, growth, "upgraded", at))
        history.tier_since = at
    history.tier = changed


def _evaluate(programme: Programme, history: History, orders: list[Timed], day: date) -> None:
    at = calendar.day_start(programme, day)
    growth = _growth(programme, orders, at)
    result = tiers.evaluate(programme, history.tier, growth, day)
    if result.after.tier != history.tier.tier:
        history.changes.append(
            TierChange(history.tier.tier, result.after.tier, growth, str(result.outcome), at)
        )
        history.tier_since = at
    history.tier = result.after


def _evaluation_days(programme: Programme, start: datetime, end: datetime) -> list[date]:
    days: list[date] = []
    day = tiers.next_evaluation(programme, calendar.local_date(programme, start))
    last = calendar.local_date(programme, end)
    while day <= last:
        days.append(day)
        day = tiers.next_evaluation(programme, day + timedelta(days=1))
    return days
