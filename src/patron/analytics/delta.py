"""The facts of a window of time, ``[since, until)``, that a refresh merges into its kept state
(:mod:`patron.analytics.merge`), and the check figures of the history before it.

A window holds the orders placed in it (every status: the merge takes the purchases), their
lines, the refunds dated in it and the undated refunds of its orders, the events of it, and the
customers and products as they are now (dimensions, read whole). It also holds the orders
placed *before* it that its refunds name, as they are now, so that the merge can check them
against the purchases it kept. Without ``since`` the window is everything before ``until``:
what a state is built from.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ibis.expr.types import Table

from patron.analytics.facts import PURCHASE_STATUSES, Facts, stamp
from patron.analytics.state import History


@dataclass(frozen=True)
class Delta:
    since: datetime | None
    until: datetime
    facts: Facts
    history: History | None = None
    """:func:`fingerprint` of the facts before ``since`` as they are now, when known: the
    merge refuses a state whose history differs."""


def window(facts: Facts, since: datetime | None, until: datetime) -> Delta:
    """The window ``[since, until)`` of ``facts`` (all the fact files), with the fingerprint of
    the history before ``since``."""
    if since is not None and until < since:
        raise ValueError(f"window from {since} to the earlier {until}")
    o, r, e = facts.orders, facts.refunds, facts.events
    end = stamp(until)
    if since is None:
        orders = o.filter(o.placed_at < end)
        refunds = r.filter(r.refunded_at.isnull() | (r.refunded_at < end))
        events = e.filter(e.occurred_at < end)
        placed = orders
    else:
        start = stamp(since)
        placed = o.filter(o.placed_at >= start, o.placed_at < end)
        refunds = r.filter(
            (r.refunded_at.notnull() & (r.refunded_at >= start) & (r.refunded_at < end))
            | (r.refunded_at.isnull() & r.order_id.isin(placed.id))
        )
        named = o.filter(o.placed_at < start, o.id.isin(refunds.order_id))
        orders = placed.union(named)
        events = e.filter(e.occurred_at >= start, e.occurred_at < end)
    lines = facts.order_lines.filter(facts.order_lines.order_id.isin(placed.id))
    cut = replace(facts, orders=orders, order_lines=lines, refunds=refunds, events=events)
    return Delta(since, until, cut, None if since is None else fingerprint(facts, since))


def fingerprint(facts: Facts, before: datetime) -> History:
    """The :class:`History` of ``facts`` before ``before``."""
    end = stamp(before)
    o, r, e = facts.orders, facts.refunds, facts.events
    p = o.filter(o.status.isin(PURCHASE_STATUSES), o.placed_at < end)
    dated = r.filter(r.refunded_at < end)
    figures = {
        **_row(
            p.aggregate(
                purchases=p.count(),
                purchase_ids=p.id.sum(),
                purchase_customer_ids=p.customer_id.sum(),
                gross_minor=p.total_minor.sum(),
            )
        ),
        **_row(dated.aggregate(refunds=dated.count(), refunded_minor=dated.amount_minor.sum())),
        "undated_refunds": r.filter(r.refunded_at.isnull()).count().to_pyarrow().as_py(),
        "events": e.filter(e.occurred_at < end).count().to_pyarrow().as_py(),
    }
    return History(**{name: int(value or 0) for name, value in figures.items()})


def _row(table: Table) -> dict[str, Any]:
    rows: list[dict[str, Any]] = table.to_pyarrow().to_pylist()
    return rows[0]
