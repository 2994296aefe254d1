"""A new order and its lines in one PostgreSQL statement, when everything it refers to exists.

Most orders a shop's system sends are new, of a known customer, for products in the catalogue.
For those, one statement — built once, compiled once, prepared by the driver — finds the
customer and the products, inserts the order (ON CONFLICT DO NOTHING) and inserts its lines:
one round trip instead of four. It inserts nothing when the order exists already, or when the
customer or a SKU is not stored yet; the caller then takes the general path
(:func:`patron.intake.orders.upsert`), which creates stubs and compares with what is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Connection,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    func,
    select,
    true,
)
from sqlalchemy.dialects import postgresql

from patron.db import tables as t
from patron.intake.model import OrderLineInput
from patron.intake.order_state import HEADER

o, ln, c, p = t.orders.c, t.order_lines.c, t.customers.c, t.products.c
_VALUES = [name for name in HEADER if name != "customer_id"] + ["updated_at"]


def _statement() -> Any:
    shop = bindparam("shop_id", type_=BigInteger)
    given = t.orders.c
    customer = (
        select(c.id)
        .where(c.shop_id == shop, c.external_id == bindparam("customer"))
        .cte("customer")
    )
    items = (
        func.unnest(
            cast(bindparam("line_nos"), ARRAY(Integer)),
            cast(bindparam("skus"), ARRAY(String)),
            cast(bindparam("quantities"), ARRAY(Integer)),
            cast(bindparam("unit_prices"), ARRAY(BigInteger)),
            cast(bindparam("line_totals"), ARRAY(BigInteger)),
        )
        .table_valued("line_no", "sku", "quantity", "unit_price_minor", "line_total_minor")
        .render_derived()
    )
    priced = (
        select(items, p.id.label("product_id"))
        .join(t.products, and_(p.shop_id == shop, p.sku == items.c.sku))
        .cte("priced")
    )
    complete = select(func.count()).select_from(priced).scalar_subquery() == bindparam(
        "line_count", type_=Integer
    )
    order = (
        postgresql.insert(t.orders)
        .from_select(
            ["shop_id", "external_id", "customer_id", *_VALUES],
            select(
                shop,
                cast(bindparam("external_id"), String),
                customer.c.id,
                *[
                    cast(bindparam(name, type_=given[name].type), given[name].type)
                    for name in _VALUES
                ],
            ).where(complete),
        )
        .on_conflict_do_nothing(index_elements=["shop_id", "external_id"])
        .returning(o.id, o.customer_id)
        .cte("new_order")
    )
    lines = (
        postgresql.insert(t.order_lines)
        .from_select(
            [
                "shop_id",
                "order_id",
                "line_no",
                "product_id",
                "quantity",
                "unit_price_minor",
                "line_total_minor",
            ],
            select(
                shop,
                order.c.id,
                priced.c.line_no,
                priced.c.product_id,
                priced.c.quantity,
                priced.c.unit_price_minor,
                priced.c.line_total_minor,
            ).join_from(order, priced, true()),
        )
        .returning(ln.line_no, ln.product_id)
        .cte("new_lines")
    )
    return select(order.c.id, order.c.customer_id, lines.c.line_no, lines.c.product_id).join_from(
        order, lines, true()
    )


_INSERT = _statement()


def insert(
    connection: Connection,
    shop_id: int,
    external_id: str,
    customer: str,
    header: dict[str, Any],
    lines: Sequence[OrderLineInput],
    line_totals: Sequence[int],
    now: datetime,
) -> tuple[int, int, list[int]] | None:
    """Insert the order (``header``: the HEADER columns but ``customer_id``) and its lines,
    numbered from 1; the order's id, its customer's row id and the product id of each line.
    None when it inserted nothing."""
    params: dict[str, Any] = {name: header[name] for name in _VALUES if name != "updated_at"}
    params |= {
        "shop_id": shop_id,
        "external_id": external_id,
        "customer": customer,
        "updated_at": now,
        "line_nos": list(range(1, len(lines) + 1)),
        "skus": [x.sku for x in lines],
        "quantities": [x.quantity for x in lines],
        "unit_prices": [x.unit_price_minor for x in lines],
        "line_totals": list(line_totals),
        "line_count": len(lines),
    }
    rows = connection.execute(_INSERT, params).all()
    if not rows:
        return None
    products = dict((line_no, product) for _, _, line_no, product in rows)
    return rows[0][0], rows[0][1], [products[n] for n in range(1, len(lines) + 1)]
