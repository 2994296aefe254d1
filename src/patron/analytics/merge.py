"""A window of new facts merged into the kept state: the state as of the window's end.

The window's purchases are ranked after each customer's kept ones (purchase number, first and
previous purchase, as :meth:`Facts.purchases` ranks them), so the per-customer figures, the
gap histogram and the cohort counts add up; refunds find their order among the kept purchases
and the window's. Each step is a join of the window's small aggregates with the state; the
per-customer figures are those of every customer of the window's customers fact (read whole).

What a window cannot bring in correctly raises :class:`Stale`, and the caller runs a full
analysis instead: facts before the state's moment that changed since (a late order, an order
cancelled or edited after it, a refund or an event dated before it), and product categories
that changed (the kept first orders' categories would be read with the old ones).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import ibis
from ibis.expr.types import Column, Table

from patron.analytics.cohorts import monthly_buyers
from patron.analytics.delta import Delta
from patron.analytics.facts import PURCHASE_STATUSES, stamp
from patron.analytics.kpis import (
    EVENT_WINDOW_DAYS,
    GATEWAY_COUNTS,
    PERIOD_DAYS,
    category_keys,
    first_order_keys,
    gateway_by_key,
)
from patron.analytics.stages import gap_histogram
from patron.analytics.state import SCHEMAS, History, State, sum_by

_SHOWN = 5
"""Ids named in a message, at most."""


class Stale(Exception):
    """The state cannot be brought forward from this window: a full analysis is needed. The
    message says why."""


def merge(state: State, delta: Delta) -> State:
    """The state as of ``delta.until``: ``state`` with the window ``delta`` (which starts where
    the state ends) merged in. Raises :class:`Stale` when the window cannot be merged."""
    since, until = state.as_of, delta.until
    if since != delta.since:
        raise ValueError(f"a state as of {since} takes a window from it, not from {delta.since}")
    named = state.purchases
    if since is not None:
        _check_history(state, delta, since)
        _check_products(state, delta)
        named = _named(state, delta, since).cache()
        _check_earlier(delta, named, since)
    ranked = _ranked(state, delta).cache()
    refunds = _netted(delta, named, ranked).cache()
    e = delta.facts.events
    events = e.filter(e.occurred_at < stamp(until))
    if since is not None:
        events = events.filter(events.occurred_at >= stamp(since))
    seen = events.filter(events.customer_id.notnull())
    window_facts = replace(delta.facts, orders=ranked, held_until=until)
    customers, changed = _customers(delta.facts.customers, state.customers, ranked, refunds, seen)
    customers = customers.cache()
    keyed = category_keys(delta.facts.products)
    firsts = first_order_keys(ranked.filter(ranked.n == 0), delta.facts.order_lines, keyed)
    first_keys = _union(state.first_keys, firsts, "first_keys")
    unsettled, settled = _settle(first_keys, customers, until)
    recent = stamp(until - timedelta(days=EVENT_WINDOW_DAYS))
    kept_events = _union(state.events, seen, "events")
    netted = _typed(refunds, "refunds")
    return State(
        as_of=until,
        history=state.history.plus(_history(ranked, delta, events, since)),
        customers=customers,
        purchases=_union(state.purchases, ranked, "purchases"),
        refunds=_union(state.refunds, netted, "refunds"),
        events=kept_events.filter(kept_events.occurred_at >= recent).cache(),
        gaps=sum_by(state.gaps, gap_histogram(window_facts, until), ["days"], ["n"]).cache(),
        monthly_buyers=sum_by(
            state.monthly_buyers, monthly_buyers(ranked), ["cohort_month", "k"], ["customers"]
        ).cache(),
        gateway_settled=sum_by(
            state.gateway_settled, settled, ["key"], list(GATEWAY_COUNTS)
        ).cache(),
        first_keys=unsettled.cache(),
        product_keys=_typed(keyed.select("product_id", "key"), "product_keys").cache(),
        tags=state.tags,
        tags_as_of=state.tags_as_of,
        files=state.files,
        added={
            "purchases": ranked,
            "refunds": netted,
            "customers": customers.filter(customers.customer_id.isin(changed)),
        },
    )


def _named(state: State, delta: Delta, since: datetime) -> Table:
    """The kept purchases the window names: those its refunds are of, and the orders it holds
    from before ``since``."""
    o, r = delta.facts.orders, delta.facts.refunds
    ids = ibis.union(r.select(id=r.order_id), o.filter(o.placed_at < stamp(since)).select("id"))
    k = state.purchases
    return k.filter(k.id.isin(ids.id))


def _union(kept: Table, new: Table, name: str) -> Table:
    """The rows of both, with the columns of the state's table ``name`` (engines may read
    back a held table with other types: Spark's timestamps lose their scale)."""
    return ibis.union(_typed(kept, name), _typed(new, name))


def _typed(table: Table, name: str) -> Table:
    """``table`` with the columns of the state's table ``name``, in its order and types."""
    schema = ibis.schema(SCHEMAS[name])
    return table.select(*schema.names).cast(schema)


def _ranked(state: State, delta: Delta) -> Table:
    """The window's purchases ranked after the customers' kept ones: the columns of the kept
    purchases."""
    o = delta.facts.orders
    p = o.filter(o.status.isin(PURCHASE_STATUSES), o.placed_at < stamp(delta.until))
    if delta.since is not None:
        p = p.filter(p.placed_at >= stamp(delta.since))
    c = state.customers
    prior = c.select(
        prior_customer=c.customer_id,
        prior_orders=c.orders,
        prior_first=c.first_order_at,
        prior_last=c.last_order_at,
    )
    j = p.left_join(prior, p.customer_id == prior.prior_customer)
    w = ibis.window(group_by=j.customer_id, order_by=[j.placed_at, j.id])
    return _typed(
        j.select(
            id=j.id,
            customer_id=j.customer_id,
            placed_at=j.placed_at,
            total_minor=j.total_minor,
            n=j.prior_orders.fill_null(0) + ibis.row_number().over(w),
            first_at=ibis.coalesce(j.prior_first, j.placed_at.min().over(w)),
            previous_at=ibis.coalesce(j.placed_at.lag().over(w), j.prior_last),
        ),
        "purchases",
    )


def _netted(delta: Delta, named: Table, ranked: Table) -> Table:
    """The window's refunds of purchases (``named`` kept ones or new ones): the columns of the
    kept refunds and the purchase's customer_id."""
    since, until = delta.since, delta.until
    r = delta.facts.refunds
    dated = r.refunded_at.notnull()
    within = r.refunded_at < stamp(until)
    if since is not None:
        early = r.filter(dated & (r.refunded_at < stamp(since)))
        _refuse(early.order_id, f"refunds dated before {since.isoformat()} arrived since")
        # An undated refund counts from the start: one of a kept purchase came too late.
        late = r.filter(~dated, r.order_id.isin(named.id))
        _refuse(late.order_id, f"undated refunds of orders placed before {since.isoformat()}")
        within &= r.refunded_at >= stamp(since)
    r = r.filter(~dated | within)
    bought = _union(named, ranked, "purchases")
    p = bought.select(order=bought.id, buyer=bought.customer_id)
    joined = r.join(p, r.order_id == p.order)
    return joined.select(*SCHEMAS["refunds"].names, customer_id=joined.buyer)


def _customers(
    people: Table, kept: Table, ranked: Table, refunds: Table, seen: Table
) -> tuple[Table, Column]:
    """Every customer of ``people`` (the customers fact) with their external_id and
    signup_at, and the kept per-customer figures with the window's added; and the ids of the
    customers the window changed. Purchases come after the kept ones and visits after the kept
    visits, so the window's first, second and last moments fill what is missing or replace
    the kept last ones. Taking the customers here, once, spares the summary a join of them
    all."""
    r = ranked
    bought = r.group_by("customer_id").aggregate(
        orders=r.count(),
        first_order_at=r.first_at.min(),
        first_order_id=r.id.min(where=r.n == 0),
        second_order_at=r.placed_at.min(where=r.n == 1),
        last_order_at=r.placed_at.max(),
        gross_minor=r.total_minor.sum(),
    )
    refunded = refunds.group_by("customer_id").aggregate(
        refunded_minor=refunds.amount_minor.sum(), refunds=refunds.count()
    )
    visited = seen.group_by("customer_id").aggregate(last_visit_at=seen.occurred_at.max())
    u = ibis.union(*(_padded(t) for t in (bought, refunded, visited)))
    new = u.group_by("customer_id").aggregate(
        orders=u.orders.sum(),
        first_order_at=u.first_order_at.min(),
        first_order_id=u.first_order_id.min(),
        second_order_at=u.second_order_at.min(),
        last_order_at=u.last_order_at.max(),
        gross_minor=u.gross_minor.sum(),
        refunded_minor=u.refunded_minor.sum(),
        refunds=u.refunds.sum(),
        last_visit_at=u.last_visit_at.max(),
    )
    c = people.select(
        customer_id=people.id, external_id=people.external_id, signup_at=people.signup_at
    )
    j = c.left_join(kept, c.customer_id == kept.customer_id).left_join(
        new, c.customer_id == new.customer_id
    )
    merged = j.select(
        customer_id=c.customer_id,
        orders=kept.orders.fill_null(0) + new.orders.fill_null(0),
        first_order_at=ibis.coalesce(kept.first_order_at, new.first_order_at),
        first_order_id=ibis.coalesce(kept.first_order_id, new.first_order_id),
        second_order_at=ibis.coalesce(kept.second_order_at, new.second_order_at),
        last_order_at=ibis.coalesce(new.last_order_at, kept.last_order_at),
        gross_minor=kept.gross_minor.fill_null(0) + new.gross_minor.fill_null(0),
        refunded_minor=kept.refunded_minor.fill_null(0) + new.refunded_minor.fill_null(0),
        refunds=kept.refunds.fill_null(0) + new.refunds.fill_null(0),
        last_visit_at=ibis.coalesce(new.last_visit_at, kept.last_visit_at),
        external_id=c.external_id,
        signup_at=c.signup_at,
    )
    # The kept columns in their types; the customers' own after them.
    return merged.cast(dict(ibis.schema(SCHEMAS["customers"]).items())), new.customer_id


def _padded(part: Table) -> Table:
    """A part of the window's per-customer figures with the others null."""
    schema = ibis.schema(SCHEMAS["customers"])
    missing = {n: ibis.null(t) for n, t in schema.items() if n not in part.columns}
    return _typed(part.mutate(**missing), "customers")


def _settle(first_keys: Table, customers: Table, until: datetime) -> tuple[Table, Table]:
    """The first orders' category keys split: those of buyers whose gateway figures can still
    change, and the counts per key of the others, whose first purchase is more than
    :data:`PERIOD_DAYS` before ``until`` — eligible from then on, and whether they bought again
    within the period is known (a later purchase is too late)."""
    c = customers.filter(customers.orders > 0)
    buyers = c.select(
        "customer_id",
        first_at=c.first_order_at,
        first_order_id=c.first_order_id,
        second_at=c.second_order_at,
    )
    listed = buyers.filter(buyers.first_order_id.isin(first_keys.order_id))
    done = listed.filter(listed.first_at < stamp(until - timedelta(days=PERIOD_DAYS)))
    still = first_keys.anti_join(done, first_keys.order_id == done.first_order_id)
    return still, gateway_by_key(done, first_keys, until)


def _history(ranked: Table, delta: Delta, events: Table, since: datetime | None) -> History:
    """The window's share of the :class:`History`: its purchases, refunds dated in it (of
    purchases or not), events and, when the state is built, undated refunds."""
    r = delta.facts.refunds
    dated = r.filter(r.refunded_at.notnull(), r.refunded_at < stamp(delta.until))
    p = ranked.aggregate(
        purchases=ranked.count(),
        purchase_ids=ranked.id.sum(),
        purchase_customer_ids=ranked.customer_id.sum(),
        gross_minor=ranked.total_minor.sum(),
    )
    d = dated.aggregate(refunds=dated.count(), refunded_minor=dated.amount_minor.sum())
    figures = {**p.to_pyarrow().to_pylist()[0], **d.to_pyarrow().to_pylist()[0]}
    figures["events"] = events.count().to_pyarrow().as_py()
    if since is None:
        figures["undated_refunds"] = r.filter(r.refunded_at.isnull()).count().to_pyarrow().as_py()
    return History(**{name: int(value or 0) for name, value in figures.items()})


def _check_history(state: State, delta: Delta, since: datetime) -> None:
    if delta.history is None or delta.history == state.history:
        return
    changes = "; ".join(state.history.differences(delta.history))
    raise Stale(
        f"the facts before {since.isoformat()} changed since the state was kept"
        f" (late or edited orders, cancellations, refunds or events): {changes}"
    )


def _check_earlier(delta: Delta, named: Table, since: datetime) -> None:
    """Orders and events of the window from before it. Orders: those its refunds are of, or
    changed ones a delta extraction found; each must be as kept — a purchase the state holds
    (``named``) with the same customer, time and total, or no purchase and none it holds.
    Events: none may be from before it."""
    o = delta.facts.orders
    earlier = o.filter(o.placed_at < stamp(since))
    j = earlier.left_join(named, earlier.id == named.id)
    bought = j.status.isin(PURCHASE_STATUSES)
    same = (
        (j.customer_id == j.customer_id_right)
        & (j.placed_at == j.placed_at_right)
        & (j.total_minor == j.total_minor_right)
    )
    kept = j.id_right.notnull()
    changed = j.filter((bought & ~(kept & same.fill_null(False))) | (~bought & kept))
    _refuse(changed.id, f"orders placed before {since.isoformat()} arrived or changed since")
    e = delta.facts.events
    _refuse(
        e.filter(e.occurred_at < stamp(since)).id,
        f"events from before {since.isoformat()} arrived since",
    )


def _check_products(state: State, delta: Delta) -> None:
    """The kept first orders' category keys hold while every kept product keeps its key (its
    category, and the smallest product id of that category)."""
    now = category_keys(delta.facts.products).select(now_id="product_id", now_key="key")
    k = state.product_keys
    j = k.left_join(now, k.product_id == now.now_id)
    moved = j.filter(j.now_key.isnull() | (j.now_key != j.key))
    _refuse(moved.product_id, "product categories changed since the state was kept, for products")


def _refuse(ids: Column, why: str) -> None:
    """Raise :class:`Stale` naming the first ids of ``ids``, if any."""
    found = ids.name("id").as_table().order_by("id").limit(_SHOWN + 1).to_pyarrow()
    if found.num_rows:
        shown = ", ".join(str(i) for i in found["id"].to_pylist()[:_SHOWN])
        more = ", …" if found.num_rows > _SHOWN else ""
        raise Stale(f"{why}: {shown}{more}")
