"""What the points of an order depend on, read from the operational database: the order's
lines as paid (the order's discount spread over them), its refunds, whether it is the
customer's first purchase, and a member's qualifying facts for tiers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select

from patron.db import tables as t
from patron.intake.sql import not_found
from patron.loyalty.earn import OrderLine, OrderPoints
from patron.loyalty.ledger import refund_share
from patron.loyalty.tiers import Facts

PURCHASE_STATUSES = ("paid", "shipped", "completed", "refunded")
"""Orders that earn points (as in the analytics: pending and cancelled orders do not)."""


@dataclass(frozen=True, slots=True)
class Refund:
    id: int
    line_id: int | None
    """``None``: a refund of the whole order's amount, spread over its lines."""
    amount_minor: int


@dataclass(frozen=True, slots=True)
class PaidOrder:
    id: int
    external_id: str
    customer_id: int
    status: str
    placed_at: datetime
    paid_at: datetime
    paid_minor: int
    """Total less shipping: what counts towards the tier's growth value."""
    line_ids: tuple[int, ...]
    lines: tuple[OrderLine, ...]
    refunds: tuple[Refund, ...]

    @property
    def source(self) -> str:
        return f"order:{self.external_id}"

    @property
    def net_minor(self) -> int:
        return sum(line.net_minor for line in self.lines)


def spread(amounts: list[int], total: int) -> list[int]:
    """``total`` split over ``amounts`` in proportion, largest remainders first (ties to the
    earlier), so that the parts add up to ``total`` exactly."""
    whole = sum(amounts)
    if whole <= 0:
        return [0] * len(amounts)
    parts = [a * total // whole for a in amounts]
    remainders = sorted(range(len(amounts)), key=lambda i: (-(amounts[i] * total % whole), i))
    for i in remainders[: total - sum(parts)]:
        parts[i] += 1
    return parts


def load_order(connection: Connection, shop_id: int, external_id: str) -> PaidOrder:
    o, ln, p = t.orders.c, t.order_lines.c, t.products.c
    order = connection.execute(
        select(t.orders).where(o.shop_id == shop_id, o.external_id == external_id)
    ).first()
    if order is None:
        raise not_found("order", external_id)
    rows = connection.execute(
        select(ln.id, ln.line_total_minor, p.sku, p.category_path, p.brand)
        .join(t.products, p.id == ln.product_id)
        .where(ln.order_id == order.id)
        .order_by(ln.line_no)
    ).all()
    r = t.refunds.c
    refunds = tuple(
        Refund(row.id, row.order_line_id, row.amount_minor)
        for row in connection.execute(
            select(r.id, r.order_line_id, r.amount_minor)
            .where(r.order_id == order.id)
            .order_by(r.id)
        )
    )
    return paid_order(order, rows, refunds)


def paid_order(order: Any, lines: Sequence[Any], refunds: tuple[Refund, ...]) -> PaidOrder:
    """The order as paid from its row and its line rows (in line order, with the product's
    sku, category_path and brand): the order's own discount is paid by every line in
    proportion to its amount."""
    totals = [max(row.line_total_minor, 0) for row in lines]
    discounts = spread(totals, min(order.discount_minor, sum(totals)))
    return PaidOrder(
        order.id,
        order.external_id,
        order.customer_id,
        order.status,
        order.placed_at,
        order.paid_at or order.placed_at,
        order.total_minor - order.shipping_minor,
        tuple(row.id for row in lines),
        tuple(
            OrderLine(row.sku, total - discount, row.category_path, row.brand)
            for row, total, discount in zip(lines, totals, discounts, strict=True)
        ),
        refunds,
    )


def refund_points(order: PaidOrder, line_points: dict[int, int]) -> list[tuple[Refund, int]]:
    """Points each refund takes back: a line's refunds its points pro rata to the amounts
    refunded so far (see :func:`refund_share`); a refund of the whole order takes back the
    order's line points pro rata to the order's amount. Never more than the lines earned."""
    net = dict(zip(order.line_ids, (line.net_minor for line in order.lines), strict=True))
    subtotal = sum(line_points.values())
    refunded: dict[int | None, int] = {}
    taken = 0
    result: list[tuple[Refund, int]] = []
    for refund in order.refunds:
        before = refunded.get(refund.line_id, 0)
        refunded[refund.line_id] = before + refund.amount_minor
        if refund.line_id is None:
            points, amount = subtotal, order.net_minor
        else:
            points, amount = line_points.get(refund.line_id, 0), net.get(refund.line_id, 0)
        share = refund_share(points, amount, before + refund.amount_minor) - refund_share(
            points, amount, before
        )
        share = min(share, subtotal - taken)
        taken += share
        result.append((refund, share))
    return result


def earn_detail(order: PaidOrder, points: OrderPoints) -> dict[str, Any]:
    """What an order's earn entry keeps: each line's points, for its refunds to take back."""
    return {
        "order": order.external_id,
        "lines": [
            {
                "line_id": line_id,
                "sku": line.sku,
                "net_minor": line.net_minor,
                "points": line.points,
                "rule": line.rule,
            }
            for line_id, line in zip(order.line_ids, points.lines, strict=True)
        ],
        "bonus": points.bonus,
        "capped": points.cut,
    }


def fully_refunded(order: PaidOrder) -> bool:
    return sum(refund.amount_minor for refund in order.refunds) >= order.net_minor


def is_first_purchase(connection: Connection, shop_id: int, order: PaidOrder) -> bool:
    """No purchase of the customer was placed before this one (ties broken by order id)."""
    o = t.orders.c
    earlier = connection.execute(
        select(o.id)
        .where(
            o.shop_id == shop_id,
            o.customer_id == order.customer_id,
            o.status.in_(PURCHASE_STATUSES),
            (o.placed_at < order.placed_at) | and_(o.placed_at == order.placed_at, o.id < order.id),
        )
        .limit(1)
    ).first()
    return earlier is None


def first_purchase(connection: Connection, shop_id: int, customer_id: int) -> str | None:
    """The external id of the customer's first purchase (ties broken by order id)."""
    o = t.orders.c
    found = connection.execute(
        select(o.external_id)
        .where(
            o.shop_id == shop_id,
            o.customer_id == customer_id,
            o.status.in_(PURCHASE_STATUSES),
        )
        .order_by(o.placed_at, o.id)
        .limit(1)
    ).scalar_one_or_none()
    return None if found is None else str(found)


def qualifying_facts(
    connection: Connection, shop_id: int, customer_id: int, start: datetime, end: datetime
) -> Facts:
    """Net paid amount (orders placed in ``[start, end]`` less their refunds) and the number
    of those orders not refunded in full. ``end`` is included: an order placed at the moment
    it is credited counts."""
    o, r = t.orders.c, t.refunds.c
    refunded = (
        select(func.coalesce(func.sum(r.amount_minor), 0))
        .where(r.order_id == o.id)
        .scalar_subquery()
    )
    paid = o.total_minor - o.shipping_minor
    rows = connection.execute(
        select(paid.label("paid"), refunded.label("refunded")).where(
            o.shop_id == shop_id,
            o.customer_id == customer_id,
            o.status.in_(PURCHASE_STATUSES),
            o.placed_at >= start,
            o.placed_at <= end,
        )
    ).all()
    # PostgreSQL sums big integers as numeric: back to int.
    net = sum(int(row.paid) - int(row.refunded) for row in rows)
    kept = sum(1 for row in rows if int(row.refunded) < int(row.paid))
    return Facts(net, kept)
