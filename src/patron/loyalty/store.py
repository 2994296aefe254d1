"""Members, lots and ledger entries in the operational database: load a member under its row
lock, store what the pure ledger (:mod:`patron.loyalty.ledger`) posted.

Every change of a member's points happens while holding the member's row lock
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's writers hold the database's write lock from
``BEGIN IMMEDIATE``). A write that touches several members locks them in id order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, insert, or_, select, update

from patron.db import tables as t
from patron.intake.sql import insert_for
from patron.loyalty.ledger import Posting
from patron.loyalty.model import Entry, EntryKind, Lot, Member, RefundPolicy

_members = t.loyalty_members.c
_customers = t.customers.c
_lots = t.loyalty_lots.c
_entries = t.loyalty_entries.c


@dataclass(frozen=True, slots=True)
class Account:
    """A member's row (locked) and their points."""

    id: int
    customer_id: int
    tier: str
    tier_since: datetime
    growth: int
    downgrade_at: datetime | None
    points: Member
    row: Row[Any]


def ensure_member(
    connection: Connection, shop_id: int, customer_id: int, tier: str, now: datetime
) -> None:
    """Enrol the customer (in ``tier``) unless they already are a member."""
    connection.execute(
        insert_for(connection, t.loyalty_members)
        .values(
            shop_id=shop_id,
            customer_id=customer_id,
            joined_at=now,
            balance=0,
            pending=0,
            debt=0,
            negative_allowed=False,
            earned_total=0,
            redeemed_total=0,
            tier=tier,
            tier_since=now,
            growth=0,
            signin_streak=0,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["shop_id", "customer_id"])
    )


# Statements built once: the operations of the ledger run them thousands of times a second,
# and building and keying a statement cost more than SQLAlchemy's execution of it.
_MEMBER = select(t.loyalty_members, _customers.birth_date).join(
    t.customers, _customers.id == _members.customer_id
)
_BY_ID = _MEMBER.where(
    _members.shop_id == bindparam("shop_id"), _members.customer_id == bindparam("customer")
)
_BY_EXTERNAL_ID = _MEMBER.where(
    _customers.shop_id == bindparam("shop_id"), _customers.external_id == bindparam("customer")
)
_LOCKED = {
    query: query.with_for_update(of=t.loyalty_members) for query in (_BY_ID, _BY_EXTERNAL_ID)
}
_LIVE = or_(_lots.remaining > 0, _lots.pending)
_LIVE_LOTS = (
    select(t.loyalty_lots)
    .where(_lots.member_id == bindparam("member_id"), _LIVE)
    .order_by(_lots.id)
)
_FIND_ENTRY = select(t.loyalty_entries).where(
    _entries.shop_id == bindparam("shop_id"), _entries.key == bindparam("key")
)


def lock_member(
    connection: Connection,
    shop_id: int,
    customer_id: int,
    extra_lots: Iterable[int] = (),
    *,
    lock: bool = True,
) -> Account | None:
    """The member row, locked until the transaction ends (unless ``lock`` is false: a read),
    with their live lots (points left, or still pending) and the lots of ``extra_lots``."""
    return _account(connection, _BY_ID, shop_id, customer_id, extra_lots, lock)


def lock_customer(
    connection: Connection, shop_id: int, external_id: str, *, lock: bool = True
) -> Account | None:
    """:func:`lock_member` by the customer's external id, in one query; ``None`` when the
    customer is not a member (or does not exist)."""
    return _account(connection, _BY_EXTERNAL_ID, shop_id, external_id, (), lock)


def _account(
    connection: Connection,
    query: Select[Any],
    shop_id: int,
    customer: int | str,
    extra_lots: Iterable[int],
    lock: bool,
) -> Account | None:
    params = {"shop_id": shop_id, "customer": customer}
    row = connection.execute(_LOCKED[query] if lock else query, params).first()
    if row is None:
        return None
    wanted = list(extra_lots)
    lots_query = (
        select(t.loyalty_lots)
        .where(_lots.member_id == row.id, or_(_LIVE, _lots.id.in_(wanted)))
        .order_by(_lots.id)
        if wanted
        else _LIVE_LOTS
    )
    lots = tuple(
        Lot(
            lot.id,
            lot.amount,
            lot.remaining,
            lot.available_from,
            lot.expires_at,
            lot.pending,
            lot.source,
            lot.key,
        )
        for lot in connection.execute(lots_query, {"member_id": row.id})
    )
    points = Member(row.balance, row.pending, row.debt, lots)
    return Account(
        row.id,
        row.customer_id,
        row.tier,
        row.tier_since,
        row.growth,
        row.downgrade_at,
        points,
        row,
    )


def find_entry(connection: Connection, shop_id: int, key: str) -> Row[Any] | None:
    return connection.execute(_FIND_ENTRY, {"shop_id": shop_id, "key": key}).first()


_UPDATE_LOT = (
    update(t.loyalty_lots)
    .where(_lots.id == bindparam("lot_id"))
    .values(remaining=bindparam("new_remaining"), pending=bindparam("new_pending"))
)


def store(
    connection: Connection,
    shop_id: int,
    account: Account,
    posting: Posting,
    now: datetime,
    policy: RefundPolicy,
    details: Mapping[str, Any] | None = None,
) -> list[int]:
    """Append the posting's entries (``details`` by entry key), create and update its lots,
    record which lots each entry used, and update the member's cached sums; returns the ids
    of the entries in order."""
    before = account.points
    after = posting.member
    lot_ids: list[int | None] = [lot.id for lot in after.lots]
    entry_ids: list[int] = []
    uses: list[dict[str, Any]] = []
    for entry in posting.entries:
        entry_id = _insert_entry(connection, shop_id, account.id, entry, now, details)
        entry_ids.append(entry_id)
        if entry.creates is not None:
            lot = after.lots[entry.creates]
            lot_ids[entry.creates] = _insert_lot(connection, shop_id, account.id, entry_id, lot)
        for use in entry.uses:
            lot_id = lot_ids[use.lot]
            assert lot_id is not None
            uses.append(
                {"entry_id": entry_id, "lot_id": lot_id, "shop_id": shop_id, "points": use.points}
            )
    if uses:
        connection.execute(insert(t.loyalty_lot_uses), uses)
    changed = [
        {"lot_id": old.id, "new_remaining": new.remaining, "new_pending": new.pending}
        for old, new in zip(before.lots, after.lots, strict=False)
        if (old.remaining, old.pending) != (new.remaining, new.pending)
    ]
    if changed:
        connection.execute(_UPDATE_LOT, changed)
    earned = sum(e.points for e in posting.entries if e.kind in _CREDITS and e.points > 0)
    # Spent points given back (a cancelled reservation) are no longer redeemed.
    redeemed = -sum(e.points for e in posting.entries if e.kind is EntryKind.REDEEM) - sum(
        e.points for e in posting.entries if e.kind is EntryKind.REVERSE and e.points > 0
    )
    connection.execute(
        _UPDATE_MEMBER,
        {
            "member_id": account.id,
            "new_balance": after.balance,
            "new_pending": after.pending,
            "new_debt": after.debt,
            "negative": policy is RefundPolicy.NEGATIVE_BALANCE or before.balance < 0,
            "earned": earned,
            "redeemed": redeemed,
            "now": now,
        },
    )
    return entry_ids


_CREDITS = (EntryKind.EARN, EntryKind.ADJUST)
_UPDATE_MEMBER = (
    update(t.loyalty_members)
    .where(_members.id == bindparam("member_id"))
    .values(
        balance=bindparam("new_balance"),
        pending=bindparam("new_pending"),
        debt=bindparam("new_debt"),
        negative_allowed=bindparam("negative"),
        earned_total=_members.earned_total + bindparam("earned"),
        redeemed_total=_members.redeemed_total + bindparam("redeemed"),
        updated_at=bindparam("now"),
    )
)
_INSERT_ENTRY = insert(t.loyalty_entries).returning(_entries.id)
_INSERT_LOT = insert(t.loyalty_lots).returning(_lots.id)


def _insert_entry(
    connection: Connection,
    shop_id: int,
    member_id: int,
    entry: Entry,
    now: datetime,
    details: Mapping[str, Any] | None,
) -> int:
    detail = details.get(entry.key) if details else None
    row = {
        "shop_id": shop_id,
        "member_id": member_id,
        "kind": str(entry.kind),
        "points": entry.points,
        "pending": entry.pending,
        "debt": entry.debt,
        "written_off": entry.written_off,
        "key": entry.key,
        "reason": entry.reason[:500],
        "source": entry.source[:200],
        "detail": detail,
        "created_at": now,
    }
    return int(connection.execute(_INSERT_ENTRY, row).scalar_one())


def _insert_lot(
    connection: Connection, shop_id: int, member_id: int, entry_id: int, lot: Lot
) -> int:
    row = {
        "shop_id": shop_id,
        "member_id": member_id,
        "entry_id": entry_id,
        "amount": lot.amount,
        "remaining": lot.remaining,
        "available_from": lot.available_from,
        "expires_at": lot.expires_at,
        "pending": lot.pending,
        "source": lot.source,
        "key": lot.key,
    }
    return int(connection.execute(_INSERT_LOT, row).scalar_one())
