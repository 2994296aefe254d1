"""Profile tags and purchase intent: exact values on the hand-built shop, malformed tag files
refused with the file and the entry named, and a plain-pandas oracle on a random shop.

The shop's purchases as of AS_OF (2026-07-01 00:00 UTC), from tests/analytics/shop.py, all at
12:00 UTC (20:00 in Asia/Shanghai, UTC+8: the evening band, 18–22, on the same date):

    A (1) order 1 2026-01-10 Sat: line 1 PEN 1 × 10,000
          order 2 2026-03-10 Tue: line 2 MILK 1 × 20,000 (5,000 refunded on the line),
                                  line 3 INK 1 × 1,000; discount 1,000, coupon SPRING
          order 3 2026-06-20 Sat: line 4 MILK 1 × 20,000, line 5 PEN 2 × 5,000
    B (2) order 4 2026-06-25 Thu: line 6 PEN 5 × 1,000
    C (3) order 5 2025-07-01 Tue, order 6 2025-08-01 Fri: MILK 1 × 8,000 each
    E (5) order 8 2026-04-01 Wed: INK 2 × 6,000 (order 7 cancelled, 9 pending: not purchases)
    D (4) never bought; F (6) bought only after AS_OF.

PEN and INK are Stationery by Hero, MILK is Baby (Baby > Formula > Stage 1) by Feihe.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from ibis import BaseBackend
from ibis.expr.types import Table

from analytics.shop import AS_OF, ROWS, at, write_shop
from patron.analytics.facts import PURCHASE_STATUSES, Facts, read_facts
from patron.analytics.tags import (
    EVENT_TYPES,
    BandRule,
    ShareRule,
    TagRules,
    intent,
    load_tags,
    preference_tags,
    tag_table,
)
from patron.errors import InputError

RULES = load_tags()
SHANGHAI = "Asia/Shanghai"


def run(duck: BaseBackend, table: Table) -> dict[int, dict[str, Any]]:
    frame = duck.execute(table.order_by("customer_id")).set_index("customer_id")
    frame = frame.astype(object).where(frame.notna(), None)
    return {int(k): v for k, v in frame.to_dict("index").items()}


def shop_with(duck: BaseBackend, folder: Path, **rows: list[tuple[Any, ...]]) -> Facts:
    return read_facts(duck, write_shop(folder, {**ROWS, **rows}))


def tags(
    category: str | None = None,
    share: float | None = None,
    brand: str | None = None,
    price: str | None = None,
    discount: str | None = None,
    hour: str | None = None,
    day: str | None = None,
    region: str | None = None,
    tier: int | None = None,
    age: str | None = None,
    gender: str | None = None,
    child: str | None = None,
) -> dict[str, Any]:
    """A row of preference_tags; the brand share equals the category share in this shop."""
    return {
        "category": category,
        "category_share": share,
        "brand": brand,
        "brand_share": share,
        "price_band": price,
        "discount_band": discount,
        "hour_band": hour,
        "day_band": day,
        "region": region,
        "city_tier": tier,
        "age_band": age,
        "gender": gender,
        "child_stage": child,
    }


def test_the_shipped_rules_load() -> None:
    assert RULES.category.min_share_percent == RULES.brand.min_share_percent == 40
    assert [(b.key, b.start) for b in RULES.price_band.bands] == [
        ("low", 0),
        ("mid", 33),
        ("high", 67),
    ]
    assert [(b.key, b.start) for b in RULES.discount_band.bands] == [
        ("insensitive", 0),
        ("moderate", 30),
        ("sensitive", 60),
    ]
    assert [(b.key, b.start) for b in RULES.hour_band.bands] == [
        ("morning", 6),
        ("afternoon", 12),
        ("evening", 18),
        ("night", 22),
    ]
    assert RULES.day_band.weekend_days == (6, 7)
    assert (RULES.age_band.until, RULES.child_stage.stages.until) == (100, 72)
    assert RULES.intent.window_days == 7
    assert [(s.key, s.event_types, s.unbought, s.weight) for s in RULES.intent.signals] == [
        ("viewed", ("view",), True, 10),
        ("searched", ("search",), True, 10),
        ("favorited", ("favorite",), True, 20),
        ("carted", ("cart_add",), True, 30),
        ("checkout", ("checkout_start",), True, 40),
        ("inquired", ("inquiry",), False, 20),
    ]
    assert RULES.labels()["gender"][1]["F"].zh == "女"
    assert list(RULES.labels()) == [
        "category",
        "brand",
        "price_band",
        "discount_band",
        "hour_band",
        "day_band",
        "region",
        "city_tier",
        "age_band",
        "gender",
        "child_stage",
    ]


def test_every_customer_of_the_shop_is_tagged(duck: BaseBackend, facts: Facts) -> None:
    """Net line spend by top-level category (= by brand here):
        A: Stationery 10,000 + 1,000 + 10,000 = 21,000; Baby (20,000 − 5,000) + 20,000 = 35,000;
           Baby 35,000 / 56,000 = 0.625 ≥ 40 % → Baby, Feihe
        B: Stationery 5,000 / 5,000 = 1.0; C: Baby 16,000 / 16,000; E: Stationery 12,000 / 12,000
    Mean unit price Σ price × qty / Σ qty: A (10,000 + 20,000 + 1,000 + 20,000 + 2 × 5,000) / 6
        = 10,166.67; B 5,000 / 5 = 1,000; C 16,000 / 2 = 8,000; E 12,000 / 2 = 6,000.
        Ascending B, E, C, A (n = 4): P33 at ⌈1.32⌉ = 2 → 6,000; P67 at ⌈2.68⌉ = 3 → 8,000.
        high: > 8,000 → A; mid: > 6,000 → C; low: B, E.
    Discounted purchases: A 1 of 3 (order 2) = 33 % ≥ 30 → moderate; B, C, E 0 % → insensitive.
    Hours: all 20:00 local → evening. Days (weekend 2 days, weekdays 5):
        A 2 Sat, 1 Tue: 2 × 5 = 10 > 1 × 2 = 2 → weekend; B Thu, C Tue + Fri, E Wed → weekday.
    Age at 2026-07-01: A born 1990-05-01 → 36 → 35_44; D born 2000-01-01 → 26 → 25_34.
    Child: A's latest MILK (Stage 1: 3 months) 2026-06-20 12:00, 10.5 → 10 days before,
        10 × 12 // 365 = 0 → 3 months → infant; C's latest 2025-08-01 12:00, 333 days,
        333 × 12 // 365 = 3,996 // 365 = 10 → 13 months → toddler.
    """
    got = run(duck, preference_tags(facts, AS_OF, RULES, SHANGHAI))
    assert got == {
        1: tags(
            "Baby",
            0.625,
            "Feihe",
            "high",
            "moderate",
            "evening",
            "weekend",
            "Shanghai",
            1,
            age="35_44",
            gender="F",
            child="infant",
        ),
        2: tags(
            "Stationery",
            1.0,
            "Hero",
            "low",
            "insensitive",
            "evening",
            "weekday",
            "Beijing",
            1,
            gender="M",
        ),
        3: tags("Baby", 1.0, "Feihe", "mid", "insensitive", "evening", "weekday", child="toddler"),
        4: tags(region="Chengdu", tier=2, age="25_34", gender="F"),
        5: tags(
            "Stationery", 1.0, "Hero", "low", "insensitive", "evening", "weekday", "Hangzhou", 2
        ),
        6: tags(),
    }


def test_shares_below_the_minimum_are_not_tagged(duck: BaseBackend, facts: Facts) -> None:
    """A's top share 0.625 is below 63 % (35,000 × 100 < 56,000 × 63): untagged; the others
    are at 100 %."""
    share = ShareRule(RULES.category.label, 63)
    rules = dataclasses.replace(RULES, category=share, brand=share)
    got = run(duck, preference_tags(facts, AS_OF, rules, SHANGHAI))
    assert [(got[k]["category"], got[k]["brand_share"]) for k in (1, 2, 3)] == [
        (None, None),
        ("Stationery", 1.0),
        ("Baby", 1.0),
    ]


def test_hours_follow_summer_time_and_ties_go_to_the_first_band(
    duck: BaseBackend, tmp_path: Path
) -> None:
    """In America/New_York (UTC−5, summer time UTC−4 from 2026-03-08 and through 2025-11-02):
    A: 2026-01-10 10:30Z → 05:30 night; 2026-03-10 10:30Z → 06:30 morning;
       2026-06-20 10:30Z → 06:30 morning: morning 2, night 1 → morning
       (a fixed UTC−5 would make all three 05:30, night).
    C: 2025-07-01 02:00Z → 2025-06-30 22:00 Mon, night; 2025-08-01 16:00Z → 12:00 Fri,
       afternoon: one each → afternoon, the first in configuration order; two weekdays.
    A's days: Sat, Tue, Sat locally → weekend.
    """
    orders = [list(o) for o in ROWS["orders"]]
    for n, moment in (
        (0, datetime(2026, 1, 10, 10, 30, tzinfo=UTC)),
        (1, datetime(2026, 3, 10, 10, 30, tzinfo=UTC)),
        (2, datetime(2026, 6, 20, 10, 30, tzinfo=UTC)),
        (4, datetime(2025, 7, 1, 2, tzinfo=UTC)),
        (5, datetime(2025, 8, 1, 16, tzinfo=UTC)),
    ):
        orders[n][2] = moment
    facts = shop_with(duck, tmp_path / "tz", orders=[tuple(o) for o in orders])
    got = run(duck, preference_tags(facts, AS_OF, RULES, "America/New_York"))
    assert [(got[k]["hour_band"], got[k]["day_band"]) for k in (1, 3)] == [
        ("morning", "weekend"),
        ("afternoon", "weekday"),
    ]


def test_an_unknown_time_zone_is_refused(facts: Facts) -> None:
    with pytest.raises(InputError, match="unknown time zone 'Mars/Olympus'"):
        preference_tags(facts, AS_OF, RULES, "Mars/Olympus")


def test_the_intent_of_the_shop(duck: BaseBackend, facts: Facts) -> None:
    """Window [2026-06-24, 2026-07-01): A viewed PEN 06-29 and bought nothing after → viewed,
    10 % ; B carted PEN 06-26 12:00, after (not before) its order 4 of 06-25 → carted, 30 %;
    D's visit is no signal; the search is anonymous."""
    got = run(duck, intent(facts, AS_OF, RULES))
    assert got == {
        1: {"intent_score": 0.1, "intent_reasons": "viewed"},
        2: {"intent_score": 0.3, "intent_reasons": "carted"},
        3: {"intent_score": 0.0, "intent_reasons": ""},
        4: {"intent_score": 0.0, "intent_reasons": ""},
        5: {"intent_score": 0.0, "intent_reasons": ""},
        6: {"intent_score": 0.0, "intent_reasons": ""},
    }


def test_intent_signals_fire_only_when_nothing_was_bought_after(
    duck: BaseBackend, tmp_path: Path
) -> None:
    events = [
        (1, 1, 1, "view", at(2026, 6, 29)),  # A: nothing bought after → viewed 10
        (2, 1, None, "search", at(2026, 6, 28)),  # searched 10
        (3, 1, 3, "favorite", at(2026, 6, 28)),  # favorited 20
        (4, 1, 3, "cart_add", at(2026, 6, 28)),  # carted 30
        (5, 1, 3, "checkout_start", at(2026, 6, 30)),  # checkout 40: 110 → capped at 100
        (6, 2, 1, "cart_add", at(2026, 6, 24, 6)),  # B: order 4 (06-25 12:00) holds PEN
        (7, 2, None, "search", at(2026, 6, 24, 8)),  # B: order 4 follows
        (8, 2, 1, "view", at(2026, 6, 25, 12)),  # B: as order 4, not before it → viewed 10
        (9, 3, None, "inquiry", at(2026, 6, 30)),  # C: inquired 20, bought or not
        (10, 3, 3, "view", at(2026, 6, 23, 23)),  # C: before the window
        (11, 4, None, "cart_add", AS_OF),  # D: at AS_OF, after the window
        (12, None, 1, "checkout_start", at(2026, 6, 30)),  # anonymous
        (13, 5, 2, "cart_remove", at(2026, 6, 30)),  # E: no signal
        (14, 6, 2, "cart_add", at(2026, 6, 30)),  # F: order 10 is after AS_OF → carted 30
    ]
    facts = shop_with(duck, tmp_path / "events", events=events)
    got = run(duck, intent(facts, AS_OF, RULES))
    assert got == {
        1: {"intent_score": 1.0, "intent_reasons": "viewed,searched,favorited,carted,checkout"},
        2: {"intent_score": 0.1, "intent_reasons": "viewed"},
        3: {"intent_score": 0.2, "intent_reasons": "inquired"},
        4: {"intent_score": 0.0, "intent_reasons": ""},
        5: {"intent_score": 0.0, "intent_reasons": ""},
        6: {"intent_score": 0.3, "intent_reasons": "carted"},
    }


def test_the_tag_table_counts_customers_per_value(facts: Facts) -> None:
    table = tag_table(
        preference_tags(facts, AS_OF, RULES, SHANGHAI), RULES, "zh", intent(facts, AS_OF, RULES)
    )
    rows = {
        (r.tag, r.value): (r.tag_label, r.label, r.customers, r.share) for r in table.itertuples()
    }
    assert list(table["tag"].unique()) == [*RULES.labels(), "intent"]
    # Shares are of all 6 customers.
    assert rows["price_band", "low"] == ("价格带", "低价位", 2, 2 / 6)
    assert rows["discount_band", "sensitive"] == ("优惠敏感度", "优惠敏感", 0, 0.0)
    assert rows["hour_band", "evening"] == ("偏好购买时段", "晚间 (18–22 点)", 4, 4 / 6)
    assert rows["city_tier", "2"] == ("城市等级", "二线城市", 2, 2 / 6)
    assert rows["child_stage", "toddler"] == ("孩子阶段", "幼儿 (1–3 岁)", 1, 1 / 6)
    assert rows["intent", "carted"] == ("购买意向", "加购未购买", 1, 1 / 6)
    # Data-valued tags: their own label, most customers first, ties by value.
    assert table[table["tag"] == "region"]["value"].tolist() == [
        "Beijing",
        "Chengdu",
        "Hangzhou",
        "Shanghai",
    ]
    assert rows["category", "Baby"][1:3] == ("Baby", 2)
    assert len(table[table["tag"] == "age_band"]) == 6


def shipped() -> str:
    return resources.files("patron.analytics").joinpath("schemes", "tags.toml").read_text("utf-8")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("min_share_percent = 40\n", "min_share_percent = 0.4\n", r"\[category\]: min_share_perc"),
        ("from = 33", "from = 0", r"price_band.bands\[1\]: from must be a whole number from 1"),
        (
            'key = "moderate"',
            'key = "insensitive"',
            r"discount_band.bands\[1\]: key 'insensitive' is used twice",
        ),
        ("from = 22", "from = 24", r"hour_band.bands\[3\]: from must be a whole number from 19"),
        ("weekend_days = [6, 7]", "weekend_days = [6, 6]", r"\[day_band\]: weekend_days must"),
        (
            'label = { en = "Male", zh = "男" }',
            'label = { en = "Male" }',
            r"gender.values\[1\]: label needs non-empty en and zh texts",
        ),
        ('key = "1"\n', 'key = "one"\n', r"city_tier.values\[0\]: key 'one' must be a whole"),
        ("until = 100", "until = 50", r"\[age_band\]: until must be a whole number from 56"),
        (
            'path = "Baby > Formula > Stage 2"',
            'path = "Baby>Formula >Stage 1"',
            r"child_stage.paths\[1\]: path 'Baby > Formula > Stage 1' is given twice",
        ),
        ('event_types = ["inquiry"]', 'event_types = ["call"]', r"signals\[5\]: event_types"),
        ("weight = 30", "weight = 0.3", r"intent.signals\[3\]: weight must be a whole number"),
        ("unbought = false\n", "", r"intent.signals\[5\]: unbought must be true or false"),
        ("window_days = 7", "window_days = 0", r"\[intent\]: window_days must be a whole"),
        ('[region]\nlabel = { en = "Region", zh = "地区" }\n', "", r"expected a \[region\] table"),
        ("[[intent.signals]]", "[[intent.signal]]", r"one or more \[\[intent.signals\]\]"),
        (
            'label = { en = "Region", zh = "地区" }',
            'label = { en = "Region", zh = "地区" }\nvalues = ["Shanghai"]',
            r"\[region\]: values must be \[\[region.values\]\] entries",
        ),
        ("[category]", "[category", "is not valid TOML"),
    ],
)
def test_a_bad_tag_file_is_refused_naming_the_entry(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    text = shipped()
    assert old in text
    path = tmp_path / "tags.toml"
    path.write_text(text.replace(old, new), "utf-8")
    with pytest.raises(InputError, match=message) as caught:
        load_tags(path)
    assert str(path) in str(caught.value)


def test_a_copy_of_the_shipped_file_loads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "tags.toml"
    path.write_text(shipped(), "utf-8")
    assert load_tags(path) == RULES


# --- the oracle ---------------------------------------------------------------------------

CATEGORIES = [
    "Baby > Formula > Stage 1",
    "Baby > Diapers > Newborn",
    "Stationery > Pens",
    " Stationery/Ink",
    "Home > Kitchen",
    "Beauty",
    None,
]
BRANDS = ["Hero", "Feihe", "Acme", None]
STATUSES = [*PURCHASE_STATUSES, "pending", "cancelled"]


def random_shop(seed: int = 11) -> dict[str, list[tuple[Any, ...]]]:
    """About 1,000 customers, 60 products, 4,000 orders with 1–3 lines, refunds on lines and on
    whole orders, and 6,000 events around AS_OF; few distinct prices, so means tie often."""
    rng = np.random.default_rng(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    span = int((AS_OF + timedelta(days=10) - start).total_seconds())

    def moment(low: datetime = start, seconds: int = span) -> datetime:
        return low + timedelta(seconds=int(rng.integers(seconds)))

    customers = [(n, f"C{n}", None, date(1990, 1, 1), None, None, None) for n in range(1, 1001)]
    products = [
        (n, f"P{n}", CATEGORIES[rng.integers(7)], BRANDS[rng.integers(4)], 1000)
        for n in range(1, 61)
    ]
    orders, lines, refunds = [], [], []
    for n in range(1, 4001):
        discount = int(rng.choice([0, 0, 0, 500]))
        coupon = [None, None, "", " ", "SALE"][rng.integers(5)]
        status = STATUSES[rng.integers(len(STATUSES))]
        orders.append((n, int(rng.integers(1, 901)), moment(), status, 0, discount, 0, 1, coupon))
        for _ in range(int(rng.integers(1, 4))):
            quantity, price = int(rng.integers(1, 4)), int(rng.choice([500, 1000, 2500, 4000]))
            lines.append((len(lines) + 1, n, int(rng.integers(1, 61)), quantity, price, 0))
            lines[-1] = (*lines[-1][:5], quantity * price)
            if rng.random() < 0.1:
                when = [None, moment()][rng.integers(2)]
                line = [None, len(lines)][rng.integers(2)]
                refunds.append((len(refunds) + 1, n, line, int(rng.integers(1, 2000)), when))
    events = [
        (
            n,
            None if rng.random() < 0.1 else int(rng.integers(1, 1001)),
            None if rng.random() < 0.3 else int(rng.integers(1, 61)),
            EVENT_TYPES[rng.integers(len(EVENT_TYPES))],
            moment(AS_OF - timedelta(days=10), 12 * 86_400),
        )
        for n in range(1, 6001)
    ]
    return {
        "customers": customers,
        "products": products,
        "orders": orders,
        "order_lines": lines,
        "refunds": refunds,
        "events": events,
    }


def frame(rows: dict[str, list[tuple[Any, ...]]], name: str, columns: str) -> pd.DataFrame:
    return pd.DataFrame(rows[name], columns=columns.split())


def oracle(rows: dict[str, list[tuple[Any, ...]]], rules: TagRules) -> pd.DataFrame:
    """The same rules in plain pandas and Python, written from the docstrings."""
    orders = frame(rows, "orders", "id customer placed status sub discount total items coupon")
    orders = orders[orders["status"].isin(PURCHASE_STATUSES) & (orders["placed"] < AS_OF)]
    lines = frame(rows, "order_lines", "id order product quantity price line_total")
    refunds = frame(rows, "refunds", "id order line amount at")
    refunds = refunds[refunds["at"].isna() | (refunds["at"] < AS_OF)]
    products = frame(rows, "products", "product sku path brand list")
    lines = lines.merge(orders[["id", "customer", "placed"]], left_on="order", right_on="id")
    lines = lines.drop(columns="id_y").rename(columns={"id_x": "id"}).merge(products, "left")
    refunded = refunds.groupby("line")["amount"].sum()
    lines["net"] = lines["line_total"] - lines["id"].map(refunded).fillna(0).astype(int)
    tops = [p.strip().split(">")[0].strip() if isinstance(p, str) else "" for p in lines["path"]]
    lines["category"] = [t or None for t in tops]
    result = pd.DataFrame(index=pd.RangeIndex(1, 1001, name="customer_id"))
    result["category"], result["category_share"] = None, math.nan
    for customer, own in lines.groupby("customer"):
        total = own["net"].sum()
        spend = own.dropna(subset="category").groupby("category")["net"].sum()
        if spend.empty:
            continue
        top = sorted(spend.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        if top[1] > 0 and top[1] * 100 >= total * rules.category.min_share_percent:
            result.loc[customer, ["category", "category_share"]] = [top[0], top[1] / total]
    lines["paid"] = lines["price"] * lines["quantity"]
    per = lines.groupby("customer")[["paid", "quantity"]].sum()
    means = per["paid"] / per["quantity"]
    ordered = sorted(means)
    cuts = {b.start: ordered[math.ceil(b.start * len(ordered) / 100) - 1] for b in
            rules.price_band.bands[1:]}  # fmt: skip
    result["price_band"] = None
    for customer, mean in means.items():
        reached = [b.start == 0 or mean > cuts[b.start] for b in rules.price_band.bands]
        result.loc[customer, "price_band"] = last_band(rules.price_band, reached)
    result["discount_band"] = None
    for customer, own in orders.groupby("customer"):
        hit = ((own["discount"] > 0) | own["coupon"].fillna("").str.strip().ne("")).sum()
        reached = [hit * 100 >= b.start * len(own) for b in rules.discount_band.bands]
        result.loc[customer, "discount_band"] = last_band(rules.discount_band, reached)
    bought = lines[["customer", "product", "placed"]]
    events = frame(rows, "events", "id customer product type at")
    start = AS_OF - timedelta(days=rules.intent.window_days)
    events = events[events["customer"].notna() & (events["at"] >= start) & (events["at"] < AS_OF)]
    points = {c: 0 for c in result.index}
    reasons: dict[int, list[str]] = {c: [] for c in result.index}
    for signal in rules.intent.signals:
        for customer, own in events[events["type"].isin(signal.event_types)].groupby("customer"):
            after = bought[bought["customer"] == customer]
            if not signal.unbought or any(
                not (
                    (after["placed"] > e.at)
                    & (pd.isna(e.product) | (after["product"] == e.product))
                ).any()
                for e in own.itertuples()
            ):
                points[int(customer)] += signal.weight
                reasons[int(customer)].append(signal.key)
    result["intent_score"] = [min(100, points[c]) / 100 for c in result.index]
    result["intent_reasons"] = [",".join(reasons[c]) for c in result.index]
    return result


def last_band(rule: BandRule, reached: list[bool]) -> str:
    return [b.key for b, hit in zip(rule.bands, reached, strict=True) if hit][-1]


def test_the_tags_match_a_pandas_oracle(duck: BaseBackend, tmp_path: Path) -> None:
    rows = random_shop()
    facts = read_facts(duck, write_shop(tmp_path / "random", rows))
    tagged = preference_tags(facts, AS_OF, RULES, SHANGHAI)
    scored = intent(facts, AS_OF, RULES)
    got = duck.execute(tagged.join(scored, "customer_id").order_by("customer_id")).set_index(
        "customer_id"
    )
    want = oracle(rows, RULES)
    assert got["category"].fillna("-").tolist() == want["category"].fillna("-").tolist()
    assert np.allclose(got["category_share"], want["category_share"], equal_nan=True)
    assert got["price_band"].fillna("-").tolist() == want["price_band"].fillna("-").tolist()
    assert got["discount_band"].fillna("-").tolist() == want["discount_band"].fillna("-").tolist()
    assert got["intent_score"].tolist() == want["intent_score"].tolist()
    assert got["intent_reasons"].tolist() == want["intent_reasons"].tolist()
    # The data exercise every branch.
    assert set(want["price_band"].dropna()) == {"low", "mid", "high"}
    assert set(want["discount_band"].dropna()) == {"insensitive", "moderate", "sensitive"}
    assert want["category"].isna().sum() > 100 and (want["intent_score"] == 1.0).any()
    assert len(set(want["intent_reasons"])) > 20
