"""Whatever refunds are asked for, in whatever order, the stored refunds of a line never exceed
its units or its total, and those of an order never exceed what it paid."""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from intake.support import order_input
from patron.access.guard import WriteContext
from patron.core import Patron
from patron.db import tables as t
from patron.errors import ConflictError, InputError
from patron.intake.model import RefundInput, RefundLineInput
from patron.intake.service import IntakeService

line_refunds = st.lists(
    st.builds(
        RefundLineInput,
        line_no=st.integers(1, 4),  # the order has 3 lines: 4 is refused
        quantity=st.none() | st.integers(1, 4),
        amount_minor=st.none() | st.integers(0, 4000),
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda x: x.line_no,
)
requests = st.lists(
    st.one_of(
        line_refunds.map(lambda lines: RefundInput("-", lines)),
        st.integers(1, 5000).map(lambda amount: RefundInput("-", amount_minor=amount)),
    ),
    max_size=8,
)
orders = itertools.count(1)


def sums(patron: Patron, order_id: str) -> tuple[list[tuple[Any, ...]], int, int]:
    """Per line (quantity, refunded units, total, refunded amount); the order's total and the
    sum of its refunds."""
    o, ln, r = t.orders.c, t.order_lines.c, t.refunds.c
    with patron.engine.connect() as connection:
        order = connection.execute(
            select(o.id, o.total_minor).where(o.external_id == order_id)
        ).one()
        per_line = connection.execute(
            select(
                ln.quantity,
                func.coalesce(func.sum(r.quantity), 0),
                ln.line_total_minor,
                func.coalesce(func.sum(r.amount_minor), 0),
            )
            .outerjoin(t.refunds, r.order_line_id == ln.id)
            .where(ln.order_id == order.id)
            .group_by(ln.id, ln.quantity, ln.line_total_minor)
        ).all()
        refunded = connection.execute(
            select(func.coalesce(func.sum(r.amount_minor), 0)).where(r.order_id == order.id)
        ).scalar_one()
    return [tuple(x) for x in per_line], order.total_minor, refunded


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(asked=requests)
def test_refunds_never_exceed_the_lines_or_the_order(
    patron: Patron, service: IntakeService, ctx: WriteContext, asked: list[RefundInput]
) -> None:
    order_id = f"O-{next(orders)}"
    service.upsert_order(ctx, order_id, order_input())
    for n, data in enumerate(asked):
        with contextlib.suppress(ConflictError, InputError):
            service.refund_order(
                ctx, order_id, RefundInput(f"{order_id}-R{n}", data.lines, data.amount_minor)
            )
    per_line, total, refunded = sums(patron, order_id)
    for quantity, units, line_total, amount in per_line:
        assert units <= quantity
        assert amount <= line_total
    assert refunded <= total
    body = service.get_order(ctx.shop_id, order_id)
    assert sum(x["amount_minor"] for x in body["refunds"]) == refunded
