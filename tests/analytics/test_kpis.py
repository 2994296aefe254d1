"""KPIs: every figure on the hand-built shop, computed by hand; a plain-pandas oracle on a random
shop; buyers and repurchase figures pinned on CDNOW."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from ibis import BaseBackend

from analytics.shop import AS_OF, EVENTS, ROWS, at, write_shop
from conftest import shared_file
from patron.analytics.extract import FACTS
from patron.analytics.facts import PURCHASE_STATUSES, Facts, read_facts
from patron.analytics.kpis import Gateway, Group, Kpis, Repurchase, gateway, kpis
from patron.analytics.summary import customer_summary


def test_kpis_of_the_hand_built_shop(facts: Facts) -> None:
    k = kpis(facts, AS_OF)
    # Known customers A..F; buyers A, B, C, E (D never bought, F only after AS_OF,
    # E's cancelled and pending orders are no purchases); repeat: A (3), C (2).
    assert (k.customers, k.buyers, k.repeat_buyers) == (6, 4, 2)
    assert k.repurchase_rate == 2 / 4
    # Purchases: A 10,000 + 20,000 + 30,000; B 5,000; C 8,000 + 8,000; E 12,000.
    assert k.purchases == 7
    assert k.gross_revenue_minor == 93_000
    assert k.refunded_minor == 5_000  # on A's March order
    assert k.net_revenue_minor == 88_000
    assert k.refund_rate == 5_000 / 93_000
    assert k.aov_minor == 12_571  # 88,000 / 7 = 12,571.43
    assert k.orders_per_buyer == 7 / 4
    # Net spend: A 55,000, C 16,000, E 12,000, B 5,000; top ceil(4 / 5) = 1 buyer: A.
    assert k.revenue_share_top20 == 55_000 / 88_000
    # Gaps first -> second purchase: A Jan 10 -> Mar 10 = 59 days, C Jul 1 -> Aug 1 = 31.
    # Eligible at 30 days (first at or before Jun 1 00:00): A, C, E (B bought first Jun 25);
    # at 90 (at or before Apr 2 00:00): A, C, E (Apr 1 12:00); at 365 (at or before
    # 2025-07-01 00:00): nobody, C's first purchase is at 12:00 that day.
    assert k.repurchase == (
        Repurchase(days=30, eligible=3, repurchased=0, rate=0.0),
        Repurchase(days=90, eligible=3, repurchased=2, rate=2 / 3),
        Repurchase(days=365, eligible=0, repurchased=0, rate=None),
    )
    # Previous period [Jan 2, Apr 2): A (Jan 10, Mar 10), E (Apr 1). Last [Apr 2, Jul 1): A
    # (Jun 20), B (Jun 25). E churned: 1 of 2.
    assert (k.churn_base, k.churned, k.churn_rate) == (2, 1, 0.5)
    # Last 365 days [2025-07-01 00:00, AS_OF): all 7 purchases (C's first is at 12:00), by 4.
    assert k.purchase_frequency == 7 / 4
    # Last 90 days: B's 5,000 (first purchase, new) and A's 30,000 (returning); A's
    # lifetime net is 10,000 + 15,000 + 30,000 = 55,000.
    assert k.new == Group(
        customers=1,
        purchases=1,
        net_minor=5_000,
        aov_minor=5_000,
        revenue_share=5_000 / 35_000,
        mean_ltv_minor=5_000.0,
    )
    assert k.returning == Group(
        customers=1,
        purchases=1,
        net_minor=30_000,
        aov_minor=30_000,
        revenue_share=30_000 / 35_000,
        mean_ltv_minor=55_000.0,
    )
    # B carted Jun 26 and bought only before (Jun 25): 1 carting customer, abandoned.
    assert k.cart_abandonment_rate == 1.0
    # Last 30 days: A (Jun 29), D (Jun 30), B (Jun 26), one day each; the search is anonymous.
    assert k.visits_per_active_customer == 3 / 3
    # First orders: A pen, B pen, E ink (Stationery); C milk (Baby). Eligible at 90 days: A,
    # E, C; A and C bought again within 90 days.
    assert k.gateway == (
        Gateway(category="Baby", customers=1, eligible=1, repurchased=1, rate=1.0),
        Gateway(category="Stationery", customers=3, eligible=2, repurchased=1, rate=0.5),
    )


def test_a_given_summary_is_used(facts: Facts) -> None:
    summary = customer_summary(facts, AS_OF)
    assert kpis(facts, AS_OF, summary) == kpis(facts, AS_OF)
    fewer = summary.filter(summary.customer_id != 1)  # without A
    k = kpis(facts, AS_OF, fewer)
    assert (k.customers, k.buyers, k.net_revenue_minor) == (5, 3, 33_000)


def test_cart_and_visit_boundaries(duck: BaseBackend, tmp_path: Path) -> None:
    events = [
        *EVENTS,
        # A carts exactly 24 h before the Jun 20 purchase: converted (within is inclusive).
        (5, 1, 1, "cart_add", at(2026, 6, 19)),
        # C carts Jun 10, no purchase after: abandoned. Same day again: one visit.
        (6, 3, 2, "cart_add", at(2026, 6, 10)),
        (7, 3, 2, "view", at(2026, 6, 10, 18)),
        # E carts in the last 24 h: its next 24 h are not seen yet, left out.
        (8, 5, 1, "cart_add", at(2026, 6, 30, 1)),
        # Anonymous carts are left out; so is a cart 30 days and a second before AS_OF.
        (9, None, 1, "cart_add", at(2026, 6, 15)),
        (10, 4, 1, "cart_add", AS_OF - timedelta(days=30, seconds=1)),
        # A again on another day: a second visit for A.
        (11, 1, 3, "view", at(2026, 6, 2)),
    ]
    facts = read_facts(duck, write_shop(tmp_path / "more", {**ROWS, "events": events}))
    k = kpis(facts, AS_OF)
    # Carting customers: A (converted), B, C (abandoned): 2 of 3.
    assert k.cart_abandonment_rate == 2 / 3
    # Customer-days in [Jun 1, Jul 1): A Jun 29 + Jun 19 + Jun 2, D Jun 30, B Jun 26,
    # C Jun 10, E Jun 30 = 7 over 5 customers (D's cart on May 31 is outside).
    assert k.visits_per_active_customer == 7 / 5


def test_gateway_table(facts: Facts) -> None:
    table = gateway(facts, AS_OF, days=30).to_pandas()
    # At 30 days: eligible A, E (Stationery) and C (Baby); nobody bought again within 30.
    assert table.to_dict("records") == [
        {"category": "Baby", "customers": 1, "eligible": 1, "repurchased": 0},
        {"category": "Stationery", "customers": 3, "eligible": 2, "repurchased": 0},
    ]


def test_to_json(facts: Facts) -> None:
    data = kpis(facts, AS_OF).to_json()
    assert data["as_of"] == "2026-07-01T00:00:00+00:00"
    assert data["repurchase"][2] == {"days": 365, "eligible": 0, "repurchased": 0, "rate": None}
    assert data["new"]["aov_minor"] == 5_000
    assert data["gateway"][0]["category"] == "Baby"


def test_an_empty_shop(duck: BaseBackend, tmp_path: Path) -> None:
    empty = {name: [] for name in FACTS}
    k = kpis(read_facts(duck, write_shop(tmp_path / "empty", empty)), AS_OF)
    assert (k.customers, k.buyers, k.net_revenue_minor, k.aov_minor) == (0, 0, 0, None)
    assert k.repurchase_rate is k.revenue_share_top20 is k.churn_rate is None
    assert k.new == Group(0, 0, 0, None, None, None)
    assert k.gateway == ()


# A random shop and a plain-pandas oracle of every definition.

SEED = 20260701
CATEGORIES = (
    "Baby > Formula > Stage 1",
    "Baby > Diapers",
    "Stationery > Pens",
    "Beauty > Skin",
    "Food",
)
STATUSES = ("completed", "paid", "shipped", "refunded", "pending", "cancelled")


def random_rows(customers: int = 2_000, orders: int = 8_000) -> dict[str, list[tuple[Any, ...]]]:
    """A shop over two years to just after AS_OF, with whole-second times, same-instant orders
    of a customer, partial refunds (some undated, some after AS_OF), anonymous events and carts
    shortly before purchases."""
    rng = random.Random(SEED)
    start = AS_OF - timedelta(days=730)
    span = int(timedelta(days=740).total_seconds())

    def moment(after: datetime = start, seconds: int = span) -> datetime:
        return after + timedelta(seconds=rng.randrange(seconds))

    people = [(n, f"C{n}", None, None, None, None, moment()) for n in range(1, customers + 1)]
    products = [(n, f"P{n}", CATEGORIES[n % len(CATEGORIES)], None, 1000 * n) for n in range(1, 21)]
    weights = [rng.paretovariate(1.5) if rng.random() < 0.85 else 0.0 for _ in people]
    order_rows: list[tuple[Any, ...]] = []
    for n in range(1, orders + 1):
        (customer,) = rng.choices(range(1, customers + 1), weights)
        placed = moment()
        previous = [o for o in order_rows[-50:] if o[1] == customer]
        if previous and rng.random() < 0.3:
            placed = previous[-1][2]  # the same instant as the customer's previous order
        status = rng.choices(STATUSES, (60, 10, 10, 5, 8, 7))[0]
        total = rng.randrange(100, 50_000)
        order_rows.append((n, customer, placed, status, total, 0, total, 1, None))
    lines = [(o[0], o[0], rng.randrange(1, 21), 1, o[6], o[6]) for o in order_rows] + [
        (orders + o[0], o[0], rng.randrange(1, 21), 1, 0, 0) for o in order_rows[::3]
    ]
    refunds: list[tuple[Any, ...]] = []
    for o in rng.sample(order_rows, orders // 12):
        when = None if rng.random() < 0.1 else moment(o[2], 60 * 86_400)
        refunds.append((len(refunds) + 1, o[0], None, rng.randrange(1, o[6] + 1), when))
    recent = AS_OF - timedelta(days=60)
    events: list[tuple[Any, ...]] = []
    for _ in range(6_000):
        who = None if rng.random() < 0.1 else rng.randrange(1, customers + 1)
        kind = rng.choice(("view", "visit", "cart_add", "search"))
        events.append((len(events) + 1, who, None, kind, moment(recent, 62 * 86_400)))
    for o in order_rows:
        if o[2] >= recent and rng.random() < 0.5:
            carted = o[2] - timedelta(seconds=rng.randrange(30 * 3600))
            events.append((len(events) + 1, o[1], None, "cart_add", carted))
    return {
        "customers": people,
        "products": products,
        "orders": order_rows,
        "order_lines": lines,
        "refunds": refunds,
        "events": events,
    }


def frames(rows: dict[str, list[tuple[Any, ...]]]) -> dict[str, pd.DataFrame]:
    """The rows as DataFrames, columns named as in the fact files."""
    return {
        name: pd.DataFrame(rows[name], columns=list(columns))
        for name, (_, columns) in FACTS.items()
    }


def oracle_purchases(f: dict[str, pd.DataFrame], as_of: datetime) -> pd.DataFrame:
    """Purchases before as_of with net_minor (refunds before as_of netted), sorted as ranked."""
    o = f["orders"]
    p = o[o.status.isin(PURCHASE_STATUSES) & (o.placed_at < as_of)].copy()
    r = f["refunds"]
    r = r[r.refunded_at.isna() | (r.refunded_at < as_of)]
    refunded = r.groupby("order_id").amount_minor.sum()
    p["refunded_minor"] = p.id.map(refunded).fillna(0).astype(int)
    p["total_minor"] = p.total_minor.astype(int)
    p["net_minor"] = p.total_minor - p.refunded_minor
    return p.sort_values(["customer_id", "placed_at", "id"])


def ratio(n: int, d: int) -> float | None:
    return n / d if d else None


def oracle(rows: dict[str, list[tuple[Any, ...]]], as_of: datetime) -> Kpis:
    f = frames(rows)
    p = oracle_purchases(f, as_of)
    per = p.groupby("customer_id").agg(orders=("id", "size"), net=("net_minor", "sum"))
    buyers, repeat = len(per), int((per.orders >= 2).sum())
    gross, refunded = int(p.total_minor.sum()), int(p.refunded_minor.sum())
    net = gross - refunded
    top = per.reset_index().sort_values(["net", "customer_id"], ascending=[False, True])
    top_net = int(top.net.head(math.ceil(buyers / 5)).sum())

    firsts = p.groupby("customer_id").nth(0).set_index("customer_id")
    seconds = p.groupby("customer_id").nth(1).set_index("customer_id")
    b = pd.DataFrame({"first_at": firsts.placed_at, "first_id": firsts.id})
    b["second_at"] = seconds.placed_at.reindex(b.index)

    def repurchase(frame: pd.DataFrame, days: int) -> tuple[int, int]:
        eligible = frame.first_at <= as_of - timedelta(days=days)
        within = frame.second_at.notna() & (
            frame.second_at <= frame.first_at + timedelta(days=days)
        )
        return int(eligible.sum()), int((eligible & within).sum())

    windows = []
    for days in (30, 90, 365):
        e, r = repurchase(b, days)
        windows.append(Repurchase(days, e, r, ratio(r, e)))

    middle, last = as_of - timedelta(days=180), as_of - timedelta(days=90)
    before = set(p[(p.placed_at >= middle) & (p.placed_at < last)].customer_id)
    lately = set(p[p.placed_at >= last].customer_id)
    year = p[p.placed_at >= as_of - timedelta(days=365)]

    w = p[p.placed_at >= last]
    wc = w.groupby("customer_id").agg(purchases=("id", "size"), net=("net_minor", "sum"))
    wc["new"] = b.first_at.reindex(wc.index) >= last
    wc["ltv"] = per.net.reindex(wc.index)
    window_net = int(wc.net.sum())

    def group(new: bool) -> Group:
        g = wc[wc.new == new]
        n, count, spend = len(g), int(g.purchases.sum()), int(g.net.sum())
        return Group(
            n,
            count,
            spend,
            (2 * spend + count) // (2 * count) if count else None,
            ratio(spend, window_net),
            ratio(int(g.ltv.sum()), n),
        )

    e = f["events"]
    known = e[e.customer_id.notna()]
    carts = known[
        (known.event_type == "cart_add")
        & (known.occurred_at >= as_of - timedelta(days=30))
        & (known.occurred_at < as_of - timedelta(hours=24))
    ]
    bought = p.groupby("customer_id").placed_at.apply(list).to_dict()
    converted: dict[int, bool] = {}
    for customer, carted in zip(carts.customer_id, carts.occurred_at, strict=True):
        hit = any(carted <= t <= carted + timedelta(hours=24) for t in bought.get(customer, []))
        converted[customer] = converted.get(customer, False) or hit
    seen = known[(known.occurred_at >= as_of - timedelta(days=30)) & (known.occurred_at < as_of)]
    visits = {(c, t.date()) for c, t in zip(seen.customer_id, seen.occurred_at, strict=True)}

    lines = f["order_lines"].merge(f["products"], left_on="product_id", right_on="id")
    lines["category"] = lines.category_path.str.split(">").str[0].str.strip()
    first_lines = lines[lines.order_id.isin(set(b.first_id))]
    owner = dict(zip(b.first_id, b.index, strict=True))
    pairs = {(owner[o], c) for o, c in zip(first_lines.order_id, first_lines.category, strict=True)}
    gateways = []
    for category in sorted({c for _, c in pairs}):
        members = b.loc[sorted(who for who, c in pairs if c == category)]
        eligible, repurchased = repurchase(members, 90)
        gateways.append(
            Gateway(category, len(members), eligible, repurchased, ratio(repurchased, eligible))
        )

    return Kpis(
        as_of=as_of,
        customers=len(f["customers"]),
        buyers=buyers,
        repeat_buyers=repeat,
        repurchase_rate=ratio(repeat, buyers),
        repurchase=tuple(windows),
        purchases=len(p),
        gross_revenue_minor=gross,
        refunded_minor=refunded,
        net_revenue_minor=net,
        refund_rate=ratio(refunded, gross),
        aov_minor=(2 * net + len(p)) // (2 * len(p)) if len(p) else None,
        orders_per_buyer=ratio(len(p), buyers),
        revenue_share_top20=ratio(top_net, net),
        churn_base=len(before),
        churned=len(before - lately),
        churn_rate=ratio(len(before - lately), len(before)),
        purchase_frequency=ratio(len(year), year.customer_id.nunique()),
        new=group(True),
        returning=group(False),
        cart_abandonment_rate=ratio(sum(not v for v in converted.values()), len(converted)),
        visits_per_active_customer=ratio(len(visits), len({c for c, _ in visits})),
        gateway=tuple(gateways),
    )


@pytest.fixture(scope="module")
def random_shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    rows = random_rows()
    return write_shop(tmp_path_factory.mktemp("random"), rows), rows


def test_kpis_match_the_pandas_oracle(
    duck: BaseBackend, random_shop: tuple[Path, dict[str, Any]]
) -> None:
    folder, rows = random_shop
    expected = oracle(rows, AS_OF)
    # The data set exercises every definition (no empty denominator hides a difference).
    assert expected.buyers > 1_500
    assert expected.purchases > 6_000
    assert all(r.repurchased > 0 for r in expected.repurchase)
    assert 0 < expected.churned < expected.churn_base
    assert expected.cart_abandonment_rate is not None
    assert 0 < expected.cart_abandonment_rate < 1
    assert len(expected.gateway) == 4
    assert kpis(read_facts(duck, folder), AS_OF) == expected
    earlier = AS_OF - timedelta(days=200, hours=5)
    assert kpis(read_facts(duck, folder), earlier) == oracle(rows, earlier)


# CDNOW: 23,570 first-quarter-1997 buyers and every purchase to 1998-06-30.

CDNOW_AS_OF = datetime(1998, 7, 1, tzinfo=UTC)
# Computed once with the oracle. Same-day rows count as separate orders here, so there are
# more repeat buyers than under the published convention (which merges them).
CDNOW_PINNED = {
    "buyers": 23_570,
    "repeat_buyers": 11_662,
    "repurchase_rate": 11_662 / 23_570,  # 0.4948
    "purchases": 69_659,
    "net_revenue_minor": 250_031_563,  # $2,500,315.63
    "aov_minor": 3_589,  # 250,031,563 / 69,659 = 3,589.36 cents
}


def cdnow_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Each CDNOW row is a completed order (same-day rows stay separate orders), in cents."""
    raw = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": int, "date": str})
    placed = pd.to_datetime(raw.date, format="%Y%m%d", utc=True)
    cents = (raw.dollar_value * 100).round().astype(int)
    orders = [
        (n + 1, int(c), t.to_pydatetime(), "completed", int(m), 0, int(m), int(cds), None)
        for n, (c, t, m, cds) in enumerate(
            zip(raw.customer_id, placed, cents, raw.number_of_cds, strict=True)
        )
    ]
    people = [(int(c), str(c), None, None, None, None, None) for c in sorted(set(raw.customer_id))]
    return {name: [] for name in FACTS} | {"customers": people, "orders": orders}


@pytest.mark.shared_data
@pytest.mark.slow
def test_cdnow_figures(duck: BaseBackend, tmp_path: Path) -> None:
    rows = cdnow_rows(shared_file("CDNOW_master.txt"))
    expected = oracle(rows, CDNOW_AS_OF)
    k = kpis(read_facts(duck, write_shop(tmp_path / "cdnow", rows)), CDNOW_AS_OF)
    assert k == expected
    pinned = {name: getattr(k, name) for name in CDNOW_PINNED}
    assert pinned == CDNOW_PINNED
