"""Products: create, update, unchanged, stubs from orders, bad input."""

from __future__ import annotations

from typing import Any

import pytest

from intake.support import count, order_input
from patron.access.guard import WriteContext
from patron.clock import FixedClock
from patron.core import Patron
from patron.db import tables as t
from patron.errors import InputError, NotFoundError
from patron.intake.model import ProductInput
from patron.intake.service import IntakeService

PEN = ProductInput(
    title="英雄钢笔", category_path="文具 > 笔 > 钢笔", brand="英雄", list_price_minor=4990
)
PEN_JSON: dict[str, Any] = {
    "sku": "PEN",
    "title": "英雄钢笔",
    "category_path": "文具 > 笔 > 钢笔",
    "brand": "英雄",
    "list_price_minor": 4990,
    "currency": "CNY",  # the shop's
    "is_stub": False,
    "updated_at": "2026-11-23T12:00:00Z",
}


def test_create_update_and_unchanged(
    service: IntakeService, ctx: WriteContext, clock: FixedClock
) -> None:
    created = service.upsert_product(ctx, "PEN", PEN)
    assert (created.status, created.target, created.body) == (201, "product:PEN", PEN_JSON)
    clock.advance(30)
    same = service.upsert_product(ctx, "PEN", PEN)
    assert (same.status, same.body) == (200, PEN_JSON)
    clock.advance(30)
    cheaper = service.upsert_product(ctx, "PEN", ProductInput(list_price_minor=3990))
    expected = {**PEN_JSON, "list_price_minor": 3990, "updated_at": "2026-11-23T12:01:00Z"}
    assert (cheaper.status, cheaper.body) == (200, expected)
    assert service.get_product(ctx.shop_id, "PEN") == expected


def test_a_given_currency_is_kept(service: IntakeService, ctx: WriteContext) -> None:
    body = service.upsert_product(ctx, "PEN", ProductInput(list_price_minor=699, currency="USD"))
    assert body.body["currency"] == "USD"
    assert service.upsert_product(ctx, "PEN", ProductInput()).body["currency"] == "USD"


def test_a_stub_from_an_order_keeps_its_title_until_the_product_is_sent(
    service: IntakeService, ctx: WriteContext
) -> None:
    service.upsert_order(ctx, "O-1", order_input())
    assert service.get_product(ctx.shop_id, "PEN") == {
        "sku": "PEN",
        "title": "Pen",  # the order line's title
        "category_path": None,
        "brand": None,
        "list_price_minor": None,
        "currency": None,
        "is_stub": True,
        "updated_at": "2026-11-23T12:00:00Z",
    }
    assert service.get_product(ctx.shop_id, "INK")["title"] is None
    recorded = service.upsert_product(ctx, "PEN", ProductInput(brand="英雄"))
    assert recorded.status == 200
    assert recorded.body == {
        **PEN_JSON,
        "title": "Pen",
        "category_path": None,
        "list_price_minor": None,
    }


@pytest.mark.parametrize(
    ("sku", "data", "field"),
    [
        ("PEN", ProductInput(currency="usd"), "currency"),
        ("PEN", ProductInput(currency="US"), "currency"),
        ("PEN", ProductInput(list_price_minor=-1), "list_price_minor"),
        ("PEN", ProductInput(list_price_minor=10**16), "list_price_minor"),
        ("PEN", ProductInput(title="t" * 501), "title"),
        ("PEN", ProductInput(cleared=frozenset({"currency"})), "cleared"),
        ("PEN ", ProductInput(), "sku"),
    ],
)
def test_bad_input_names_the_field(
    patron: Patron,
    service: IntakeService,
    ctx: WriteContext,
    sku: str,
    data: ProductInput,
    field: str,
) -> None:
    with pytest.raises(InputError) as caught:
        service.upsert_product(ctx, sku, data)
    assert caught.value.details["field"] == field
    assert count(patron, t.products) == 0


def test_cleared_fields_become_null(service: IntakeService, ctx: WriteContext) -> None:
    service.upsert_product(ctx, "PEN", PEN)
    body = service.upsert_product(ctx, "PEN", ProductInput(cleared=frozenset({"brand"}))).body
    assert (body["brand"], body["title"]) == (None, "英雄钢笔")


def test_unknown_product_is_not_found(service: IntakeService, ctx: WriteContext) -> None:
    with pytest.raises(NotFoundError) as caught:
        service.get_product(ctx.shop_id, "NOPE")
    assert caught.value.details == {"object": "product", "id": "NOPE"}
