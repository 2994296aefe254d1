"""Refunds: whole-order refunds (status refunded) and line returns, partial returns and price
adjustments on completed orders. Amounts never exceed what the line cost after its share of the
order discount, so they are also at most ``line_total``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from patron.demo.calendar import DAY, END, Calendar
from patron.demo.catalog import Catalog, sku
from patron.demo.orders import STATUSES, Orders, order_id
from patron.demo.sampling import BoolArray, IntArray, choose
from patron.demo.text import integers, local_time, money, numbered, pick
from patron.demo.vocab import (
    CATEGORY_TREE,
    REFUND_REASON_SIZE,
    REFUND_REASONS_ADJUSTMENT,
    REFUND_REASONS_ORDER,
    REFUND_REASONS_PARTIAL_UNITS,
    REFUND_REASONS_RETURN,
)
from patron.ingest.model import OrderStatus

WHOLE_ORDER = 0.012
"""Share of completed orders refunded in full (twice as many after the big days)."""
SETTLED_DAYS = 12
"""Orders placed this close to the end have not been refunded in full yet."""
KIND_SHARES = (0.65, 0.15, 0.20)
"""Line refunds: full return, some of the units, price adjustment without a return."""
CLOTHING = "服饰"

_REASONS: tuple[str, ...] = (
    *REFUND_REASONS_ORDER,
    *REFUND_REASONS_RETURN,
    REFUND_REASON_SIZE,
    *REFUND_REASONS_PARTIAL_UNITS,
    *REFUND_REASONS_ADJUSTMENT,
)


@dataclass(frozen=True, slots=True)
class RefundRows:
    line: IntArray
    """Index of the refunded order line (one refund row per line)."""
    quantity: IntArray
    """Units returned; 0 for a price adjustment that returns nothing (written empty)."""
    amount: IntArray
    refunded: IntArray
    reason: IntArray
    """Index into the reasons vocabulary."""

    @property
    def size(self) -> int:
        return int(self.line.size)

    def __add__(self, other: RefundRows) -> RefundRows:
        return RefundRows(
            *(np.concatenate([getattr(self, f), getattr(other, f)]) for f in self.__slots__)
        )

    def take(self, index: IntArray) -> RefundRows:
        return RefundRows(*(getattr(self, f)[index] for f in self.__slots__))


@dataclass(frozen=True, slots=True)
class Refunds:
    rows: RefundRows
    """Sorted by refund time."""
    status: IntArray
    """Order statuses with fully refunded orders turned to refunded."""
    returned: BoolArray
    """Per order line: goods went back (unhappy buyers, who review badly)."""


def build_refunds(o: Orders, cat: Catalog, calendar: Calendar, rng: np.random.Generator) -> Refunds:
    completed = o.status == STATUSES.index(OrderStatus.COMPLETED)
    peak = calendar.peak_day[calendar.day_of(o.placed)]
    rate = np.where(peak, 2 * WHOLE_ORDER, WHOLE_ORDER)
    whole = completed & (o.placed < END - SETTLED_DAYS * DAY) & (rng.random(o.size) < rate)
    rows = _whole_orders(o, whole, rng) + _single_lines(o, cat, completed & ~whole, rng)
    # Refunds that would fall after the end of the period have not happened yet.
    keep = np.flatnonzero(rows.refunded < END)
    rows = rows.take(keep[np.lexsort((rows.line[keep], rows.refunded[keep]))])
    returned = np.zeros(o.line_order.size, dtype=np.bool_)
    returned[rows.line[rows.quantity > 0]] = True
    status = np.where(whole, STATUSES.index(OrderStatus.REFUNDED), o.status)
    return Refunds(rows, np.asarray(status, dtype=np.int64), returned)


def _whole_orders(o: Orders, whole: BoolArray, rng: np.random.Generator) -> RefundRows:
    """Every line of a fully refunded order comes back, at one time and for one reason."""
    lines = np.flatnonzero(whole[o.line_order])
    order_time = o.paid + rng.integers(DAY, 8 * DAY, size=o.size)
    order_reason = rng.integers(0, len(REFUND_REASONS_ORDER), size=o.size)
    orders = o.line_order[lines]
    return RefundRows(
        lines, o.quantity[lines], o.line_paid[lines], order_time[orders], order_reason[orders]
    )


def _single_lines(
    o: Orders, cat: Catalog, eligible_order: BoolArray, rng: np.random.Generator
) -> RefundRows:
    """Lines refunded on their own: a return, some of the units, or a price adjustment."""
    base = np.array([t.refund_rate for t in CATEGORY_TREE])[cat.top[o.product]]
    # Poor products come back more often.
    rate = base * np.exp(-0.4 * cat.quality[o.product])
    eligible = eligible_order[o.line_order]
    lines = np.flatnonzero(eligible & (rng.random(eligible.size) < rate))
    n = lines.size
    kind = choose(np.array(KIND_SHARES), n, rng)
    units = o.quantity[lines]
    kind = np.where((kind == 1) & (units < 2), 0, kind)
    paid = o.line_paid[lines]
    part_units = 1 + np.floor(rng.random(n) * np.maximum(units - 1, 1)).astype(np.int64)
    share = rng.uniform(0.05, 0.3, size=n)
    adjustment = np.minimum(np.maximum(np.floor(paid * share).astype(np.int64), 100), paid)
    delay = np.where(
        kind == 2, rng.integers(DAY, 15 * DAY, size=n), rng.integers(3 * DAY, 20 * DAY, size=n)
    )
    return RefundRows(
        line=lines,
        quantity=np.select([kind == 0, kind == 1], [units, part_units], 0),
        amount=np.select([kind == 0, kind == 1], [paid, paid * part_units // units], adjustment),
        refunded=o.paid[o.line_order[lines]] + delay,
        reason=_reasons(kind, cat.top[o.product[lines]], rng),
    )


def _reasons(kind: IntArray, top: IntArray, rng: np.random.Generator) -> IntArray:
    n = kind.size
    clothing = top == [t.name for t in CATEGORY_TREE].index(CLOTHING)
    offset_return = len(REFUND_REASONS_ORDER)
    offset_size = offset_return + len(REFUND_REASONS_RETURN)
    offset_units = offset_size + 1
    offset_adjust = offset_units + len(REFUND_REASONS_PARTIAL_UNITS)
    returned = np.where(
        clothing & (rng.random(n) < 0.6),
        offset_size,
        offset_return + rng.integers(0, len(REFUND_REASONS_RETURN), size=n),
    )
    units = offset_units + rng.integers(0, len(REFUND_REASONS_PARTIAL_UNITS), size=n)
    adjust = offset_adjust + rng.integers(0, len(REFUND_REASONS_ADJUSTMENT), size=n)
    return np.asarray(np.select([kind == 0, kind == 1], [returned, units], adjust), np.int64)


def refunds_table(refunds: Refunds, o: Orders) -> pa.Table:
    r = refunds.rows
    return pa.table(
        {
            "refund_id": numbered("RF", np.arange(r.size, dtype=np.int64) + 1, 8),
            "order_id": order_id(o.line_order[r.line]),
            "line_no": integers(o.line_no[r.line]),
            "sku": sku(o.product[r.line]),
            # A price adjustment returns no goods: its quantity is left empty.
            "quantity": integers(r.quantity, r.quantity == 0),
            "amount": money(r.amount),
            "refunded_at": local_time(r.refunded),
            "reason": pick(_REASONS, r.reason),
        }
    )
