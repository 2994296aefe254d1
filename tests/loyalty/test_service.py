"""The loyalty service on SQLite and PostgreSQL: orders earn, refunds take back, tiers rise at
once, redemptions spend, every write is idempotent. Figures hand-computed from the sample
programme (1 point per yuan; 奶粉 ×0.5, 精华 ×3, Patron Select ×2; first order +100)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from loyalty.support import Shopfront, invariants, sample_document
from patron.clock import FixedClock
from patron.core import Patron
from patron.db import tables as t
from patron.errors import ConfigError, ConflictError, ErrorCode

pytestmark = pytest.mark.postgres

PAID = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
BASKET = [("MILK", 2, 10_000), ("SERUM", 1, 30_000), ("TEE", 1, 5_000), ("BOOK", 1, 2_000)]
"""200 yuan of formula (100 points), 300 of serum (900), 50 of the own brand (100), 20 of
books (20): 1,120 points."""


@pytest.fixture
def front(patron: Patron) -> Shopfront:
    return Shopfront(patron)


def test_an_order_earns_pending_points_once(front: Shopfront, patron: Patron) -> None:
    front.order("O-1", "C-1", BASKET, at=PAID)
    credit = front.loyalty.credit_order(front.shop.id, "O-1")
    assert (credit.earned, credit.reversed) == (1_220, 0)
    assert credit.member is not None
    member = credit.member
    assert (member["balance"], member["pending"], member["available"]) == (1_220, 1_220, 0)
    # 570 yuan and one order: growth 580, still a Member (Silver needs 1,000).
    assert (member["growth"], member["tier"]["code"]) == (580, "member")
    assert member["next_tier"]["code"] == "silver"
    assert member["next_tier"]["growth_needed"] == 420
    # Points earned in 2026 expire at the end of 2027, Beijing time.
    assert member["next_expiry"] == {"at": "2027-12-31T16:00:00+00:00", "points": 1_220}
    again = front.loyalty.credit_order(front.shop.id, "O-1")
    assert (again.earned, again.member and again.member["balance"]) == (0, 1_220)
    with patron.engine.connect() as connection:
        lot = connection.execute(select(t.loyalty_lots)).one()
        invariants(connection)
    # Spendable from the end of the 15th local day after payment: 27 Nov 00:00 Shanghai.
    assert lot.available_from == datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
    detail = front.loyalty.history(front.shop.id, "C-1").items
    assert [(e["kind"], e["points"]) for e in detail] == [("earn", 1_220)]


def test_a_partial_refund_takes_back_the_lines_share(front: Shopfront, patron: Patron) -> None:
    front.order("O-1", "C-1", BASKET, at=PAID)
    front.loyalty.credit_order(front.shop.id, "O-1")
    front.refund("O-1", "R-1", line=2, amount=15_000, at=PAID)
    credit = front.loyalty.credit_order(front.shop.id, "O-1")
    # Half the serum: 450 of its 900 points; the first-order bonus stays.
    assert credit.reversed == 450
    assert credit.member is not None
    assert (credit.member["balance"], credit.member["pending"]) == (770, 770)
    # 570 − 150 yuan and the order still counts: 420 + 10.
    assert credit.member["growth"] == 430
    assert front.loyalty.credit_order(front.shop.id, "O-1").reversed == 0
    with patron.engine.connect() as connection:
        invariants(connection)


def test_pending_points_cannot_be_spent_until_the_window_ends(
    front: Shopfront, clock: FixedClock
) -> None:
    front.order("O-1", "C-1", BASKET, at=PAID)
    front.loyalty.credit_order(front.shop.id, "O-1")
    with pytest.raises(ConflictError) as refused:
        front.loyalty.redeem(front.shop.id, "C-1", 100, "r-1", "mall")
    assert refused.value.code == ErrorCode.POINTS_INSUFFICIENT
    clock.advance((datetime(2026, 11, 26, 16, 0, tzinfo=UTC) - clock.now()).total_seconds())
    spent = front.loyalty.redeem(front.shop.id, "C-1", 100, "r-1", "mall")
    assert spent.entry is not None and spent.entry["points"] == -100
    assert (spent.member["balance"], spent.member["available"]) == (1_120, 1_120)
    replay = front.loyalty.redeem(front.shop.id, "C-1", 100, "r-1", "mall")
    assert replay.replayed and replay.member["balance"] == 1_120
    with pytest.raises(ConflictError) as reused:
        front.loyalty.redeem(front.shop.id, "C-1", 99, "r-1", "mall")
    assert reused.value.code == ErrorCode.IDEMPOTENCY_KEY_REUSED


def test_a_cancelled_order_gives_back_every_point(front: Shopfront, patron: Patron) -> None:
    front.order("O-1", "C-1", BASKET, at=PAID)
    front.loyalty.credit_order(front.shop.id, "O-1")
    front.refund("O-1", "R-1", line=4, amount=2_000, at=PAID)
    front.loyalty.credit_order(front.shop.id, "O-1")
    front.cancel("O-1", PAID)
    credit = front.loyalty.credit_order(front.shop.id, "O-1")
    # 20 points went with the refund; the other 1,100 and the bonus go now.
    assert credit.reversed == 1_200
    assert credit.member is not None and credit.member["balance"] == 0
    with patron.engine.connect() as connection:
        invariants(connection)


def test_the_order_discount_is_spread_over_the_lines(front: Shopfront) -> None:
    # 100 yuan of books and 100 of the own brand, 20 yuan off: each line pays 90.
    front.order("O-1", "C-1", [("BOOK", 1, 10_000), ("TEE", 1, 10_000)], at=PAID, discount=2_000)
    assert front.loyalty.credit_order(front.shop.id, "O-1").earned == 90 + 180 + 100


def test_a_tier_is_reached_at_once_and_multiplies_later_points(
    front: Shopfront, patron: Patron
) -> None:
    front.order("O-1", "C-1", [("BOOK", 1, 500_000)], at=PAID)
    first = front.loyalty.credit_order(front.shop.id, "O-1")
    # 5,000 yuan + 10: Gold.
    assert first.member is not None and first.member["tier"]["code"] == "gold"
    front.order("O-2", "C-1", [("BOOK", 1, 10_000)], at=PAID)
    # 100 yuan at Gold's ×1.5; not a first order.
    assert front.loyalty.credit_order(front.shop.id, "O-2").earned == 150
    with patron.engine.connect() as connection:
        changes = connection.execute(
            select(t.loyalty_tier_changes.c.from_tier, t.loyalty_tier_changes.c.to_tier)
        ).all()
        events = connection.execute(select(t.loyalty_events.c.kind)).scalars().all()
    assert [tuple(c) for c in changes] == [("member", "gold")]
    assert events == ["tier_changed"]


def test_spent_points_of_a_refund_become_a_debt_paid_by_the_next_order(
    front: Shopfront, clock: FixedClock, patron: Patron
) -> None:
    front.order("O-1", "C-1", [("BOOK", 1, 10_000)], at=PAID)
    front.loyalty.credit_order(front.shop.id, "O-1")
    clock.advance(5 * 86_400)
    front.loyalty.redeem(front.shop.id, "C-1", 200, "r-1", "coupon")
    front.refund("O-1", "R-1", amount=10_000, at=clock.now())
    credit = front.loyalty.credit_order(front.shop.id, "O-1")
    # 100 points and the 100 bonus to take back; all 200 were spent: a debt of 200.
    assert credit.member is not None
    assert (credit.reversed, credit.member["balance"], credit.member["debt"]) == (200, 0, 200)
    front.order("O-2", "C-1", [("BOOK", 1, 50_000)], at=clock.now())
    later = front.loyalty.credit_order(front.shop.id, "O-2")
    # O-1 was refunded in full: O-2 is not a first order. 500 points, 200 of them owed.
    assert later.member is not None
    assert (later.member["balance"], later.member["debt"]) == (300, 0)
    with patron.engine.connect() as connection:
        invariants(connection)


def test_the_programme_is_versioned_and_validated(front: Shopfront) -> None:
    assert front.loyalty.programme(front.shop.id).version == 1
    same = front.loyalty.set_programme(front.shop.id, sample_document())
    assert same.version == 1
    changed = front.loyalty.set_programme(front.shop.id, sample_document(pending_days=7))
    assert (changed.version, changed.pending_days) == (2, 7)
    with pytest.raises(ConfigError, match="currency"):
        front.loyalty.set_programme(front.shop.id, sample_document(currency="USD"))
    with pytest.raises(ConfigError, match="pending_days"):
        front.loyalty.set_programme(front.shop.id, sample_document(pending_days=-1))
    assert front.loyalty.programme(front.shop.id).version == 2


def test_an_order_cancelled_before_payment_enrols_nobody(front: Shopfront) -> None:
    front.order("O-1", "C-1", BASKET, at=PAID, status="pending")
    front.cancel("O-1", PAID)
    credit = front.loyalty.credit_order(front.shop.id, "O-1")
    assert (credit.earned, credit.reversed, credit.member) == (0, 0, None)
