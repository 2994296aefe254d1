"""Refunds of an order, sent one at a time.

A refund names lines (each its units and/or amount) or, without lines, an amount of the whole
order. It is stored as one refunds row per line, ``<refund_id>#<n>`` for its n-th line (as
ingestion names the lines of a return), or one row ``<refund_id>`` for the whole order. The
order's row is locked first, so that racing refunds are checked one after the other and can
never refund more than was paid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from patron.db import tables as t
from patron.db.shops import Shop
from patron.errors import ConflictError, InputError
from patron.ingest.model import OrderStatus
from patron.intake import checks
from patron.intake.model import Outcome, RefundInput, RefundLineInput
from patron.intake.order_state import Line, Refund, StoredOrder, locked, set_header
from patron.intake.rules import MAX_LINES, pro_rata
from patron.intake.sql import insert_new, not_found

r = t.refunds.c
# The refund id leaves room in the column for the "#<n>" of its lines.
_ID_LENGTH = 128
_REFUNDABLE = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.COMPLETED, OrderStatus.REFUNDED)


def refund(
    connection: Connection, shop: Shop, external_id: str, data: RefundInput, now: datetime
) -> Outcome:
    """Record a refund of the order; the answer is the order with its refunds.

    A line's refund defaults to every unit not refunded yet; its amount, when not given, is the
    pro rata share of the line total for its units (the units that complete the line take what
    is left of its total, so that refunding every unit refunds exactly the line total). A
    computed amount never exceeds what is left to refund of the line or of the order (a
    discounted order paid less than its lines); a given one that would is refused, as are
    units beyond the line's quantity (ConflictError). Pending and cancelled orders were not paid
    and cannot be refunded. When every unit or the whole total is refunded, the order becomes
    ``refunded``. The same refund again (every field it gives matches) answers the order
    unchanged; the same refund id with other content is a ConflictError.
    """
    _check(data)
    order = locked(connection, shop.id, external_id)
    if order is None:
        raise not_found("order", external_id)
    mine = [x for x in order.refunds if _named(x.external_id, data.refund_id)]
    if mine:
        if not _same(mine, data):
            raise ConflictError(
                f"refund {data.refund_id!r} is already stored with other content",
                field="refund_id",
                refund_id=data.refund_id,
            )
        return Outcome(False, order.to_json())
    _unused_elsewhere(connection, shop.id, order.id, data.refund_id)
    status = order.header["status"]
    if status not in _REFUNDABLE:
        raise ConflictError(
            f"order {external_id!r} is {status}: only a paid order can be refunded",
            status=status,
            order_id=external_id,
        )
    refunded_at = data.refunded_at or now
    if refunded_at < order.header["placed_at"]:
        raise InputError("a refund cannot precede the order's placement", field="refunded_at")
    new = _plan(order, data, refunded_at)
    _insert(connection, shop.id, order.id, new, data.refund_id)
    refunds = (*order.refunds, *new)
    header: dict[str, Any] = {"updated_at": now}
    if status != OrderStatus.REFUNDED and _everything_refunded(order, refunds):
        header["status"] = OrderStatus.REFUNDED.value
    set_header(connection, shop.id, order.id, header)
    order = replace(order, header={**order.header, **header}, refunds=refunds)
    return Outcome(True, order.to_json())


def _named(external_id: str, refund_id: str) -> bool:
    """Whether a stored row is (a line of) the refund ``refund_id``."""
    number = external_id.removeprefix(refund_id + "#")
    return external_id == refund_id or (number != external_id and number.isdigit())


def _unused_elsewhere(connection: Connection, shop_id: int, order_id: int, refund_id: str) -> None:
    """Refuse a refund id another order's refund has: the whole-order row is ``refund_id`` and
    a refund of lines always has ``refund_id#1``. (A refund stored concurrently on another
    order is caught by the unique key when inserting.)"""
    used = connection.execute(
        select(r.id)
        .where(r.shop_id == shop_id, r.external_id.in_([refund_id, f"{refund_id}#1"]))
        .where(r.order_id != order_id)
        .limit(1)
    ).first()
    if used is not None:
        raise _used_elsewhere(refund_id)


def _used_elsewhere(refund_id: str) -> ConflictError:
    return ConflictError(
        f"refund {refund_id!r} is already used for another order",
        field="refund_id",
        refund_id=refund_id,
    )


def _check(data: RefundInput) -> None:
    checks.key(data.refund_id, r.external_id, "refund_id")
    if "#" in data.refund_id or len(data.refund_id) > _ID_LENGTH:
        raise InputError(
            f"a refund id has at most {_ID_LENGTH} characters and no '#'",
            field="refund_id",
            value=data.refund_id,
        )
    checks.aware(data.refunded_at, "refunded_at")
    checks.text(data.reason, r.reason, "reason")
    if data.lines and data.amount_minor is not None:
        raise InputError(
            "give lines, or an amount_minor for the whole order, not both", field="amount_minor"
        )
    if not data.lines and data.amount_minor is None:
        raise InputError(
            "give the lines refunded, or an amount_minor for the whole order", field="lines"
        )
    checks.amount(data.amount_minor, "amount_minor", minimum=1)
    if len(data.lines) > MAX_LINES:
        raise InputError(f"a refund has at most {MAX_LINES} lines", field="lines")
    seen: set[int] = set()
    for n, item in enumerate(data.lines):
        if item.line_no < 1 or item.line_no in seen:
            raise InputError(
                f"line_no {item.line_no} is not a line number or is given twice",
                field=f"lines[{n}].line_no",
                value=item.line_no,
            )
        seen.add(item.line_no)
        checks.quantity(item.quantity, f"lines[{n}].quantity")
        checks.amount(item.amount_minor, f"lines[{n}].amount_minor")


def _plan(order: StoredOrder, data: RefundInput, refunded_at: datetime) -> list[Refund]:
    """The refunds rows of the request, with their amounts; refuses over-refunds."""
    left = order.header["total_minor"] - order.refunded_total
    if not data.lines:
        assert data.amount_minor is not None
        if data.amount_minor > left:
            raise ConflictError(
                f"refunding {data.amount_minor} would refund more than the {left} left of the"
                f" order's total",
                field="amount_minor",
                refundable_minor=left,
            )
        return [Refund(data.refund_id, None, None, data.amount_minor, refunded_at, data.reason)]
    lines = {x.line_no: x for x in order.lines}
    planned: list[Refund] = []
    for n, item in enumerate(data.lines):
        line = lines.get(item.line_no)
        if line is None:
            raise InputError(
                f"the order has no line {item.line_no} (lines: {', '.join(map(str, lines))})",
                field=f"lines[{n}].line_no",
                value=item.line_no,
            )
        units, amount = _line_refund(order, line, item, left, f"lines[{n}]")
        left -= amount
        planned.append(
            Refund(
                f"{data.refund_id}#{n + 1}",
                line.line_no,
                units,
                amount,
                refunded_at,
                data.reason,
                line.id,
            )
        )
    return planned


def _line_refund(
    order: StoredOrder, line: Line, item: RefundLineInput, order_left: int, field: str
) -> tuple[int | None, int]:
    """(units, amount) of one line's refund, checked against what is left to refund."""
    units_done, amount_done = order.refunded(line.line_no)
    units_left = line.quantity - units_done
    amount_left = line.line_total_minor - amount_done
    details: dict[str, Any] = {"line_no": line.line_no, "refundable_quantity": units_left}
    units = item.quantity
    if units is None and item.amount_minor is None:
        units = units_left
        if units == 0:
            raise ConflictError(
                f"every unit of line {line.line_no} is refunded already", field=field, **details
            )
    if units is not None and units > units_left:
        raise ConflictError(
            f"line {line.line_no} has {units_left} units left to refund, not {units}",
            field=f"{field}.quantity",
            **details,
        )
    if item.amount_minor is None:
        assert units is not None
        completes = units == units_left
        share = amount_left if completes else pro_rata(line.line_total_minor, units, line.quantity)
        return units, max(0, min(share, amount_left, order_left))
    refundable = min(amount_left, order_left)
    if item.amount_minor > refundable:
        raise ConflictError(
            f"refunding {item.amount_minor} on line {line.line_no} would refund more than the"
            f" {refundable} left of its total (or of the order's)",
            field=f"{field}.amount_minor",
            refundable_minor=refundable,
            **details,
        )
    return units, item.amount_minor


def _same(stored: Sequence[Refund], data: RefundInput) -> bool:
    """Whether the stored rows of a refund id are what the request asks for (fields the request
    leaves out match anything: they were computed when it was first made)."""

    def agrees(x: Refund, line_no: int | None, units: int | None, amount: int | None) -> bool:
        return (
            x.line_no == line_no
            and units in (None, x.quantity)
            and amount in (None, x.amount_minor)
            and data.refunded_at in (None, x.refunded_at)
            and data.reason in (None, x.reason)
        )

    if not data.lines:
        return len(stored) == 1 and agrees(stored[0], None, None, data.amount_minor)
    by_id = {x.external_id: x for x in stored}
    wanted = {f"{data.refund_id}#{n}": item for n, item in enumerate(data.lines, 1)}
    return by_id.keys() == wanted.keys() and all(
        agrees(by_id[k], i.line_no, i.quantity, i.amount_minor) for k, i in wanted.items()
    )


def _everything_refunded(order: StoredOrder, refunds: Sequence[Refund]) -> bool:
    """Every unit of every line returned, or the whole total paid back."""
    done = replace(order, refunds=tuple(refunds))
    units = all(done.refunded(x.line_no)[0] >= x.quantity for x in order.lines)
    total = order.header["total_minor"]
    return (bool(order.lines) and units) or (total > 0 and done.refunded_total >= total)


def _insert(
    connection: Connection, shop_id: int, order_id: int, new: Sequence[Refund], refund_id: str
) -> None:
    rows = [
        {
            "shop_id": shop_id,
            "external_id": x.external_id,
            "order_id": order_id,
            "order_line_id": x.order_line_id,
            "quantity": x.quantity,
            "amount_minor": x.amount_minor,
            "refunded_at": x.refunded_at,
            "reason": x.reason,
        }
        for x in new
    ]
    stored = insert_new(connection, t.refunds, ["shop_id", "external_id"], rows, [r.id])
    if len(stored) < len(rows):
        raise _used_elsewhere(refund_id)
