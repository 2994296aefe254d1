"""The Taobao / Tmall seller order report (订单报表): one row per order, Chinese headers,
usually GB18030, long numbers written as ``="…"`` so that Excel keeps them as text."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from patron.ingest import parse
from patron.ingest.model import Entity
from patron.ingest.profiles.base import Columns, Profile

STATUSES = {
    "等待买家付款": "pending",
    "买家已付款，等待卖家发货": "paid",
    "等待卖家发货": "paid",
    "卖家部分发货": "shipped",
    "卖家已发货，等待买家确认": "shipped",
    "等待买家确认收货": "shipped",
    "买家已签收": "completed",  # cash on delivery: received
    "交易成功": "completed",
    "交易关闭": "cancelled",  # with money refunded: refunded
    "付款以前，卖家或买家主动关闭交易": "cancelled",
    "付款以后用户退款成功，交易自动关闭": "refunded",
}
"""订单状态 → status (an ASCII comma in place of the full-width ，is accepted too)."""

_EXCEL_TEXT = r'^="(.*)"$'


def _map(values: pa.Array, mapping: dict[str, str]) -> pa.Array:
    index = pc.index_in(values, value_set=pa.array(list(mapping), pa.string()))
    mapped = pc.take(pa.array(list(mapping.values()), pa.string()), index)
    return pc.if_else(pc.is_valid(index), mapped, values)


def derive(columns: Columns, state: dict[str, object]) -> Columns:
    """Unwrap ``="…"`` values; map the statuses the value map could not (wrapped, or written
    with an ASCII comma); a closed order with money refunded was refunded, not cancelled."""
    unwrapped = {
        name: parse.clean_text(pc.replace_substring_regex(values, _EXCEL_TEXT, r"\1"))
        for name, values in columns.items()
    }
    status = _map(pc.replace_substring(unwrapped["status"], ",", "，"), STATUSES)
    refunded = pc.match_substring_regex(unwrapped["refund_amount"], r"[1-9]")  # more than 0
    closed_refunded = pc.fill_null(pc.and_(pc.equal(status, "cancelled"), refunded), False)
    return {**unwrapped, "status": pc.if_else(closed_refunded, "refunded", status)}


TAOBAO = Profile(
    name="taobao",
    entities=(Entity.ORDERS,),
    columns={
        "order_id": "订单编号",
        "customer_id": "买家会员名",
        "placed_at": "订单创建时间",
        "paid_at": "订单付款时间",
        "status": "订单状态",
        "total": "买家实际支付金额",
        "shipping": "买家应付邮费",
        "item_count": "宝贝总数量",
        "refund_amount": "退款金额",
    },
    constants={"currency": "CNY"},
    values={"status": STATUSES},
    timestamp_format="%Y-%m-%d %H:%M:%S",
    timezone="Asia/Shanghai",
    derive=derive,
    doc="Taobao / Tmall seller order report (订单报表): one row per order, no line items.",
)
