"""Database engines: SQLite (WAL, foreign keys) by default, PostgreSQL in production."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
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
        return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=0, **kwargs)
    raise ValueError(f"unsupported database {url!r}: use sqlite:/// or postgresql+psycopg://")


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


def reader(engine: Engine) -> Engine:
    """The same engine for read-only work: on SQLite it does not wait for a running writer."""
    return engine.execution_options(**{_WRITES: False})
