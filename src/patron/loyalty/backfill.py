"""``patron loyalty backfill``: every customer with purchases gets the ledger, balance and
tier they would have had the programme run all along (:mod:`patron.loyalty.replay`).

Customers who already are members are left alone, so the backfill is safe to run again (it
adds only customers who bought since without being credited). The history is read once,
replayed in memory, and written in batches of customers, one transaction each, with
multi-row inserts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from patron.db import tables as t
from patron.loyalty.calendar import day_start
from patron.loyalty.model import EntryKind
from patron.loyalty.order_facts import PURCHASE_STATUSES, Refund, paid_order
from patron.loyalty.programme import Programme
from patron.loyalty.replay import History, Timed, replay

BATCH_CUSTOMERS = 2_000
_CREDITS = (EntryKind.EARN, EntryKind.ADJUST)

Progress = Callable[[int, int], None]
"""Called with (customers done, customers in all)."""


@dataclass(frozen=True, slots=True)
class Backfilled:
    customers: int
    """Customers enrolled and replayed."""
    skipped: int
    """Customers who already were members."""
    orders: int
    entries: int
    balance: int
    """Points outstanding over the new members."""
    tiers: dict[str, int]


def load_history(connection: Connection, shop_id: int, as_of: datetime) -> dict[int, list[Timed]]:
    """The shop's purchases placed before ``as_of`` with their lines and refunds, by customer."""
    o, ln, p, r = t.orders.c, t.order_lines.c, t.products.c, t.refunds.c
    orders = connection.execute(
        select(
            o.id,
            o.external_id,
            o.customer_id,
            o.status,
            o.placed_at,
            o.paid_at,
            o.discount_minor,
            o.total_minor,
            o.shipping_minor,
        ).where(o.shop_id == shop_id, o.status.in_(PURCHASE_STATUSES), o.placed_at < as_of)
    ).all()
    lines: dict[int, list[Any]] = defaultdict(list)
    for row in connection.execute(
        select(ln.order_id, ln.id, ln.line_no, ln.line_total_minor, p.sku, p.category_path, p.brand)
        .join(t.products, p.id == ln.product_id)
        .where(ln.shop_id == shop_id)
    ):
        lines[row.order_id].append(row)
    refunds: dict[int, list[Any]] = defaultdict(list)
    for refund in connection.execute(
        select(r.order_id, r.id, r.order_line_id, r.amount_minor, r.refunded_at).where(
            r.shop_id == shop_id
        )
    ):
        refunds[refund.order_id].append(refund)
    history: dict[int, list[Timed]] = defaultdict(list)
    for order in orders:
        rows = sorted(lines[order.id], key=lambda row: row.line_no)
        own = sorted(refunds[order.id], key=lambda row: row.id)
        paid = paid_order(
            order, rows, tuple(Refund(r.id, r.order_line_id, r.amount_minor) for r in own)
        )
        paid_at = paid.paid_at
        # A refund without a time counts from the payment (as in the analytics).
        moments = {row.id: row.refunded_at or paid_at for row in own}
        history[order.customer_id].append(Timed(paid, moments))
    return history


def backfill(
    engine: Engine,
    shop_id: int,
    programme: Programme,
    as_of: datetime,
    progress: Progress | None = None,
) -> Backfilled:
    """Replay every non-member customer's purchases and enrol them with the result."""
    m = t.loyalty_members.c
    with engine.connect() as connection:
        history = load_history(connection, shop_id, as_of)
        members = set(
            connection.execute(select(m.customer_id).where(m.shop_id == shop_id)).scalars()
        )
    todo = sorted(c for c in history if c not in members)
    entries = balance = orders = 0
    tiers: dict[str, int] = defaultdict(int)
    for start in range(0, len(todo), BATCH_CUSTOMERS):
        batch = todo[start : start + BATCH_CUSTOMERS]
        replayed = [(c, replay(programme, history[c], as_of)) for c in batch]
        with engine.begin() as connection:
            entries += _write(connection, programme, shop_id, replayed, as_of)
        for customer, done in replayed:
            balance += done.member.balance
            tiers[done.tier.tier] += 1
            orders += len(history[customer])
        if progress is not None:
            progress(min(start + BATCH_CUSTOMERS, len(todo)), len(todo))
    skipped = sum(1 for c in history if c in members)
    return Backfilled(len(todo), skipped, orders, entries, balance, dict(tiers))


def _returning(connection: Connection, table: Any, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert the rows; their new ids in the order of the rows."""
    if not rows:
        return []
    result = connection.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), list(rows)
    )
    return [int(i) for i in result.scalars()]


def _write(
    connection: Connection,
    programme: Programme,
    shop_id: int,
    replayed: Iterable[tuple[int, History]],
    as_of: datetime,
) -> int:
    """Members, entries, lots, lot uses and tier changes of a batch; returns the entries."""
    done = list(replayed)
    member_ids = _returning(
        connection,
        t.loyalty_members,
        [_member_row(programme, shop_id, c, history, as_of) for c, history in done],
    )
    entry_rows: list[dict[str, Any]] = []
    for member_id, (_customer, history) in zip(member_ids, done, strict=True):
        for posted in history.posted:
            e = posted.entry
            entry_rows.append(
                {
                    "shop_id": shop_id,
                    "member_id": member_id,
                    "kind": str(e.kind),
                    "points": e.points,
                    "pending": e.pending,
                    "debt": e.debt,
                    "written_off": e.written_off,
                    "key": e.key,
                    "reason": e.reason,
                    "source": e.source,
                    "detail": posted.detail,
                    "created_at": posted.at,
                }
            )
    entry_ids = iter(_returning(connection, t.loyalty_entries, entry_rows))
    lot_rows: list[dict[str, Any]] = []
    pending_uses: list[tuple[int, int, int, int]] = []  # entry id, member index, lot index, pts
    for index, (member_id, (_customer, history)) in enumerate(zip(member_ids, done, strict=True)):
        creators: dict[int, int] = {}
        for posted in history.posted:
            entry_id = next(entry_ids)
            if posted.entry.creates is not None:
                creators[posted.entry.creates] = entry_id
            for use in posted.entry.uses:
                pending_uses.append((entry_id, index, use.lot, use.points))
        for lot_index, lot in enumerate(history.member.lots):
            lot_rows.append(
                {
                    "shop_id": shop_id,
                    "member_id": member_id,
                    "entry_id": creators[lot_index],
                    "amount": lot.amount,
                    "remaining": lot.remaining,
                    "available_from": lot.available_from,
                    "expires_at": lot.expires_at,
                    "pending": lot.pending,
                    "source": lot.source,
                    "key": lot.key,
                }
            )
    lot_ids = _returning(connection, t.loyalty_lots, lot_rows)
    first_lot: list[int] = []
    offset = 0
    for _customer, history in done:
        first_lot.append(offset)
        offset += len(history.member.lots)
    uses = [
        {
            "entry_id": entry_id,
            "lot_id": lot_ids[first_lot[member] + lot],
            "shop_id": shop_id,
            "points": points,
        }
        for entry_id, member, lot, points in pending_uses
    ]
    if uses:
        connection.execute(insert(t.loyalty_lot_uses), uses)
    changes = [
        {
            "shop_id": shop_id,
            "member_id": member_id,
            "from_tier": change.before,
            "to_tier": change.after,
            "growth": change.growth,
            "reason": change.reason,
            "at": change.at,
        }
        for member_id, (_customer, history) in zip(member_ids, done, strict=True)
        for change in history.changes
    ]
    if changes:
        connection.execute(insert(t.loyalty_tier_changes), changes)
    return len(entry_rows)


def _member_row(
    programme: Programme, shop_id: int, customer_id: int, history: History, as_of: datetime
) -> dict[str, Any]:
    points = history.member
    earned = sum(p.entry.points for p in history.posted if p.entry.kind in _CREDITS)
    redeemed = -sum(p.entry.points for p in history.posted if p.entry.kind is EntryKind.REDEEM)
    joined = history.tier_since or as_of
    first = min((p.at for p in history.posted), default=joined)
    return {
        "shop_id": shop_id,
        "customer_id": customer_id,
        "joined_at": first,
        "balance": points.balance,
        "pending": points.pending,
        "debt": points.debt,
        "negative_allowed": points.balance < 0,
        "earned_total": earned,
        "redeemed_total": redeemed,
        "tier": history.tier.tier,
        "tier_since": joined,
        "growth": history.growth,
        "downgrade_at": (
            day_start(programme, history.tier.downgrade_on)
            if history.tier.downgrade_on is not None
            else None
        ),
        "signin_date": None,
        "signin_streak": 0,
        "updated_at": as_of,
    }
