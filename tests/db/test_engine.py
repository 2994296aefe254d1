"""The PostgreSQL pool tests a connection that sat idle before use, and only then."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from conftest import POSTGRES_URL
from patron.db import engine as engine_module
from patron.db.engine import make_engine

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
