"""Products: upsert, get, list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from patron.api.context import IdempotencyKey, Reader, Writer, respond, services, write_context
from patron.api.schemas import (
    CURRENCY,
    ERRORS,
    Cursor,
    Limit,
    UpdatedSince,
    cleared_fields,
    written,
)
from patron.intake.model import ProductInput
from patron.intake.rules import MAX_AMOUNT
from patron.pagination import DEFAULT_LIMIT

router = APIRouter(tags=["products"], responses=ERRORS)

Sku = Annotated[str, Path(min_length=1, max_length=128, description="The product's SKU.")]


class ProductIn(BaseModel):
    """Fields left out keep their stored value; fields sent as null are cleared."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=500)
    category_path: str | None = Field(
        default=None, max_length=500, description="Levels separated by ` > `."
    )
    brand: str | None = Field(default=None, max_length=200)
    list_price_minor: int | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    currency: str | None = CURRENCY


class ProductOut(BaseModel):
    sku: str
    title: str | None
    category_path: str | None
    brand: str | None
    list_price_minor: int | None
    currency: str | None
    is_stub: bool
    updated_at: datetime | None


class ProductPage(BaseModel):
    items: list[ProductOut]
    next_cursor: str | None


@router.put(
    "/products/{sku}",
    summary="Create or update a product",
    responses=written(ProductOut),
    response_model=None,
)
def put_product(
    request: Request,
    sku: Sku,
    body: ProductIn,
    _caller: Writer,
    key: IdempotencyKey = None,
) -> JSONResponse:
    data = ProductInput(
        **body.model_dump(exclude_unset=True, exclude_none=True), cleared=cleared_fields(body)
    )
    ctx = write_context(request, body, key)
    assert ctx is not None
    return respond(services(request).intake.upsert_product(ctx, sku, data))


@router.get("/products/{sku}", summary="One product", response_model=ProductOut)
def get_product(request: Request, sku: Sku, caller: Reader) -> Any:
    return services(request).intake.get_product(caller.shop_id, sku)


@router.get("/products", summary="Products, oldest first", response_model=ProductPage)
def list_products(
    request: Request,
    caller: Reader,
    updated_since: UpdatedSince = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Any:
    page = services(request).intake.list_products(
        caller.shop_id, updated_since=updated_since, cursor=cursor, limit=limit
    )
    return {"items": page.items, "next_cursor": page.next_cursor}
