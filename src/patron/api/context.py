"""What a request works with: the app's services, and the caller once authenticated."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from patron.access.guard import Recorded, Transaction, WriteContext, request_hash, run_guarded
from patron.access.model import Principal, Scope
from patron.access.ratelimit import RateLimiter
from patron.access.service import AccessService
from patron.core import Patron
from patron.errors import AuthError, ErrorCode, PermissionDenied, RateLimited
from patron.intake.service import IntakeService
from patron.loyalty.service import LoyaltyService

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(slots=True)
class ProgrammeShops:
    """Which shops run a loyalty programme. A programme is never removed (each change is a new
    version), so a shop found with one is remembered for the life of the process; a shop
    without one is asked again every time, so that a programme set later — by any process —
    counts from the next request."""

    loyalty: LoyaltyService
    known: set[int] = field(default_factory=set)

    def has(self, shop_id: int) -> bool:
        if shop_id in self.known:
            return True
        if not self.loyalty.has_programme(shop_id):
            return False
        self.known.add(shop_id)
        return True


@dataclass(frozen=True, slots=True)
class Services:
    patron: Patron
    access: AccessService
    intake: IntakeService
    loyalty: LoyaltyService
    programmes: ProgrammeShops
    limiter: RateLimiter


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


async def principal(request: Request, authorization: str | None) -> Principal:
    """The caller authenticated by the ``Authorization`` header; also spends a rate token.

    A coroutine (FastAPI would run a plain function in a worker thread, a hop that cost more
    than the work), called by the scope check rather than solved as a dependency of its own
    (one level of dependencies less per request). Only a key not verified recently goes to the
    database, in a thread."""
    if authorization is None:
        raise AuthError("missing API key: send `Authorization: Bearer <key>`")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("expected `Authorization: Bearer <key>`")
    s = services(request)
    token = token.strip()
    caller = s.access.recently_verified(token)
    if caller is None:
        caller = await run_in_threadpool(s.access.authenticate, token)
    request.state.principal = caller
    wait = s.limiter.take(caller.key_id, time.monotonic())
    if wait > 0:
        raise RateLimited(
            f"rate limit of this API key reached; retry in {wait:.2f} s", retry_after=wait
        )
    return caller


def require(scope: Scope) -> Any:
    """A dependency: the authenticated caller (see :func:`principal`), who must hold
    ``scope``; every /v1 route depends on one."""

    async def check(
        request: Request,
        authorization: str | None = Header(
            default=None, description="`Bearer <API key>`, as printed by `patron keys create`."
        ),
    ) -> Principal:
        caller = await principal(request, authorization)
        if scope not in caller.scopes:
            raise PermissionDenied(
                f"this API key lacks the {scope.value!r} scope",
                code=ErrorCode.FORBIDDEN,
                required=scope.value,
            )
        return caller

    return Depends(check)


Reader = Annotated[Principal, require(Scope.READ)]
Writer = Annotated[Principal, require(Scope.WRITE)]
Admin = Annotated[Principal, require(Scope.ADMIN)]
# A parameter of each write route that keeps one (default None), not a dependency: solving one
# more dependency per request cost more than reading a header.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Any unique string: a retry with the same key and body returns the first "
        "response; the same key with another body is refused with 409.",
    ),
]


def write_context(
    request: Request, body: BaseModel | None = None, key: str | None = None
) -> WriteContext | None:
    """The context of a write by the authenticated caller; None before authentication. With an
    Idempotency-Key (``key``), the request's hash covers its body as validated (canonical
    JSON)."""
    caller: Principal | None = getattr(request.state, "principal", None)
    if caller is None or request.method not in WRITE_METHODS:
        return None
    return WriteContext(
        shop_id=caller.shop_id,
        api_key_id=caller.key_id,
        method=request.method,
        route=request.url.path,
        idempotency_key=key,
        request_hash=(
            request_hash(request.method, request.url.path, _canonical(body))
            if key is not None
            else None
        ),
    )


def _canonical(body: BaseModel | None) -> bytes:
    return body.model_dump_json().encode() if body is not None else b""


def guarded(
    request: Request,
    body: BaseModel | None,
    key: str | None,
    write: Callable[[Transaction], Recorded],
) -> JSONResponse:
    """The response of a write by a service that takes the caller's transaction (the loyalty
    service): the write, its Idempotency-Key record and its audit entry commit together."""
    ctx = write_context(request, body, key)
    assert ctx is not None
    s = services(request)
    retention = timedelta(hours=s.patron.settings.api_idempotency_hours)
    recorded = run_guarded(
        s.patron.engine,
        s.patron.clock,
        ctx,
        lambda connection, _now: write(connection),
        retention=retention,
    )
    return respond(recorded)


def respond(recorded: Recorded) -> JSONResponse:
    """The response of a guarded write; a replay says so in a header."""
    headers = {"Idempotent-Replayed": "true"} if recorded.replayed else None
    return JSONResponse(recorded.body, recorded.status, headers)
