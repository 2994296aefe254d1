"""Orders sent one at a time: upsert (PUT of the whole order), status changes, reads.

An upsert costs a handful of statements whatever the number of lines: the customer and the
products are looked up (and created as stubs) set-wise, the order is inserted with ON CONFLICT
DO NOTHING, and its lines in one multi-row INSERT; only an order that already exists is read
back (locked) and compared, and only what changed is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert

from patron.db import tables as t
from patron.db.shops import Shop
from patron.errors import ConflictError, InputError
from patron.ingest.model import OrderStatus
from patron.intake import checks, new_order, stubs
from patron.intake.model import OrderInput, OrderLineInput, Outcome, StatusChange
from patron.intake.order_state import (
    HEADER,
    Line,
    StoredOrder,
    headers,
    load,
    locked,
    set_header,
)
from patron.intake.rules import MAX_LINES, check_transition, join_codes
from patron.intake.sql import insert_for, insert_new, not_found, page
from patron.pagination import Page

o, ln = t.orders.c, t.order_lines.c
STATUSES = tuple(s.value for s in OrderStatus)


def create(
    connection: Connection,
    shop: Shop,
    external_id: str,
    data: OrderInput,
    now: datetime,
    audit: dict[str, Any],
) -> Outcome | None:
    """On PostgreSQL, create a new order of a stored customer for stored products, and its
    audit entry (``audit``: :func:`patron.access.guard.audit_params`), in one statement that
    needs no transaction around it. None when it wrote nothing: the order exists, refers to
    what is not stored yet, or is valid only as a change (then see :func:`upsert`). Bad input
    is refused as :func:`upsert` refuses it."""
    checked = _check(shop, external_id, data)
    return _insert_new(connection, shop, external_id, data, checked, now, audit)


def upsert(
    connection: Connection,
    shop: Shop,
    external_id: str,
    data: OrderInput,
    now: datetime,
    *,
    new_first: bool = True,
) -> Outcome:
    """Create the order, or bring the stored one to what the input says.

    Header fields left out (None) keep what is stored (a new order: status pending, the shop's
    currency, no discount or shipping); the total, when left out, is lines − discount +
    shipping. Lines are numbered by their position (1-based) and replace the stored ones; a
    line that carries refunds cannot be removed, given another product, or cut below what was
    refunded, nor can the total (ConflictError). A status change follows the allowed moves
    (:data:`patron.intake.rules.TRANSITIONS`). The same order again changes nothing, not even
    ``updated_at``. ``new_first=False`` skips the one-statement insert of a new order on
    PostgreSQL (:func:`create` found nothing to insert).
    """
    checked = _check(shop, external_id, data)
    if new_first:
        made = _insert_new(connection, shop, external_id, data, checked, now)
        if made is not None:
            return made
    totals, fresh = checked.totals, checked.fresh
    titles: dict[str, str | None] = {}
    for item in data.lines:
        titles.setdefault(item.sku, item.title)
    ids = stubs.resolve(connection, shop.id, [data.customer_id], titles, now)
    customer = ids.customers[data.customer_id]
    lines = _lines(data, [ids.products[x.sku] for x in data.lines], totals)
    if fresh is not None:
        row = {
            **fresh,
            "customer_id": customer,
            "shop_id": shop.id,
            "external_id": external_id,
            "updated_at": now,
        }
        inserted = insert_new(connection, t.orders, ["shop_id", "external_id"], [row], [o.id])
        if inserted:
            order_id = inserted[0][0]
            connection.execute(insert(t.order_lines), _line_rows(shop.id, order_id, lines))
            return _created(order_id, external_id, data, fresh, customer, lines, now)
    stored = locked(connection, shop.id, external_id)
    if stored is None:
        assert checked.refused is not None, "ON CONFLICT found an order that is not there"
        raise checked.refused
    base = {k: stored.header[k] for k in HEADER}
    header = _effective({**base, **checked.given, "customer_id": customer}, data, totals)
    order = _update(connection, shop.id, stored, header, lines, now)
    return Outcome(False, replace(order, customer=data.customer_id).to_json())


@dataclass(frozen=True, slots=True)
class _Checked:
    given: dict[str, Any]  # the header values the input provides (see _given)
    totals: list[int]  # each line's total
    fresh: dict[str, Any] | None  # the header of a new order; None when not valid as one
    refused: InputError | None  # why not


def _check(shop: Shop, external_id: str, data: OrderInput) -> _Checked:
    """The input checked: InputError for what no stored order makes valid; ``refused`` for
    what is not valid as a new order but may be as a change."""
    checks.key(external_id, o.external_id, "id")
    given = _given(data)
    totals = [_line_total(x) for x in data.lines]
    try:
        fresh = _effective({**_defaults(shop), **given}, data, totals)
    except InputError as error:
        # Not valid as a new order (its defaults), but it may be as a change of a stored one.
        return _Checked(given, totals, None, error)
    return _Checked(given, totals, fresh, None)


def _insert_new(
    connection: Connection,
    shop: Shop,
    external_id: str,
    data: OrderInput,
    checked: _Checked,
    now: datetime,
    audit: dict[str, Any] | None = None,
) -> Outcome | None:
    """The order created by :mod:`patron.intake.new_order` (PostgreSQL); None when it inserted
    nothing or could not be used."""
    fresh = checked.fresh
    if fresh is None or connection.dialect.name != "postgresql":
        return None
    made = new_order.insert(
        connection,
        shop.id,
        external_id,
        data.customer_id,
        fresh,
        data.lines,
        checked.totals,
        now,
        audit,
    )
    if made is None:
        return None
    order_id, customer, products = made
    lines = _lines(data, products, checked.totals)
    return _created(order_id, external_id, data, fresh, customer, lines, now)


def change_status(
    connection: Connection, shop: Shop, external_id: str, change: StatusChange, now: datetime
) -> Outcome:
    """Move the order to another status (the same status changes nothing). Moving to paid
    records ``at`` (default now) as paid_at unless one is stored."""
    checks.choice(change.status, STATUSES, "status")
    checks.aware(change.at, "at")
    stored = locked(connection, shop.id, external_id)
    if stored is None:
        raise not_found("order", external_id)
    if not check_transition(stored.header["status"], change.status):
        return Outcome(False, stored.to_json())
    values: dict[str, Any] = {"status": change.status, "updated_at": now}
    if change.status == OrderStatus.PAID and stored.header["paid_at"] is None:
        values["paid_at"] = change.at or now
        _paid_after_placed(stored.header["placed_at"], values["paid_at"], "at")
    set_header(connection, shop.id, stored.id, values)
    return Outcome(False, replace(stored, header={**stored.header, **values}).to_json())


def get(connection: Connection, shop_id: int, external_id: str) -> dict[str, Any]:
    checks.text(external_id, o.external_id, "id")
    row = connection.execute(headers(shop_id).where(o.external_id == external_id)).first()
    if row is None:
        raise not_found("order", external_id)
    return load(connection, shop_id, [row._mapping])[0].to_json()


def list_page(
    connection: Connection,
    shop_id: int,
    *,
    customer_id: str | None,
    status: str | None,
    updated_since: datetime | None,
    cursor: str | None,
    limit: int,
) -> Page[dict[str, Any]]:
    """A page of the shop's orders in id order, of one customer (external id) and in one status
    when asked; lines and refunds are loaded for the whole page at once."""
    query = headers(shop_id)
    if checks.text(customer_id, t.customers.c.external_id, "customer_id") is not None:
        query = query.where(t.customers.c.external_id == customer_id)
    if checks.choice(status, STATUSES, "status") is not None:
        query = query.where(o.status == status)
    rows = page(
        connection,
        query,
        o.id,
        updated_at=o.updated_at,
        updated_since=updated_since,
        cursor=cursor,
        limit=limit,
    )
    orders = load(connection, shop_id, [row._mapping for row in rows.items])
    return Page([order.to_json() for order in orders], rows.next_cursor)


def _update(
    connection: Connection,
    shop_id: int,
    stored: StoredOrder,
    header: dict[str, Any],
    lines: tuple[Line, ...],
    now: datetime,
) -> StoredOrder:
    check_transition(stored.header["status"], header["status"])
    _keep_refunded(stored, lines, header["total_minor"])
    changes = {k: v for k, v in header.items() if stored.header[k] != v}
    before = {x.line_no: _content(x) for x in stored.lines}
    changed = [x for x in lines if before.get(x.line_no) != _content(x)]
    removed = max(before, default=0) > len(lines)
    if not (changes or changed or removed):
        return stored
    set_header(connection, shop_id, stored.id, {**changes, "updated_at": now})
    if removed:
        connection.execute(
            delete(t.order_lines).where(
                ln.shop_id == shop_id, ln.order_id == stored.id, ln.line_no > len(lines)
            )
        )
    if changed:
        upsert_lines = insert_for(connection, t.order_lines)
        content = ("product_id", "quantity", "unit_price_minor", "line_total_minor")
        connection.execute(
            upsert_lines.on_conflict_do_update(
                index_elements=["order_id", "line_no"],
                set_={k: upsert_lines.excluded[k] for k in content},
            ),
            _line_rows(shop_id, stored.id, changed),
        )
    return replace(stored, header={**stored.header, **changes, "updated_at": now}, lines=lines)


def _keep_refunded(stored: StoredOrder, lines: Sequence[Line], total: int) -> None:
    """Refuse a change that would leave refunds without the line or amount they refunded."""
    new = {x.line_no: x for x in lines}
    for old in stored.lines:
        if not any(x.line_no == old.line_no for x in stored.refunds):
            continue
        units, amount = stored.refunded(old.line_no)
        line = new.get(old.line_no)
        field = f"lines[{old.line_no - 1}]"
        details: dict[str, Any] = {
            "line_no": old.line_no,
            "refunded_quantity": units,
            "refunded_minor": amount,
        }
        if line is None:
            raise ConflictError(
                f"line {old.line_no} carries refunds: it cannot be removed",
                field="lines",
                **details,
            )
        if line.product_id != old.product_id:
            raise ConflictError(
                f"line {old.line_no} carries refunds of {old.sku!r}: its SKU cannot change",
                field=f"{field}.sku",
                **details,
            )
        if line.quantity < units:
            raise ConflictError(
                f"line {old.line_no} had {units} units refunded: its quantity cannot be"
                f" {line.quantity}",
                field=f"{field}.quantity",
                **details,
            )
        if line.line_total_minor < amount:
            raise ConflictError(
                f"line {old.line_no} had {amount} refunded: its total cannot be"
                f" {line.line_total_minor}",
                field=f"{field}.line_total_minor",
                **details,
            )
    if total < stored.refunded_total:
        raise ConflictError(
            f"the order had {stored.refunded_total} refunded: its total cannot be {total}",
            field="total_minor",
            refunded_minor=stored.refunded_total,
        )


def _given(data: OrderInput) -> dict[str, Any]:
    """The checked header values the input provides."""
    checks.key(data.customer_id, t.customers.c.external_id, "customer_id")
    checks.aware(data.placed_at, "placed_at")
    checks.aware(data.paid_at, "paid_at")
    checks.choice(data.status, STATUSES, "status")
    checks.currency(data.currency, "currency")
    checks.amount(data.discount_minor, "discount_minor")
    checks.amount(data.shipping_minor, "shipping_minor")
    checks.amount(data.total_minor, "total_minor")
    checks.text(data.channel, o.channel, "channel")
    if not 1 <= len(data.lines) <= MAX_LINES:
        raise InputError(
            f"an order has 1 to {MAX_LINES} lines, not {len(data.lines)}",
            field="lines",
            count=len(data.lines),
        )
    for n, item in enumerate(data.lines):
        checks.key(item.sku, t.products.c.sku, f"lines[{n}].sku")
        checks.text(item.title, t.products.c.title, f"lines[{n}].title")
        checks.quantity(item.quantity, f"lines[{n}].quantity")
        checks.amount(item.unit_price_minor, f"lines[{n}].unit_price_minor")
        checks.amount(_line_total(item), f"lines[{n}].line_total_minor")
    given: dict[str, Any] = {"placed_at": data.placed_at}
    optional = {
        "paid_at": data.paid_at,
        "status": data.status,
        "currency": data.currency,
        "discount_minor": data.discount_minor,
        "shipping_minor": data.shipping_minor,
        "channel": data.channel,
    }
    given.update({k: v for k, v in optional.items() if v is not None})
    if data.coupon_codes is not None:
        given["coupon_codes"] = _coupon_codes(data.coupon_codes)
    return given


def _coupon_codes(codes: Sequence[str]) -> str | None:
    for n, code in enumerate(codes):
        if "," in code:
            raise InputError(
                "a coupon code cannot contain a comma", field=f"coupon_codes[{n}]", value=code
            )
        checks.key(code, o.coupon_codes, f"coupon_codes[{n}]")
    return checks.text(join_codes(codes), o.coupon_codes, "coupon_codes")


def _defaults(shop: Shop) -> dict[str, Any]:
    return {
        "paid_at": None,
        "status": OrderStatus.PENDING.value,
        "currency": shop.currency,
        "discount_minor": 0,
        "shipping_minor": 0,
        "channel": None,
        "coupon_codes": None,
    }


def _effective(header: dict[str, Any], data: OrderInput, totals: Sequence[int]) -> dict[str, Any]:
    """The header with its amounts derived from the lines (``totals``: each line's total),
    checked as a whole."""
    subtotal = sum(totals)
    total = data.total_minor
    if total is None:
        total = subtotal - header["discount_minor"] + header["shipping_minor"]
        if total < 0:
            raise InputError(
                f"the discount ({header['discount_minor']}) exceeds the lines and shipping"
                f" ({subtotal + header['shipping_minor']})",
                field="discount_minor",
                value=header["discount_minor"],
            )
    _paid_after_placed(
        header["placed_at"], header["paid_at"], "paid_at" if data.paid_at else "placed_at"
    )
    return {
        **header,
        "subtotal_minor": subtotal,
        "total_minor": total,
        "item_count": sum(x.quantity for x in data.lines),
    }


def _paid_after_placed(placed_at: datetime, paid_at: datetime | None, field: str) -> None:
    if paid_at is not None and paid_at < placed_at:
        raise InputError(
            f"an order cannot be paid ({paid_at.isoformat()}) before it is placed"
            f" ({placed_at.isoformat()})",
            field=field,
        )


def _line_total(item: OrderLineInput) -> int:
    if item.line_total_minor is not None:
        return item.line_total_minor
    return item.quantity * item.unit_price_minor


def _created(
    order_id: int,
    external_id: str,
    data: OrderInput,
    fresh: dict[str, Any],
    customer: int,
    lines: tuple[Line, ...],
    now: datetime,
) -> Outcome:
    header = {**fresh, "customer_id": customer, "updated_at": now}
    order = StoredOrder(order_id, external_id, data.customer_id, header, lines, ())
    return Outcome(True, order.to_json())


def _lines(data: OrderInput, products: Sequence[int], totals: Sequence[int]) -> tuple[Line, ...]:
    """The input's lines, numbered from 1, with the row ids of their products."""
    return tuple(
        Line(n, x.sku, product, x.quantity, x.unit_price_minor, total)
        for n, (x, product, total) in enumerate(zip(data.lines, products, totals, strict=True), 1)
    )


def _content(line: Line) -> tuple[int, int, int, int]:
    return line.product_id, line.quantity, line.unit_price_minor, line.line_total_minor


def _line_rows(shop_id: int, order_id: int, lines: Sequence[Line]) -> list[dict[str, Any]]:
    return [
        {
            "shop_id": shop_id,
            "order_id": order_id,
            "line_no": x.line_no,
            "product_id": x.product_id,
            "quantity": x.quantity,
            "unit_price_minor": x.unit_price_minor,
            "line_total_minor": x.line_total_minor,
        }
        for x in lines
    ]
