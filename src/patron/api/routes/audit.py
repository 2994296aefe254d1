"""The audit log of writes (admin keys only)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from patron.access.model import Principal, Scope
from patron.api.context import require, services
from patron.api.schemas import ERRORS
from patron.pagination import DEFAULT_LIMIT, MAX_LIMIT

router = APIRouter(tags=["audit"], responses=ERRORS)


class AuditEntryOut(BaseModel):
    id: int
    api_key_id: int | None
    method: str
    route: str
    target: str | None
    status_code: int
    error_code: str | None
    at: datetime


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None


@router.get("/audit", summary="Every write of this shop, oldest first, with its outcome")
def list_audit(
    request: Request,
    cursor: str | None = Query(default=None, description="next_cursor of the previous page"),
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    caller: Principal = require(Scope.ADMIN),
) -> AuditPage:
    page = services(request).access.audit(caller.shop_id, cursor=cursor, limit=limit)
    return AuditPage(
        items=[AuditEntryOut.model_validate(entry, from_attributes=True) for entry in page.items],
        next_cursor=page.next_cursor,
    )
