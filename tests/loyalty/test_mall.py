"""The points mall: reward definitions, visibility and refusals, the pay-with-points rate (pure),
then reservations through the service on SQLite and PostgreSQL: stock and points taken and given
back, per-member limits, tiers, expiry, idempotent replays. Figures hand-computed; the sample
programme's tiers are member < silver < gold < diamond."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from loyalty.support import Shopfront, invariants
from patron.clock import FixedClock
from patron.core import Patron
from patron.db import tables as t
from patron.errors import ConflictError, ErrorCode, InputError, NotFoundError
from patron.intake.model import CustomerInput
from patron.loyalty.mall import (
    Coupon,
    Product,
    Quote,
    Rate,
    Reason,
    Reward,
    RewardKind,
    discount_for_points,
    parse_reward,
    points_for_discount,
    refusal,
    reservation_key,
    reward_dict,
    visible,
)
from patron.loyalty.mall_service import MallService

pytestmark = pytest.mark.postgres

TIERS = ("member", "silver", "gold", "diamond")
AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def definition(**changes: Any) -> dict[str, Any]:
    """A product reward: a mug for 300 points a unit, 3 in stock."""
    return {
        "code": "MUG",
        "kind": "product",
        "title": {"en": "Patron mug", "zh": "马克杯"},
        "points": 300,
        "stock": 3,
        "detail": {"sku": "MUG-01"},
    } | changes


# --- definitions ------------------------------------------------------------------------------


def test_a_definition_reads_into_a_reward_and_back() -> None:
    reward = parse_reward(
        definition(
            min_tier="gold",
            per_member_limit=2,
            visible_from="2026-11-11T00:00:00+08:00",
            visible_until="2026-11-12T00:00:00+08:00",
        ),
        TIERS,
    )
    assert reward == Reward(
        code="MUG",
        kind=RewardKind.PRODUCT,
        title_en="Patron mug",
        title_zh="马克杯",
        points=300,
        detail=Product("MUG-01"),
        stock=3,
        per_member_limit=2,
        min_tier="gold",
        visible_from=datetime(2026, 11, 10, 16, 0, tzinfo=UTC),
        visible_until=datetime(2026, 11, 11, 16, 0, tzinfo=UTC),
        active=True,
    )
    assert parse_reward(reward_dict(reward), TIERS) == reward
    coupon = parse_reward(
        definition(code="C10", kind="coupon", detail={"template": "TEN-OFF-99"}, stock=None),
        TIERS,
    )
    assert (coupon.detail, coupon.stock) == (Coupon("TEN-OFF-99"), None)


def test_a_discount_costs_its_rate_per_unit() -> None:
    rate = {"points_per_unit": 100, "unit_minor": 100}
    reward = parse_reward({**definition(kind="discount", detail=rate), "points": 100}, TIERS)
    assert (reward.points, reward.detail) == (100, Rate(100, 100))
    without = {k: v for k, v in definition(kind="discount", detail=rate).items() if k != "points"}
    assert parse_reward(without, TIERS).points == 100
    with pytest.raises(InputError, match=r"points_per_unit \(100\)") as wrong:
        parse_reward(definition(kind="discount", detail=rate, points=50), TIERS)
    assert wrong.value.details["field"] == "points"


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"price": 5}, "price", "unknown field"),
        ({"code": "mug cup"}, "code", "letters, digits"),
        ({"kind": "voucher"}, "kind", "coupon, product, discount"),
        ({"title": {"en": "Mug"}}, "title.zh", "is required"),
        ({"title": {"en": "Mug", "zh": " "}}, "title.zh", "non-empty"),
        ({"points": "300"}, "points", "whole number"),
        ({"points": 0}, "points", "1 to"),
        ({"points": True}, "points", "whole number"),
        ({"stock": -1}, "stock", "0 to"),
        ({"per_member_limit": 0}, "per_member_limit", "1 to"),
        ({"min_tier": "platinum"}, "min_tier", "member, silver, gold, diamond"),
        ({"detail": {}}, "detail.sku", "is required"),
        ({"detail": {"sku": "X", "size": 2}}, "detail.size", "unknown key"),
        ({"kind": "coupon"}, "detail.sku", "unknown key"),
        (
            {"kind": "discount", "detail": {"points_per_unit": 1, "unit_minor": 0}},
            "detail.unit_minor",
            "1 to",
        ),
        ({"visible_from": "2026-11-11T00:00:00"}, "visible_from", "UTC offset"),
        ({"visible_from": "11/11"}, "visible_from", "ISO 8601"),
        (
            {"visible_from": "2026-11-12T00:00:00Z", "visible_until": "2026-11-11T00:00:00Z"},
            "visible_until",
            "after visible_from",
        ),
        ({"active": "yes"}, "active", "true or false"),
    ],
)
def test_a_bad_definition_names_its_field(changes: dict[str, Any], field: str, text: str) -> None:
    with pytest.raises(InputError, match=text) as refused:
        parse_reward(definition(**changes), TIERS)
    assert refused.value.details["field"] == field
    assert refused.value.message.startswith(f"{field}: ")


def test_keys_are_trimmed_and_cannot_name_a_give_back() -> None:
    assert reservation_key("  order-9:line-1 ") == "order-9:line-1"
    for bad in ("", " ", "x" * 201, "r-1:cancel", "r-1:cancel:3"):
        with pytest.raises(InputError) as refused:
            reservation_key(bad)
        assert refused.value.details["field"] == "key"
    assert reservation_key("cancel") == "cancel"


# --- visibility and refusals ------------------------------------------------------------------


def test_each_refusal_says_why() -> None:
    reward = parse_reward(
        definition(
            min_tier="gold",
            per_member_limit=2,
            visible_from="2026-11-01T00:00:00Z",
            visible_until="2026-12-01T00:00:00Z",
        ),
        TIERS,
    )
    gold, member = 2, 0

    def why(reward: Reward, rank: int, at: datetime, held: int = 0, quantity: int = 1) -> Any:
        refused = refusal(reward, rank, 2, at, held, quantity)
        return None if refused is None else (refused.reason, dict(refused.details))

    assert why(reward, gold, AT) is None
    assert visible(reward, gold, 2, AT) and not visible(reward, member, 2, AT)
    assert why(reward, member, AT) == (Reason.TIER, {"reward": "MUG", "min_tier": "gold"})
    window = {
        "reward": "MUG",
        "visible_from": "2026-11-01T00:00:00+00:00",
        "visible_until": "2026-12-01T00:00:00+00:00",
    }
    assert why(reward, gold, datetime(2026, 10, 31, tzinfo=UTC)) == (Reason.WINDOW, window)
    # The window's end is exclusive.
    assert why(reward, gold, datetime(2026, 12, 1, tzinfo=UTC)) == (Reason.WINDOW, window)
    assert why(reward, gold, AT, quantity=4) == (
        Reason.OUT_OF_STOCK,
        {"reward": "MUG", "left": 3, "wanted": 4},
    )
    assert why(reward, gold, AT, held=1, quantity=2) == (
        Reason.LIMIT_REACHED,
        {"reward": "MUG", "held": 1, "limit": 2, "wanted": 2},
    )
    off = replace(reward, active=False)
    assert why(off, gold, AT) == (Reason.INACTIVE, {"reward": "MUG"})
    message = refusal(reward, gold, 2, AT, 2, 1)
    assert message is not None
    assert message.message == "reward 'MUG' allows 2 per member: 2 of 2 held, 1 wanted"


# --- pay with points --------------------------------------------------------------------------


def test_a_discount_is_quoted_in_whole_units_rounded_down() -> None:
    yuan = Rate(points_per_unit=100, unit_minor=100)  # 100 points take 1 yuan off
    assert points_for_discount(yuan, 1_050) == Quote(units=10, points=1_000, discount_minor=1_000)
    assert discount_for_points(yuan, 1_099) == Quote(units=10, points=1_000, discount_minor=1_000)
    assert points_for_discount(yuan, 99) == Quote(0, 0, 0)
    odd = Rate(points_per_unit=7, unit_minor=3)
    assert points_for_discount(odd, 10) == Quote(3, 21, 9)
    assert discount_for_points(odd, 20) == Quote(2, 14, 6)
    with pytest.raises(InputError, match="discount_minor"):
        points_for_discount(yuan, -1)


@given(st.integers(1, 10_000), st.integers(1, 10_000), st.integers(0, 10**9), st.integers(0, 10**9))
def test_quotes_never_give_more_than_asked_nor_waste_a_whole_unit(
    per_unit: int, unit_minor: int, wanted: int, points: int
) -> None:
    rate = Rate(per_unit, unit_minor)
    by_discount = points_for_discount(rate, wanted)
    assert 0 <= wanted - by_discount.discount_minor < unit_minor
    by_points = discount_for_points(rate, points)
    assert 0 <= points - by_points.points < per_unit
    for quote in (by_discount, by_points):
        assert (quote.points, quote.discount_minor) == (
            quote.units * per_unit,
            quote.units * unit_minor,
        )


# --- through the service ----------------------------------------------------------------------

PAID = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)


@pytest.fixture
def front(patron: Patron) -> Shopfront:
    shop = Shopfront(patron)
    for customer in ("C-1", "C-2"):
        shop.intake.upsert_customer(shop.ctx, customer, CustomerInput(birth_date=date(1990, 1, 1)))
    return shop


@pytest.fixture
def mall(patron: Patron) -> MallService:
    return MallService(patron.engine, patron.clock)


def give(front: Shopfront, customer: str, points: int) -> None:
    """Spendable points at once (an adjustment's lot is not pending)."""
    front.loyalty.adjust(front.shop.id, customer, points, "test points", f"{customer}:give", "qa")


def balance(front: Shopfront, customer: str) -> tuple[int, int]:
    member = front.loyalty.member(front.shop.id, customer)
    return member["balance"], member["available"]


def stock(mall: MallService, front: Shopfront, code: str = "MUG") -> Any:
    (reward,) = [r for r in mall.rewards(front.shop.id) if r["code"] == code]
    return reward["stock"]


def check_ledger(patron: Patron) -> None:
    with patron.engine.connect() as connection:
        invariants(connection)


def ledger_of(patron: Patron) -> list[tuple[str, int, str]]:
    e = t.loyalty_entries.c
    with patron.engine.connect() as connection:
        rows = connection.execute(select(e.kind, e.points, e.key).order_by(e.id)).all()
    return [(kind, points, key) for kind, points, key in rows]


def refused(error: pytest.ExceptionInfo[ConflictError]) -> Any:
    return error.value.details.get("reason")


def test_stock_goes_with_reservations_and_comes_back(
    front: Shopfront, mall: MallService, clock: FixedClock, patron: Patron
) -> None:
    shop = front.shop.id
    mall.put_reward(shop, definition())
    give(front, "C-1", 1_000)
    first = mall.reserve(shop, "C-1", "MUG", 2, "r-1")
    assert first == {
        "key": "r-1",
        "reward": "MUG",
        "kind": "product",
        "title": {"en": "Patron mug", "zh": "马克杯"},
        "detail": {"sku": "MUG-01"},
        "quantity": 2,
        "points": 600,
        "discount_minor": None,
        "state": "reserved",
        "created_at": "2026-11-23T12:00:00+00:00",
        "expires_at": "2026-11-23T12:15:00+00:00",
        "closed_at": None,
        "replayed": False,
    }
    assert (stock(mall, front), balance(front, "C-1")) == (1, (400, 400))
    with pytest.raises(ConflictError, match="1 left, 2 wanted") as out:
        mall.reserve(shop, "C-1", "MUG", 2, "r-2")
    assert refused(out) == "out_of_stock"
    # Refused after the points were spent in the same transaction: nothing stays spent.
    assert (stock(mall, front), balance(front, "C-1")) == (1, (400, 400))

    cancelled = mall.cancel(shop, "r-1")
    assert (cancelled["state"], cancelled["closed_at"]) == ("cancelled", AT.isoformat())
    assert (stock(mall, front), balance(front, "C-1")) == (3, (1_000, 1_000))
    assert mall.cancel(shop, "r-1") == {**cancelled, "replayed": True}

    short = mall.reserve(shop, "C-1", "MUG", 1, "r-3", ttl_seconds=60)
    assert (stock(mall, front), balance(front, "C-1")) == (2, (700, 700))
    clock.advance(61)
    with pytest.raises(ConflictError, match="expired at 2026-11-23T12:01:00") as late:
        mall.confirm(shop, "r-3")
    assert refused(late) == "expired"
    assert mall.expire_due(shop) == 1
    assert (stock(mall, front), balance(front, "C-1")) == (3, (1_000, 1_000))
    assert mall.expire_due(shop) == 0
    assert mall.cancel(shop, "r-3") == {
        **short,
        "state": "expired",
        "closed_at": "2026-11-23T12:01:01+00:00",
        "replayed": True,
    }
    assert ledger_of(patron) == [
        ("adjust", 1_000, "adjust:C-1:give"),
        ("redeem", -600, "mall:r-1"),
        ("reverse", 600, "mall:r-1:cancel"),
        ("redeem", -300, "mall:r-3"),
        ("reverse", 300, "mall:r-3:cancel"),
    ]
    check_ledger(patron)


def test_a_member_holds_at_most_the_limit(
    front: Shopfront, mall: MallService, patron: Patron
) -> None:
    shop = front.shop.id
    mall.put_reward(shop, definition(stock=None, per_member_limit=2))
    give(front, "C-1", 3_000)
    give(front, "C-2", 3_000)
    mall.reserve(shop, "C-1", "MUG", 1, "a")
    mall.confirm(shop, "a")
    mall.reserve(shop, "C-1", "MUG", 1, "b")
    with pytest.raises(ConflictError, match="2 of 2 held, 1 wanted") as over:
        mall.reserve(shop, "C-1", "MUG", 1, "c")
    assert refused(over) == "limit_reached"
    assert over.value.details == {
        "reason": "limit_reached",
        "reward": "MUG",
        "held": 2,
        "limit": 2,
        "wanted": 1,
    }
    # Another member has their own limit; a cancelled unit frees the member's.
    assert mall.reserve(shop, "C-2", "MUG", 2, "d")["points"] == 600
    mall.cancel(shop, "b")
    assert mall.reserve(shop, "C-1", "MUG", 1, "c")["state"] == "reserved"
    listed = mall.rewards(shop, "C-1")
    assert [r["refusal"]["reason"] for r in listed] == ["limit_reached"]
    assert balance(front, "C-1") == (2_400, 2_400)
    check_ledger(patron)


def test_a_gold_reward_is_seen_and_reserved_by_gold_members_only(
    front: Shopfront, mall: MallService, patron: Patron
) -> None:
    shop = front.shop.id
    # 5,000 yuan and one order: Gold at once; the order's points stay pending.
    front.order("O-1", "C-2", [("BOOK", 1, 500_000)], at=PAID)
    front.loyalty.credit_order(shop, "O-1")
    give(front, "C-1", 1_000)
    give(front, "C-2", 1_000)
    mall.put_reward(shop, definition())
    mall.put_reward(shop, definition(code="VASE", min_tier="gold", stock=None))
    mall.put_reward(
        shop, definition(code="SOON", visible_from="2026-12-01T00:00:00+08:00", stock=None)
    )
    mall.put_reward(shop, definition(code="OFF", active=False))
    assert [r["code"] for r in mall.rewards(shop)] == ["MUG", "OFF", "SOON", "VASE"]
    assert [(r["code"], r["refusal"]) for r in mall.rewards(shop, "C-1")] == [("MUG", None)]
    assert [(r["code"], r["refusal"]) for r in mall.rewards(shop, "C-2")] == [
        ("MUG", None),
        ("VASE", None),
    ]
    with pytest.raises(ConflictError, match="for tier 'gold' and above") as hidden:
        mall.reserve(shop, "C-1", "VASE", 1, "v-1")
    assert refused(hidden) == "tier"
    with pytest.raises(ConflictError, match="offered from 2026-11-30T16:00:00") as early:
        mall.reserve(shop, "C-2", "SOON", 1, "s-1")
    assert refused(early) == "window"
    assert mall.reserve(shop, "C-2", "VASE", 1, "v-1")["points"] == 300
    # C-2: 1,000 spendable and 5,100 pending (5,000 for the order, 100 first-order bonus).
    assert balance(front, "C-2") == (5_800, 700)
    assert balance(front, "C-1") == (1_000, 1_000)
    with pytest.raises(NotFoundError):
        mall.reserve(shop, "C-2", "NOPE", 1, "n-1")
    with pytest.raises(InputError, match="min_tier: unknown tier 'platinum'"):
        mall.put_reward(shop, definition(min_tier="platinum"))
    check_ledger(patron)


def test_every_operation_replays_its_key(
    front: Shopfront, mall: MallService, patron: Patron
) -> None:
    shop = front.shop.id
    mall.put_reward(shop, definition())
    mall.put_reward(shop, definition(code="CUP", stock=None))
    give(front, "C-1", 1_000)
    give(front, "C-2", 1_000)
    first = mall.reserve(shop, "C-1", "MUG", 1, "k-1")
    assert mall.reserve(shop, "C-1", "MUG", 1, " k-1 ") == {**first, "replayed": True}
    for customer, code, quantity in (("C-1", "MUG", 2), ("C-1", "CUP", 1), ("C-2", "MUG", 1)):
        with pytest.raises(ConflictError) as reused:
            mall.reserve(shop, customer, code, quantity, "k-1")
        assert reused.value.code == ErrorCode.IDEMPOTENCY_KEY_REUSED
    assert (stock(mall, front), balance(front, "C-1"), balance(front, "C-2")) == (
        2,
        (700, 700),
        (1_000, 1_000),
    )
    confirmed = mall.confirm(shop, "k-1")
    assert (confirmed["state"], confirmed["replayed"]) == ("confirmed", False)
    assert mall.confirm(shop, "k-1") == {**confirmed, "replayed": True}
    # A retried reserve answers the reservation as it stands now.
    assert mall.reserve(shop, "C-1", "MUG", 1, "k-1") == {**confirmed, "replayed": True}
    with pytest.raises(ConflictError, match="cannot cancel reservation 'k-1'") as final:
        mall.cancel(shop, "k-1")
    assert refused(final) == "confirmed"
    mall.reserve(shop, "C-1", "MUG", 1, "k-2")
    mall.cancel(shop, "k-2")
    with pytest.raises(ConflictError, match="it was cancelled") as gone:
        mall.confirm(shop, "k-2")
    assert refused(gone) == "cancelled"
    with pytest.raises(NotFoundError):
        mall.confirm(shop, "k-3")
    assert (stock(mall, front), balance(front, "C-1")) == (2, (700, 700))
    assert [key for kind, _, key in ledger_of(patron) if kind in ("redeem", "reverse")] == [
        "mall:k-1",
        "mall:k-2",
        "mall:k-2:cancel",
    ]
    check_ledger(patron)


def test_pay_with_points_reserves_whole_units_of_discount(
    front: Shopfront, mall: MallService
) -> None:
    shop = front.shop.id
    rate = {"points_per_unit": 100, "unit_minor": 100}
    mall.put_reward(
        shop, definition(code="CASH", kind="discount", detail=rate, stock=None, points=100)
    )
    give(front, "C-1", 1_234)
    # 10.50 yuan wanted off: 10 whole yuan for 1,000 points.
    quote = points_for_discount(Rate(100, 100), 1_050)
    answer = mall.reserve(shop, "C-1", "CASH", quote.units, "pay-1")
    assert (answer["points"], answer["discount_minor"]) == (1_000, 1_000)
    assert balance(front, "C-1") == (234, 234)


def test_points_given_back_to_spent_out_or_expired_lots(
    front: Shopfront, mall: MallService, clock: FixedClock, patron: Patron
) -> None:
    shop = front.shop.id
    mall.put_reward(shop, definition(stock=None))
    give(front, "C-1", 900)
    mall.reserve(shop, "C-1", "MUG", 3, "all")  # the lot is spent out
    mall.cancel(shop, "all")
    assert balance(front, "C-1") == (900, 900)
    mall.reserve(shop, "C-1", "MUG", 3, "late", ttl_seconds=3_600)
    # Points of 2026 expire at the end of 2027 (Beijing time); released in 2028 they expire.
    clock.advance((datetime(2028, 1, 2, tzinfo=UTC) - clock.now()).total_seconds())
    assert mall.expire_due(shop) == 1
    assert balance(front, "C-1") == (0, 0)
    kinds = [(kind, points) for kind, points, _ in ledger_of(patron)][-2:]
    assert kinds == [("reverse", 900), ("expire", -900)]
    check_ledger(patron)


def test_points_too_few_refuse_the_reservation_and_keep_the_stock(
    front: Shopfront, mall: MallService, patron: Patron
) -> None:
    shop = front.shop.id
    mall.put_reward(shop, definition())
    give(front, "C-1", 500)
    with pytest.raises(ConflictError) as poor:
        mall.reserve(shop, "C-1", "MUG", 2, "p-1")
    assert poor.value.code == ErrorCode.POINTS_INSUFFICIENT
    assert (stock(mall, front), balance(front, "C-1")) == (3, (500, 500))
    with pytest.raises(InputError, match="quantity"):
        mall.reserve(shop, "C-1", "MUG", 0, "p-2")
    with pytest.raises(InputError, match="ttl_seconds"):
        mall.reserve(shop, "C-1", "MUG", 1, "p-2", ttl_seconds=0)
    check_ledger(patron)
