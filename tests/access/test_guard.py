"""run_guarded's one-statement attempt: on PostgreSQL, tried first for a write without an
Idempotency-Key, in autocommit; the transaction runs only when the attempt wrote nothing; a
write with a key never tries it, nor does any write on SQLite."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Connection, func, select

from patron.access.guard import Recorded, WriteContext, audit_from, audit_params, run_guarded
from patron.clock import FixedClock
from patron.core import Patron
from patron.db import tables as t

RETENTION = timedelta(hours=1)


def _ctx(patron: Patron, key: str | None = None) -> WriteContext:
    shop, _ = patron.access().create_shop("acme", "UTC", "USD")
    return WriteContext(shop.id, None, "PUT", "/v1/things/1", key, "h" if key else None)


def _audited(patron: Patron) -> list[tuple[object, ...]]:
    a = t.audit_log.c
    query = select(a.target, a.status_code, a.error_code).order_by(a.id)
    with patron.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


def _action(connection: Connection, now: datetime) -> Recorded:
    return Recorded(200, {"by": "transaction"}, "thing:1")


def _postgresql_only(patron: Patron) -> None:
    if patron.engine.dialect.name != "postgresql":
        pytest.skip("the one-statement attempt is PostgreSQL's")


def test_an_attempt_that_wrote_answers_alone(patron: Patron, clock: FixedClock) -> None:
    """Its own statement inserted the audit entry: the guard adds none, and no transaction
    runs."""
    _postgresql_only(patron)
    ctx = _ctx(patron)
    # The audit entry of a write that made one row (a SELECT of one row stands for it).
    statement = audit_from(select(func.count().label("made")).subquery())

    def attempt(connection: Connection, now: datetime) -> Recorded | None:
        assert connection.get_execution_options()["isolation_level"] == "AUTOCOMMIT"
        connection.execute(statement, audit_params(ctx, 201, "thing:1", now))
        return Recorded(201, {"by": "attempt"}, "thing:1")

    def action(connection: Connection, now: datetime) -> Recorded:
        raise AssertionError("the transaction ran after a successful attempt")

    recorded = run_guarded(patron.engine, clock, ctx, action, retention=RETENTION, attempt=attempt)
    assert recorded.body == {"by": "attempt"}
    assert _audited(patron) == [("thing:1", 201, None)]


def test_an_attempt_that_wrote_nothing_leaves_the_write_to_the_transaction(
    patron: Patron, clock: FixedClock
) -> None:
    _postgresql_only(patron)
    ctx = _ctx(patron)
    tried: list[bool] = []

    def attempt(connection: Connection, now: datetime) -> Recorded | None:
        tried.append(True)
        return None

    recorded = run_guarded(patron.engine, clock, ctx, _action, retention=RETENTION, attempt=attempt)
    assert (tried, recorded.body) == ([True], {"by": "transaction"})
    assert _audited(patron) == [("thing:1", 200, None)]


def _never(connection: Connection, now: datetime) -> Recorded | None:
    raise AssertionError("the one-statement attempt was tried")


def test_no_write_on_sqlite_tries_the_attempt(patron: Patron, clock: FixedClock) -> None:
    if patron.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's")
    ctx = _ctx(patron)
    recorded = run_guarded(patron.engine, clock, ctx, _action, retention=RETENTION, attempt=_never)
    assert recorded.body == {"by": "transaction"}
    assert _audited(patron) == [("thing:1", 200, None)]


def test_a_write_with_a_key_never_tries_the_attempt(patron: Patron, clock: FixedClock) -> None:
    ctx = _ctx(patron, key="k-1")
    recorded = run_guarded(patron.engine, clock, ctx, _action, retention=RETENTION, attempt=_never)
    assert recorded.body == {"by": "transaction"}
    with patron.engine.connect() as connection:
        stored = connection.execute(select(t.idempotency_keys.c.key)).scalars().all()
    assert stored == ["k-1"]
    assert _audited(patron) == [("thing:1", 200, None)]
