"""A new order and its lines in one PostgreSQL statement, when everything it refers to exists.

Most orders a shop's system sends are new, of a known customer, for products in the catalogue.
For those, one statement — built once, compiled once, prepared by the driver — finds the
customer and the products, inserts the order (ON CONFLICT DO NOTHING) and inserts its lines:
one round trip instead of four. It inserts nothing when the order exists already, or when the
customer or a SKU is not stored yet; the caller then takes the general path
(:func:`patron.intake.orders.upsert`), which creates stubs and compares with what is stored.

Given the write's audit parameters, the same statement inserts the audit entry as well: it is
then the whole guarded write, and runs in autocommit (:func:`patron.access.guard.run_guarded`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    JSON,
    BigInteger,
    Connection,
    Integer,
    Select,
    String,
    Text,
    and_,
    bindparam,
    cast,
    column,
    func,
    select,
    true,
)
from sqlalchemy.dialects import postgresql

from patron.access.guard import audit_from
from patron.db import tables as t
from patron.intake.model import OrderLineInput
from patron.intake.order_state import HEADER

o, ln, c, p = t.orders.c, t.order_lines.c, t.customers.c, t.products.c
_VALUES = [name for name in HEADER if name != "customer_id"] + ["updated_at"]
_LINE = (
    ("line_no", Integer()),
    ("sku", String()),
    ("quantity", Integer()),
    ("unit_price_minor", BigInteger()),
    ("line_total_minor", BigInteger()),
)


def _statement() -> tuple[Select[Any], CTE]:
    """The statement, and its CTE of the inserted order."""
    shop = bindparam("shop_id", type_=BigInteger)
    given = t.orders.c
    customer = (
        select(c.id)
        .where(c.shop_id == shop, c.external_id == bindparam("customer"))
        .cte("customer")
    )
    # The lines travel as one JSON text (json.dumps in C), not as five arrays that the driver
    # would dump element by element (that cost more than the rest of the statement's
    # parameters together).
    items = (
        func.json_to_recordset(cast(bindparam("lines", type_=Text), JSON))
        .table_valued(*[column(name, type_) for name, type_ in _LINE])
        .render_derived(with_types=True)
    )
    line_count = bindparam("line_count", type_=Integer)
    # The generic plan of a prepared statement counts 100 rows from json_to_recordset, and
    # keeps 10 % of them under a LIMIT whose value it does not know. LIMIT twice by the number
    # of lines (a no-op) brings that to 1, near the truth: else PostgreSQL finds the generic
    # plan dearer than planning each execution anew, which cost 40 % of the statement.
    few = select(items).limit(line_count).subquery()
    given_lines = select(few).limit(line_count).subquery("given_lines")
    priced = (
        select(given_lines, p.id.label("product_id"))
        .join(t.products, and_(p.shop_id == shop, p.sku == given_lines.c.sku))
        .cte("priced")
    )
    complete = select(func.count()).select_from(priced).scalar_subquery() == line_count
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
    made = select(order.c.id, order.c.customer_id, lines.c.line_no, lines.c.product_id)
    return made.join_from(order, lines, true()), order


_INSERT, _ORDER = _statement()
_AUDITED = _INSERT.add_cte(audit_from(_ORDER).cte("audit_entry"))


def insert(
    connection: Connection,
    shop_id: int,
    external_id: str,
    customer: str,
    header: dict[str, Any],
    lines: Sequence[OrderLineInput],
    line_totals: Sequence[int],
    now: datetime,
    audit: dict[str, Any] | None = None,
) -> tuple[int, int, list[int]] | None:
    """Insert the order (``header``: the HEADER columns but ``customer_id``) and its lines,
    numbered from 1, and its audit entry when given ``audit`` (the parameters of
    :func:`patron.access.guard.audit_params`); the order's id, its customer's row id and the
    product id of each line. None when it inserted nothing."""
    params: dict[str, Any] = {name: header[name] for name in _VALUES if name != "updated_at"}
    params |= {
        "shop_id": shop_id,
        "external_id": external_id,
        "customer": customer,
        "updated_at": now,
        "lines": json.dumps(
            [
                {
                    "line_no": n,
                    "sku": x.sku,
                    "quantity": x.quantity,
                    "unit_price_minor": x.unit_price_minor,
                    "line_total_minor": total,
                }
                for n, (x, total) in enumerate(zip(lines, line_totals, strict=True), 1)
            ]
        ),
        "line_count": len(lines),
    }
    if audit is not None:
        params |= audit
    rows = connection.execute(_INSERT if audit is None else _AUDITED, params).all()
    if not rows:
        return None
    products = dict((line_no, product) for _, _, line_no, product in rows)
    return rows[0][0], rows[0][1], [products[n] for n in range(1, len(lines) + 1)]
