"""The customer summary as of a moment: one row per known customer.

Purchases are orders paid, shipped, completed or refunded (pending and cancelled ones are not
purchases), placed before ``as_of``; refunds made before ``as_of`` are netted. Money columns are
integer minor units; ``days_since_*`` are whole days, rounded down.
"""

from __future__ import annotations

from datetime import datetime

import ibis
from ibis import _
from ibis.expr.types import Table

from patron.analytics.facts import SECONDS_PER_DAY, Facts, days_between, stamp

COLUMNS = (
    "customer_id",
    "external_id",
    "signup_at",
    "orders",
    "repeat_orders",
    "first_order_at",
    "last_order_at",
    "gross_minor",
    "refunded_minor",
    "net_minor",
    "aov_minor",
    "refunds",
    "mean_interval_days",
    "last_visit_at",
    "days_since_first_order",
    "days_since_last_order",
    "days_since_last_visit",
)


def customer_summary(facts: Facts, as_of: datetime) -> Table:
    """One row per customer of the shop (buyers and those who never bought), see COLUMNS."""
    purchases = facts.purchases(as_of)
    refunds = facts.refunds_until(as_of)
    refunded = (
        refunds.join(purchases, refunds.order_id == purchases.id)
        .select(customer_id=purchases.customer_id, amount_minor=refunds.amount_minor)
        .group_by("customer_id")
        .aggregate(refunded_minor=_.amount_minor.sum(), refunds=_.count())
    )
    bought = purchases.group_by(customer_id=purchases.customer_id).aggregate(
        orders=purchases.count(),
        first_order_at=purchases.placed_at.min(),
        last_order_at=purchases.placed_at.max(),
        gross_minor=purchases.total_minor.sum(),
    )
    e = facts.events
    visited = (
        e.filter(e.customer_id.notnull(), e.occurred_at < stamp(as_of))
        .group_by(customer_id=e.customer_id)
        .aggregate(last_visit_at=e.occurred_at.max())
    )
    c = facts.customers
    joined = c.select(customer_id=c.id, external_id=c.external_id, signup_at=c.signup_at)
    for part in (bought, refunded, visited):
        joined = joined.left_join(part, "customer_id").drop("customer_id_right")
    return summarise(joined, as_of)


def summarise(totals: Table, as_of: datetime) -> Table:
    """The summary of COLUMNS from one row per customer of the shop with customer_id,
    external_id, signup_at and the totals of the purchases, refunds and visits before
    ``as_of`` — orders, first_order_at, last_order_at, gross_minor, refunded_minor, refunds,
    last_visit_at (null when there are none). :func:`customer_summary` totals the facts; an
    incremental refresh keeps them."""
    joined = totals
    orders = joined.orders.fill_null(0)
    gross = joined.gross_minor.fill_null(0)
    refunded_minor = joined.refunded_minor.fill_null(0)
    net = gross - refunded_minor
    span = joined.last_order_at.epoch_seconds() - joined.first_order_at.epoch_seconds()
    return joined.select(
        customer_id=joined.customer_id,
        external_id=joined.external_id,
        signup_at=joined.signup_at,
        orders=orders,
        repeat_orders=ibis.greatest(orders - 1, 0),
        first_order_at=joined.first_order_at,
        last_order_at=joined.last_order_at,
        gross_minor=gross,
        refunded_minor=refunded_minor,
        net_minor=net,
        aov_minor=ibis.ifelse(orders > 0, (net / orders).round().cast("int64"), ibis.null()),
        refunds=joined.refunds.fill_null(0),
        mean_interval_days=ibis.ifelse(
            orders > 1, span / SECONDS_PER_DAY / (orders - 1), ibis.null()
        ),
        last_visit_at=joined.last_visit_at,
        days_since_first_order=days_between(joined.first_order_at, as_of),
        days_since_last_order=days_between(joined.last_order_at, as_of),
        days_since_last_visit=days_between(joined.last_visit_at, as_of),
    )


def purchase_recency(facts: Facts, as_of: datetime) -> Table:
    """The part of the summary that lifecycle stages read — customer_id, orders,
    days_since_first_order, days_since_last_order — for every customer, without the spend,
    refunds and visits that cost most of the summary's time."""
    purchases = facts.purchases(as_of)
    bought = purchases.group_by(customer_id=purchases.customer_id).aggregate(
        orders=purchases.count(),
        first_order_at=purchases.placed_at.min(),
        last_order_at=purchases.placed_at.max(),
    )
    c = facts.customers
    joined = c.select(customer_id=c.id).left_join(bought, "customer_id").drop("customer_id_right")
    return joined.select(
        customer_id=joined.customer_id,
        orders=joined.orders.fill_null(0),
        days_since_first_order=days_between(joined.first_order_at, as_of),
        days_since_last_order=days_between(joined.last_order_at, as_of),
    )
