"""Products sent one at a time: upsert, read and list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row

from patron.db import tables as t
from patron.db.shops import Shop
from patron.intake import checks
from patron.intake.model import Outcome, ProductInput
from patron.intake.render import iso
from patron.intake.upsert import upsert_row

p = t.products.c
FIELDS = ("title", "category_path", "brand", "list_price_minor", "currency")


def upsert(
    connection: Connection, shop: Shop, sku: str, data: ProductInput, now: datetime
) -> Outcome:
    """Create the product, or set the fields the input provides (and those it clears) on the
    stored one; a stub becomes a full product. The currency of the list price defaults to the
    shop's whenever none is stored (it cannot be cleared)."""
    checks.key(sku, p.sku, "sku")
    for name in ("title", "category_path", "brand"):
        checks.text(getattr(data, name), p[name], name)
    checks.amount(data.list_price_minor, "list_price_minor")
    checks.currency(data.currency, "currency")
    values = checks.provided(data, FIELDS, ("title", "category_path", "brand", "list_price_minor"))
    created, row = upsert_row(
        connection,
        t.products,
        p.sku,
        shop.id,
        sku,
        {**values, "is_stub": False},
        now,
        defaults={"currency": shop.currency},
    )
    return Outcome(created, to_json(row))


def to_json(row: Row[Any]) -> dict[str, Any]:
    return {
        "sku": row.sku,
        "title": row.title,
        "category_path": row.category_path,
        "brand": row.brand,
        "list_price_minor": row.list_price_minor,
        "currency": row.currency,
        "is_stub": row.is_stub,
        "updated_at": iso(row.updated_at),
    }
