"""Refunds: pro rata amounts computed by hand, over-refunds refused, full refunds, replays and
conflicting ids. The order (support.order_input): line 1 PEN 3 × 1111 = 3333, line 2 INK 500,
line 3 PAD 2 units for 450; total 4583 (300 discount, 600 shipping)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from intake.support import count, order_input, rows
from patron.access.guard import WriteContext
from patron.clock import FixedClock
from patron.core import Patron
from patron.db import tables as t
from patron.errors import ConflictError, InputError, NotFoundError
from patron.intake.model import OrderLineInput, RefundInput, RefundLineInput
from patron.intake.service import IntakeService

WHEN = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.fixture
def order(service: IntakeService, ctx: WriteContext) -> dict[str, Any]:
    return service.upsert_order(ctx, "O-1", order_input()).body


def refunded(body: dict[str, Any]) -> list[tuple[int, int]]:
    """(units, amount) refunded per line."""
    return [(x["refunded_quantity"], x["refunded_minor"]) for x in body["lines"]]


def test_one_unit_of_three_refunds_a_third_of_the_line(
    service: IntakeService, ctx: WriteContext, order: dict[str, Any], clock: FixedClock
) -> None:
    clock.advance(60)
    data = RefundInput("R-1", [RefundLineInput(1, quantity=1)], refunded_at=WHEN, reason="broken")
    recorded = service.refund_order(ctx, "O-1", data)
    assert (recorded.status, recorded.target) == (201, "order:O-1/refund:R-1")
    assert recorded.body == {
        **order,
        "lines": [
            {**order["lines"][0], "refunded_quantity": 1, "refunded_minor": 1111},
            *order["lines"][1:],
        ],
        "refunds": [
            {
                "id": "R-1#1",
                "line_no": 1,
                "quantity": 1,
                "amount_minor": 1111,
                "refunded_at": "2026-11-20T09:30:00Z",
                "reason": "broken",
            }
        ],
        "updated_at": "2026-11-23T12:01:00Z",
    }
    assert service.get_order(ctx.shop_id, "O-1") == recorded.body


def test_rows_are_named_per_line_and_whole_order_refunds_by_their_id(
    patron: Patron, service: IntakeService, ctx: WriteContext, order: dict[str, Any]
) -> None:
    lines = [RefundLineInput(3), RefundLineInput(2, amount_minor=100)]
    service.refund_order(ctx, "O-1", RefundInput("R-1", lines))
    service.refund_order(ctx, "O-1", RefundInput("R-2", amount_minor=250, refunded_at=WHEN))
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert rows(patron, t.refunds, "external_id", "quantity", "amount_minor", "refunded_at") == [
        ("R-1#1", 2, 450, now),  # every unit not yet refunded, the whole line total
        ("R-1#2", None, 100, now),  # an amount without units
        ("R-2", None, 250, WHEN),
    ]
    body = service.get_order(ctx.shop_id, "O-1")
    assert refunded(body) == [(0, 0), (0, 100), (2, 450)]
    assert [x["line_no"] for x in body["refunds"]] == [3, 2, None]


@pytest.mark.parametrize(
    ("line_total", "quantity", "steps", "amounts"),
    [
        (1000, 3, [1, 1, 1], [333, 333, 334]),  # the units that complete the line take the rest
        (1000, 3, [2, 1], [667, 333]),
        (1001, 2, [1, 1], [500, 501]),  # 500.5 rounds half to even: 500
        (1003, 2, [1, 1], [502, 501]),  # 501.5 rounds half to even: 502
        (3333, 3, [1, 1, 1], [1111, 1111, 1111]),
    ],
)
def test_pro_rata_amounts(
    service: IntakeService,
    ctx: WriteContext,
    line_total: int,
    quantity: int,
    steps: list[int],
    amounts: list[int],
) -> None:
    lines = [OrderLineInput("SKU", quantity, 0, line_total_minor=line_total)]
    service.upsert_order(ctx, "O-9", order_input(lines=lines, discount_minor=0))
    for n, units in enumerate(steps):
        data = RefundInput(f"R-{n}", [RefundLineInput(1, quantity=units)])
        service.refund_order(ctx, "O-9", data)
    body = service.get_order(ctx.shop_id, "O-9")
    assert [x["amount_minor"] for x in body["refunds"]] == amounts
    assert refunded(body) == [(sum(steps), sum(amounts))]


def test_refunding_every_unit_makes_the_order_refunded(
    service: IntakeService, ctx: WriteContext, order: dict[str, Any]
) -> None:
    partial = service.refund_order(ctx, "O-1", RefundInput("R-1", [RefundLineInput(1)])).body
    assert partial["status"] == "paid"
    lines = [RefundLineInput(2), RefundLineInput(3)]
    body = service.refund_order(ctx, "O-1", RefundInput("R-2", lines)).body
    assert (body["status"], refunded(body)) == ("refunded", [(3, 3333), (1, 500), (2, 450)])
    # What the lines do not cover (shipping) may still be paid back, up to the total.
    body = service.refund_order(ctx, "O-1", RefundInput("R-3", amount_minor=300)).body
    assert sum(x["amount_minor"] for x in body["refunds"]) == 4583
    with pytest.raises(ConflictError):
        service.refund_order(ctx, "O-1", RefundInput("R-4", amount_minor=1))


def test_refunding_the_whole_total_makes_the_order_refunded(
    service: IntakeService, ctx: WriteContext, order: dict[str, Any]
) -> None:
    body = service.refund_order(ctx, "O-1", RefundInput("R-1", amount_minor=4583)).body
    assert body["status"] == "refunded"


def test_computed_amounts_stop_at_what_a_discounted_order_paid(
    service: IntakeService, ctx: WriteContext
) -> None:
    lines = [OrderLineInput("PEN", 2, 1000)]
    service.upsert_order(ctx, "O-2", order_input(lines=lines, discount_minor=500, shipping_minor=0))
    with pytest.raises(ConflictError) as caught:
        data = RefundInput("R-1", [RefundLineInput(1, amount_minor=1600)])
        service.refund_order(ctx, "O-2", data)
    assert caught.value.details["refundable_minor"] == 1500
    body = service.refund_order(ctx, "O-2", RefundInput("R-2", [RefundLineInput(1)])).body
    assert (body["status"], refunded(body)) == ("refunded", [(2, 1500)])


@pytest.mark.parametrize(
    ("data", "details"),
    [
        (
            RefundInput("R-9", [RefundLineInput(1, quantity=2)]),
            {"field": "lines[0].quantity", "line_no": 1, "refundable_quantity": 1},
        ),
        (
            RefundInput("R-9", [RefundLineInput(1, amount_minor=1112)]),
            {
                "field": "lines[0].amount_minor",
                "line_no": 1,
                "refundable_quantity": 1,
                "refundable_minor": 1111,
            },
        ),
        (
            RefundInput("R-9", [RefundLineInput(3), RefundLineInput(1, quantity=2)]),
            {"field": "lines[1].quantity", "line_no": 1, "refundable_quantity": 1},
        ),
        (
            RefundInput("R-9", amount_minor=2362),
            {"field": "amount_minor", "refundable_minor": 2361},
        ),
    ],
)
def test_over_refunds_are_refused_and_change_nothing(
    patron: Patron,
    service: IntakeService,
    ctx: WriteContext,
    order: dict[str, Any],
    data: RefundInput,
    details: dict[str, Any],
) -> None:
    service.refund_order(ctx, "O-1", RefundInput("R-1", [RefundLineInput(1, quantity=2)]))
    before = service.get_order(ctx.shop_id, "O-1")
    with pytest.raises(ConflictError) as caught:
        service.refund_order(ctx, "O-1", data)
    assert caught.value.details == details
    assert service.get_order(ctx.shop_id, "O-1") == before
    assert count(patron, t.refunds) == 1


def test_a_fully_refunded_line_refuses_more(
    service: IntakeService, ctx: WriteContext, order: dict[str, Any]
) -> None:
    service.refund_order(ctx, "O-1", RefundInput("R-1", [RefundLineInput(2)]))
    with pytest.raises(ConflictError) as caught:
        service.refund_order(ctx, "O-1", RefundInput("R-2", [RefundLineInput(2)]))
    assert caught.value.details == {"field": "lines[0]", "line_no": 2, "refundable_quantity": 0}


@pytest.mark.parametrize(
    "data",
    [
        RefundInput("R-1", [RefundLineInput(1, quantity=1)], reason="broken"),
        RefundInput("R-1", [RefundLineInput(1, quantity=1, amount_minor=1111)]),
        RefundInput("R-1", [RefundLineInput(1)], reason="broken", refunded_at=WHEN),
    ],
)
def test_the_same_refund_again_answers_the_order_unchanged(
    patron: Patron,
    service: IntakeService,
    ctx: WriteContext,
    order: dict[str, Any],
    clock: FixedClock,
    data: RefundInput,
) -> None:
    first = service.refund_order(ctx, "O-1", data).body
    clock.advance(60)
    again = service.refund_order(ctx, "O-1", data)
    assert (again.status, again.body) == (200, first)
    assert count(patron, t.refunds) == 1


@pytest.mark.parametrize(
    "other",
    [
        RefundInput("R-1", [RefundLineInput(1, quantity=2)]),
        RefundInput("R-1", [RefundLineInput(2, quantity=1)]),
        RefundInput("R-1", [RefundLineInput(1, quantity=1), RefundLineInput(2)]),
        RefundInput("R-1", [RefundLineInput(1, quantity=1)], reason="other reason"),
        RefundInput("R-1", amount_minor=1111),
    ],
)
def test_the_same_refund_id_with_other_content_is_a_conflict(
    service: IntakeService, ctx: WriteContext, order: dict[str, Any], other: RefundInput
) -> None:
    service.refund_order(ctx, "O-1", RefundInput("R-1", [RefundLineInput(1, 1)], reason="x"))
    with pytest.raises(ConflictError) as caught:
        service.refund_order(ctx, "O-1", other)
    assert caught.value.details == {"field": "refund_id", "refund_id": "R-1"}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (RefundInput("R-1", [RefundLineInput(1, 1)]), RefundInput("R-1", [RefundLineInput(1, 1)])),
        (RefundInput("R-1", [RefundLineInput(1, 1)]), RefundInput("R-1", amount_minor=5)),
        (RefundInput("R-1", amount_minor=5), RefundInput("R-1", [RefundLineInput(1, 1)])),
        (RefundInput("R-1", amount_minor=5), RefundInput("R-1", amount_minor=5)),
    ],
)
def test_a_refund_id_of_another_order_is_a_conflict(
    patron: Patron,
    service: IntakeService,
    ctx: WriteContext,
    order: dict[str, Any],
    first: RefundInput,
    second: RefundInput,
) -> None:
    service.upsert_order(ctx, "O-2", order_input())
    service.refund_order(ctx, "O-1", first)
    with pytest.raises(ConflictError) as caught:
        service.refund_order(ctx, "O-2", second)
    assert caught.value.message == "refund 'R-1' is already used for another order"
    assert count(patron, t.refunds) == 1


@pytest.mark.parametrize("status", ["pending", "cancelled"])
def test_unpaid_orders_cannot_be_refunded(
    service: IntakeService, ctx: WriteContext, status: str
) -> None:
    service.upsert_order(ctx, "O-1", order_input(status=status))
    with pytest.raises(ConflictError) as caught:
        service.refund_order(ctx, "O-1", RefundInput("R-1", amount_minor=100))
    assert caught.value.details == {"status": status, "order_id": "O-1"}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (RefundInput("R-1"), "lines"),
        (RefundInput("R-1", [RefundLineInput(1)], amount_minor=5), "amount_minor"),
        (RefundInput("R-1", amount_minor=0), "amount_minor"),
        (RefundInput("R#1", amount_minor=5), "refund_id"),
        (RefundInput(" R-1", amount_minor=5), "refund_id"),
        (RefundInput("R" * 129, amount_minor=5), "refund_id"),
        (RefundInput("R-1", [RefundLineInput(9)]), "lines[0].line_no"),
        (RefundInput("R-1", [RefundLineInput(1), RefundLineInput(1)]), "lines[1].line_no"),
        (RefundInput("R-1", [RefundLineInput(0)]), "lines[0].line_no"),
        (RefundInput("R-1", [RefundLineInput(1, quantity=0)]), "lines[0].quantity"),
        (RefundInput("R-1", [RefundLineInput(1, amount_minor=-1)]), "lines[0].amount_minor"),
        (RefundInput("R-1", amount_minor=5, refunded_at=datetime(2026, 11, 20)), "refunded_at"),
        (
            RefundInput("R-1", amount_minor=5, refunded_at=datetime(2026, 11, 1, tzinfo=UTC)),
            "refunded_at",
        ),
        (RefundInput("R-1", amount_minor=5, reason="r" * 501), "reason"),
    ],
)
def test_bad_refunds_name_the_field(
    patron: Patron,
    service: IntakeService,
    ctx: WriteContext,
    order: dict[str, Any],
    data: RefundInput,
    field: str,
) -> None:
    with pytest.raises(InputError) as caught:
        service.refund_order(ctx, "O-1", data)
    assert caught.value.details["field"] == field
    assert count(patron, t.refunds) == 0


def test_refunding_an_unknown_order_is_not_found(service: IntakeService, ctx: WriteContext) -> None:
    with pytest.raises(NotFoundError) as caught:
        service.refund_order(ctx, "O-404", RefundInput("R-1", amount_minor=5))
    assert caught.value.details == {"object": "order", "id": "O-404"}
