"""The audit log of writes (admin keys only)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel

from patron.api.context import Admin, services
from patron.api.schemas import ERRORS, Cursor, Limit
from patron.pagination import DEFAULT_LIMIT

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
    caller: Admin,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> AuditPage:
    page = services(request).access.audit(caller.shop_id, cursor=cursor, limit=limit)
    return AuditPage(
        items=[AuditEntryOut.model_validate(entry, from_attributes=True) for entry in page.items],
        next_cursor=page.next_cursor,
    )
