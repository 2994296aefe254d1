"""Database engines: SQLite (WAL, foreign keys) by default, PostgreSQL in production."""

from __future__ import annotations

import functools
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url

from patron import jsonfmt


def make_engine(url: str, pool_size: int = 20, **kwargs: Any) -> Engine:
    """An engine for ``url`` with Patron's connection settings. On PostgreSQL the pool keeps
    ``pool_size`` connections and opens no others: a pool that overflows under load closes
    and reopens sessions all the time, which costs PostgreSQL more than the queries do."""
    kwargs.setdefault("json_serializer", jsonfmt.dumps)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(url, pool_size=pool_size, max_overflow=0, **kwargs)
        _ping_when_idle(engine)
        return engine
    raise ValueError(f"unsupported database {url!r}: use sqlite:/// or postgresql+psycopg://")


IDLE_PING_SECONDS = 10.0
"""A pooled connection unused for longer is tested before use; a busy one is not."""


def _ping_when_idle(engine: Engine) -> None:
    """Test a connection on checkout when it sat idle in the pool: a database restarted meanwhile
    left it dead, and the pool then replaces it. Pinging on every checkout (``pool_pre_ping``)
    costs a round trip per request; under load connections are never idle that long, and should
    the database restart during load, the statement that meets the dead connection fails and the
    pool replaces all its connections (SQLAlchemy's disconnect handling)."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out another (up to three times).
            raise exc.DisconnectionError() from error


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling is off so that BEGIN IMMEDIATE below is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        # 64 MiB of page cache: bulk merges build large indexes (the default is 2 MiB).
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock at the start: never check-then-act under a read lock that
        # upgrades later. Readers (see `reader`) begin deferred and read a WAL snapshot.
        writes = connection.get_execution_options().get(_WRITES, True)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


_WRITES = "patron_writes"


# Engines with options are cached: making one costs more than many a query it runs.


@functools.lru_cache(maxsize=64)
def reader(engine: Engine) -> Engine:
    """The same engine for read-only work: on SQLite it does not wait for a running writer."""
    return engine.execution_options(**{_WRITES: False})


@functools.lru_cache(maxsize=64)
def lookup_reader(engine: Engine) -> Engine:
    """The engine for reads whose statements need no common snapshot (under READ COMMITTED,
    PostgreSQL's default, a transaction gives them none anyway). On PostgreSQL they run in
    autocommit: no BEGIN and ROLLBACK round trips, and the connection keeps the statements
    that psycopg prepared, which it discards on every rollback. Elsewhere :func:`reader`."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return reader(engine)
