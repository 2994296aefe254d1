"""Customers: upsert, get, list, erase."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from patron.api.context import IdempotencyKey, Reader, Writer, respond, services, write_context
from patron.api.schemas import ERRORS, Cursor, Limit, UpdatedSince, cleared_fields, written
from patron.intake.model import CustomerInput
from patron.pagination import DEFAULT_LIMIT

router = APIRouter(tags=["customers"], responses=ERRORS)

CustomerId = Annotated[
    str, Path(min_length=1, max_length=128, description="The customer's id in the shop.")
]


class CustomerIn(BaseModel):
    """Fields left out keep their stored value; fields sent as null are cleared."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    gender: Literal["F", "M", "O"] | None = None
    birth_date: date | None = None
    region: str | None = Field(default=None, max_length=100)
    city: str | None = Field(default=None, max_length=100)
    city_tier: int | None = Field(default=None, ge=1, le=6)
    signup_at: AwareDatetime | None = None
    acquisition_channel: str | None = Field(default=None, max_length=64)
    consent_email: bool | None = None
    consent_sms: bool | None = None
    consent_push: bool | None = None
    attributes: dict[str, Any] | None = Field(
        default=None, description="Custom attributes; replaces the stored ones as a whole."
    )


class Consent(BaseModel):
    email: bool | None
    sms: bool | None
    push: bool | None


class CustomerOut(BaseModel):
    id: str
    name: str | None
    email: str | None
    phone: str | None
    gender: str | None
    birth_date: date | None
    region: str | None
    city: str | None
    city_tier: int | None
    signup_at: datetime | None
    acquisition_channel: str | None
    consent: Consent
    attributes: dict[str, Any]
    is_stub: bool
    erased: bool
    updated_at: datetime | None


class CustomerPage(BaseModel):
    items: list[CustomerOut]
    next_cursor: str | None


@router.put(
    "/customers/{external_id}",
    summary="Create or update a customer",
    responses=written(CustomerOut),
    response_model=None,
)
def put_customer(
    request: Request,
    external_id: CustomerId,
    body: CustomerIn,
    _caller: Writer,
    key: IdempotencyKey = None,
) -> JSONResponse:
    data = CustomerInput(
        **body.model_dump(exclude_unset=True, exclude_none=True),
        cleared=cleared_fields(body),
    )
    ctx = write_context(request, body, key)
    assert ctx is not None
    return respond(services(request).intake.upsert_customer(ctx, external_id, data))


@router.get("/customers/{external_id}", summary="One customer", response_model=CustomerOut)
def get_customer(request: Request, external_id: CustomerId, caller: Reader) -> dict[str, Any]:
    return services(request).intake.get_customer(caller.shop_id, external_id)


@router.get("/customers", summary="Customers, oldest first", response_model=CustomerPage)
def list_customers(
    request: Request,
    caller: Reader,
    updated_since: UpdatedSince = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> dict[str, Any]:
    page = services(request).intake.list_customers(
        caller.shop_id, updated_since=updated_since, cursor=cursor, limit=limit
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post(
    "/customers/{external_id}/erasure",
    summary="Erase a customer's personal data (right to erasure)",
    description="Wipes the PII fields irreversibly and replaces the id by a random pseudonym; "
    "orders and aggregates stay under the pseudonym. The old id is then unknown, so a retry "
    "answers 404; no Idempotency-Key is kept, since its stored answer would link the old id "
    "to the pseudonym.",
    responses=written(CustomerOut),
    response_model=None,
)
def erase_customer(
    request: Request,
    external_id: CustomerId,
    _caller: Writer,
) -> JSONResponse:
    ctx = write_context(request)
    assert ctx is not None
    return respond(services(request).intake.erase_customer(ctx, external_id))
