"""Lists: cursor pages in id order (every row once), updated_since, order filters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from intake.support import order_input
from patron.access.guard import WriteContext
from patron.clock import FixedClock
from patron.errors import InputError
from patron.intake.model import CustomerInput, ProductInput, StatusChange
from patron.intake.service import IntakeService
from patron.pagination import Page

Lister = Callable[..., Page[dict[str, Any]]]


def walk(lister: Lister, limit: int, **filters: Any) -> list[list[str]]:
    """Every page's ids (SKUs for products), following next_cursor to the end."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        page = lister(cursor=cursor, limit=limit, **filters)
        pages.append([x.get("id", x.get("sku")) for x in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def test_customers_walk_every_row_once_in_order(service: IntakeService, ctx: WriteContext) -> None:
    # Created out of name order: pages follow creation (id) order.
    names = ["C-7", "C-3", "C-5", "C-1", "C-2", "C-6", "C-4"]
    for name in names:
        service.upsert_customer(ctx, name, CustomerInput(name=name))

    def lister(**kw: Any) -> Page[dict[str, Any]]:
        return service.list_customers(ctx.shop_id, **kw)

    assert walk(lister, 3) == [names[:3], names[3:6], names[6:]]
    assert walk(lister, 7) == [names]
    assert walk(lister, 500) == [names]


def test_products_walk(service: IntakeService, ctx: WriteContext) -> None:
    for sku in ("B", "A", "C"):
        service.upsert_product(ctx, sku, ProductInput(title=sku))

    def lister(**kw: Any) -> Page[dict[str, Any]]:
        return service.list_products(ctx.shop_id, **kw)

    assert walk(lister, 2) == [["B", "A"], ["C"]]


def test_updated_since_keeps_rows_changed_from_then_on(
    service: IntakeService, ctx: WriteContext, clock: FixedClock
) -> None:
    for name in ("C-1", "C-2", "C-3"):
        service.upsert_customer(ctx, name, CustomerInput(name=name))
    service.upsert_product(ctx, "OLD", ProductInput(title="old"))
    clock.advance(60)
    since = clock.now()
    service.upsert_customer(ctx, "C-2", CustomerInput(city="杭州"))
    service.upsert_customer(ctx, "C-1", CustomerInput(name="C-1"))  # unchanged: not listed
    service.upsert_customer(ctx, "C-4", CustomerInput(name="C-4"))
    service.upsert_product(ctx, "NEW", ProductInput(title="new"))

    def customers(**kw: Any) -> Page[dict[str, Any]]:
        return service.list_customers(ctx.shop_id, **kw)

    def products(**kw: Any) -> Page[dict[str, Any]]:
        return service.list_products(ctx.shop_id, **kw)

    assert walk(customers, 1, updated_since=since) == [["C-2"], ["C-4"]]
    assert walk(products, 10, updated_since=since) == [["NEW"]]
    assert walk(customers, 10, updated_since=datetime(2030, 1, 1, tzinfo=UTC)) == [[]]


def test_orders_by_customer_status_and_change(
    service: IntakeService, ctx: WriteContext, clock: FixedClock
) -> None:
    service.upsert_order(ctx, "O-1", order_input(customer_id="C-1"))
    service.upsert_order(ctx, "O-2", order_input(customer_id="C-2", status="pending"))
    service.upsert_order(ctx, "O-3", order_input(customer_id="C-1", status="pending"))
    service.upsert_order(ctx, "O-4", order_input(customer_id="C-1"))
    clock.advance(60)
    service.change_order_status(ctx, "O-3", StatusChange("paid"))

    def lister(**kw: Any) -> Page[dict[str, Any]]:
        return service.list_orders(ctx.shop_id, **kw)

    assert walk(lister, 3) == [["O-1", "O-2", "O-3"], ["O-4"]]
    assert walk(lister, 2, customer_id="C-1") == [["O-1", "O-3"], ["O-4"]]
    assert walk(lister, 10, status="pending") == [["O-2"]]
    assert walk(lister, 10, customer_id="C-1", status="paid") == [["O-1", "O-3", "O-4"]]
    assert walk(lister, 10, updated_since=clock.now()) == [["O-3"]]
    assert walk(lister, 10, customer_id="C-404") == [[]]
    page = service.list_orders(ctx.shop_id, limit=1)
    assert page.items == [service.get_order(ctx.shop_id, "O-1")]  # lists give whole orders


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"updated_since": datetime(2026, 1, 1)}, "updated_since"),
    ],
)
def test_bad_list_parameters_name_the_field(
    service: IntakeService, ctx: WriteContext, kw: dict[str, Any], field: str
) -> None:
    listers: list[Lister] = [service.list_customers, service.list_products, service.list_orders]
    for lister in listers:
        with pytest.raises(InputError) as caught:
            lister(ctx.shop_id, **{"limit": 10, **kw})
        assert caught.value.details["field"] == field


def test_an_unknown_status_filter_names_the_field(
    service: IntakeService, ctx: WriteContext
) -> None:
    with pytest.raises(InputError) as caught:
        service.list_orders(ctx.shop_id, status="lost", limit=10)
    assert caught.value.details["field"] == "status"
