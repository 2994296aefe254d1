"""Shops are isolated: shop B never reaches shop A's rows, through any method, and the same
natural keys name different rows in each shop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from intake.support import NOW, make_shop, order_input, write_ctx
from patron.access.guard import WriteContext
from patron.core import Patron
from patron.db.shops import Shop
from patron.errors import NotFoundError
from patron.intake.model import (
    CustomerInput,
    EventInput,
    ProductInput,
    RefundInput,
    StatusChange,
)
from patron.intake.service import IntakeService

EVENT = EventInput("view", NOW, event_id="ev-1", customer_id="C-1", sku="PEN")


@pytest.fixture
def shop_b(patron: Patron, service: IntakeService, shop: Shop) -> Shop:
    """Shop A ("default") holds C-1, PEN, O-1 with a refund, and an event; B is empty."""
    a = write_ctx(shop)
    service.upsert_customer(a, "C-1", CustomerInput(name="Ann"))
    service.upsert_product(a, "PEN", ProductInput(title="Pen"))
    service.upsert_order(a, "O-1", order_input())
    service.refund_order(a, "O-1", RefundInput("R-1", amount_minor=100))
    service.record_events(a, [EVENT])
    return make_shop(patron, "shop-b", "USD")


def everything(service: IntakeService, shop: Shop) -> list[Any]:
    return [
        service.list_customers(shop.id, limit=100).items,
        service.list_products(shop.id, limit=100).items,
        service.list_orders(shop.id, limit=100).items,
    ]


READS: dict[str, Callable[[IntakeService, int], Any]] = {
    "customer": lambda s, shop_id: s.get_customer(shop_id, "C-1"),
    "product": lambda s, shop_id: s.get_product(shop_id, "PEN"),
    "order": lambda s, shop_id: s.get_order(shop_id, "O-1"),
}
WRITES: dict[str, Callable[[IntakeService, WriteContext], Any]] = {
    "erase": lambda s, ctx: s.erase_customer(ctx, "C-1"),
    "status": lambda s, ctx: s.change_order_status(ctx, "O-1", StatusChange("shipped")),
    "refund": lambda s, ctx: s.refund_order(ctx, "O-1", RefundInput("R-2", amount_minor=1)),
}


@pytest.mark.parametrize("read", READS)
def test_reads_of_another_shops_rows_are_not_found(
    service: IntakeService, shop_b: Shop, read: str
) -> None:
    with pytest.raises(NotFoundError):
        READS[read](service, shop_b.id)


@pytest.mark.parametrize("write", WRITES)
def test_writes_to_another_shops_rows_are_not_found(
    service: IntakeService, shop: Shop, shop_b: Shop, write: str
) -> None:
    before = everything(service, shop)
    with pytest.raises(NotFoundError):
        WRITES[write](service, write_ctx(shop_b))
    assert everything(service, shop) == before


def test_lists_of_another_shop_are_empty(service: IntakeService, shop_b: Shop) -> None:
    assert everything(service, shop_b) == [[], [], []]


def test_the_same_keys_make_separate_rows_in_each_shop(
    service: IntakeService, shop: Shop, shop_b: Shop
) -> None:
    before = everything(service, shop)
    b = write_ctx(shop_b)
    order = service.upsert_order(b, "O-1", order_input(currency=None))
    assert (order.status, order.body["currency"], order.body["refunds"]) == (201, "USD", [])
    assert service.get_customer(shop_b.id, "C-1")["is_stub"] is True  # not A's Ann
    assert service.upsert_customer(b, "C-1", CustomerInput(name="Bob")).body["name"] == "Bob"
    assert service.upsert_product(b, "PEN", ProductInput()).body["currency"] == "USD"
    assert service.record_events(b, [EVENT]).body == {"accepted": 1, "duplicates": 0}
    assert service.refund_order(b, "O-1", RefundInput("R-1", amount_minor=100)).status == 201
    assert everything(service, shop) == before
    assert service.get_customer(shop.id, "C-1")["name"] == "Ann"
