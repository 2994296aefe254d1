"""Shapes shared by the routes: errors and pages."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code (patron.errors.ErrorCode).")
    message: str
    details: dict[str, Any]


class ErrorBody(BaseModel):
    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        401: "Missing, malformed, unknown or revoked API key",
        403: "The API key lacks the scope",
        404: "Not found in this shop",
        409: "Conflicts with what is stored, or Idempotency-Key reused for another request",
        413: "Request body too large",
        422: "Invalid request; details.fields names each field",
        429: "Rate limit reached; see Retry-After",
    }.items()
}
"""Error responses every /v1 route documents."""
