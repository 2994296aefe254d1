"""The daily run on SQLite and PostgreSQL, hand-computed on the sample programme (Asia/Shanghai:
local midnight is 16:00 UTC the day before; pending 15 days; points expire at the end of the
year after; growth = yuan + 10 per order, Silver 1,000 / Gold 5,000; evaluation on the 1st
with 30 days of grace and a warning 7 days ahead)."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from loyalty.support import Shopfront, invariants, sample_document
from patron.clock import FixedClock
from patron.core import Patron
from patron.db import tables as t
from patron.db.engine import make_engine
from patron.errors import InputError
from patron.intake.model import CustomerInput
from patron.loyalty import calendar, tiers
from patron.loyalty.daily import DailyRun, run_daily
from patron.loyalty.order_facts import qualifying_facts
from patron.settings import Settings

pytestmark = pytest.mark.postgres

PAID = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
BASKET = [("MILK", 2, 10_000), ("SERUM", 1, 30_000), ("TEE", 1, 5_000), ("BOOK", 1, 2_000)]
"""1,120 points and the first-order bonus of 100: 1,220 (see test_service.py)."""
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
"""The clock of the tests (tests/conftest.py)."""
NOTHING = {"points_expiring": 0, "will_downgrade": 0, "tier_changed": 0, "birthday": 0}


@pytest.fixture
def front(patron: Patron) -> Shopfront:
    return Shopfront(patron)


def move(clock: FixedClock, moment: datetime) -> None:
    clock.advance((moment - clock.now()).total_seconds())


def run(front: Shopfront, clock: FixedClock, day: date, **options: Any) -> DailyRun:
    """The run for ``day``, made at the start of the day unless the clock is later; then the
    ledger's invariants."""
    programme = front.loyalty.programme(front.shop.id)
    start = calendar.day_start(programme, day)
    if clock.now() < start:
        move(clock, start)
    done = run_daily(front.patron.engine, clock, front.shop.id, programme, day, **options)
    with front.patron.engine.connect() as connection:
        invariants(connection)
    return done


def steps(done: DailyRun) -> dict[str, int]:
    """The run's counts by step and event kind that are not zero."""
    counts = {
        field.name: getattr(done, field.name)
        for field in fields(done)
        if field.name not in ("day", "at", "members", "events")
    }
    return {name: n for name, n in {**counts, **done.events}.items() if n}


def rows(patron: Patron, table: str, *order: str) -> list[dict[str, Any]]:
    with patron.engine.connect() as connection:
        found = connection.execute(
            select(t.metadata.tables[table]).order_by(*(text(column) for column in order))
        )
        return [row._asdict() for row in found]


def member(patron: Patron) -> dict[str, Any]:
    (only,) = rows(patron, "loyalty_members", "id")
    return only


def shanghai(year: int, month: int, day: int) -> datetime:
    """The start of a local day in Shanghai, in UTC."""
    return datetime(year, month, day, tzinfo=UTC) - timedelta(hours=8)


# --- activation and expiry ----------------------------------------------------------------------


def test_points_activate_at_the_start_of_their_day(front: Shopfront, clock: FixedClock) -> None:
    front.order("O-1", "C-1", BASKET, at=PAID)
    front.loyalty.credit_order(front.shop.id, "O-1")
    # Spendable from 27 Nov 00:00 Shanghai: the run for the 26th does nothing.
    assert steps(run(front, clock, date(2026, 11, 26))) == {}
    assert clock.now() == datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
    with pytest.raises(InputError, match="has not started"):
        run_daily(
            front.patron.engine,
            clock,
            front.shop.id,
            front.loyalty.programme(front.shop.id),
            date(2026, 11, 27),
        )
    done = run(front, clock, date(2026, 11, 27))
    assert done.at == datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
    assert steps(done) == {"activated_lots": 1, "activated_points": 1_220}
    assert (done.members, done.day) == (1, date(2026, 11, 27))
    account = member(front.patron)
    assert (account["balance"], account["pending"]) == (1_220, 0)
    earn, activate = rows(front.patron, "loyalty_entries", "id")
    assert (activate["kind"], activate["points"], activate["pending"]) == ("activate", 0, -1_220)
    assert activate["key"] == f"activate:{earn['key']}"
    assert activate["reason"] == "return window ended"
    assert activate["created_at"] == done.at
    (lot,) = rows(front.patron, "loyalty_lots", "id")
    assert (lot["pending"], lot["remaining"]) == (False, 1_220)
    uses = rows(front.patron, "loyalty_lot_uses", "entry_id")
    assert [(u["entry_id"], u["points"]) for u in uses] == [
        (earn["id"], 1_220),
        (activate["id"], 0),
    ]


def test_points_of_2026_expire_at_the_start_of_2028_in_shanghai(
    front: Shopfront, clock: FixedClock
) -> None:
    front.order("O-1", "C-1", BASKET, at=PAID)
    front.loyalty.credit_order(front.shop.id, "O-1")
    move(clock, datetime(2026, 12, 1, tzinfo=UTC))
    # Redeeming settles the member: the lot is activated then, not by a run.
    front.loyalty.redeem(front.shop.id, "C-1", 200, "r-1", "coupon")
    # The order left the tier window; the points' last day is within the 30 days' notice.
    assert steps(run(front, clock, date(2027, 12, 31))) == {
        "growth_updated": 1,
        "points_expiring": 1,
    }
    done = run(front, clock, date(2028, 1, 1))
    assert done.at == datetime(2027, 12, 31, 16, 0, tzinfo=UTC)
    assert steps(done) == {"expired_lots": 1, "expired_points": 1_020}
    account = member(front.patron)
    assert (account["balance"], account["pending"], account["redeemed_total"]) == (0, 0, 200)
    expire = rows(front.patron, "loyalty_entries", "id")[-1]
    assert (expire["kind"], expire["points"], expire["pending"]) == ("expire", -1_020, 0)
    assert (expire["reason"], expire["created_at"]) == ("points expired", done.at)
    (lot,) = rows(front.patron, "loyalty_lots", "id")
    assert (lot["remaining"], lot["pending"]) == (0, False)
    assert rows(front.patron, "loyalty_lot_uses", "entry_id")[-1]["points"] == -1_020


def test_a_lot_past_its_expiry_before_activation_expires_from_pending(patron: Patron) -> None:
    # Spendable from 27 Nov, expiring at the end of 27 Nov (16 days after earning): with no
    # run on the 27th, the run of the 28th finds it still pending and past its expiry.
    document = sample_document(expiry={"policy": "days_after_earning", "days": 16})
    front = Shopfront(patron, document)
    clock = patron.clock
    assert isinstance(clock, FixedClock)
    front.order("O-1", "C-1", BASKET, at=PAID)
    front.loyalty.credit_order(front.shop.id, "O-1")
    done = run(front, clock, date(2026, 11, 28))
    assert steps(done) == {"expired_lots": 1, "expired_points": 1_220}
    expire = rows(patron, "loyalty_entries", "id")[-1]
    assert (expire["kind"], expire["points"], expire["pending"]) == ("expire", -1_220, -1_220)
    account = member(patron)
    assert (account["balance"], account["pending"]) == (0, 0)


def test_a_second_run_of_a_day_changes_nothing(front: Shopfront, clock: FixedClock) -> None:
    front.order("O-1", "C-1", BASKET, at=PAID)
    front.order("O-2", "C-2", [("BOOK", 1, 600_000)], at=PAID)
    for order in ("O-1", "O-2"):
        front.loyalty.credit_order(front.shop.id, order)
    first = run(front, clock, date(2026, 11, 27))
    assert steps(first) == {"activated_lots": 2, "activated_points": 7_320}
    tables = ("loyalty_entries", "loyalty_lots", "loyalty_lot_uses", "loyalty_members")
    before = {table: rows(front.patron, table, *_keys(table)) for table in tables}
    events = rows(front.patron, "loyalty_events", "id")
    again = run(front, clock, date(2026, 11, 27))
    assert (steps(again), again.members) == ({}, 2)
    assert {table: rows(front.patron, table, *_keys(table)) for table in tables} == before
    assert rows(front.patron, "loyalty_events", "id") == events
    (day,) = rows(front.patron, "loyalty_daily_runs", "id")
    assert day["run_date"] == date(2026, 11, 27)
    assert day["counts"] == {
        "runs": 2,
        "members": 4,
        "activated_lots": 2,
        "activated_points": 7_320,
        "expired_lots": 0,
        "expired_points": 0,
        "growth_updated": 0,
        "upgraded": 0,
        "downgraded": 0,
        "scheduled": 0,
        "recovered": 0,
        "events": NOTHING,
    }
    assert day["finished_at"] == clock.now()


def _keys(table: str) -> tuple[str, ...]:
    return ("entry_id", "lot_id") if table == "loyalty_lot_uses" else ("id",)


def test_online_redemptions_during_the_run_settle_each_lot_once(
    front: Shopfront, clock: FixedClock
) -> None:
    customers = [f"C-{n}" for n in range(1, 7)]
    for customer in customers:
        front.order(f"O-{customer}", customer, BASKET, at=PAID)
        front.loyalty.credit_order(front.shop.id, f"O-{customer}")
    move(clock, shanghai(2026, 11, 27))
    failures: list[BaseException] = []

    def redeem() -> None:
        # From the last member backwards: a redemption settles its member first, and meets
        # the run's batches (one member each, two at once on PostgreSQL) head on.
        try:
            for customer in reversed(customers):
                front.loyalty.redeem(front.shop.id, customer, 100, f"r-{customer}", "coupon")
        except BaseException as error:
            failures.append(error)

    online = threading.Thread(target=redeem)
    online.start()
    done = run(front, clock, date(2026, 11, 27), batch_size=1)
    online.join()
    assert failures == []
    # Each lot was activated once, by the run or by the redemption that came first.
    entries = rows(front.patron, "loyalty_entries", "id")
    activations = [e["key"] for e in entries if e["kind"] == "activate"]
    assert len(activations) == len(set(activations)) == 6
    assert 0 <= done.activated_lots <= 6
    accounts = rows(front.patron, "loyalty_members", "id")
    assert {(a["balance"], a["pending"]) for a in accounts} == {(1_120, 0)}


# --- the daily run and lazy settlement agree ------------------------------------------------------


@pytest.fixture
def twin(settings: Settings, tmp_path: Path) -> Iterator[Patron]:
    """A second Patron on a database of its own, of the same kind as ``patron``'s, with a
    clock of its own (at the same time)."""
    clock = FixedClock(NOW)
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        yield from _patron(settings, f"sqlite:///{tmp_path / 'twin.db'}", clock)
        return
    admin = make_engine(os.environ["PATRON_TEST_POSTGRES_URL"])
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        twin_url = url.update_query_dict({"options": f"-csearch_path={schema}"})
        yield from _patron(settings, twin_url.render_as_string(hide_password=False), clock)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _patron(settings: Settings, url: str, clock: FixedClock) -> Iterator[Patron]:
    app = Patron(settings.model_copy(update={"database_url": url}), clock)
    app.upgrade()
    yield app
    app.close()


SHORT_LIVED = sample_document(expiry={"policy": "days_after_earning", "days": 16})
"""Points pending for 15 days and expiring the day after they become spendable."""


def _history(front: Shopfront) -> None:
    """Five members whose lots the run of 27 November activates, expires, or leaves alone."""
    clock = front.patron.clock
    assert isinstance(clock, FixedClock)
    for n, (paid, lines) in enumerate(
        [
            (datetime(2026, 11, 10, 2, tzinfo=UTC), BASKET),  # expires on the 27th, pending
            (PAID, BASKET),  # activates on the 27th
            (PAID, [("BOOK", 1, 50_000)]),  # 600 points, 200 refunded; activates
            (datetime(2026, 11, 12, 2, tzinfo=UTC), BASKET),  # activates on the 28th
            (datetime(2026, 11, 10, 2, tzinfo=UTC), [("TEE", 1, 20_000)]),  # 500, 150 spent
        ],
        start=1,
    ):
        front.order(f"O-{n}", f"C-{n}", lines, at=paid)
        front.loyalty.credit_order(front.shop.id, f"O-{n}")
    front.order("O-6", "C-5", [("BOOK", 1, 30_000)], at=PAID)  # C-5's second lot activates
    front.loyalty.credit_order(front.shop.id, "O-6")
    front.refund("O-3", "R-1", amount=20_000, at=PAID)
    front.loyalty.credit_order(front.shop.id, "O-3")
    move(clock, datetime(2026, 11, 26, 12, tzinfo=UTC))  # 20:00 on the 26th in Shanghai
    front.loyalty.redeem(front.shop.id, "C-5", 150, "r-5", "coupon")


def _ledger(patron: Patron) -> dict[str, Any]:
    """Everything about points, by natural keys and lot ids (entry ids and dates of writing
    differ between the two paths)."""
    entries = rows(patron, "loyalty_entries", "id")
    key = {entry["id"]: entry["key"] for entry in entries}
    written = ("id", "created_at")
    return {
        "entries": sorted(
            tuple(v for k, v in entry.items() if k not in written) for entry in entries
        ),
        "order": {
            member: [e["key"] for e in entries if e["member_id"] == member]
            for member in {e["member_id"] for e in entries}
        },
        "lots": [
            {**lot, "entry_id": key[lot["entry_id"]]} for lot in rows(patron, "loyalty_lots", "id")
        ],
        "uses": sorted(
            (key[use["entry_id"]], use["lot_id"], use["points"])
            for use in rows(patron, "loyalty_lot_uses", "entry_id", "lot_id")
        ),
        "members": [
            {k: v for k, v in m.items() if k not in ("updated_at", "growth")}
            for m in rows(patron, "loyalty_members", "id")
        ],
    }


def test_the_daily_run_posts_what_lazy_settlement_posts(
    patron: Patron, twin: Patron, clock: FixedClock
) -> None:
    daily, lazy = Shopfront(patron, SHORT_LIVED), Shopfront(twin, SHORT_LIVED)
    _history(daily)
    _history(lazy)
    calls: list[tuple[int, int]] = []
    done = run(daily, clock, date(2026, 11, 27), batch_size=2, progress=lambda *n: calls.append(n))
    # C-1's 1,220 (still pending) and C-5's 500 − 150 expire; C-2's 1,220, C-3's 600 − 200
    # and C-5's second lot of 300 become spendable — and expire within 30 days, as C-4's.
    assert steps(done) == {
        "activated_lots": 3,
        "activated_points": 1_920,
        "expired_lots": 2,
        "expired_points": 1_570,
        "points_expiring": 4,
    }
    assert (len(calls), max(calls)) == (3, (5, 5))
    twin_clock = twin.clock
    assert isinstance(twin_clock, FixedClock)
    move(twin_clock, clock.now())
    # Then every member is touched by an operation, which settles them first.
    for front in (daily, lazy):
        for n in range(1, 6):
            front.loyalty.adjust(front.shop.id, f"C-{n}", 1, "settle", f"s-{n}", "test")
    assert _ledger(patron) == _ledger(twin)
    with twin.engine.connect() as connection:
        invariants(connection)


# --- tiers --------------------------------------------------------------------------------------


def test_a_downgrade_waits_for_the_grace_period_and_is_announced(
    front: Shopfront, clock: FixedClock
) -> None:
    # 1,000 yuan on 15 January 2026: Silver (growth 1,010) until the order leaves the window.
    front.order("O-1", "C-1", [("BOOK", 1, 100_000)], at=datetime(2026, 1, 15, 4, tzinfo=UTC))
    front.loyalty.credit_order(front.shop.id, "O-1")
    assert member(front.patron)["tier"] == "silver"
    for day in (date(2026, 12, 1), date(2027, 1, 1)):
        assert steps(run(front, clock, day)) == {}
    # 1 February 2027: the window starts on 2 February 2026; below Silver, the downgrade
    # waits for the first evaluation 30 days on: 1 April.
    assert steps(run(front, clock, date(2027, 2, 1))) == {"growth_updated": 1, "scheduled": 1}
    account = member(front.patron)
    assert (account["tier"], account["growth"]) == ("silver", 0)
    assert account["downgrade_at"] == shanghai(2027, 4, 1)
    for day in (date(2027, 3, 1), date(2027, 3, 24)):
        assert steps(run(front, clock, day)) == {}
    # Warned 7 days ahead, once.
    assert steps(run(front, clock, date(2027, 3, 25))) == {"will_downgrade": 1}
    assert steps(run(front, clock, date(2027, 3, 26))) == {}
    (warning,) = rows(front.patron, "loyalty_events", "id")[-1:]
    account_id = member(front.patron)["id"]
    assert warning["kind"] == "will_downgrade"
    assert warning["key"] == f"tier-warning:silver:2027-04-01:{account_id}"
    assert warning["payload"] == {
        "tier": "silver",
        "downgrade_on": "2027-04-01",
        "growth_needed": 1_000,
    }
    assert warning["occurred_at"] == shanghai(2027, 3, 25)
    done = run(front, clock, date(2027, 4, 1))
    assert steps(done) == {"downgraded": 1, "tier_changed": 1}
    account = member(front.patron)
    assert (account["tier"], account["tier_since"], account["downgrade_at"]) == (
        "member",
        done.at,
        None,
    )
    (change,) = rows(front.patron, "loyalty_tier_changes", "id")[-1:]
    assert (change["from_tier"], change["to_tier"], change["growth"]) == ("silver", "member", 0)
    assert (change["reason"], change["at"]) == ("downgraded", done.at)
    event = rows(front.patron, "loyalty_events", "id")[-1]
    assert event["key"] == f"tier:{account_id}:member:{done.at.isoformat()}"
    assert event["payload"] == {
        "from": "silver",
        "to": "member",
        "growth": 0,
        "reason": "downgraded",
    }
    assert steps(run(front, clock, date(2027, 4, 1))) == {}


def test_the_run_applies_orders_that_were_never_credited(
    front: Shopfront, clock: FixedClock
) -> None:
    front.order("O-1", "C-1", [("BOOK", 1, 100_000)], at=datetime(2026, 1, 15, 4, tzinfo=UTC))
    front.loyalty.credit_order(front.shop.id, "O-1")
    assert steps(run(front, clock, date(2027, 2, 1))) == {"growth_updated": 1, "scheduled": 1}
    # Loaded by an import, not credited: 990 yuan bring C-1 back to Silver's threshold...
    move(clock, datetime(2027, 2, 10, 5, tzinfo=UTC))
    front.order("O-2", "C-1", [("BOOK", 1, 99_000)], at=datetime(2027, 2, 10, 4, tzinfo=UTC))
    assert steps(run(front, clock, date(2027, 2, 11))) == {"growth_updated": 1, "recovered": 1}
    assert (member(front.patron)["growth"], member(front.patron)["downgrade_at"]) == (1_000, None)
    # ... and 3,990 more reach Gold at once, on any day.
    move(clock, datetime(2027, 2, 12, 5, tzinfo=UTC))
    front.order("O-3", "C-1", [("BOOK", 1, 399_000)], at=datetime(2027, 2, 12, 4, tzinfo=UTC))
    done = run(front, clock, date(2027, 2, 13))
    assert steps(done) == {"growth_updated": 1, "upgraded": 1, "tier_changed": 1}
    account = member(front.patron)
    assert (account["tier"], account["tier_since"], account["growth"]) == ("gold", done.at, 5_000)
    change = rows(front.patron, "loyalty_tier_changes", "id")[-1]
    assert (change["from_tier"], change["to_tier"], change["reason"]) == (
        "silver",
        "gold",
        "upgraded",
    )
    assert change["at"] == done.at


def test_growth_is_computed_as_the_online_path_computes_it(patron: Patron) -> None:
    # Half a point of growth per yuan, 3 per order: fractions the SQL must floor exactly.
    document = sample_document()
    document["tiers"]["growth"] = {"per_currency_unit": "0.5", "per_order": "3"}
    front = Shopfront(patron, document)
    clock = patron.clock
    assert isinstance(clock, FixedClock)
    at = datetime(2026, 11, 1, 4, tzinfo=UTC)
    front.order("O-1", "C-1", [("BOOK", 1, 10_001)], at=at)  # 100.01 yuan: 50.005 + 3
    front.order("O-2", "C-1", [("BOOK", 1, 333)], at=at)
    front.refund("O-2", "R-1", amount=333, at=at)  # refunded in full: no order counted
    front.order("O-3", "C-2", [("TEE", 1, 7_777)], at=at)
    front.refund("O-3", "R-2", amount=1_111, at=at)
    front.order("O-4", "C-2", [("TEE", 1, 5_000)], at=at, status="pending")
    front.order("O-5", "C-3", [("TEE", 1, 5_000)], at=datetime(2025, 11, 1, tzinfo=UTC))
    for order in ("O-1", "O-3", "O-5"):
        front.loyalty.credit_order(front.shop.id, order)
    with patron.engine.begin() as connection:
        connection.execute(t.loyalty_members.update().values(growth=-1))
    run(front, clock, date(2026, 11, 24))
    programme = front.loyalty.programme(front.shop.id)
    now = clock.now()
    with patron.engine.connect() as connection:
        stored = dict(
            connection.execute(
                select(t.loyalty_members.c.customer_id, t.loyalty_members.c.growth)
            ).all()
        )
        expected = {
            customer: tiers.growth(
                programme,
                qualifying_facts(
                    connection,
                    front.shop.id,
                    customer,
                    calendar.tier_window_start(programme, now),
                    now,
                ),
            )
            for customer in stored
        }
    assert stored == expected
    # 100.01 yuan × 0.5 + 3 = 53.005; (77.77 − 11.11) × 0.5 + 3 = 36.33; the third's order
    # left the window.
    assert sorted(stored.values()) == [0, 36, 53]


# --- events -------------------------------------------------------------------------------------


def test_expiring_points_are_announced_once_30_days_ahead(
    front: Shopfront, clock: FixedClock
) -> None:
    front.order("O-1", "C-1", BASKET, at=PAID)
    front.loyalty.credit_order(front.shop.id, "O-1")
    # The points are gone at 2028-01-01 00:00; their last day, 31 December, is 30 days
    # ahead (today included) on 2 December.
    assert run(front, clock, date(2027, 12, 1)).events == NOTHING
    assert run(front, clock, date(2027, 12, 2)).events["points_expiring"] == 1
    assert run(front, clock, date(2027, 12, 3)).events == NOTHING
    (event,) = rows(front.patron, "loyalty_events", "id")
    account_id = member(front.patron)["id"]
    assert (event["kind"], event["key"]) == ("points_expiring", f"expiring:{account_id}:2028-01-01")
    assert event["payload"] == {"points": 1_220, "expires_at": "2027-12-31T16:00:00+00:00"}
    assert event["occurred_at"] == shanghai(2027, 12, 2)


def test_a_shorter_notice_announces_later(front: Shopfront, clock: FixedClock) -> None:
    front.order("O-1", "C-1", BASKET, at=PAID)
    front.loyalty.credit_order(front.shop.id, "O-1")
    assert run(front, clock, date(2027, 12, 24), expiry_notice_days=7).events == NOTHING
    announced = run(front, clock, date(2027, 12, 25), expiry_notice_days=7)
    assert announced.events["points_expiring"] == 1
    assert run(front, clock, date(2027, 12, 31), expiry_notice_days=0).events == NOTHING


def test_birthdays_of_29_february_fall_on_28_february_in_common_years(
    front: Shopfront, clock: FixedClock
) -> None:
    for customer, born in (("C-1", date(2000, 2, 29)), ("C-2", date(1990, 2, 28))):
        front.intake.upsert_customer(front.ctx, customer, CustomerInput(birth_date=born))
        front.order(f"O-{customer}", customer, [("BOOK", 1, 1_000)], at=PAID)
        front.loyalty.credit_order(front.shop.id, f"O-{customer}")
    ids = {m["customer_id"]: m["id"] for m in rows(front.patron, "loyalty_members", "id")}
    assert run(front, clock, date(2027, 2, 27)).events == NOTHING
    assert run(front, clock, date(2027, 2, 28)).events["birthday"] == 2
    assert run(front, clock, date(2027, 2, 28)).events == NOTHING
    assert run(front, clock, date(2027, 3, 1)).events == NOTHING
    # In a leap year each on their own day.
    assert run(front, clock, date(2028, 2, 28)).events["birthday"] == 1
    assert run(front, clock, date(2028, 2, 29)).events["birthday"] == 1
    events = [e for e in rows(front.patron, "loyalty_events", "id") if e["kind"] == "birthday"]
    assert sorted(e["key"] for e in events) == sorted(
        [f"birthday:{i}:{year}" for i in ids.values() for year in (2027, 2028)]
    )
    assert {e["payload"]["birth_date"] for e in events} == {"2000-02-29", "1990-02-28"}
    assert {e["payload"]["tier"] for e in events} == {"member"}


# --- time zones ---------------------------------------------------------------------------------


def test_days_follow_the_programmes_zone_across_a_dst_change(patron: Patron) -> None:
    # New York: summer time ends on Sunday 7 November 2027, a day of 25 hours.
    front = Shopfront(patron, sample_document(timezone="America/New_York"))
    clock = patron.clock
    assert isinstance(clock, FixedClock)
    move(clock, datetime(2027, 10, 22, 16, tzinfo=UTC))
    for n, paid in enumerate(
        (datetime(2027, 10, 22, 16, tzinfo=UTC), datetime(2027, 10, 23, 16, tzinfo=UTC)), start=1
    ):
        move(clock, paid)  # noon in New York
        front.order(f"O-{n}", f"C-{n}", [("BOOK", 1, 10_000)], at=paid)
        front.loyalty.credit_order(front.shop.id, f"O-{n}")
    lots = rows(patron, "loyalty_lots", "id")
    # Spendable from 7 November 00:00 (still summer time: UTC−4) and 8 November 00:00 (UTC−5).
    assert [lot["available_from"] for lot in lots] == [
        datetime(2027, 11, 7, 4, tzinfo=UTC),
        datetime(2027, 11, 8, 5, tzinfo=UTC),
    ]
    assert steps(run(front, clock, date(2027, 11, 6))) == {}
    seventh = run(front, clock, date(2027, 11, 7))
    assert seventh.at == datetime(2027, 11, 7, 4, tzinfo=UTC)
    assert steps(seventh) == {"activated_lots": 1, "activated_points": 200}
    eighth = run(front, clock, date(2027, 11, 8))
    assert eighth.at == datetime(2027, 11, 8, 5, tzinfo=UTC)
    assert steps(eighth) == {"activated_lots": 1, "activated_points": 200}
    # Points of 2027 are gone at 2029-01-01 00:00 in New York (winter: 05:00 UTC).
    assert steps(run(front, clock, date(2028, 12, 31))) == {
        "growth_updated": 2,
        "points_expiring": 2,
    }
    gone = run(front, clock, date(2029, 1, 1))
    assert gone.at == datetime(2029, 1, 1, 5, tzinfo=UTC)
    assert steps(gone) == {"expired_lots": 2, "expired_points": 400}
