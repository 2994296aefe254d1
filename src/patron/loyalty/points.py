"""One change of a member's points inside a transaction: enrol, lock, replay or post, store.

A write's idempotency key is its ledger entry's key: when an entry with the key is stored, the
write was done before and is replayed (the same points answer again; other points with the
same key are refused). Concurrent writes with one key serialise on the member's row lock, and
the entries' unique key settles even writes that race on two members.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from patron.errors import ConflictError, ErrorCode
from patron.loyalty.ledger import Posting
from patron.loyalty.model import Member, RefundPolicy
from patron.loyalty.store import Account, ensure_member, find_entry, lock_member, store

Operation = Callable[[Member], Posting]


@dataclass(frozen=True, slots=True)
class Applied:
    """The member after a write, its entries' ids (empty when replayed) and the entry of its
    key (stored now, or before)."""

    account: Account
    entry_ids: tuple[int, ...]
    entry: Mapping[str, Any]
    replayed: bool


def apply(
    connection: Connection,
    shop_id: int,
    customer_id: int,
    key: str,
    points: int | None,
    operation: Operation,
    *,
    now: datetime,
    policy: RefundPolicy,
    base_tier: str,
    details: Mapping[str, Any] | None = None,
    extra_lots: Iterable[int] = (),
    locked: Account | None = None,
) -> Applied:
    """Run ``operation`` on the member's points under their row lock and store its posting,
    unless the entry ``key`` exists (then replay it; ``points``, when given, must match).
    ``locked``: the member, already locked in this transaction with their live lots."""
    account = locked or lock_member(connection, shop_id, customer_id, extra_lots)
    if account is None:  # enrolled by the first write that concerns them
        ensure_member(connection, shop_id, customer_id, base_tier, now)
        account = lock_member(connection, shop_id, customer_id, extra_lots)
        assert account is not None
    done = find_entry(connection, shop_id, key)
    if done is not None:
        if done.member_id != account.id or (points is not None and done.points != points):
            raise ConflictError(
                f"key {key!r} was already used for another points operation",
                code=ErrorCode.IDEMPOTENCY_KEY_REUSED,
                key=key,
            )
        return Applied(account, (), done._asdict(), True)
    posting = operation(account.points)
    ids = store(connection, shop_id, account, posting, now, policy, details)
    (index,) = [i for i, e in enumerate(posting.entries) if e.key == key]
    made = posting.entries[index]
    entry = {
        "id": ids[index],
        "kind": str(made.kind),
        "points": made.points,
        "key": made.key,
        "reason": made.reason,
        "source": made.source,
        "created_at": now,
    }
    return Applied(replace(account, points=posting.member), tuple(ids), entry, False)
