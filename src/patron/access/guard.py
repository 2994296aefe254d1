"""Guarded writes: one transaction that does the write, records its idempotency key and audits it.

A write with an ``Idempotency-Key`` stores its response in the same transaction as its effect,
under a unique (shop, key) constraint. A retry with the same request gets the first response
back; the same key with another request is refused; two racing first attempts cannot both
commit — the loser rolls back and replays the winner's response.

A write without a key that one statement can do whole, its audit entry included
(:func:`audit_from`), may skip the transaction: see ``attempt`` of :func:`run_guarded`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, FromClause, Insert, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError

from patron.clock import Clock
from patron.db.engine import lookup_reader
from patron.db.tables import audit_log, idempotency_keys
from patron.errors import ConflictError, ErrorCode


@dataclass(frozen=True, slots=True)
class WriteContext:
    """Who writes, where, and under which idempotency key."""

    shop_id: int
    api_key_id: int | None
    method: str
    # The request path as called, e.g. /v1/orders/O-1.
    route: str
    idempotency_key: str | None = None
    request_hash: str | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    """The response of a write, as stored for replays: status, JSON body, audited target."""

    status: int
    body: dict[str, Any]
    target: str | None = None
    replayed: bool = False


Transaction = Connection
"""The transaction a guarded write runs in, for interfaces that pass it on to a service."""

Action = Callable[[Connection, datetime], Recorded]
Attempt = Callable[[Connection, datetime], Recorded | None]
"""A write in one statement that also inserts its audit entry (:func:`audit_from`), on a
connection in autocommit; None when that statement wrote nothing."""


def request_hash(method: str, route: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), route.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def run_guarded(
    engine: Engine,
    clock: Clock,
    ctx: WriteContext,
    action: Action,
    *,
    retention: timedelta,
    attempt: Attempt | None = None,
) -> Recorded:
    """Run ``action`` in one transaction with its idempotency record and audit entry.

    On PostgreSQL, without an Idempotency-Key, ``attempt`` goes first: in autocommit a statement
    commits on its own, so the write it does whole needs neither BEGIN nor COMMIT (two round
    trips); ``action`` runs only when it wrote nothing. (SQLite's transactions are Patron's own
    BEGIN: see :mod:`patron.db.engine`.) A write with a key keeps the transaction: its record
    holds the answer, which a write knows only once done, and racing first attempts with one
    key are resolved below, in one place, by the key's unique constraint."""
    now = clock.now()
    if ctx.idempotency_key is None:
        if attempt is not None and engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT")
                recorded = attempt(connection, now)
            if recorded is not None:
                return recorded
        return _transaction(engine, ctx, action, now)
    with lookup_reader(engine).connect() as connection:
        stored = _stored(connection, ctx)
    if stored is not None and stored[1] >= now - retention:
        return _replay(ctx, stored[0])
    try:
        return _transaction(engine, ctx, action, now, stale=stored is not None)
    except IntegrityError:
        # A concurrent first attempt with the same key committed first: answer as it did.
        with lookup_reader(engine).connect() as connection:
            stored = _stored(connection, ctx)
        if stored is None:
            raise
        return _replay(ctx, stored[0])


def record_failure(
    engine: Engine,
    clock: Clock,
    ctx: WriteContext,
    status: int,
    error_code: ErrorCode | str,
    target: str | None = None,
) -> None:
    """Audit a write that was refused; its own transaction, since the write's was rolled back."""
    with engine.begin() as connection:
        _audit(connection, ctx, status, str(error_code), target, clock.now())


def audit_from(source: FromClause) -> Insert:
    """An INSERT of the audit entry of a write, one per row of ``source`` (what the write made:
    no entry when it made nothing), for a statement that does the write and its audit at once;
    its values are the parameters of :func:`audit_params`."""
    names = [c.name for c in audit_log.c if c.name != "id"]
    values = [bindparam(f"audit_{name}", type_=audit_log.c[name].type) for name in names]
    return insert(audit_log).from_select(names, select(*values).select_from(source))


def audit_params(
    ctx: WriteContext, status: int, target: str | None, at: datetime
) -> dict[str, Any]:
    """The parameters of :func:`audit_from` for a write that succeeds with ``status``."""
    return {f"audit_{k}": v for k, v in _entry(ctx, status, None, target, at).items()}


@dataclass(frozen=True, slots=True)
class _Stored:
    request_hash: str
    route: str
    status: int
    body: dict[str, Any]


# Statements of every write, built once: their compiled form is then cached for good.
_k = idempotency_keys.c
_REMEMBER = insert(idempotency_keys)
_RECALL = select(_k.request_hash, _k.route, _k.status_code, _k.response, _k.created_at).where(
    _k.shop_id == bindparam("shop_id"), _k.key == bindparam("key")
)
_AUDIT = insert(audit_log)


def _transaction(
    engine: Engine, ctx: WriteContext, action: Action, now: datetime, *, stale: bool = False
) -> Recorded:
    """The write, its idempotency record when it has a key (replacing a ``stale`` one) and its
    audit entry, in one transaction."""
    with engine.begin() as connection:
        recorded = action(connection, now)
        if ctx.idempotency_key is not None:
            if stale:
                connection.execute(_delete_key(ctx))
            connection.execute(
                _REMEMBER,
                {
                    "shop_id": ctx.shop_id,
                    "key": ctx.idempotency_key,
                    "route": ctx.route,
                    "request_hash": ctx.request_hash or "",
                    "status_code": recorded.status,
                    "response": recorded.body,
                    "created_at": now,
                },
            )
        _audit(connection, ctx, recorded.status, None, recorded.target, now)
    return recorded


def _stored(connection: Connection, ctx: WriteContext) -> tuple[_Stored, datetime] | None:
    row = connection.execute(_RECALL, {"shop_id": ctx.shop_id, "key": ctx.idempotency_key}).first()
    if row is None:
        return None
    return _Stored(row.request_hash, row.route, row.status_code, row.response), row.created_at


def _replay(ctx: WriteContext, stored: _Stored) -> Recorded:
    if stored.request_hash != (ctx.request_hash or ""):
        raise ConflictError(
            f"Idempotency-Key {ctx.idempotency_key!r} was already used for a different request"
            f" ({stored.route}); use a new key for a new request",
            code=ErrorCode.IDEMPOTENCY_KEY_REUSED,
            idempotency_key=ctx.idempotency_key,
            first_route=stored.route,
        )
    return replace(Recorded(stored.status, stored.body), replayed=True)


def _delete_key(ctx: WriteContext) -> Any:
    k = idempotency_keys.c
    return delete(idempotency_keys).where(k.shop_id == ctx.shop_id, k.key == ctx.idempotency_key)


def _audit(
    connection: Connection,
    ctx: WriteContext,
    status: int,
    error_code: str | None,
    target: str | None,
    at: datetime,
) -> None:
    connection.execute(_AUDIT, _entry(ctx, status, error_code, target, at))


def _entry(
    ctx: WriteContext, status: int, error_code: str | None, target: str | None, at: datetime
) -> dict[str, Any]:
    """The audit_log row of a write."""
    return {
        "shop_id": ctx.shop_id,
        "api_key_id": ctx.api_key_id,
        "method": ctx.method,
        "route": ctx.route[:200],
        "target": target[:300] if target else None,
        "status_code": status,
        "error_code": error_code,
        "at": at,
    }
