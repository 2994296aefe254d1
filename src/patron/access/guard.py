"""Guarded writes: one transaction that does the write, records its idempotency key and audits it.

A write with an ``Idempotency-Key`` stores its response in the same transaction as its effect,
under a unique (shop, key) constraint. A retry with the same request gets the first response
back; the same key with another request is refused; two racing first attempts cannot both
commit — the loser rolls back and replays the winner's response.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError

from patron.clock import Clock
from patron.db.engine import reader
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


Action = Callable[[Connection, datetime], Recorded]


def request_hash(method: str, route: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), route.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def run_guarded(
    engine: Engine, clock: Clock, ctx: WriteContext, action: Action, *, retention: timedelta
) -> Recorded:
    """Run ``action`` in one transaction with its idempotency record and audit entry."""
    now = clock.now()
    key = ctx.idempotency_key
    stale = False
    if key is not None:
        with reader(engine).connect() as connection:
            stored = _stored(connection, ctx)
        if stored is not None:
            if stored[1] >= now - retention:
                return _replay(ctx, stored[0])
            stale = True
    try:
        with engine.begin() as connection:
            recorded = action(connection, now)
            if key is not None:
                if stale:
                    connection.execute(_delete_key(ctx))
                connection.execute(
                    _REMEMBER,
                    {
                        "shop_id": ctx.shop_id,
                        "key": key,
                        "route": ctx.route,
                        "request_hash": ctx.request_hash or "",
                        "status_code": recorded.status,
                        "response": recorded.body,
                        "created_at": now,
                    },
                )
            _audit(connection, ctx, recorded.status, None, recorded.target, now)
    except IntegrityError:
        if key is None:
            raise
        # A concurrent first attempt with the same key committed first: answer as it did.
        with reader(engine).connect() as connection:
            stored = _stored(connection, ctx)
        if stored is None:
            raise
        return _replay(ctx, stored[0])
    return recorded


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
    connection.execute(
        _AUDIT,
        {
            "shop_id": ctx.shop_id,
            "api_key_id": ctx.api_key_id,
            "method": ctx.method,
            "route": ctx.route[:200],
            "target": target[:300] if target else None,
            "status_code": status,
            "error_code": error_code,
            "at": at,
        },
    )
