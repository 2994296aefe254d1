"""The backfill gives each customer what crediting their orders as they happened would have:
the same entries, balance, pending points, debt, tier and growth (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from loyalty.support import Shopfront, invariants
from patron.clock import FixedClock
from patron.core import Patron
from patron.db import tables as t

pytestmark = pytest.mark.postgres

END = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
"""The tests' clock: the backfill is as of then."""

# (moment, action, arguments): orders placed and paid at the moment, refunds made then.
HISTORY: list[tuple[datetime, str, tuple[Any, ...]]] = [
    (datetime(2026, 6, 1, 3, 0, tzinfo=UTC), "order", ("O-1", "C-1", [("BOOK", 1, 30_000)])),
    (datetime(2026, 6, 2, 3, 0, tzinfo=UTC), "order", ("O-2", "C-2", [("SERUM", 1, 20_000)])),
    (
        datetime(2026, 7, 10, 3, 0, tzinfo=UTC),
        "order",
        ("O-3", "C-1", [("TEE", 2, 20_000), ("MILK", 1, 40_000)]),
    ),
    (datetime(2026, 7, 12, 3, 0, tzinfo=UTC), "refund", ("O-3", "R-1", 1, 15_000)),
    (datetime(2026, 7, 20, 3, 0, tzinfo=UTC), "refund", ("O-2", "R-2", None, 20_000)),
    (datetime(2026, 8, 1, 3, 0, tzinfo=UTC), "order", ("O-4", "C-1", [("BOOK", 1, 10_000)])),
    (datetime(2026, 11, 20, 3, 0, tzinfo=UTC), "order", ("O-5", "C-2", [("BOOK", 1, 5_000)])),
]


def _play(front: Shopfront, clock: FixedClock, *, credit: bool) -> None:
    for at, action, args in HISTORY:
        clock.advance((at - clock.now()).total_seconds())
        if action == "order":
            front.order(args[0], args[1], args[2], at=at)
        else:
            front.refund(args[0], args[1], line=args[2], amount=args[3], at=at)
        if credit:
            front.loyalty.credit_order(front.shop.id, args[0])
    clock.advance((END - clock.now()).total_seconds())


def _ledger(patron: Patron, shop_id: int) -> dict[str, Any]:
    """Members and their entries but activations and expiries: the backfill writes those due
    by its moment, which online only the next operation or daily run writes (the members'
    settled figures are compared whole)."""
    m, e, c = t.loyalty_members.c, t.loyalty_entries.c, t.customers.c
    with patron.engine.connect() as connection:
        members = connection.execute(
            select(c.external_id, m.id, m.tier, m.growth)
            .join(t.customers, c.id == m.customer_id)
            .where(m.shop_id == shop_id)
            .order_by(c.external_id)
        ).all()
        entries = {
            customer: Counter(
                (row.kind, row.points, row.source)
                for row in connection.execute(
                    select(e.kind, e.points, e.source).where(
                        e.member_id == member_id, e.kind.not_in(("activate", "expire"))
                    )
                )
            )
            for customer, member_id, _tier, _growth in members
        }
    return {"members": [(r[0], r[2], r[3]) for r in members], "entries": entries}


def test_backfill_equals_crediting_orders_as_they_happened(
    patron: Patron, clock: FixedClock
) -> None:
    clock.advance((HISTORY[0][0] - clock.now()).total_seconds() - 86_400)
    online = Shopfront(patron, name="online")
    replayed = Shopfront(patron, name="replayed")
    start = clock.now()
    _play(online, clock, credit=True)
    clock.advance((start - clock.now()).total_seconds())
    _play(replayed, clock, credit=False)
    done = replayed.loyalty.backfill(replayed.shop.id)
    assert (done.customers, done.skipped, done.orders) == (2, 0, 5)
    for customer in ("C-1", "C-2"):
        assert replayed.loyalty.member(replayed.shop.id, customer) == online.loyalty.member(
            online.shop.id, customer
        )
    # The stored growth of the online path is as of each member's last order; compare tiers.
    backfilled = _ledger(patron, replayed.shop.id)
    credited = _ledger(patron, online.shop.id)
    assert [m[:2] for m in backfilled["members"]] == [m[:2] for m in credited["members"]]
    # C-1: 300 + 100 bonus; O-3 reaches Silver (310 + 800 + 10 ≥ 1,000) but earns at the tier
    # it was paid at: 800 own brand ×2 + 200 formula ×0.5 = 1,000; R-1 takes back 150 yuan of
    # the 400 of the first line (800 points): 300; O-4 at Silver: 100 × 1.2.
    c1 = online.loyalty.member(online.shop.id, "C-1")
    assert (c1["tier"]["code"], c1["balance"]) == ("silver", 400 + 1_000 - 300 + 120)
    assert backfilled["entries"] == credited["entries"]
    again = replayed.loyalty.backfill(replayed.shop.id)
    assert (again.customers, again.skipped) == (0, 2)
    with patron.engine.connect() as connection:
        invariants(connection)
