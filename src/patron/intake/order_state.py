"""An order as stored, with its lines and refunds: loading (a page of orders in three queries,
whatever its size) and its JSON."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, select, update

from patron.db import tables as t
from patron.intake.render import iso
from patron.intake.rules import split_codes

o, ln, r = t.orders.c, t.order_lines.c, t.refunds.c

HEADER = (
    "customer_id",
    "placed_at",
    "paid_at",
    "status",
    "currency",
    "subtotal_minor",
    "discount_minor",
    "shipping_minor",
    "total_minor",
    "item_count",
    "channel",
    "coupon_codes",
)
"""The order's own columns that a write sets (besides ``updated_at``)."""


@dataclass(frozen=True, slots=True)
class Line:
    line_no: int
    sku: str
    product_id: int
    quantity: int
    unit_price_minor: int
    line_total_minor: int
    id: int | None = None  # None until stored


@dataclass(frozen=True, slots=True)
class Refund:
    external_id: str
    line_no: int | None  # None: a refund of the whole order
    quantity: int | None
    amount_minor: int
    refunded_at: datetime | None
    reason: str | None
    order_line_id: int | None = None


@dataclass(frozen=True, slots=True)
class StoredOrder:
    id: int
    external_id: str
    customer: str  # the customer's external id
    header: dict[str, Any]  # HEADER columns and updated_at
    lines: tuple[Line, ...]
    refunds: tuple[Refund, ...]

    def refunded(self, line_no: int) -> tuple[int, int]:
        """(units, minor units) refunded on a line so far."""
        mine = [x for x in self.refunds if x.line_no == line_no]
        return sum(x.quantity or 0 for x in mine), sum(x.amount_minor for x in mine)

    @property
    def refunded_total(self) -> int:
        return sum(x.amount_minor for x in self.refunds)

    def to_json(self) -> dict[str, Any]:
        h = self.header
        return {
            "id": self.external_id,
            "customer_id": self.customer,
            "placed_at": iso(h["placed_at"]),
            "paid_at": iso(h["paid_at"]),
            "status": h["status"],
            "currency": h["currency"],
            "subtotal_minor": h["subtotal_minor"],
            "discount_minor": h["discount_minor"],
            "shipping_minor": h["shipping_minor"],
            "total_minor": h["total_minor"],
            "item_count": h["item_count"],
            "channel": h["channel"],
            "coupon_codes": split_codes(h["coupon_codes"]),
            "lines": [self._line_json(x) for x in self.lines],
            "refunds": [
                {
                    "id": x.external_id,
                    "line_no": x.line_no,
                    "quantity": x.quantity,
                    "amount_minor": x.amount_minor,
                    "refunded_at": iso(x.refunded_at),
                    "reason": x.reason,
                }
                for x in self.refunds
            ],
            "updated_at": iso(h["updated_at"]),
        }

    def _line_json(self, line: Line) -> dict[str, Any]:
        units, amount = self.refunded(line.line_no)
        return {
            "line_no": line.line_no,
            "sku": line.sku,
            "quantity": line.quantity,
            "unit_price_minor": line.unit_price_minor,
            "line_total_minor": line.line_total_minor,
            "refunded_quantity": units,
            "refunded_minor": amount,
        }


def headers(shop_id: int) -> Select[Any]:
    """The shop's order headers, with the customer's external id as ``customer``."""
    return (
        select(t.orders, t.customers.c.external_id.label("customer"))
        .join(t.customers, t.customers.c.id == o.customer_id)
        .where(o.shop_id == shop_id)
    )


def locked(connection: Connection, shop_id: int, external_id: str) -> StoredOrder | None:
    """The order of ``external_id`` with its row locked until the transaction ends (PostgreSQL;
    SQLite's writer already holds the database), so that concurrent writes of one order run
    one after the other and never act on what another is changing."""
    query = headers(shop_id).where(o.external_id == external_id).with_for_update(of=t.orders)
    row = connection.execute(query).first()
    return load(connection, shop_id, [row._mapping])[0] if row else None


def set_header(connection: Connection, shop_id: int, order_id: int, values: dict[str, Any]) -> None:
    connection.execute(
        update(t.orders).where(o.shop_id == shop_id, o.id == order_id).values(**values)
    )


def load(connection: Connection, shop_id: int, rows: Sequence[Any]) -> list[StoredOrder]:
    """Orders from header rows (mappings from :func:`headers`), with their lines and refunds."""
    ids = [row["id"] for row in rows]
    lines: defaultdict[int, list[Line]] = defaultdict(list)
    refunds: defaultdict[int, list[Refund]] = defaultdict(list)
    if ids:
        for x in connection.execute(
            select(
                ln.order_id,
                ln.id,
                ln.line_no,
                t.products.c.sku,
                ln.product_id,
                ln.quantity,
                ln.unit_price_minor,
                ln.line_total_minor,
            )
            .join(t.products, t.products.c.id == ln.product_id)
            .where(ln.shop_id == shop_id, ln.order_id.in_(ids))
            .order_by(ln.order_id, ln.line_no)
        ):
            lines[x.order_id].append(
                Line(
                    x.line_no,
                    x.sku,
                    x.product_id,
                    x.quantity,
                    x.unit_price_minor,
                    x.line_total_minor,
                    x.id,
                )
            )
        for x in connection.execute(
            select(
                r.order_id,
                r.external_id,
                ln.line_no,
                r.quantity,
                r.amount_minor,
                r.refunded_at,
                r.reason,
                r.order_line_id,
            )
            .outerjoin(t.order_lines, ln.id == r.order_line_id)
            .where(r.shop_id == shop_id, r.order_id.in_(ids))
            .order_by(r.order_id, r.id)
        ):
            refunds[x.order_id].append(
                Refund(
                    x.external_id,
                    x.line_no,
                    x.quantity,
                    x.amount_minor,
                    x.refunded_at,
                    x.reason,
                    x.order_line_id,
                )
            )
    return [
        StoredOrder(
            row["id"],
            row["external_id"],
            row["customer"],
            {k: row[k] for k in (*HEADER, "updated_at")},
            tuple(lines[row["id"]]),
            tuple(refunds[row["id"]]),
        )
        for row in rows
    ]
