"""Headline KPIs of a shop as of a moment, each with an exact definition.

Purchases are orders paid, shipped, completed or refunded placed before ``as_of``; refunds made
before ``as_of`` are netted on their order (see :mod:`patron.analytics.summary`). Windows are
half-open, ``[as_of - N days, as_of)``, and "within N days" of a moment ``t`` means at most
``t + N days``. Ibis computes integer counts and sums; ratios are taken in Python, so every
backend gives the same figures. A ratio whose denominator is 0 is ``None``.

The revenue share of the top RFM segment is not here: segments are assigned elsewhere, and the
share is that segment's ``net_minor`` over :attr:`Kpis.net_revenue_minor`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import ibis
from ibis import _
from ibis.expr.types import BooleanValue, IntegerValue, Table

from patron.analytics.cohorts import net_purchases
from patron.analytics.facts import Facts, stamp, top_category
from patron.analytics.summary import customer_summary

REPURCHASE_DAYS = (30, 90, 365)
PERIOD_DAYS = 90
"""The window of churn, new-vs-returning and the category gateway."""
FREQUENCY_DAYS = 365
CART_DAYS = 30
CART_HOURS = 24
VISIT_DAYS = 30
PURCHASE_WINDOW_DAYS = max(FREQUENCY_DAYS, 2 * PERIOD_DAYS, CART_DAYS)
"""How far back from ``as_of`` the KPIs read purchases, the repurchase windows and the
gateway (which read each buyer's first two purchases) apart."""
EVENT_WINDOW_DAYS = max(CART_DAYS, VISIT_DAYS)
"""How far back from ``as_of`` the KPIs read events."""


@dataclass(frozen=True, slots=True)
class Repurchase:
    """Buyers whose second purchase came within ``days`` of their first. Only buyers whose
    first purchase is at least ``days`` before ``as_of`` are ``eligible`` (the denominator):
    younger buyers have not had the whole window yet and would pull the rate down."""

    days: int
    eligible: int
    repurchased: int
    rate: float | None


@dataclass(frozen=True, slots=True)
class Group:
    """New or returning buyers of the last :data:`PERIOD_DAYS` days: those who purchased in the
    window, new when their first purchase ever is in it. ``purchases`` and ``net_minor`` are
    the window's; ``aov_minor`` = net_minor / purchases; ``revenue_share`` = net_minor / the
    window's net revenue of both groups; ``mean_ltv_minor`` = mean lifetime net spend (to
    ``as_of``) of the group's customers."""

    customers: int
    purchases: int
    net_minor: int
    aov_minor: int | None
    revenue_share: float | None
    mean_ltv_minor: float | None


@dataclass(frozen=True, slots=True)
class Gateway:
    """Buyers whose first purchase held a product of top-level ``category`` (the first segment
    of ``category_path``; a first order of several categories counts in each). ``eligible``
    and ``repurchased`` as in :class:`Repurchase` for :data:`PERIOD_DAYS` days."""

    category: str | None
    customers: int
    eligible: int
    repurchased: int
    rate: float | None


@dataclass(frozen=True, slots=True)
class Kpis:
    """The KPIs as of ``as_of``; money in integer minor units. Definitions:

    - customers: every known customer; buyers: customers with a purchase; repeat_buyers: with
      2 or more; repurchase_rate = repeat_buyers / buyers.
    - repurchase: one :class:`Repurchase` per day count of :data:`REPURCHASE_DAYS`.
    - gross_revenue_minor: sum of purchase totals; refunded_minor: refunds on them;
      net_revenue_minor = gross - refunded; refund_rate = refunded / gross.
    - aov_minor = net revenue / purchases, rounded half up; orders_per_buyer = purchases /
      buyers.
    - revenue_share_top20: net spend of the top ceil(buyers / 5) buyers by net spend (ties:
      lower customer id first) / net revenue.
    - churned / churn_base / churn_rate: customers who purchased in the previous period
      ``[as_of - 2P, as_of - P)`` (the base) and not in the last ``[as_of - P, as_of)``,
      P = :data:`PERIOD_DAYS`.
    - purchase_frequency: purchases in the last :data:`FREQUENCY_DAYS` days / customers who
      purchased in them.
    - new, returning: :class:`Group` over the last :data:`PERIOD_DAYS` days.
    - cart_abandonment_rate: of the customers with a ``cart_add`` event in
      ``[as_of - 30 days, as_of - 24 h)`` (so the next 24 h are all seen), the share who made
      no purchase within 24 h after any of those events. Events carry no session, so the
      customer is the unit; anonymous events cannot be matched to orders and are left out.
    - visits_per_active_customer: over ``[as_of - 30 days, as_of)``, distinct (customer, UTC
      day) pairs with any event / customers with any event: a customer-day stands for a visit.
    - gateway: one :class:`Gateway` per first-purchase top-level category.
    """

    as_of: datetime
    customers: int
    buyers: int
    repeat_buyers: int
    repurchase_rate: float | None
    repurchase: tuple[Repurchase, ...]
    purchases: int
    gross_revenue_minor: int
    refunded_minor: int
    net_revenue_minor: int
    refund_rate: float | None
    aov_minor: int | None
    orders_per_buyer: float | None
    revenue_share_top20: float | None
    churn_base: int
    churned: int
    churn_rate: float | None
    purchase_frequency: float | None
    new: Group
    returning: Group
    cart_abandonment_rate: float | None
    visits_per_active_customer: float | None
    gateway: tuple[Gateway, ...]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: lists for tuples, ``as_of`` in ISO 8601."""
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        data["repurchase"] = list(data["repurchase"])
        data["gateway"] = list(data["gateway"])
        return data


def kpis(
    facts: Facts,
    as_of: datetime,
    summary: Table | None = None,
    firsts: Table | None = None,
    gateway_rows: Table | None = None,
) -> Kpis:
    """The KPIs of :class:`Kpis`. When the caller already has them at the same ``as_of``:
    ``summary`` is :func:`customer_summary`, ``firsts`` :func:`second_purchases` and
    ``gateway_rows`` :func:`gateway`. Given all three, the facts need to hold only the
    purchases of the last :data:`PURCHASE_WINDOW_DAYS` days and the events of the last
    :data:`EVENT_WINDOW_DAYS`, as an incremental refresh keeps them."""
    s = customer_summary(facts, as_of) if summary is None else summary
    totals = _row(
        s.aggregate(
            customers=_.count(),
            buyers=_count_if(s.orders > 0),
            repeat_buyers=_count_if(s.orders > 1),
            purchases=_total(s.orders),
            gross=_total(s.gross_minor),
            refunded=_total(s.refunded_minor),
        )
    )
    buyers: int = totals["buyers"]
    purchases: int = totals["purchases"]
    gross: int = totals["gross"]
    refunded: int = totals["refunded"]
    net = gross - refunded
    churn = _churn(facts, as_of)
    new, returning = _new_and_returning(facts, as_of, s)
    return Kpis(
        as_of=as_of,
        customers=totals["customers"],
        buyers=buyers,
        repeat_buyers=totals["repeat_buyers"],
        repurchase_rate=_ratio(totals["repeat_buyers"], buyers),
        repurchase=_repurchase(second_purchases(facts, as_of) if firsts is None else firsts, as_of),
        purchases=purchases,
        gross_revenue_minor=gross,
        refunded_minor=refunded,
        net_revenue_minor=net,
        refund_rate=_ratio(refunded, gross),
        aov_minor=_rounded(net, purchases),
        orders_per_buyer=_ratio(purchases, buyers),
        revenue_share_top20=_ratio(_top_net(s, -(-buyers // 5)), net),
        churn_base=churn["base"],
        churned=churn["churned"],
        churn_rate=_ratio(churn["churned"], churn["base"]),
        purchase_frequency=_purchase_frequency(facts, as_of, s),
        new=new,
        returning=returning,
        cart_abandonment_rate=_cart_abandonment(facts, as_of),
        visits_per_active_customer=_visits(facts, as_of),
        gateway=_gateway(gateway(facts, as_of) if gateway_rows is None else gateway_rows),
    )


def second_purchases(facts: Facts, as_of: datetime) -> Table:
    """One row per buyer: customer_id, first_at, first_order_id, second_at (null for one-time
    buyers)."""
    p = facts.purchases(as_of)
    first = p.filter(p.n == 0).select(
        customer_id=_.customer_id, first_at=_.placed_at, first_order_id=_.id
    )
    second = p.filter(p.n == 1).select(second_customer=_.customer_id, second_at=_.placed_at)
    joined = first.left_join(second, first.customer_id == second.second_customer)
    return joined.drop("second_customer")


def _repurchased_within(buyers: Table, as_of: datetime, days: int) -> dict[str, IntegerValue]:
    """Aggregates ``eligible_<days>`` and ``repurchased_<days>`` of :class:`Repurchase` over a
    table of :func:`second_purchases`."""
    eligible = buyers.first_at <= stamp(as_of - timedelta(days=days))
    within = buyers.second_at.notnull() & (
        buyers.second_at <= buyers.first_at + ibis.interval(days=days)
    )
    return {
        f"eligible_{days}": _count_if(eligible),
        f"repurchased_{days}": _count_if(eligible & within),
    }


def _repurchase(buyers: Table, as_of: datetime) -> tuple[Repurchase, ...]:
    metrics: dict[str, IntegerValue] = {}
    for days in REPURCHASE_DAYS:
        metrics |= _repurchased_within(buyers, as_of, days)
    row = _row(buyers.aggregate(**metrics))
    return tuple(
        Repurchase(
            days=days,
            eligible=row[f"eligible_{days}"],
            repurchased=row[f"repurchased_{days}"],
            rate=_ratio(row[f"repurchased_{days}"], row[f"eligible_{days}"]),
        )
        for days in REPURCHASE_DAYS
    )


def _top_net(summary: Table, top: int) -> int:
    """Net spend of the ``top`` buyers with the highest net spend (ties: lower id first)."""
    b = summary.filter(summary.orders > 0)
    rank = ibis.row_number().over(order_by=[ibis.desc(b.net_minor), b.customer_id])
    leaders = b.filter(rank < top)
    total: int = _row(leaders.aggregate(net=_total(leaders.net_minor)))["net"]
    return total


def _churn(facts: Facts, as_of: datetime) -> dict[str, int]:
    p = facts.purchases(as_of)
    start = as_of - timedelta(days=2 * PERIOD_DAYS)
    middle = as_of - timedelta(days=PERIOD_DAYS)
    per = (
        p.filter(p.placed_at >= stamp(start))
        .group_by(customer_id=p.customer_id)
        .aggregate(
            previous=_count_if(p.placed_at < stamp(middle)),
            last=_count_if(p.placed_at >= stamp(middle)),
        )
    )
    row = _row(
        per.aggregate(
            base=_count_if(per.previous > 0),
            churned=_count_if((per.previous > 0) & (per.last == 0)),
        )
    )
    return {"base": row["base"], "churned": row["churned"]}


def _purchase_frequency(facts: Facts, as_of: datetime, summary: Table) -> float | None:
    start = stamp(as_of - timedelta(days=FREQUENCY_DAYS))
    p = facts.purchases(as_of)
    purchases = _row(p.filter(p.placed_at >= start).aggregate(n=_.count()))["n"]
    # Those who purchased in the window are those whose last purchase is in it: counted on
    # the summary rather than made distinct among the window's purchases.
    customers = _row(summary.aggregate(n=_count_if(summary.last_order_at >= start)))["n"]
    return _ratio(purchases, customers)


def _new_and_returning(facts: Facts, as_of: datetime, summary: Table) -> tuple[Group, Group]:
    net = net_purchases(facts, as_of)
    start = stamp(as_of - timedelta(days=PERIOD_DAYS))
    window = net.filter(net.placed_at >= start)
    per = window.group_by("customer_id").aggregate(
        purchases=_.count(), net_minor=_.net_minor.sum(), first_at=_.first_at.max()
    )
    lifetime = summary.select(customer_id=summary.customer_id, ltv_minor=summary.net_minor)
    joined = per.join(lifetime, "customer_id")
    groups = joined.group_by(new=joined.first_at >= start).aggregate(
        customers=_.count(),
        purchases=_.purchases.sum(),
        net_minor=_.net_minor.sum(),
        ltv_minor=_.ltv_minor.sum(),
    )
    rows = {row["new"]: row for row in groups.to_pyarrow().to_pylist()}
    total = sum(row["net_minor"] for row in rows.values())

    def group(new: bool) -> Group:
        row = rows.get(new, {"customers": 0, "purchases": 0, "net_minor": 0, "ltv_minor": 0})
        return Group(
            customers=row["customers"],
            purchases=row["purchases"],
            net_minor=row["net_minor"],
            aov_minor=_rounded(row["net_minor"], row["purchases"]),
            revenue_share=_ratio(row["net_minor"], total),
            mean_ltv_minor=_ratio(row["ltv_minor"], row["customers"]),
        )

    return group(True), group(False)


def _cart_abandonment(facts: Facts, as_of: datetime) -> float | None:
    e = facts.events
    carts = e.filter(
        e.event_type == "cart_add",
        e.customer_id.notnull(),
        e.occurred_at >= stamp(as_of - timedelta(days=CART_DAYS)),
        e.occurred_at < stamp(as_of - timedelta(hours=CART_HOURS)),
    ).select(cart_customer=_.customer_id, carted_at=_.occurred_at)
    p = facts.purchases(as_of).select(buyer=_.customer_id, bought_at=_.placed_at)
    joined = carts.left_join(
        p,
        [
            carts.cart_customer == p.buyer,
            p.bought_at >= carts.carted_at,
            p.bought_at <= carts.carted_at + ibis.interval(hours=CART_HOURS),
        ],
    )
    per = joined.group_by("cart_customer").aggregate(bought=joined.bought_at.count())
    row = _row(per.aggregate(carting=_.count(), abandoned=_count_if(per.bought == 0)))
    return _ratio(row["abandoned"], row["carting"])


def _visits(facts: Facts, as_of: datetime) -> float | None:
    e = facts.events
    recent = e.filter(
        e.customer_id.notnull(),
        e.occurred_at >= stamp(as_of - timedelta(days=VISIT_DAYS)),
        e.occurred_at < stamp(as_of),
    )
    days = recent.select(customer_id=recent.customer_id, day=recent.occurred_at.date()).distinct()
    row = _row(days.aggregate(visits=_.count(), customers=_.customer_id.nunique()))
    return _ratio(row["visits"], row["customers"])


def gateway(facts: Facts, as_of: datetime, days: int = PERIOD_DAYS) -> Table:
    """The category gateway table (see :class:`Gateway`): category, customers, eligible,
    repurchased; ordered by category."""
    keyed = category_keys(facts.products)
    p = facts.purchases(as_of)
    firsts = first_order_keys(p.filter(p.n == 0), facts.order_lines, keyed)
    return named_gateway(gateway_by_key(second_purchases(facts, as_of), firsts, as_of, days), keyed)


def category_keys(products: Table) -> Table:
    """product_id, category (top level) and key of every product: the category of each product
    once, not of each line, keyed by the smallest product id in it, so that the first orders'
    lines carry two integers to make distinct, not a string."""
    named = products.select(product_id=_.id, category=top_category(_.category_path))
    return named.mutate(key=named.product_id.min().over(group_by=named.category))


def first_order_keys(firsts: Table, order_lines: Table, keyed: Table) -> Table:
    """order_id and key (:func:`category_keys`, null for an unknown product) of every category
    in the orders of ``firsts`` (customers' first purchases, with their id)."""
    lines = order_lines.join(firsts.select(order_id=firsts.id), "order_id")
    first_lines = lines.left_join(keyed.select("product_id", "key"), "product_id")
    return first_lines.select("order_id", "key").distinct()


GATEWAY_COUNTS = ("customers", "eligible", "repurchased")
"""The counts of :func:`gateway_by_key`, which add up from one set of buyers to another."""


def gateway_by_key(buyers: Table, firsts: Table, as_of: datetime, days: int = PERIOD_DAYS) -> Table:
    """key, customers, eligible and repurchased of :func:`gateway` per category key, from
    :func:`second_purchases` (``buyers``) and the :func:`first_order_keys` of their first
    orders."""
    # The customers' dates joined after, to one row per (first order, category).
    joined = buyers.join(firsts, buyers.first_order_id == firsts.order_id)
    metrics = _repurchased_within(joined, as_of, days)
    return joined.group_by("key").aggregate(
        customers=_.count(),
        eligible=metrics[f"eligible_{days}"],
        repurchased=metrics[f"repurchased_{days}"],
    )


def named_gateway(by_key: Table, keyed: Table) -> Table:
    """:func:`gateway` from its counts per key and the :func:`category_keys`."""
    named = by_key.left_join(keyed.select("key", "category").distinct(), "key")
    return named.select("category", "customers", "eligible", "repurchased").order_by("category")


def _gateway(table: Table) -> tuple[Gateway, ...]:
    """The rows of a :func:`gateway` table, no category last (backends disagree on where nulls
    sort)."""
    rows = table.to_pyarrow().to_pylist()
    rows.sort(key=lambda row: (row["category"] is None, row["category"] or ""))
    return tuple(
        Gateway(
            category=row["category"],
            customers=row["customers"],
            eligible=row["eligible"],
            repurchased=row["repurchased"],
            rate=_ratio(row["repurchased"], row["eligible"]),
        )
        for row in rows
    )


def _count_if(condition: BooleanValue) -> IntegerValue:
    """Rows where ``condition`` holds, as an integer sum (portable, unlike summing booleans)."""
    return _total(ibis.ifelse(condition, 1, 0))


def _total(column: IntegerValue) -> IntegerValue:
    """The sum of an integer column, 0 (not null) over no rows."""
    total: IntegerValue = column.sum().fill_null(0)
    return total


def _row(table: Table) -> dict[str, Any]:
    """The single row of an aggregate, as Python values."""
    rows: list[dict[str, Any]] = table.to_pyarrow().to_pylist()
    return rows[0]


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _rounded(numerator: int, denominator: int) -> int | None:
    """``numerator / denominator`` rounded half up, in integers (no float error on big sums)."""
    return (2 * numerator + denominator) // (2 * denominator) if denominator else None
