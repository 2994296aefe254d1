"""Orders: upsert with lines, status changes, refunds on lines, get, list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from patron.access.guard import Recorded, WriteContext
from patron.api.context import IdempotencyKey, Reader, Writer, respond, services, write_context
from patron.api.schemas import CURRENCY, ERRORS, Cursor, Limit, UpdatedSince, written
from patron.ingest.model import OrderStatus
from patron.intake.model import (
    OrderInput,
    OrderLineInput,
    RefundInput,
    RefundLineInput,
    StatusChange,
)
from patron.intake.rules import MAX_AMOUNT, MAX_LINES, MAX_QUANTITY
from patron.pagination import DEFAULT_LIMIT

router = APIRouter(tags=["orders"], responses=ERRORS)

OrderId = Annotated[
    str, Path(min_length=1, max_length=128, description="The order number in the shop.")
]
Status = OrderStatus
Amount = Annotated[int, Field(ge=0, le=MAX_AMOUNT, description="Minor units (fen, cents).")]
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=128)
    quantity: Quantity
    unit_price_minor: Amount
    line_total_minor: Amount | None = Field(
        default=None, description="Default: quantity × unit price."
    )
    title: str | None = Field(
        default=None, max_length=500, description="Names the product if it is new."
    )


class OrderIn(BaseModel):
    """The whole order: putting it again replaces header and lines (lines with refunds can
    neither disappear nor shrink below what was refunded)."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(min_length=1, max_length=128)
    placed_at: AwareDatetime
    paid_at: AwareDatetime | None = None
    status: Status | None = Field(default=None, description="Default pending.")
    currency: str | None = CURRENCY
    discount_minor: Amount | None = None
    shipping_minor: Amount | None = None
    total_minor: Amount | None = Field(
        default=None, description="Default: lines − discount + shipping."
    )
    channel: str | None = Field(default=None, max_length=64)
    coupon_codes: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=20
    )
    lines: list[LineIn] = Field(min_length=1, max_length=MAX_LINES)


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status
    at: AwareDatetime | None = Field(default=None, description="When it happened (default now).")


class RefundLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_no: int = Field(ge=1, le=MAX_LINES)
    quantity: Quantity | None = Field(
        default=None, description="Default: every unit not yet refunded."
    )
    amount_minor: Amount | None = Field(
        default=None, description="Default: the line total pro rata of the quantity."
    )


class RefundIn(BaseModel):
    """A refund on lines, or (without lines) an amount on the whole order."""

    model_config = ConfigDict(extra="forbid")

    refund_id: str = Field(min_length=1, max_length=128)
    lines: list[RefundLineIn] = Field(default_factory=list, max_length=MAX_LINES)
    amount_minor: Amount | None = None
    refunded_at: AwareDatetime | None = None
    reason: str | None = Field(default=None, max_length=500)


class LineOut(BaseModel):
    line_no: int
    sku: str
    quantity: int
    unit_price_minor: int
    line_total_minor: int
    refunded_quantity: int
    refunded_minor: int


class RefundOut(BaseModel):
    id: str
    line_no: int | None
    quantity: int | None
    amount_minor: int
    refunded_at: datetime | None
    reason: str | None


class OrderOut(BaseModel):
    id: str
    customer_id: str
    placed_at: datetime
    paid_at: datetime | None
    status: str
    currency: str
    subtotal_minor: int
    discount_minor: int
    shipping_minor: int
    total_minor: int
    item_count: int
    channel: str | None
    coupon_codes: list[str]
    lines: list[LineOut]
    refunds: list[RefundOut]
    updated_at: datetime | None


class OrderPage(BaseModel):
    items: list[OrderOut]
    next_cursor: str | None


@router.put(
    "/orders/{external_id}",
    summary="Create or replace an order with its lines",
    responses=written(OrderOut),
    response_model=None,
)
def put_order(
    request: Request,
    external_id: OrderId,
    body: OrderIn,
    _caller: Writer,
    key: IdempotencyKey = None,
) -> JSONResponse:
    fields = body.model_dump(exclude_none=True, exclude={"lines"})
    data = OrderInput(**fields, lines=[OrderLineInput(**line.model_dump()) for line in body.lines])
    ctx = write_context(request, body, key)
    assert ctx is not None
    recorded = services(request).intake.upsert_order(ctx, external_id, data)
    return _credited(request, ctx, external_id, recorded)


@router.post(
    "/orders/{external_id}/status",
    summary="Move an order to another status",
    description="pending → paid | cancelled; paid → shipped | completed | cancelled | refunded; "
    "shipped → completed | refunded; completed → refunded. The same status is a no-op.",
    responses=written(OrderOut),
    response_model=None,
)
def post_status(
    request: Request,
    external_id: OrderId,
    body: StatusIn,
    _caller: Writer,
    key: IdempotencyKey = None,
) -> JSONResponse:
    ctx = write_context(request, body, key)
    assert ctx is not None
    change = StatusChange(body.status, body.at)
    recorded = services(request).intake.change_order_status(ctx, external_id, change)
    return _credited(request, ctx, external_id, recorded)


@router.post(
    "/orders/{external_id}/refunds",
    summary="Refund lines of an order (partial allowed), or an amount on the whole order",
    responses=written(OrderOut),
    response_model=None,
)
def post_refund(
    request: Request,
    external_id: OrderId,
    body: RefundIn,
    _caller: Writer,
    key: IdempotencyKey = None,
) -> JSONResponse:
    ctx = write_context(request, body, key)
    assert ctx is not None
    refund = RefundInput(
        refund_id=body.refund_id,
        lines=[RefundLineInput(**line.model_dump()) for line in body.lines],
        amount_minor=body.amount_minor,
        refunded_at=body.refunded_at,
        reason=body.reason,
    )
    recorded = services(request).intake.refund_order(ctx, external_id, refund)
    return _credited(request, ctx, external_id, recorded)


def _credited(
    request: Request, ctx: WriteContext, external_id: str, recorded: Recorded
) -> JSONResponse:
    """The answer of an accepted order write, once the order's loyalty points are in line with
    it when the shop runs a programme (a pending order earns nothing). Replays credit too: a
    retry then completes a credit that failed after the order was stored."""
    s = services(request)
    if recorded.body.get("status") != "pending" and s.programmes.has(ctx.shop_id):
        s.loyalty.credit_order(ctx.shop_id, external_id)
    return respond(recorded)


@router.get("/orders/{external_id}", summary="One order with lines and refunds")
def get_order(request: Request, external_id: OrderId, caller: Reader) -> OrderOut:
    return OrderOut.model_validate(services(request).intake.get_order(caller.shop_id, external_id))


@router.get("/orders", summary="Orders, oldest first", response_model=OrderPage)
def list_orders(
    request: Request,
    caller: Reader,
    customer_id: Annotated[str | None, Query(max_length=128, description="One customer's.")] = None,
    status: Annotated[Status | None, Query()] = None,
    updated_since: UpdatedSince = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Any:
    page = services(request).intake.list_orders(
        caller.shop_id,
        customer_id=customer_id,
        status=status,
        updated_since=updated_since,
        cursor=cursor,
        limit=limit,
    )
    return {"items": page.items, "next_cursor": page.next_cursor}
