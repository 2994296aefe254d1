"""Helpers of the intake tests: shops, write contexts, a typical order, and table reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, select

from patron.access.guard import WriteContext
from patron.core import Patron
from patron.db.shops import Shop, ensure_shop
from patron.intake.model import OrderInput, OrderLineInput
from patron.intake.service import IntakeService

# The time of the tests' FixedClock (tests/conftest.py NOW). Not imported from there: a
# conftest.py elsewhere in tests/ may take the name `conftest` in sys.modules.
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PLACED = datetime(2026, 11, 11, 0, 5, tzinfo=UTC)
PAID = datetime(2026, 11, 11, 0, 15, tzinfo=UTC)


def make_service(patron: Patron) -> IntakeService:
    return IntakeService(patron.engine, patron.clock, timedelta(hours=24))


def make_shop(patron: Patron, name: str = "default", currency: str = "CNY") -> Shop:
    with patron.engine.begin() as connection:
        return ensure_shop(connection, name, "Asia/Shanghai", currency, patron.clock)


def write_ctx(
    shop: Shop, key: str | None = None, request_hash: str | None = None, route: str = "/v1/x"
) -> WriteContext:
    return WriteContext(
        shop_id=shop.id,
        api_key_id=None,
        method="PUT",
        route=route,
        idempotency_key=key,
        request_hash=request_hash,
    )


LINES = (
    OrderLineInput("PEN", 3, 1111, title="Pen"),  # 3333
    OrderLineInput("INK", 1, 500),  # 500
    OrderLineInput("PAD", 2, 250, line_total_minor=450),  # a line discount: 450, not 500
)


def order_input(**changes: Any) -> OrderInput:
    """C-1's paid order: lines 3333 + 500 + 450 = 4283, less 300 discount, plus 600 shipping:
    total 4583, 6 units."""
    values: dict[str, Any] = {
        "customer_id": "C-1",
        "placed_at": PLACED,
        "lines": LINES,
        "paid_at": PAID,
        "status": "paid",
        "discount_minor": 300,
        "shipping_minor": 600,
        "channel": "app",
        "coupon_codes": ["DOUBLE11", "VIP"],
    }
    return OrderInput(**{**values, **changes})


def count(patron: Patron, table: Table, **where: Any) -> int:
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with patron.engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def rows(patron: Patron, table: Table, *columns: str) -> list[tuple[Any, ...]]:
    """Chosen columns of every row of a table, in id order."""
    query = select(*(table.c[c] for c in columns)).order_by(table.c.id)
    with patron.engine.connect() as connection:
        return [tuple(r) for r in connection.execute(query)]
