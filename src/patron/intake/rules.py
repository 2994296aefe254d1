"""Rules of intake that need no database (pure): order status moves, pro rata refund amounts,
event keys, and the limits a request must keep within."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from patron.errors import ConflictError
from patron.ingest.model import OrderStatus
from patron.money import ROUNDING

_S = OrderStatus
TRANSITIONS: dict[OrderStatus, tuple[OrderStatus, ...]] = {
    _S.PENDING: (_S.PAID, _S.CANCELLED),
    _S.PAID: (_S.SHIPPED, _S.COMPLETED, _S.CANCELLED, _S.REFUNDED),
    _S.SHIPPED: (_S.COMPLETED, _S.REFUNDED),
    _S.COMPLETED: (_S.REFUNDED,),
    _S.CANCELLED: (),
    _S.REFUNDED: (),
}
"""Where an order may go from each status; cancelled and refunded are final."""

MAX_LINES = 500
MAX_EVENTS = 1000
# Bounds that keep every sum of a request inside a 64-bit column (500 lines × 10^15 < 2^63).
MAX_AMOUNT = 10**15
MAX_QUANTITY = 10**6


def check_transition(current: str, wanted: str) -> bool:
    """Whether moving from ``current`` to ``wanted`` changes anything (the same status is a
    no-op); ConflictError when the move is not allowed."""
    if wanted == current:
        return False
    allowed = TRANSITIONS[OrderStatus(current)]
    if wanted not in allowed:
        moves = ", ".join(allowed) or "none: it is final"
        move: dict[str, Any] = {"from": current, "to": wanted, "allowed": [str(s) for s in allowed]}
        raise ConflictError(
            f"an order cannot move from {current} to {wanted} (from {current}: {moves})",
            field="status",
            **move,
        )
    return True


def pro_rata(line_total: int, units: int, line_quantity: int) -> int:
    """The share of ``line_total`` that ``units`` of ``line_quantity`` units paid, rounded to the
    minor unit by the house rule (patron.money.ROUNDING)."""
    share = Decimal(line_total * units) / Decimal(line_quantity)
    return int(share.quantize(Decimal(1), rounding=ROUNDING))


def event_key(
    event_type: str,
    customer_id: str | None,
    occurred_at: datetime,
    sku: str | None,
    session_id: str | None,
    query: str | None,
) -> str:
    """The key of an event sent without an id: the digest file ingestion gives the same content
    (patron.ingest.transform, where it is inline), so an event sent both ways is stored once.
    ``occurred_at`` is written as Arrow casts a UTC microsecond timestamp to text."""
    when = occurred_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%fZ")
    parts = (event_type, customer_id, when, sku, session_id, query)
    content = "\x1f".join("" if p is None else p for p in parts)
    return "h:" + hashlib.blake2b(content.encode(), digest_size=20).hexdigest()


def join_codes(codes: Sequence[str]) -> str | None:
    """Coupon codes as stored: comma separated, as ingestion stores them (none: null)."""
    return ",".join(codes) or None


def split_codes(stored: str | None) -> list[str]:
    return [c.strip() for c in stored.split(",") if c.strip()] if stored else []
