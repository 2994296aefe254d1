"""Real parallel writers (threads with their own connections) racing on the same keys: no
unique-key violation escapes, nothing is stored twice, and refunds never exceed what was paid.
Meant for PostgreSQL, where writers truly overlap; on SQLite BEGIN IMMEDIATE queues them."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from intake.support import NOW, count, order_input, rows
from patron.access.guard import Recorded, WriteContext
from patron.core import Patron
from patron.db import tables as t
from patron.errors import ConflictError
from patron.intake.model import (
    CustomerInput,
    EventInput,
    OrderLineInput,
    RefundInput,
    RefundLineInput,
)
from patron.intake.service import IntakeService

THREADS = 8


def race(work: Callable[[int], Recorded]) -> list[Recorded | BaseException]:
    """``work(0)`` … ``work(7)`` started together in eight threads; each result or error."""
    start = threading.Barrier(THREADS)

    def run(n: int) -> Recorded | BaseException:
        start.wait()
        try:
            return work(n)
        except Exception as error:
            return error

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(run, range(THREADS)))


def outcomes(results: list[Recorded | BaseException]) -> Counter[object]:
    """How many answered each status, or failed with each error type."""
    return Counter(r.status if isinstance(r, Recorded) else type(r).__name__ for r in results)


def test_the_same_new_order_from_eight_writers(
    patron: Patron, service: IntakeService, ctx: WriteContext
) -> None:
    results = race(lambda _: service.upsert_order(ctx, "O-1", order_input()))
    assert outcomes(results) == {201: 1, 200: THREADS - 1}
    bodies = [r.body for r in results if isinstance(r, Recorded)]
    assert all(body == bodies[0] for body in bodies)
    counted = [count(patron, x) for x in (t.orders, t.order_lines, t.customers, t.products)]
    assert counted == [1, 3, 1, 3]


def test_the_same_new_order_of_stored_customer_and_products_from_eight_writers(
    patron: Patron, service: IntakeService, ctx: WriteContext
) -> None:
    """On PostgreSQL such orders race in the one-statement insert (patron.intake.new_order):
    one inserts, the others find the order and answer as for the same order again."""
    service.upsert_order(ctx, "O-1", order_input())
    results = race(lambda _: service.upsert_order(ctx, "O-2", order_input()))
    assert outcomes(results) == {201: 1, 200: THREADS - 1}
    assert [count(patron, x) for x in (t.orders, t.order_lines)] == [2, 6]
    audited = [status for _, status in rows(patron, t.audit_log, "target", "status_code")]
    assert sorted(audited) == [200] * (THREADS - 1) + [201] * 2


def test_the_same_new_customer_from_eight_writers(
    patron: Patron, service: IntakeService, ctx: WriteContext
) -> None:
    results = race(lambda n: service.upsert_customer(ctx, "C-1", CustomerInput(region=f"r{n}")))
    assert outcomes(results) == {201: 1, 200: THREADS - 1}
    assert count(patron, t.customers) == 1


def test_new_orders_sharing_new_stubs(
    patron: Patron, service: IntakeService, ctx: WriteContext
) -> None:
    """Each order is new, but all name the same new customer and products (listed in another
    order by each writer): stubs are created once, and no writer deadlocks or fails."""

    def work(n: int) -> Recorded:
        lines = list(order_input().lines)
        rotated = lines[n % 3 :] + lines[: n % 3]
        return service.upsert_order(ctx, f"O-{n}", order_input(lines=rotated))

    assert outcomes(race(work)) == {201: THREADS}
    assert [count(patron, x) for x in (t.orders, t.customers, t.products)] == [THREADS, 1, 3]


@pytest.fixture
def five_units(service: IntakeService, ctx: WriteContext) -> None:
    """O-1: one line of 5 units at 100, total 500."""
    lines = [OrderLineInput("PEN", 5, 100)]
    service.upsert_order(ctx, "O-1", order_input(lines=lines, discount_minor=0, shipping_minor=0))


@pytest.mark.usefixtures("five_units")
@pytest.mark.parametrize(
    "refund",
    [
        lambda n: RefundInput(f"R-{n}", [RefundLineInput(1, quantity=1)]),
        lambda n: RefundInput(f"R-{n}", amount_minor=100),
    ],
    ids=["units", "amounts"],
)
def test_racing_refunds_never_over_refund(
    patron: Patron,
    service: IntakeService,
    ctx: WriteContext,
    refund: Callable[[int], RefundInput],
) -> None:
    results = race(lambda n: service.refund_order(ctx, "O-1", refund(n)))
    assert outcomes(results) == {201: 5, "ConflictError": THREADS - 5}
    order = service.get_order(ctx.shop_id, "O-1")
    assert sum(x["amount_minor"] for x in order["refunds"]) == 500
    assert (order["status"], count(patron, t.refunds)) == ("refunded", 5)


@pytest.mark.usefixtures("five_units")
def test_the_same_refund_from_eight_writers(
    patron: Patron, service: IntakeService, ctx: WriteContext
) -> None:
    data = RefundInput("R-1", [RefundLineInput(1, quantity=2)])
    results = race(lambda _: service.refund_order(ctx, "O-1", data))
    assert outcomes(results) == {201: 1, 200: THREADS - 1}
    assert count(patron, t.refunds) == 1


def test_one_refund_id_on_eight_orders(
    patron: Patron, service: IntakeService, ctx: WriteContext
) -> None:
    for n in range(THREADS):
        service.upsert_order(ctx, f"O-{n}", order_input())
    results = race(
        lambda n: service.refund_order(ctx, f"O-{n}", RefundInput("R-1", amount_minor=5))
    )
    assert outcomes(results) == {201: 1, "ConflictError": THREADS - 1}
    assert all("already used" in str(r) for r in results if isinstance(r, ConflictError))
    assert count(patron, t.refunds) == 1


def test_overlapping_event_batches(
    patron: Patron, service: IntakeService, ctx: WriteContext
) -> None:
    """Batch n holds events n*50 … n*50+99: half of each is also in the next one."""

    def batch(n: int) -> list[EventInput]:
        return [
            EventInput(
                "view", NOW + timedelta(seconds=k), customer_id=f"C-{k % 11}", sku=f"P-{k % 5}"
            )
            for k in range(n * 50, n * 50 + 100)
        ]

    results = race(lambda n: service.record_events(ctx, batch(n)))
    assert all(isinstance(r, Recorded) for r in results), results
    accepted = sum(r.body["accepted"] for r in results if isinstance(r, Recorded))
    distinct = THREADS * 50 + 50
    assert (accepted, count(patron, t.events)) == (distinct, distinct)
    assert (count(patron, t.customers), count(patron, t.products)) == (11, 5)


def test_upserts_racing_an_erasure_never_put_data_back_on_the_erased_row(
    patron: Patron, service: IntakeService, ctx: WriteContext
) -> None:
    service.upsert_customer(ctx, "C-1", CustomerInput(name="Ann", email="ann@example.cn"))

    def work(n: int) -> Recorded:
        if n % 2:
            return service.erase_customer(ctx, "C-1")
        return service.upsert_customer(ctx, "C-1", CustomerInput(name=f"Ann {n}", phone="138"))

    results = race(work)
    assert set(outcomes(results)) <= {200, 201, "NotFoundError"}
    stored = rows(patron, t.customers, "name", "email", "phone", "erased_at")
    erased = [r[:3] for r in stored if r[3] is not None]
    assert erased and set(erased) == {(None, None, None)}
