"""The synthetic shop: deterministic, internally consistent, and with real behavioural signal."""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from patron.demo import DemoFiles, generate_shop
from patron.errors import InputError
from patron.ingest.model import Entity, EventType, OrderStatus
from patron.ingest.schema import field_names

Rows = list[dict[str, str]]
MONEY = re.compile(r"^\d+\.\d{2}$")
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
FIRST, LAST = "2024-11-01 00:00:00", "2026-10-31 23:59:59"
END = datetime(2026, 11, 1)


def read(path: Path) -> Rows:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def fen(text: str) -> int:
    assert MONEY.match(text), text
    return int(text.replace(".", ""))


def stamp(text: str) -> datetime:
    assert STAMP.match(text), text
    return datetime.fromisoformat(text)


class Shop:
    """The files of one generated shop, read once."""

    def __init__(self, files: DemoFiles) -> None:
        self.files = files
        self.customers = read(files.customers)
        self.products = read(files.products)
        self.orders = read(files.orders)
        self.refunds = read(files.refunds)
        self.events = read(files.events)
        self.reviews = read(files.reviews)
        self.by_order: dict[str, Rows] = defaultdict(list)
        for row in self.orders:
            self.by_order[row["order_id"]].append(row)

    def orders_per_customer(self) -> Counter[str]:
        return Counter(lines[0]["customer_id"] for lines in self.by_order.values())


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    return Shop(generate_shop(tmp_path_factory.mktemp("shop"), customers=1_500, seed=7))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    return Shop(generate_shop(tmp_path_factory.mktemp("small"), customers=200, seed=3))


def _bytes(files: DemoFiles) -> dict[Entity, bytes]:
    return {entity: path.read_bytes() for entity, path in files.paths().items()}


def test_same_seed_and_size_give_identical_bytes(tmp_path: Path) -> None:
    first = generate_shop(tmp_path / "a", customers=300, seed=11)
    second = generate_shop(tmp_path / "b", customers=300, seed=11)
    assert _bytes(first) == _bytes(second)
    assert first.counts == second.counts


def test_another_seed_gives_another_shop(tmp_path: Path) -> None:
    first = _bytes(generate_shop(tmp_path / "a", customers=300, seed=11))
    second = _bytes(generate_shop(tmp_path / "b", customers=300, seed=12))
    assert all(first[entity] != second[entity] for entity in first)


def test_catalogue_does_not_depend_on_the_number_of_customers(tmp_path: Path) -> None:
    few = generate_shop(tmp_path / "a", customers=50, seed=7)
    many = generate_shop(tmp_path / "b", customers=400, seed=7)
    assert few.products.read_bytes() == many.products.read_bytes()


def test_headers_are_canonical_columns(shop: Shop) -> None:
    for entity, path in shop.files.paths().items():
        header = path.read_text(encoding="utf-8").split("\n", 1)[0].split(",")
        canonical = field_names(entity)
        plain = [name for name in header if not name.startswith("attr_")]
        assert plain == [name for name in canonical if name in plain], entity
    customers = shop.customers[0].keys()
    assert {"attr_member_source", "attr_baby_birth"} <= set(customers)


def test_counts_describe_the_files(shop: Shop) -> None:
    assert shop.files.counts[Entity.CUSTOMERS] == len(shop.customers) == 1_500
    assert shop.files.counts[Entity.ORDERS] == len(shop.orders)
    assert shop.files.counts[Entity.EVENTS] == len(shop.events)
    assert shop.files.order_count == len(shop.by_order)


def test_catalogue_is_a_three_level_tree_of_about_1500_products(shop: Shop) -> None:
    assert 1_300 <= len(shop.products) <= 1_700
    assert shop.products[0]["sku"] == "SKU-000001"
    paths = {row["category_path"] for row in shop.products}
    assert all(len(path.split(" > ")) == 3 for path in paths)
    assert {"母婴 > 奶粉 > 1段", "美妆 > 护肤 > 面霜", "数码 > 手机配件 > 充电器"} <= paths
    assert all(fen(row["list_price"]) > 0 and row["currency"] == "CNY" for row in shop.products)


def test_ids_are_unique_and_well_formed(shop: Shop) -> None:
    for rows, key, pattern in (
        (shop.customers, "customer_id", r"^C\d{6}$"),
        (shop.products, "sku", r"^SKU-\d{6}$"),
        (shop.refunds, "refund_id", r"^RF\d{8}$"),
        (shop.events, "event_id", r"^E\d{9}$"),
        (shop.reviews, "review_id", r"^RV\d{8}$"),
    ):
        ids = [row[key] for row in rows]
        assert len(set(ids)) == len(ids)
        assert all(re.match(pattern, i) for i in ids)
    assert all(re.match(r"^O\d{8}$", order) for order in shop.by_order)


def test_every_reference_exists(shop: Shop) -> None:
    customers = {row["customer_id"] for row in shop.customers}
    skus = {row["sku"] for row in shop.products}
    assert {row["customer_id"] for row in shop.orders} <= customers
    assert {row["sku"] for row in shop.orders} <= skus
    assert {row["customer_id"] for row in shop.events} - {""} <= customers
    assert {row["sku"] for row in shop.events} - {""} <= skus
    for review in shop.reviews:
        lines = shop.by_order[review["order_id"]]
        assert review["sku"] in {line["sku"] for line in lines}
        assert review["customer_id"] == lines[0]["customer_id"]


def test_order_totals_add_up_exactly_in_fen(shop: Shop) -> None:
    for lines in shop.by_order.values():
        subtotal = 0
        for line in lines:
            assert fen(line["line_total"]) == fen(line["unit_price"]) * int(line["quantity"])
            subtotal += fen(line["line_total"])
        head = lines[0]
        for column in ("customer_id", "placed_at", "status", "discount", "shipping", "total"):
            assert {line[column] for line in lines} == {head[column]}
        assert fen(head["total"]) == subtotal - fen(head["discount"]) + fen(head["shipping"])
        assert 0 <= fen(head["discount"]) <= subtotal // 2
        assert [int(line["line_no"]) for line in lines] == list(range(1, len(lines) + 1))
        assert 1 <= len(lines) <= 5
        assert len({line["sku"] for line in lines}) == len(lines)


def test_coupons_and_promotions(shop: Shop) -> None:
    heads = [lines[0] for lines in shop.by_order.values()]
    with_code = [h for h in heads if h["coupon_codes"]]
    assert with_code and all(fen(h["discount"]) > 0 for h in with_code)
    promo = [h for h in heads if h["placed_at"][5:10] == "11-11"]
    ordinary = [h for h in heads if h["placed_at"][5:7] in {"02", "03", "04"}]
    share = [sum(fen(h["discount"]) > 0 for h in group) / len(group) for group in (promo, ordinary)]
    assert share[0] > 1.5 * share[1]


def test_statuses_and_payment_times(shop: Shop) -> None:
    statuses = Counter(lines[0]["status"] for lines in shop.by_order.values())
    assert statuses[OrderStatus.COMPLETED] > 0.85 * len(shop.by_order)
    assert statuses[OrderStatus.CANCELLED] > 0 and statuses[OrderStatus.REFUNDED] > 0
    assert set(statuses) <= {s.value for s in OrderStatus}
    for lines in shop.by_order.values():
        head = lines[0]
        placed = stamp(head["placed_at"])
        assert FIRST <= head["placed_at"] <= LAST
        unpaid = head["status"] in {OrderStatus.CANCELLED, OrderStatus.PENDING}
        assert (head["paid_at"] == "") == unpaid
        if head["paid_at"]:
            assert timedelta(0) < stamp(head["paid_at"]) - placed < timedelta(hours=12)
        if head["status"] == OrderStatus.PENDING:
            assert END - placed < timedelta(days=2)
        assert head["currency"] == "CNY"
        assert head["channel"] in {"app", "web", "mini_program", "store"}


def test_refunds_point_to_lines_and_never_exceed_them(shop: Shop) -> None:
    assert 0.03 <= len(shop.refunds) / len(shop.orders) <= 0.06
    for refund in shop.refunds:
        lines = shop.by_order[refund["order_id"]]
        line = lines[int(refund["line_no"]) - 1]
        assert line["sku"] == refund["sku"]
        assert line["status"] in {OrderStatus.COMPLETED, OrderStatus.REFUNDED}
        assert 0 < fen(refund["amount"]) <= fen(line["line_total"])
        assert refund["quantity"] == "" or 0 < int(refund["quantity"]) <= int(line["quantity"])
        assert stamp(refund["refunded_at"]) > stamp(line["placed_at"])
        assert refund["refunded_at"] <= LAST and refund["reason"]


def test_a_refunded_order_is_refunded_in_full(shop: Shop) -> None:
    covered: dict[str, dict[int, int]] = defaultdict(dict)
    for refund in shop.refunds:
        covered[refund["order_id"]][int(refund["line_no"])] = int(refund["quantity"] or 0)
    refunded = [o for o, lines in shop.by_order.items() if lines[0]["status"] == "refunded"]
    assert refunded
    for order in refunded:
        lines = shop.by_order[order]
        assert covered[order] == {int(ln["line_no"]): int(ln["quantity"]) for ln in lines}


def test_promotion_spike_on_double_eleven(shop: Shop) -> None:
    per_day = Counter(lines[0]["placed_at"][:10] for lines in shop.by_order.values())
    average = len(shop.by_order) / 730
    assert per_day["2025-11-11"] > 5 * average
    assert per_day["2025-06-18"] > 2 * average
    # The Spring Festival logistics pause.
    assert sum(per_day[f"2026-02-{d}"] for d in range(14, 21)) < 7 * average


def test_repeat_purchases_are_heterogeneous(shop: Shop) -> None:
    per_customer = shop.orders_per_customer()
    repeaters = sum(count >= 2 for count in per_customer.values())
    assert 0.25 <= repeaters / len(per_customer) <= 0.60
    assert max(per_customer.values()) >= 12
    never = 1 - len(per_customer) / len(shop.customers)
    assert 0.05 <= never <= 0.2


def test_some_customers_sign_up_during_the_period(shop: Shop) -> None:
    signups = [row["signup_at"] for row in shop.customers]
    during = sum(s >= FIRST for s in signups) / len(signups)
    assert 0.2 <= during <= 0.7
    first_order: dict[str, str] = {}
    for row in shop.orders:
        first_order.setdefault(row["customer_id"], row["placed_at"])
    assert all(
        first_order[row["customer_id"]] >= row["signup_at"]
        for row in shop.customers
        if row["customer_id"] in first_order
    )


def test_customers_profile_columns(shop: Shop) -> None:
    rows = shop.customers
    assert {row["gender"] for row in rows} <= {"F", "M", "O", ""}
    assert {row["city_tier"] for row in rows} <= {str(t) for t in range(1, 7)}
    assert all(re.match(r"^1[3-9]\d{9}$", row["phone"]) for row in rows if row["phone"])
    emails = [row["email"] for row in rows if row["email"]]
    assert len(set(emails)) == len(emails) and all("@" in e for e in emails)
    for column in ("consent_email", "consent_sms", "consent_push"):
        assert {row[column] for row in rows} == {"true", "false"}
    assert all(row["email"] for row in rows if row["consent_email"] == "true")


def test_baby_formula_stages_only_move_up(shop: Shop) -> None:
    stage_of = {
        row["sku"]: int(row["category_path"][-2])
        for row in shop.products
        if row["category_path"].startswith("母婴 > 奶粉")
    }
    stages: dict[str, list[int]] = defaultdict(list)
    for row in shop.orders:  # file order is time order
        if row["sku"] in stage_of:
            stages[row["customer_id"]].append(stage_of[row["sku"]])
    assert stages
    assert all(seq == sorted(seq) for seq in stages.values())
    assert any(len(set(seq)) > 1 for seq in stages.values())


def test_reviews_are_positive_but_not_after_a_return(shop: Shop) -> None:
    ratings = [int(r["rating"]) for r in shop.reviews]
    assert set(ratings) <= {1, 2, 3, 4, 5}
    assert sum(r >= 4 for r in ratings) / len(ratings) > 0.7
    returned = {(r["order_id"], r["sku"]) for r in shop.refunds if r["quantity"]}
    after_return = [int(r["rating"]) for r in shop.reviews if (r["order_id"], r["sku"]) in returned]
    assert after_return
    assert sum(after_return) / len(after_return) < sum(ratings) / len(ratings) - 1
    for review in shop.reviews:
        placed = shop.by_order[review["order_id"]][0]["placed_at"]
        assert stamp(review["created_at"]) > stamp(placed) and review["created_at"] <= LAST
        assert review["text"]


def test_events_are_well_formed(shop: Shop) -> None:
    types = Counter(row["event_type"] for row in shop.events)
    assert set(types) == {t.value for t in EventType}
    assert 15 <= len(shop.events) / len(shop.customers) <= 30
    with_sku = {"view", "favorite", "cart_add", "cart_remove", "review", "share", "inquiry"}
    for row in shop.events:
        assert FIRST <= row["occurred_at"] <= LAST
        assert bool(row["sku"]) == (row["event_type"] in with_sku)
        assert bool(row["query"]) == (row["event_type"] == "search")
        assert bool(row["session_id"]) == (row["event_type"] != "review")
    assert any(row["customer_id"] == "" for row in shop.events)
    assert [row["occurred_at"] for row in shop.events] == sorted(
        r["occurred_at"] for r in shop.events
    )


def test_online_orders_end_a_checkout_funnel(shop: Shop) -> None:
    checkouts: dict[str, list[datetime]] = defaultdict(list)
    for row in shop.events:
        if row["event_type"] == "checkout_start":
            checkouts[row["customer_id"]].append(stamp(row["occurred_at"]))
    online = [ls for ls in shop.by_order.values() if ls[0]["channel"] != "store"]
    funnelled = 0
    for lines in online:
        placed = stamp(lines[0]["placed_at"])
        before = [t for t in checkouts[lines[0]["customer_id"]] if t <= placed]
        funnelled += bool(before) and placed - max(before) <= timedelta(minutes=3)
    assert funnelled >= 0.98 * len(online)
    # Carts left behind: sessions with a cart but no checkout.
    carts = {r["session_id"] for r in shop.events if r["event_type"] == "cart_add"}
    checked_out = {r["session_id"] for r in shop.events if r["event_type"] == "checkout_start"}
    assert carts - checked_out


def test_recent_browsing_intent_near_the_end(shop: Shop) -> None:
    recent = [
        row
        for row in shop.events
        if row["occurred_at"] >= "2026-10-17" and row["event_type"] == "cart_add"
    ]
    assert len({row["customer_id"] for row in recent}) > 0.05 * len(shop.customers)


def test_small_shop_is_consistent(small: Shop) -> None:
    assert len(small.customers) == 200
    customers = {row["customer_id"] for row in small.customers}
    assert small.by_order and {row["customer_id"] for row in small.orders} <= customers
    for lines in small.by_order.values():
        subtotal = sum(fen(line["line_total"]) for line in lines)
        head = lines[0]
        assert fen(head["total"]) == subtotal - fen(head["discount"]) + fen(head["shipping"])


def test_a_single_customer_still_gives_all_files(tmp_path: Path) -> None:
    files = generate_shop(tmp_path, customers=1, seed=1)
    assert files.counts[Entity.CUSTOMERS] == 1
    assert all(path.exists() for path in files.paths().values())


def test_no_customers_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        generate_shop(tmp_path, customers=0)
    assert caught.value.details == {"parameter": "customers", "value": 0}
    assert not any(tmp_path.iterdir())
