"""Liveness and readiness probes (no API key needed)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from patron.api.context import services
from patron.api.errors import error_body
from patron.errors import ErrorCode, PatronError

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The database is reachable and its schema is at the latest migration",
    responses={503: {"description": "Not ready: database unreachable or schema outdated"}},
)
def readyz(request: Request) -> JSONResponse:
    core = services(request).patron
    try:
        current, head = core.schema_revision()
    except Exception as exc:  # any driver error means "not ready", with its reason
        return JSONResponse(
            error_body(ErrorCode.DATABASE_OUTDATED, f"database unreachable: {exc}", {}), 503
        )
    if current != head:
        error = PatronError(
            f"database schema at {current or '(empty)'}, not {head}: run `patron db upgrade`",
            code=ErrorCode.DATABASE_OUTDATED,
            current=current,
            head=head,
        )
        return JSONResponse(error_body(error.code, error.message, error.details), 503)
    return JSONResponse({"status": "ready", "schema_revision": current})
