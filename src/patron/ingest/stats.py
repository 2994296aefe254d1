"""What a shop holds: counts of every kind of record, revenue, and the span of its orders."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, func, select

from patron.db import tables as t
from patron.db.shops import Shop
from patron.ingest.model import OrderStatus


@dataclass(frozen=True, slots=True)
class ShopStats:
    shop: str
    currency: str
    timezone: str
    customers: int
    orders: int
    order_lines: int
    refunds: int
    events: int
    products: int
    reviews: int
    gross_revenue_minor: int
    net_revenue_minor: int
    first_order_at: datetime | None
    last_order_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("first_order_at", "last_order_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def _count(connection: Connection, table: Table, shop_id: int) -> int:
    return int(
        connection.execute(
            select(func.count()).select_from(table).where(table.c.shop_id == shop_id)
        ).scalar_one()
    )


def shop_stats(connection: Connection, shop: Shop) -> ShopStats:
    """Revenue is in the shop's currency: gross is what non-cancelled orders paid, net is gross
    less the refunds on those orders."""
    o, r = t.orders, t.refunds
    counted = (
        o.c.shop_id == shop.id,
        o.c.status != OrderStatus.CANCELLED.value,
        o.c.currency == shop.currency,
    )
    gross = connection.execute(
        select(func.coalesce(func.sum(o.c.total_minor), 0)).where(*counted)
    ).scalar_one()
    refunded = connection.execute(
        select(func.coalesce(func.sum(r.c.amount_minor), 0))
        .join(o, o.c.id == r.c.order_id)
        .where(*counted)
    ).scalar_one()
    span = connection.execute(
        select(func.min(o.c.placed_at), func.max(o.c.placed_at)).where(o.c.shop_id == shop.id)
    ).one()
    return ShopStats(
        shop=shop.name,
        currency=shop.currency,
        timezone=shop.timezone,
        customers=_count(connection, t.customers, shop.id),
        orders=_count(connection, t.orders, shop.id),
        order_lines=_count(connection, t.order_lines, shop.id),
        refunds=_count(connection, t.refunds, shop.id),
        events=_count(connection, t.events, shop.id),
        products=_count(connection, t.products, shop.id),
        reviews=_count(connection, t.reviews, shop.id),
        gross_revenue_minor=int(gross),
        net_revenue_minor=int(gross) - int(refunded),
        first_order_at=_utc(span[0]),
        last_order_at=_utc(span[1]),
    )


def _utc(value: Any) -> datetime | None:
    """min()/max() over a timestamp column come back as text on SQLite; give them their type."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
