"""Random sequences of orders, refunds, cancellations, actions, redemptions, adjustments,
points-mall reservations (confirmed, cancelled, expired), daily runs and clock moves through
the loyalty service keep every invariant of the ledger (balance = Σ entries, Σ lot remaining =
max(balance, 0), pending and debt likewise, no lot out of bounds, one grant per key), the
mall's stock, and the tier rules (a tier never below the one its growth reached; spending
points never changes a tier). On SQLite, and on PostgreSQL when PATRON_TEST_POSTGRES_URL is
set."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import ClassVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import func, select, text

from loyalty.support import Shopfront, invariants
from patron.clock import FixedClock
from patron.core import Patron
from patron.db import tables as t
from patron.db.engine import make_engine
from patron.errors import ConflictError, InputError
from patron.intake.model import CustomerInput
from patron.loyalty.actions import ActionInput
from patron.loyalty.calendar import local_date
from patron.loyalty.earn import Action
from patron.loyalty.tiers import tier_for
from patron.settings import Settings

CUSTOMERS = ("C-0", "C-1", "C-2")
SKUS = ("MILK", "SERUM", "TEE", "BOOK")
START = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)


class _Databases:
    """One migrated database per backend for the whole module; a new shop per example."""

    patrons: ClassVar[dict[str, Patron]] = {}
    schemas: ClassVar[list[str]] = []
    clock = FixedClock(START)

    @classmethod
    def close(cls) -> None:
        for patron in cls.patrons.values():
            patron.close()
        cls.patrons.clear()
        if cls.schemas:
            admin = make_engine(os.environ["PATRON_TEST_POSTGRES_URL"])
            with admin.begin() as connection:
                for schema in cls.schemas:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
            cls.schemas.clear()

    @classmethod
    def get(cls, backend: str) -> Patron:
        if backend not in cls.patrons:
            if backend == "sqlite":
                folder = tempfile.mkdtemp(prefix="patron-machine-")
                url = f"sqlite:///{folder}/patron.db"
            else:
                base = os.environ["PATRON_TEST_POSTGRES_URL"]
                schema = f"m_{uuid.uuid4().hex[:10]}"
                admin = make_engine(base)
                with admin.begin() as connection:
                    connection.execute(text(f'CREATE SCHEMA "{schema}"'))
                admin.dispose()
                cls.schemas.append(schema)
                url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
            patron = Patron(Settings(database_url=url), cls.clock)
            patron.upgrade()
            cls.patrons[backend] = patron
        return cls.patrons[backend]


@pytest.fixture(autouse=True, scope="module")
def _databases() -> Iterator[None]:
    yield
    _Databases.close()


class LoyaltyMachine(RuleBasedStateMachine):
    backend: ClassVar[str] = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        # Each example starts on the same day.
        _Databases.clock.advance((START - _Databases.clock.now()).total_seconds())
        self.patron = _Databases.get(self.backend)
        self.front = Shopfront(self.patron, name=f"s-{uuid.uuid4().hex[:12]}")
        for customer in CUSTOMERS:
            self.front.intake.upsert_customer(self.front.ctx, customer, CustomerInput())
        self.shop = self.front.shop.id
        self.mall = self.patron.mall()
        self.mall.put_reward(
            self.shop,
            {
                "code": "MUG",
                "kind": "product",
                "title": {"en": "Mug", "zh": "马克杯"},
                "points": 150,
                "stock": 4,
                "detail": {"sku": "MUG-01"},
            },
        )
        self.orders: list[str] = []
        self.reservations: list[str] = []
        self.serial = 0

    def _next(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{self.serial}"

    @rule(
        customer=st.sampled_from(CUSTOMERS),
        lines=st.lists(
            st.tuples(st.sampled_from(SKUS), st.integers(1, 3), st.integers(100, 200_000)),
            min_size=1,
            max_size=3,
            unique_by=lambda line: line[0],
        ),
    )
    def order(self, customer: str, lines: list[tuple[str, int, int]]) -> None:
        name = self._next("O")
        self.front.order(name, customer, lines, at=self.patron.clock.now())
        self.orders.append(name)
        self.front.loyalty.credit_order(self.shop, name)

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), share=st.integers(1, 100))
    def refund(self, data: st.DataObject, share: int) -> None:
        name = data.draw(st.sampled_from(self.orders))
        order = self.front.intake.get_order(self.shop, name)
        line = data.draw(st.sampled_from(order["lines"]))
        left = line["line_total_minor"] - line.get("refunded_minor", 0)
        amount = max(1, left * share // 100)
        try:
            self.front.refund(
                name,
                self._next("R"),
                line=line["line_no"],
                amount=amount,
                at=self.patron.clock.now(),
            )
        except (InputError, ConflictError):
            return  # refunded in full already, or cancelled
        self.front.loyalty.credit_order(self.shop, name)

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(self.orders))
        try:
            self.front.cancel(name, self.patron.clock.now())
        except (InputError, ConflictError):
            return  # shipped or refunded: no longer cancellable
        self.front.loyalty.credit_order(self.shop, name)

    @rule(
        customer=st.sampled_from(CUSTOMERS),
        action=st.sampled_from([Action.SIGNIN, Action.SHARE, Action.REVIEW]),
    )
    def act(self, customer: str, action: Action) -> None:
        request = ActionInput(action, ref=self._next("a"), text="a fine product, as described")
        self.front.loyalty.earn_action(self.shop, customer, request)

    @rule(customer=st.sampled_from(CUSTOMERS), points=st.integers(1, 3_000))
    def redeem(self, customer: str, points: int) -> None:
        before = self._tier(customer)
        with contextlib.suppress(ConflictError):
            self.front.loyalty.redeem(self.shop, customer, points, self._next("r"), "mall")
        assert self._tier(customer) == before

    @rule(customer=st.sampled_from(CUSTOMERS), points=st.integers(-500, 500).filter(bool))
    def adjust(self, customer: str, points: int) -> None:
        try:
            self.front.loyalty.adjust(
                self.shop, customer, points, "correction", self._next("adj"), "test"
            )
        except ConflictError:
            assert points < 0

    @rule(customer=st.sampled_from(CUSTOMERS), quantity=st.integers(1, 2))
    def reserve(self, customer: str, quantity: int) -> None:
        key = self._next("k")
        before = self._tier(customer)
        try:
            self.mall.reserve(self.shop, customer, "MUG", quantity, key, ttl_seconds=86_400)
        except ConflictError:
            return  # out of stock, or not enough points
        self.reservations.append(key)
        assert self._tier(customer) == before

    @precondition(lambda self: self.reservations)
    @rule(data=st.data(), keep=st.booleans())
    def settle_reservation(self, data: st.DataObject, keep: bool) -> None:
        key = data.draw(st.sampled_from(self.reservations))
        try:
            if keep:
                self.mall.confirm(self.shop, key)
            else:
                self.mall.cancel(self.shop, key)
        except ConflictError:
            return  # expired, or confirmed already
        self.reservations.remove(key)

    @rule()
    def daily_run(self) -> None:
        programme = self.front.loyalty.programme(self.shop)
        today = local_date(programme, self.patron.clock.now())
        self.front.loyalty.run_daily(self.shop, today)

    @rule()
    def expire_reservations(self) -> None:
        self.mall.expire_due(self.shop)

    @rule(days=st.integers(0, 40))
    def wait(self, days: int) -> None:
        self.patron.clock.advance(days * 86_400 + 3_600)

    def _tier(self, customer: str) -> str | None:
        m, c = t.loyalty_members.c, t.customers.c
        with self.patron.engine.connect() as connection:
            return connection.execute(
                select(m.tier)
                .join(t.customers, c.id == m.customer_id)
                .where(c.shop_id == self.shop, c.external_id == customer)
            ).scalar_one_or_none()

    @invariant()
    def ledger_adds_up(self) -> None:
        programme = self.front.loyalty.programme(self.shop)
        m, e = t.loyalty_members.c, t.loyalty_entries.c
        with self.patron.engine.connect() as connection:
            invariants(connection)
            for member in connection.execute(
                select(m.tier, m.growth).where(m.shop_id == self.shop)
            ):
                reached = tier_for(programme, member.growth)
                assert programme.rank(member.tier) >= programme.rank(reached.code)
            # One grant per order at most.
            grants = connection.execute(
                select(e.key, func.count())
                .where(e.shop_id == self.shop, e.kind == "earn")
                .group_by(e.key)
                .having(func.count() > 1)
            ).all()
            assert grants == []
            # Units reserved or confirmed never exceed the stock there was.
            r, w = t.loyalty_reservations.c, t.loyalty_rewards.c
            held = connection.execute(
                select(func.coalesce(func.sum(r.quantity), 0))
                .join(t.loyalty_rewards, w.id == r.reward_id)
                .where(w.shop_id == self.shop, r.state.in_(("reserved", "confirmed")))
            ).scalar_one()
            left = connection.execute(
                select(w.stock).where(w.shop_id == self.shop, w.code == "MUG")
            ).scalar_one()
            assert int(held) + left == 4


LoyaltyMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
TestLoyaltySqlite = LoyaltyMachine.TestCase


class PostgresLoyaltyMachine(LoyaltyMachine):
    backend = "postgresql"


@pytest.mark.skipif(
    "PATRON_TEST_POSTGRES_URL" not in os.environ,
    reason="PATRON_TEST_POSTGRES_URL is not set: no PostgreSQL to test on",
)
class TestLoyaltyPostgres(PostgresLoyaltyMachine.TestCase):  # type: ignore[misc,valid-type]
    settings = settings(max_examples=10, stateful_step_count=25, deadline=None)
