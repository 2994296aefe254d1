"""Orders: create with stubs, the same order again, updates of header and lines, what refunds
protect, and bad input naming its field — exact JSON on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from intake.support import LINES, NOW, PAID, PLACED, count, order_input, rows
from patron.access.guard import WriteContext
from patron.clock import FixedClock
from patron.core import Patron
from patron.db import tables as t
from patron.errors import ConflictError, InputError, NotFoundError
from patron.intake import new_order
from patron.intake.model import OrderLineInput, RefundInput, RefundLineInput
from patron.intake.service import IntakeService


def line(no: int, sku: str, qty: int, unit: int, total: int) -> dict[str, Any]:
    return {
        "line_no": no,
        "sku": sku,
        "quantity": qty,
        "unit_price_minor": unit,
        "line_total_minor": total,
        "refunded_quantity": 0,
        "refunded_minor": 0,
    }


LINE_COLUMNS = ("line_no", "quantity", "unit_price_minor", "line_total_minor")
ORDER_COLUMNS = (
    "external_id",
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
ORDER_JSON: dict[str, Any] = {
    "id": "O-1",
    "customer_id": "C-1",
    "placed_at": "2026-11-11T00:05:00Z",
    "paid_at": "2026-11-11T00:15:00Z",
    "status": "paid",
    "currency": "CNY",
    "subtotal_minor": 4283,
    "discount_minor": 300,
    "shipping_minor": 600,
    "total_minor": 4583,
    "item_count": 6,
    "channel": "app",
    "coupon_codes": ["DOUBLE11", "VIP"],
    "lines": [
        line(1, "PEN", 3, 1111, 3333),
        line(2, "INK", 1, 500, 500),
        line(3, "PAD", 2, 250, 450),
    ],
    "refunds": [],
    "updated_at": "2026-11-23T12:00:00Z",
}


def test_create_answers_201_with_the_order_and_stores_it(
    patron: Patron, service: IntakeService, ctx: WriteContext
) -> None:
    recorded = service.upsert_order(ctx, "O-1", order_input())
    assert (recorded.status, recorded.target, recorded.body) == (201, "order:O-1", ORDER_JSON)
    assert service.get_order(ctx.shop_id, "O-1") == ORDER_JSON
    assert rows(patron, t.order_lines, *LINE_COLUMNS) == [
        (1, 3, 1111, 3333),
        (2, 1, 500, 500),
        (3, 2, 250, 450),
    ]
    assert rows(patron, t.orders, *ORDER_COLUMNS) == [
        ("O-1", PLACED, PAID, "paid", "CNY", 4283, 300, 600, 4583, 6, "app", "DOUBLE11,VIP")
    ]


def test_unknown_customer_and_products_become_stubs(
    service: IntakeService, ctx: WriteContext
) -> None:
    service.upsert_order(ctx, "O-1", order_input())
    assert service.get_customer(ctx.shop_id, "C-1")["is_stub"] is True
    stubs = [service.get_product(ctx.shop_id, sku) for sku in ("PEN", "INK", "PAD")]
    assert [(p["title"], p["is_stub"]) for p in stubs] == [
        ("Pen", True),
        (None, True),
        (None, True),
    ]


def test_an_order_of_known_customer_and_products_stores_the_same(
    patron: Patron, service: IntakeService, ctx: WriteContext
) -> None:
    """On PostgreSQL such an order takes one statement (patron.intake.new_order); the answer
    and the rows are those of the general path, which made the stubs for O-1. A repeated SKU
    is two lines."""
    service.upsert_order(ctx, "O-1", order_input())
    lines = (*LINES, OrderLineInput("PEN", 1, 1111))
    second = service.upsert_order(ctx, "O-2", order_input(lines=lines))
    assert (second.status, second.body) == (
        201,
        {
            **ORDER_JSON,
            "id": "O-2",
            "subtotal_minor": 5394,
            "total_minor": 5694,
            "item_count": 7,
            "lines": [*ORDER_JSON["lines"], line(4, "PEN", 1, 1111, 1111)],
        },
    )
    assert service.get_order(ctx.shop_id, "O-2") == second.body
    assert (count(patron, t.customers), count(patron, t.products)) == (1, 3)
    same = ("customer_id", "placed_at", "paid_at", "status", "currency", "channel", "updated_at")
    first, again = rows(patron, t.orders, *same)
    assert first == again


def test_defaults_of_a_minimal_order(service: IntakeService, ctx: WriteContext) -> None:
    minimal = order_input(
        lines=[OrderLineInput("PEN", 2, 1000)],
        paid_at=None,
        status=None,
        discount_minor=None,
        shipping_minor=None,
        channel=None,
        coupon_codes=None,
    )
    body = service.upsert_order(ctx, "O-2", minimal).body
    assert body == {
        **ORDER_JSON,
        "id": "O-2",
        "paid_at": None,
        "status": "pending",
        "subtotal_minor": 2000,
        "discount_minor": 0,
        "shipping_minor": 0,
        "total_minor": 2000,
        "item_count": 2,
        "channel": None,
        "coupon_codes": [],
        "lines": [line(1, "PEN", 2, 1000, 2000)],
    }


def test_the_same_order_again_changes_nothing(
    patron: Patron, service: IntakeService, ctx: WriteContext, clock: FixedClock
) -> None:
    service.upsert_order(ctx, "O-1", order_input())
    clock.advance(60)
    again = service.upsert_order(ctx, "O-1", order_input())
    assert (again.status, again.body) == (200, ORDER_JSON)
    assert count(patron, t.order_lines) == 3
    assert (count(patron, t.customers), count(patron, t.products)) == (1, 3)


def test_fields_left_out_keep_what_is_stored(
    service: IntakeService, ctx: WriteContext, clock: FixedClock
) -> None:
    service.upsert_order(ctx, "O-1", order_input())
    clock.advance(60)
    sparse = order_input(
        paid_at=None,
        status=None,
        discount_minor=None,
        shipping_minor=None,
        channel=None,
        coupon_codes=None,
    )
    assert service.upsert_order(ctx, "O-1", sparse).body == ORDER_JSON
    cleared = service.upsert_order(ctx, "O-1", order_input(coupon_codes=[])).body
    assert (cleared["coupon_codes"], cleared["updated_at"]) == ([], "2026-11-23T12:01:00Z")


def test_changed_lines_and_header_are_rewritten(
    patron: Patron, service: IntakeService, ctx: WriteContext, clock: FixedClock
) -> None:
    service.upsert_order(ctx, "O-1", order_input())
    clock.advance(60)
    changed = order_input(
        customer_id="C-2",
        status="shipped",
        lines=[LINES[0], OrderLineInput("NIB", 4, 100)],
        total_minor=3900,
    )
    recorded = service.upsert_order(ctx, "O-1", changed)
    assert (recorded.status, recorded.body) == (
        200,
        {
            **ORDER_JSON,
            "customer_id": "C-2",
            "status": "shipped",
            "subtotal_minor": 3733,
            "total_minor": 3900,  # as given: it need not be lines − discount + shipping
            "item_count": 7,
            "lines": [line(1, "PEN", 3, 1111, 3333), line(2, "NIB", 4, 100, 400)],
            "updated_at": "2026-11-23T12:01:00Z",
        },
    )
    assert service.get_order(ctx.shop_id, "O-1") == recorded.body
    assert rows(patron, t.order_lines, *LINE_COLUMNS) == [(1, 3, 1111, 3333), (2, 4, 100, 400)]


def test_a_status_the_order_cannot_move_to_is_a_conflict(
    service: IntakeService, ctx: WriteContext
) -> None:
    service.upsert_order(ctx, "O-1", order_input(status="completed"))
    with pytest.raises(ConflictError) as caught:
        service.upsert_order(ctx, "O-1", order_input(status="pending"))
    assert caught.value.details == {
        "field": "status",
        "from": "completed",
        "to": "pending",
        "allowed": ["refunded"],
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"lines": []}, "lines"),
        ({"lines": [OrderLineInput("P", 1, 1)] * 501}, "lines"),
        ({"lines": [*LINES[:2], OrderLineInput("PAD", 0, 250)]}, "lines[2].quantity"),
        ({"lines": [LINES[0], OrderLineInput("INK", 1, -5)]}, "lines[1].unit_price_minor"),
        ({"lines": [OrderLineInput(" PEN", 1, 5)]}, "lines[0].sku"),
        (
            {"lines": [OrderLineInput("PEN", 1, 5, line_total_minor=-1)]},
            "lines[0].line_total_minor",
        ),
        ({"lines": [OrderLineInput("PEN", 10**6, 10**15)]}, "lines[0].line_total_minor"),
        ({"lines": [OrderLineInput("PEN", 1, 5, title="t" * 501)]}, "lines[0].title"),
        ({"placed_at": datetime(2026, 11, 11)}, "placed_at"),
        ({"paid_at": datetime(2026, 11, 10, tzinfo=UTC)}, "paid_at"),
        ({"currency": "cny"}, "currency"),
        ({"status": "lost"}, "status"),
        ({"discount_minor": 6000}, "discount_minor"),
        ({"shipping_minor": -1}, "shipping_minor"),
        ({"total_minor": -1}, "total_minor"),
        ({"coupon_codes": ["A", "B,C"]}, "coupon_codes[1]"),
        ({"coupon_codes": ["A", ""]}, "coupon_codes[1]"),
        ({"customer_id": ""}, "customer_id"),
        ({"channel": "c" * 65}, "channel"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(
    patron: Patron,
    service: IntakeService,
    ctx: WriteContext,
    changes: dict[str, Any],
    field: str,
) -> None:
    with pytest.raises(InputError) as caught:
        service.upsert_order(ctx, "O-1", order_input(**changes))
    assert caught.value.details["field"] == field
    tables = (t.orders, t.order_lines, t.customers, t.products, t.audit_log)
    assert [count(patron, table) for table in tables] == [0] * 5


def test_a_bad_order_id_names_the_path(service: IntakeService, ctx: WriteContext) -> None:
    with pytest.raises(InputError) as caught:
        service.upsert_order(ctx, "O-1 ", order_input())
    assert caught.value.details["field"] == "id"


def test_an_update_is_checked_with_the_stored_values(
    service: IntakeService, ctx: WriteContext
) -> None:
    """A discount above the lines is refused for a new order (no shipping), but not for the
    stored one, whose 600 shipping is kept: 4283 − 4500 + 600 = 383."""
    with pytest.raises(InputError):
        service.upsert_order(ctx, "O-2", order_input(discount_minor=4500, shipping_minor=None))
    service.upsert_order(ctx, "O-1", order_input())
    body = service.upsert_order(ctx, "O-1", order_input(discount_minor=4500, shipping_minor=None))
    assert (body.status, body.body["total_minor"]) == (200, 383)


def test_a_paid_at_before_a_changed_placed_at_names_placed_at(
    service: IntakeService, ctx: WriteContext
) -> None:
    service.upsert_order(ctx, "O-1", order_input())
    later = datetime(2026, 11, 12, tzinfo=UTC)
    with pytest.raises(InputError) as caught:
        service.upsert_order(ctx, "O-1", order_input(placed_at=later, paid_at=None))
    assert caught.value.details["field"] == "placed_at"


def test_unknown_order_is_not_found(service: IntakeService, ctx: WriteContext) -> None:
    with pytest.raises(NotFoundError) as caught:
        service.get_order(ctx.shop_id, "O-404")
    assert caught.value.details == {"object": "order", "id": "O-404"}


# --- what refunds protect -------------------------------------------------------------------


@pytest.fixture
def refunded(service: IntakeService, ctx: WriteContext) -> None:
    """O-1 with 2 of line 1's 3 units refunded (2222) and line 3 refunded in full (450)."""
    service.upsert_order(ctx, "O-1", order_input())
    lines = [RefundLineInput(1, quantity=2), RefundLineInput(3)]
    service.refund_order(ctx, "O-1", RefundInput("R-1", lines))


@pytest.mark.usefixtures("refunded")
@pytest.mark.parametrize(
    ("changes", "field", "line_no"),
    [
        ({"lines": LINES[:2]}, "lines", 3),
        ({"lines": [OrderLineInput("PENCIL", 3, 1111), *LINES[1:]]}, "lines[0].sku", 1),
        ({"lines": [OrderLineInput("PEN", 1, 1111), *LINES[1:]]}, "lines[0].quantity", 1),
        (
            {"lines": [*LINES[:2], OrderLineInput("PAD", 2, 200)]},
            "lines[2].line_total_minor",
            3,
        ),
    ],
)
def test_lines_with_refunds_cannot_be_removed_or_cut_below_the_refunds(
    patron: Patron,
    service: IntakeService,
    ctx: WriteContext,
    changes: dict[str, Any],
    field: str,
    line_no: int,
) -> None:
    with pytest.raises(ConflictError) as caught:
        service.upsert_order(ctx, "O-1", order_input(**changes))
    assert (caught.value.details["field"], caught.value.details["line_no"]) == (field, line_no)
    assert count(patron, t.order_lines) == 3
    assert count(patron, t.refunds) == 2


@pytest.mark.usefixtures("refunded")
def test_the_total_cannot_fall_below_what_was_refunded(
    service: IntakeService, ctx: WriteContext
) -> None:
    with pytest.raises(ConflictError) as caught:
        service.upsert_order(ctx, "O-1", order_input(total_minor=2671))
    assert caught.value.details == {"field": "total_minor", "refunded_minor": 2672}


@pytest.mark.usefixtures("refunded")
def test_refunded_lines_may_change_within_their_refunds(
    service: IntakeService, ctx: WriteContext
) -> None:
    lines = [OrderLineInput("PEN", 2, 1111), LINES[1], LINES[2], OrderLineInput("NIB", 1, 90)]
    body = service.upsert_order(ctx, "O-1", order_input(lines=lines)).body
    assert [
        (x["quantity"], x["refunded_quantity"], x["refunded_minor"]) for x in body["lines"]
    ] == [
        (2, 2, 2222),
        (1, 0, 0),
        (2, 2, 450),
        (1, 0, 0),
    ]


def test_the_one_statement_insert_inserts_only_what_it_can_complete(
    patron: Patron, service: IntakeService, ctx: WriteContext
) -> None:
    """patron.intake.new_order (PostgreSQL) inserts nothing when the order exists, or when its
    customer or one of its SKUs is not stored; otherwise the order and all its lines."""
    if patron.engine.dialect.name != "postgresql":
        pytest.skip("the one-statement insert is PostgreSQL's")
    service.upsert_order(ctx, "O-1", order_input())
    header = {
        "placed_at": PLACED,
        "paid_at": None,
        "status": "pending",
        "currency": "CNY",
        "subtotal_minor": 1111,
        "discount_minor": 0,
        "shipping_minor": 0,
        "total_minor": 1111,
        "item_count": 1,
        "channel": None,
        "coupon_codes": None,
    }

    def attempt(order: str, customer: str, *skus: str) -> Any:
        lines = [OrderLineInput(sku, 1, 1111) for sku in skus]
        with patron.engine.begin() as connection:
            return new_order.insert(
                connection, ctx.shop_id, order, customer, header, lines, [1111] * len(lines), NOW
            )

    assert attempt("O-1", "C-1", "PEN") is None
    assert attempt("O-2", "C-2", "PEN") is None
    assert attempt("O-2", "C-1", "PEN", "NEW") is None
    assert count(patron, t.orders) == 1
    made = attempt("O-2", "C-1", "PEN", "INK")
    assert made is not None
    order_id, customer, products = made
    assert rows(patron, t.orders, "id", "external_id")[1] == (order_id, "O-2")
    assert customer == rows(patron, t.customers, "id")[0][0]
    assert service.get_order(ctx.shop_id, "O-2")["lines"] == [
        line(1, "PEN", 1, 1111, 1111),
        line(2, "INK", 1, 1111, 1111),
    ]
    assert len(products) == 2 and products[0] != products[1]
