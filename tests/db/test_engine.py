"""The PostgreSQL pool tests a connection that sat idle before use, and only then; reads that
need no common snapshot run in autocommit and leave the connection's prepared statements."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from conftest import POSTGRES_URL
from patron.db import engine as engine_module
from patron.db.engine import lookup_reader, make_engine, reader

pytestmark = pytest.mark.skipif(
    POSTGRES_URL is None, reason="PATRON_TEST_POSTGRES_URL is not set: no PostgreSQL to test on"
)


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pid: int) -> None:
    assert POSTGRES_URL is not None
    admin = make_engine(POSTGRES_URL, pool_size=1)
    with admin.begin() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    admin.dispose()


def test_a_dead_idle_connection_is_replaced_before_use(monkeypatch: pytest.MonkeyPatch) -> None:
    assert POSTGRES_URL is not None
    engine = make_engine(POSTGRES_URL, pool_size=1)
    try:
        first = _backend_pid(engine)
        _terminate(first)
        monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 0.0)
        second = _backend_pid(engine)
        assert second != first
    finally:
        engine.dispose()


def test_a_busy_connection_is_not_pinged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under load, a connection back in the pool a moment ago is used as it is: the statement
    meeting a dead one fails once, and the pool then replaces its connections."""
    assert POSTGRES_URL is not None
    engine = make_engine(POSTGRES_URL, pool_size=1)
    try:
        first = _backend_pid(engine)
        _terminate(first)
        monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 3600.0)
        with pytest.raises(Exception, match=r"terminat|closed|server"):
            _backend_pid(engine)
        assert _backend_pid(engine) != first
    finally:
        engine.dispose()


def test_lookup_reads_run_each_statement_on_its_own() -> None:
    assert POSTGRES_URL is not None
    engine = make_engine(POSTGRES_URL, pool_size=1)
    alone = text("SELECT statement_timestamp() = transaction_timestamp()")
    try:
        with lookup_reader(engine).connect() as connection:
            assert [connection.execute(alone).scalar_one() for _ in range(2)] == [True, True]
        with reader(engine).connect() as connection:
            assert [connection.execute(alone).scalar_one() for _ in range(2)] == [False, False]
    finally:
        engine.dispose()


def test_lookup_reads_keep_the_prepared_statements() -> None:
    """psycopg prepares a statement run five times on a connection, and forgets them all at
    any rollback: a read that ended in one would cost the writes their prepared plans."""
    assert POSTGRES_URL is not None
    engine = make_engine(POSTGRES_URL, pool_size=1)
    prepared = text("SELECT count(*) FROM pg_prepared_statements")
    try:
        for _ in range(6):
            with engine.begin() as connection:
                connection.execute(text("SELECT :n + 1"), {"n": 1})
        with lookup_reader(engine).connect() as connection:
            assert connection.execute(prepared).scalar_one() == 1
        with lookup_reader(engine).connect() as connection:
            assert connection.execute(prepared).scalar_one() == 1
    finally:
        engine.dispose()


def test_engines_with_options_are_made_once() -> None:
    assert POSTGRES_URL is not None
    engine = make_engine(POSTGRES_URL, pool_size=1)
    assert reader(engine) is reader(engine)
    assert lookup_reader(engine) is lookup_reader(engine)
    engine.dispose()
