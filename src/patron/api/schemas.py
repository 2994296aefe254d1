"""Shapes shared by the routes: errors and pages."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from pydantic import AwareDatetime, BaseModel, Field

from patron.pagination import DEFAULT_LIMIT, MAX_LIMIT


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


def written(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """The documented answers of a write: 201 when it created its object, 200 otherwise."""
    return {
        200: {"model": model, "description": "Updated, unchanged, or a replay"},
        201: {"model": model, "description": "Created"},
    }


def cleared_fields(body: BaseModel) -> frozenset[str]:
    """Fields a request sent as null: the caller asks to clear them."""
    return frozenset(name for name in body.model_fields_set if getattr(body, name) is None)


CURRENCY: Any = Field(
    default=None, pattern="^[A-Z]{3}$", description="ISO 4217 code (default: the shop's)."
)

Cursor = Annotated[str | None, Query(description="next_cursor of the previous page.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Default {DEFAULT_LIMIT}.")]
UpdatedSince = Annotated[
    AwareDatetime | None, Query(description="Only what changed at or after this time.")
]
