"""Real parallel clients (threads with their own connections) on one member's points: the
balance never goes below zero, exactly the affordable redemptions succeed, a key grants once,
and mixed operations on several members finish without deadlock. Meant for PostgreSQL, where
writers truly overlap; on SQLite BEGIN IMMEDIATE queues them and the same must hold."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from loyalty.support import Shopfront, invariants
from patron.core import Patron
from patron.db import tables as t
from patron.errors import ConflictError, ErrorCode
from patron.intake.model import CustomerInput
from patron.loyalty.actions import ActionInput
from patron.loyalty.earn import Action

pytestmark = pytest.mark.postgres


def race(threads: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(0)`` … ``work(threads - 1)`` started together; each result or error."""
    start = threading.Barrier(threads)

    def run(n: int) -> Any:
        start.wait()
        try:
            return work(n)
        except Exception as error:
            return error

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(run, range(threads)))


@pytest.fixture
def front(patron: Patron) -> Shopfront:
    shop = Shopfront(patron)
    for n in range(5):
        shop.intake.upsert_customer(shop.ctx, f"C-{n}", CustomerInput())
    return shop


def test_fifty_redemptions_beyond_the_balance(front: Shopfront, patron: Patron) -> None:
    front.loyalty.adjust(front.shop.id, "C-0", 1_000, "opening balance", "open", "test")
    results = race(50, lambda n: front.loyalty.redeem(front.shop.id, "C-0", 30, f"r-{n}", "mall"))
    refused = [r for r in results if isinstance(r, ConflictError)]
    assert all(r.code == ErrorCode.POINTS_INSUFFICIENT for r in refused)
    # 1,000 points pay for 33 redemptions of 30.
    assert (len(results) - len(refused), len(refused)) == (33, 17)
    assert front.loyalty.member(front.shop.id, "C-0")["balance"] == 10
    with patron.engine.connect() as connection:
        invariants(connection)


def test_parallel_grants_with_one_key_grant_once(front: Shopfront, patron: Patron) -> None:
    task = ActionInput(Action.TASK, task="complete_profile", ref="x")
    results = race(20, lambda _: front.loyalty.earn_action(front.shop.id, "C-1", task))
    assert Counter(r.replayed for r in results) == {False: 1, True: 19}
    front.order("O-1", "C-2", [("BOOK", 1, 10_000)], at=front.patron.clock.now())
    credits = race(20, lambda _: front.loyalty.credit_order(front.shop.id, "O-1"))
    assert sorted(c.earned for c in credits) == [0] * 19 + [200]
    with patron.engine.connect() as connection:
        members = connection.execute(
            select(func.count()).select_from(t.loyalty_members)
        ).scalar_one()
        invariants(connection)
    assert members == 2
    assert front.loyalty.member(front.shop.id, "C-1")["balance"] == 50


def test_mixed_operations_on_several_members_never_deadlock(
    front: Shopfront, patron: Patron
) -> None:
    for n in range(5):
        front.loyalty.adjust(front.shop.id, f"C-{n}", 500, "opening balance", f"o-{n}", "test")
    for n in range(10):
        front.order(f"O-{n}", f"C-{n % 5}", [("BOOK", 1, 5_000)], at=front.patron.clock.now())
    rng = random.Random(7)
    plan = [(rng.randrange(4), rng.randrange(5), n) for n in range(64)]

    def work(i: int) -> Any:
        kind, member, n = plan[i]
        customer = f"C-{member}"
        if kind == 0:
            return front.loyalty.redeem(front.shop.id, customer, 40, f"r-{n}", "mall")
        if kind == 1:
            return front.loyalty.credit_order(front.shop.id, f"O-{n % 10}")
        if kind == 2:
            return front.loyalty.earn_action(front.shop.id, customer, ActionInput(Action.SIGNIN))
        return front.loyalty.refer(front.shop.id, customer, f"C-{(member + 1) % 5}")

    def attempt(i: int) -> Any:
        try:
            return work(i)
        except Exception as error:
            return error

    results = race(16, lambda first: [attempt(i) for i in range(first, 64, 16)])
    errors = [e for batch in results for e in batch if isinstance(e, BaseException)]
    # Only the business refusals: no deadlock, no serialisation failure, no unique violation.
    assert {type(e).__name__ for e in errors} <= {"ConflictError", "InputError"}
    with patron.engine.connect() as connection:
        invariants(connection)
