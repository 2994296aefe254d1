"""Errors are translated once, here: `PatronError.code` to an HTTP status and the one error body
``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from patron.api.context import services, write_context
from patron.errors import ErrorCode, PatronError, RateLimited

log = logging.getLogger("patron.api")

STATUS: dict[ErrorCode, int] = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.SHOP_NOT_FOUND: 404,
    ErrorCode.ROUTE_NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: 409,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 409,
    ErrorCode.POINTS_INSUFFICIENT: 409,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.DATABASE_OUTDATED: 503,
    ErrorCode.INTERNAL: 500,
}
"""Status of each error code; every other code is the caller's bad input (422)."""


def status_of(code: ErrorCode) -> int:
    return STATUS.get(code, 422)


def error_body(code: ErrorCode | str, message: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"error": {"code": str(code), "message": message, "details": details}}


def install(app: FastAPI) -> None:
    app.add_exception_handler(PatronError, _patron_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


def _respond(request: Request, error: PatronError) -> JSONResponse:
    status = status_of(error.code)
    _audit_refusal(request, status, error.code)
    headers = {}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error_body(error.code, error.message, error.details), status, headers)


async def _patron_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PatronError)
    return _respond(request, exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [
        {
            "field": ".".join(str(part) for part in err["loc"]),
            "message": err["msg"],
            "type": err["type"],
        }
        for err in exc.errors()
    ]
    first = fields[0] if fields else {"field": "request", "message": "invalid"}
    error = PatronError(
        f"invalid request: {first['field']}: {first['message']}",
        code=ErrorCode.INPUT_INVALID,
        fields=fields,
    )
    return _respond(request, error)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = {
        404: ErrorCode.ROUTE_NOT_FOUND,
        405: ErrorCode.METHOD_NOT_ALLOWED,
        413: ErrorCode.PAYLOAD_TOO_LARGE,
    }.get(exc.status_code, ErrorCode.INPUT_INVALID)
    message = {
        ErrorCode.ROUTE_NOT_FOUND: f"no route {request.url.path}",
        ErrorCode.METHOD_NOT_ALLOWED: f"{request.method} is not allowed on {request.url.path}",
    }.get(code, str(exc.detail))
    return JSONResponse(
        error_body(code, message, {}), exc.status_code, dict(exc.headers or {}) or None
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    _audit_refusal(request, 500, ErrorCode.INTERNAL)
    return JSONResponse(
        error_body(ErrorCode.INTERNAL, "internal error; it has been logged", {}), 500
    )


def _audit_refusal(request: Request, status: int, code: ErrorCode) -> None:
    """Refused writes are audited too, when the caller is known (its key names the shop)."""
    ctx = write_context(request)
    if ctx is None:
        return
    try:
        services(request).access.record_refusal(ctx, status, code)
    except Exception:  # the refusal is answered even if the audit cannot be written
        log.exception("could not audit a refused write")
