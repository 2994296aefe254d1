"""Real parallel clients of the points mall on PostgreSQL (threads, each with its own pooled
connection, released together by a barrier): the last units go to exactly as many reservations,
a member's points are never spent twice, and reserves, cancels and expiry runs racing over the
same members and rewards finish without a deadlock (PostgreSQL would raise DeadlockDetected).
SQLite serialises writers with BEGIN IMMEDIATE, so there is nothing to race there."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select

from loyalty.support import Shopfront, invariants
from patron.clock import FixedClock
from patron.core import Patron
from patron.db import tables as t
from patron.errors import ConflictError
from patron.intake.model import CustomerInput
from patron.loyalty.mall_service import MallService

pytestmark = pytest.mark.postgres


@pytest.fixture
def front(patron: Patron) -> Shopfront:
    if patron.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite runs one writer at a time")
    return Shopfront(patron)


@pytest.fixture
def mall(patron: Patron) -> MallService:
    return MallService(patron.engine, patron.clock)


def members(front: Shopfront, count: int, points: int) -> list[str]:
    """``count`` customers with ``points`` spendable points each."""
    names = [f"C-{n:02}" for n in range(count)]
    for name in names:
        front.intake.upsert_customer(front.ctx, name, CustomerInput(birth_date=date(1990, 1, 1)))
        front.loyalty.adjust(front.shop.id, name, points, "test points", f"{name}:give", "qa")
    return names


def race(works: list[Callable[[], Any]]) -> list[Any]:
    """Every work started at once in its own thread; each answer, or the error it raised."""
    start = threading.Barrier(len(works))

    def run(work: Callable[[], Any]) -> Any:
        start.wait()
        try:
            return work()
        except Exception as error:
            return error

    with ThreadPoolExecutor(len(works)) as pool:
        return list(pool.map(run, works))


def outcomes(results: list[Any]) -> Counter[str]:
    """How many answered each state, or were refused for each reason or code."""

    def name(result: Any) -> str:
        if isinstance(result, ConflictError):
            return str(result.details.get("reason", result.code))
        if isinstance(result, Exception):
            return repr(result)
        return str(result["state"] if isinstance(result, dict) else result)

    return Counter(name(result) for result in results)


def mug(mall: MallService, front: Shopfront, code: str, stock: int | None) -> None:
    mall.put_reward(
        front.shop.id,
        {
            "code": code,
            "kind": "product",
            "title": {"en": "Mug", "zh": "马克杯"},
            "points": 300,
            "stock": stock,
            "detail": {"sku": code},
        },
    )


def stocks(patron: Patron) -> dict[str, int | None]:
    r = t.loyalty_rewards.c
    with patron.engine.connect() as connection:
        return {code: stock for code, stock in connection.execute(select(r.code, r.stock))}


def balances(patron: Patron) -> Counter[int]:
    with patron.engine.connect() as connection:
        invariants(connection)
        return Counter(connection.execute(select(t.loyalty_members.c.balance)).scalars())


def test_thirty_members_race_for_five_units(
    front: Shopfront, mall: MallService, patron: Patron
) -> None:
    shop = front.shop.id
    mug(mall, front, "MUG", 5)
    names = members(front, 30, 1_000)
    results = race([partial(mall.reserve, shop, n, "MUG", 1, f"r-{n}") for n in names])
    assert outcomes(results) == {"reserved": 5, "out_of_stock": 25}
    assert stocks(patron) == {"MUG": 0}
    # Only the five with a reservation paid.
    assert balances(patron) == {700: 5, 1_000: 25}
    r, e = t.loyalty_reservations.c, t.loyalty_entries.c
    with patron.engine.connect() as connection:
        spent = connection.execute(select(e.key).where(e.kind == "redeem")).scalars().all()
        made = connection.execute(select(r.key)).scalars().all()
    assert sorted(spent) == sorted(f"mall:{key}" for key in made)
    assert len(made) == 5


def test_one_member_with_points_for_three_races_ten_reservations(
    front: Shopfront, mall: MallService, patron: Patron
) -> None:
    shop = front.shop.id
    mug(mall, front, "MUG", None)
    (name,) = members(front, 1, 900)
    results = race([partial(mall.reserve, shop, name, "MUG", 1, f"k-{k}") for k in range(10)])
    assert outcomes(results) == {"reserved": 3, "points_insufficient": 7}
    assert balances(patron) == {0: 1}
    assert stocks(patron) == {"MUG": None}


def test_the_same_key_from_twenty_clients_reserves_once(
    front: Shopfront, mall: MallService, patron: Patron
) -> None:
    shop = front.shop.id
    mug(mall, front, "MUG", 5)
    (name,) = members(front, 1, 1_000)
    results = race([lambda: mall.reserve(shop, name, "MUG", 2, "same")] * 20)
    assert outcomes(results) == {"reserved": 20}
    assert sum(not result["replayed"] for result in results) == 1
    assert (stocks(patron), balances(patron)) == ({"MUG": 3}, {400: 1})


def test_reserves_cancels_and_expiry_runs_race_without_deadlock(
    front: Shopfront, mall: MallService, patron: Patron, clock: FixedClock
) -> None:
    """Ten members each hold a lapsed reservation of two rewards; then at once: two expiry runs
    (all members, then the rewards in id order), a cancel of each member's first reservation
    and a new reservation of each reward by each member (member, then reward)."""
    shop = front.shop.id
    mug(mall, front, "A", 100)
    mug(mall, front, "B", 100)
    names = members(front, 10, 1_200)
    for name in names:
        for code in ("A", "B"):
            mall.reserve(shop, name, code, 1, f"{name}:{code}:old", ttl_seconds=60)
    clock.advance(61)
    works: list[Callable[[], Any]] = [lambda: mall.expire_due(shop)] * 2
    for name in names:
        works.append(partial(mall.cancel, shop, f"{name}:A:old"))
        for code in ("B", "A"):
            works.append(partial(mall.reserve, shop, name, code, 1, f"{name}:{code}:new"))
    results = race(works)
    assert not [r for r in results if isinstance(r, Exception)], results
    expired = sum(r for r in results if isinstance(r, int))
    states = outcomes(results)
    # Each first reservation went once: cancelled, or expired before its cancel came.
    assert states["cancelled"] + states["expired"] == 10
    assert expired == 20 - states["cancelled"]
    assert states["reserved"] == 20
    assert stocks(patron) == {"A": 90, "B": 90}
    assert balances(patron) == {600: 10}
