"""Monthly acquisition cohorts: retention and revenue by months since the first purchase.

A customer's cohort is the UTC calendar month of their first purchase before ``as_of``; month
offset ``k`` counts calendar months from it (``k = 0`` is the cohort month itself). Each cohort
has a row for every ``k`` from 0 up to the month holding the last instant before ``as_of``, so a
cell nobody bought in is 0 rather than missing; the last month may be partial. Months come
from ``.year()``/``.month()`` integer arithmetic, which every Ibis backend runs alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import ibis
import pandas as pd
from ibis import _
from ibis.expr.types import IntegerValue, StringValue, Table, TimestampValue

from patron.analytics.facts import Facts


def month_index(moment: TimestampValue) -> IntegerValue:
    """Months since year 0 (``year * 12 + month - 1``): month offsets become subtractions."""
    index: IntegerValue = moment.year().cast("int64") * 12 + moment.month().cast("int64") - 1
    return index


def month_label(index: IntegerValue) -> StringValue:
    """``'YYYY-MM'`` of a :func:`month_index`, built from integers (no backend-specific
    formatting). Pipelines group by the index and label the few groups, not every row."""
    month = (index % 12 + 1).cast("string").lpad(2, "0")
    label: StringValue = (index // 12).cast("string").concat("-", month)
    return label


def net_purchases(facts: Facts, as_of: datetime) -> Table:
    """Purchases before ``as_of`` with their refunds made before ``as_of`` netted on the order
    itself (so revenue stays in the month the order was placed): customer_id, order_id,
    placed_at, first_at (the customer's first purchase), gross_minor, refunded_minor,
    net_minor."""
    p = facts.purchases(as_of)
    r = facts.refunds_until(as_of)
    refunded = r.group_by(order_id=r.order_id).aggregate(refunded_minor=r.amount_minor.sum())
    joined = p.left_join(refunded, p.id == refunded.order_id)
    refunded_minor = joined.refunded_minor.fill_null(0)
    return joined.select(
        customer_id=joined.customer_id,
        order_id=joined.id,
        placed_at=joined.placed_at,
        first_at=joined.first_at,
        gross_minor=joined.total_minor,
        refunded_minor=refunded_minor,
        net_minor=joined.total_minor - refunded_minor,
    )


def first_purchases(facts: Facts, as_of: datetime) -> Table:
    """One row per buyer: customer_id, first_at, cohort_month (:func:`month_index`)."""
    p = facts.purchases(as_of)
    return p.filter(p.n == 0).select(
        customer_id=p.customer_id, first_at=p.first_at, cohort_month=month_index(p.first_at)
    )


def _cohort_sizes(facts: Facts, as_of: datetime) -> Table:
    """cohort_month and cohort_size (its buyers) of every cohort."""
    return first_purchases(facts, as_of).group_by("cohort_month").aggregate(cohort_size=_.count())


def _grid(sizes: Table, as_of: datetime) -> Table:
    """Every observed (cohort, k) of the cohorts of ``sizes`` (cohort_month, cohort_size):
    cohort ('YYYY-MM'), cohort_month, cohort_size, k."""
    last = as_of.astimezone(UTC) - timedelta(microseconds=1)
    last_month = last.year * 12 + last.month - 1
    return sizes.mutate(
        cohort=month_label(sizes.cohort_month),
        k=ibis.range(0, last_month - sizes.cohort_month + 1, 1).unnest(),
    )


def monthly_buyers(purchases: Table) -> Table:
    """cohort_month, k and customers: how many customers of the cohort bought in its month k,
    from ranked purchases (:meth:`Facts.purchases`). The counts of two sets of purchases add up
    when the second follows the first, customer by customer (its ``previous_at`` reaching into
    the first): an incremental refresh adds those of each new window to the ones it keeps."""
    p = purchases
    # A customer's first purchase in a month is the one whose previous purchase is in an
    # earlier month (or that has none): counting those counts the customers of each month
    # without a distinct over (customer, month).
    month = month_index(p.placed_at)
    opening = p.filter(p.previous_at.isnull() | (month_index(p.previous_at) != month))
    return (
        opening.select(
            cohort_month=month_index(opening.first_at),
            k=month_index(opening.placed_at) - month_index(opening.first_at),
        )
        .group_by("cohort_month", "k")
        .aggregate(customers=_.count())
    )


def retention(facts: Facts, as_of: datetime) -> Table:
    """Per cohort and k: cohort_size, customers (of the cohort who bought in month k) and
    share (customers / cohort_size; 1.0 at k = 0). Columns: cohort, k, cohort_size, customers,
    share; ordered by cohort, k."""
    return retention_from(monthly_buyers(facts.purchases(as_of)), as_of)


def retention_from(active: Table, as_of: datetime) -> Table:
    """:func:`retention` from the :func:`monthly_buyers` of the purchases before ``as_of``."""
    # Every buyer opens month 0 of their cohort, once.
    sizes = active.filter(active.k == 0).select("cohort_month", cohort_size=active.customers)
    cells = _grid(sizes, as_of).left_join(active, ["cohort_month", "k"])
    customers = cells.customers.fill_null(0)
    return cells.select(
        cohort=cells.cohort,
        k=cells.k,
        cohort_size=cells.cohort_size,
        customers=customers,
        share=customers.cast("float64") / cells.cohort_size,
    ).order_by("cohort", "k")


def revenue(facts: Facts, as_of: datetime) -> Table:
    """Per cohort and k: net_minor (net revenue of the cohort's orders placed in month k, their
    refunds netted on that month), cumulative_net_minor (months 0..k) and ltv_minor (the
    cumulative net per cohort customer: the cohort's historical LTV curve). Columns: cohort,
    k, cohort_size, orders, net_minor, cumulative_net_minor, ltv_minor; ordered by cohort, k."""
    net = net_purchases(facts, as_of)
    monthly = (
        net.select(
            cohort_month=month_index(net.first_at),
            k=month_index(net.placed_at) - month_index(net.first_at),
            net_minor=net.net_minor,
        )
        .group_by("cohort_month", "k")
        .aggregate(orders=_.count(), net_minor=_.net_minor.sum())
    )
    grid = _grid(_cohort_sizes(facts, as_of), as_of)
    cells = grid.left_join(monthly, ["cohort_month", "k"])
    net_minor = cells.net_minor.fill_null(0)
    cumulative = net_minor.sum().over(
        ibis.cumulative_window(group_by=cells.cohort, order_by=cells.k)
    )
    return cells.select(
        cohort=cells.cohort,
        k=cells.k,
        cohort_size=cells.cohort_size,
        orders=cells.orders.fill_null(0),
        net_minor=net_minor,
        cumulative_net_minor=cumulative,
        ltv_minor=cumulative.cast("float64") / cells.cohort_size,
    ).order_by("cohort", "k")


def ltv_curve(facts: Facts, as_of: datetime) -> Table:
    """The LTV curve of all cohorts together: per k, customers (of the cohorts observed at k)
    and ltv_minor (their cumulative net revenue to month k per customer). Late cohorts drop out
    as k grows, so each point averages only customers seen for that long."""
    r = revenue(facts, as_of)
    curve = r.group_by("k").aggregate(
        customers=r.cohort_size.sum(), cumulative_net_minor=r.cumulative_net_minor.sum()
    )
    return curve.mutate(
        ltv_minor=curve.cumulative_net_minor.cast("float64") / curve.customers
    ).order_by("k")


def matrix(long: Table | pd.DataFrame, value: str) -> pd.DataFrame:
    """The long form pivoted for display: one row per cohort, one column per k; cells a cohort
    has not reached yet are NaN."""
    frame = long.to_pandas() if isinstance(long, Table) else long
    return frame.pivot(index="cohort", columns="k", values=value).sort_index()
