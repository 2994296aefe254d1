"""Writes run through run_guarded: one transaction with the idempotency record and the audit
entry. A retry with the same key and request gets the first answer back and writes nothing; the
same key with another request is refused; a refused write leaves nothing behind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from intake.support import count, order_input, rows, write_ctx
from patron.access.guard import Recorded, WriteContext
from patron.clock import FixedClock
from patron.core import Patron
from patron.db import tables as t
from patron.db.shops import Shop
from patron.errors import ConflictError, ErrorCode, InputError
from patron.intake.model import CustomerInput, EventInput, RefundInput, StatusChange
from patron.intake.service import IntakeService

WRITES: dict[str, Callable[[IntakeService, WriteContext], Recorded]] = {
    "customer": lambda s, ctx: s.upsert_customer(ctx, "C-1", CustomerInput(name="Ann")),
    "order": lambda s, ctx: s.upsert_order(ctx, "O-2", order_input()),
    "status": lambda s, ctx: s.change_order_status(ctx, "O-1", StatusChange("shipped")),
    "refund": lambda s, ctx: s.refund_order(ctx, "O-1", RefundInput("R-1", amount_minor=99)),
    "events": lambda s, ctx: s.record_events(ctx, [EventInput("visit", order_input().placed_at)]),
    "erase": lambda s, ctx: s.erase_customer(ctx, "C-9"),
}
STORED = (t.customers, t.products, t.orders, t.order_lines, t.refunds, t.events)


def snapshot(patron: Patron) -> dict[str, list[tuple[Any, ...]]]:
    return {x.name: rows(patron, x, *x.c.keys()) for x in STORED}


@pytest.fixture
def stored(service: IntakeService, shop: Shop) -> None:
    """O-1 (paid, for C-1) and C-9 exist."""
    service.upsert_order(write_ctx(shop), "O-1", order_input())
    service.upsert_customer(write_ctx(shop), "C-9", CustomerInput(name="Zoe"))


@pytest.mark.usefixtures("stored")
@pytest.mark.parametrize("write", WRITES)
def test_a_retry_with_the_same_key_replays_the_first_answer(
    patron: Patron, service: IntakeService, shop: Shop, clock: FixedClock, write: str
) -> None:
    ctx = write_ctx(shop, key="k-1", request_hash="h-1")
    first = WRITES[write](service, ctx)
    after_first = snapshot(patron)
    audited = count(patron, t.audit_log)
    clock.advance(60)
    again = WRITES[write](service, ctx)
    assert (again.status, again.body, again.replayed) == (first.status, first.body, True)
    assert snapshot(patron) == after_first
    assert count(patron, t.audit_log) == audited
    assert count(patron, t.idempotency_keys) == 1


@pytest.mark.usefixtures("stored")
def test_the_same_key_for_another_request_is_refused(
    patron: Patron, service: IntakeService, shop: Shop
) -> None:
    service.upsert_order(write_ctx(shop, "k-1", "h-1"), "O-2", order_input())
    before = snapshot(patron)
    with pytest.raises(ConflictError) as caught:
        service.upsert_order(write_ctx(shop, "k-1", "h-2"), "O-3", order_input())
    assert caught.value.code is ErrorCode.IDEMPOTENCY_KEY_REUSED
    assert snapshot(patron) == before


def test_writes_are_audited_with_their_target(
    patron: Patron, service: IntakeService, shop: Shop
) -> None:
    service.upsert_order(write_ctx(shop), "O-1", order_input())
    service.refund_order(write_ctx(shop), "O-1", RefundInput("R-1", amount_minor=1))
    service.upsert_order(write_ctx(shop), "O-1", order_input())
    assert rows(patron, t.audit_log, "target", "status_code") == [
        ("order:O-1", 201),
        ("order:O-1/refund:R-1", 201),
        ("order:O-1", 200),
    ]


@pytest.mark.usefixtures("stored")
def test_a_refused_write_leaves_nothing_not_even_stubs(
    patron: Patron, service: IntakeService, shop: Shop
) -> None:
    before = snapshot(patron)
    refused = order_input(customer_id="C-new", discount_minor=10**6)
    with pytest.raises(InputError):
        service.upsert_order(write_ctx(shop, "k-9", "h-9"), "O-9", refused)
    assert snapshot(patron) == before
    assert count(patron, t.idempotency_keys) == 0
