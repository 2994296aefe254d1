"""Shopify's orders export (Orders → Export → CSV): one row per line item.

The order's own columns (Email, Financial Status, Total…) are filled on the first row of an order
only; the hook below gives them to the order's other rows, so every row carries its order.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.compute as pc

from patron.ingest.model import Entity
from patron.ingest.profiles.base import Columns, Profile

FINANCIAL_STATUSES = {
    "pending": "pending",
    "authorized": "pending",  # payment authorised, not captured yet
    "expired": "cancelled",  # the authorisation lapsed
    "voided": "cancelled",
    "partially_paid": "paid",
    "paid": "paid",
    "partially_refunded": "paid",  # the refund is a refund record; the sale stands
    "refunded": "refunded",
}
"""Financial Status → status. A paid order that is fulfilled is completed (partially
fulfilled: shipped); an order with a Cancelled at time is cancelled."""

FULFILLED = {"fulfilled": "completed", "partial": "shipped"}

# Columns the hook reads besides the canonical ones (not stored).
HELPERS = {"fulfillment_status": "Fulfillment Status", "cancelled_at": "Cancelled at"}

ORDER_LEVEL = (
    "customer_id",
    "placed_at",
    "paid_at",
    "status",
    "currency",
    "discount",
    "shipping",
    "total",
    "refund_amount",
    "channel",
    "coupon_codes",
    *HELPERS,
)

SKU_MAX = 128
_STOP = "\x00"  # blocks a forward fill at the first row of an order


def _fill_orders(columns: Columns, state: dict[str, object]) -> Columns:
    """Each row takes its order's values from the order's earlier rows (Shopify writes an order's
    lines one after the other; the last row of a chunk is carried into the next)."""
    carried = state.get("carried")
    assert carried is None or isinstance(carried, dict)
    names = [c for c in ORDER_LEVEL if c in columns]
    head = carried or {"order_id": None, **dict.fromkeys(names)}
    ids = pa.concat_arrays([pa.array([head["order_id"]], pa.string()), columns["order_id"]])
    # A row starts an order when its id differs from the row before (a missing id: always).
    starts = pc.fill_null(pc.not_equal(ids, pa.concat_arrays([ids[:1], ids[:-1]])), True)
    filled = dict(columns)
    for name in names:
        values = pa.concat_arrays([pa.array([head[name]], pa.string()), columns[name]])
        blocked = pc.if_else(pc.and_(starts, pc.is_null(values)), _STOP, values)
        forward = pc.fill_null_forward(blocked)
        filled[name] = pc.if_else(pc.equal(forward, _STOP), pa.scalar(None, pa.string()), forward)
    if len(ids) > 1:
        state["carried"] = {n: filled[n][-1].as_py() for n in ["order_id", *names]}
    return {n: (v[1:] if n in names else v) for n, v in filled.items()}


def _sku_from_name(sku: pa.Array, name: pa.Array) -> pa.Array:
    """A line without SKU is named by its title, so the line is kept: ``name:<Lineitem name>``
    (a title too long for a SKU is shortened and made unique by a digest)."""

    def named(title: str | None) -> str | None:
        if title is None:
            return None
        key = f"name:{title}"
        if len(key) <= SKU_MAX:
            return key
        digest = hashlib.blake2b(title.encode(), digest_size=8).hexdigest()
        return f"{key[: SKU_MAX - len(digest) - 1]}~{digest}"

    fallback = pa.array([named(t) for t in name.to_pylist()], pa.string())
    return pc.coalesce(sku, fallback)


def _status(status: pa.Array, fulfillment: pa.Array, cancelled_at: pa.Array) -> pa.Array:
    index = pc.index_in(fulfillment, value_set=pa.array(list(FULFILLED), pa.string()))
    upgraded = pc.take(pa.array(list(FULFILLED.values()), pa.string()), index)
    paid = pc.fill_null(pc.equal(status, "paid"), False)
    status = pc.if_else(pc.and_(paid, pc.is_valid(upgraded)), upgraded, status)
    return pc.if_else(pc.is_valid(cancelled_at), "cancelled", status)


def derive(columns: Columns, state: dict[str, object]) -> Columns:
    columns = _fill_orders(columns, state)
    n = len(columns["order_id"])
    fulfillment, cancelled_at = (columns.get(h, pa.nulls(n, pa.string())) for h in HELPERS)
    return {
        **columns,
        "customer_id": pc.utf8_lower(columns["customer_id"]),  # an email, whatever its case
        "sku": _sku_from_name(columns["sku"], columns["product_title"]),
        "status": _status(columns["status"], fulfillment, cancelled_at),
    }


SHOPIFY = Profile(
    name="shopify",
    entities=(Entity.ORDERS,),
    columns={
        "order_id": "Name",
        "customer_id": "Email",
        "placed_at": "Created at",
        "paid_at": "Paid at",
        "status": "Financial Status",
        "currency": "Currency",
        "sku": "Lineitem sku",
        "product_title": "Lineitem name",
        "quantity": "Lineitem quantity",
        "unit_price": "Lineitem price",
        "discount": "Discount Amount",
        "shipping": "Shipping",
        "total": "Total",
        "refund_amount": "Refunded Amount",
        "channel": "Source",
        "coupon_codes": "Discount Code",
        **HELPERS,
    },
    values={"status": FINANCIAL_STATUSES},
    timestamp_format="%Y-%m-%d %H:%M:%S %z",
    derive=derive,
    doc="Shopify orders export: one row per line item, order columns on an order's first row.",
)
