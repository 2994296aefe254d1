"""Merging staged rows into the operational tables, idempotently.

Each natural key is matched against what is stored: a new key is inserted, a key whose values
differ is updated, an identical one is counted unchanged. Everything runs inside the run's
transaction, so a rejected or killed run changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Index,
    MetaData,
    Select,
    String,
    Table,
    and_,
    case,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
    update,
)

from patron.db import tables as t
from patron.ingest.model import OrderStatus, RowError, TableCounts
from patron.ingest.schema import RETURN_FLAG
from patron.ingest.staging import ACTION, ROW, TARGET_ID, analyze, create, temp_table


@dataclass(slots=True)
class MergeResult:
    tables: dict[str, TableCounts] = field(default_factory=dict)
    stubs: dict[str, int] = field(default_factory=dict)


Show = Callable[[str, Mapping[str, Any]], str]
"""How an error shows the value of a column of a staged row (amounts in major units, times in
the shop's time zone), so that it reads as the file wrote it."""


def show_stored(column: str, row: Mapping[str, Any]) -> str:
    return str(row[column])


def find_conflicts(
    connection: Connection,
    stage: Table,
    key: str,
    columns: Sequence[str],
    where: ColumnElement[bool] | None = None,
    show: Show = show_stored,
) -> list[RowError]:
    """Rows that give one natural key different values: every row of such a key is an error.
    A missing value agrees with any other (exports often fill order fields on one row only)."""
    columns = [c for c in columns if c != key]
    if not columns:
        return []
    counts = [func.count(stage.c[c].distinct()).label(c) for c in columns]
    query = (
        select(stage.c[key], *counts)
        .group_by(stage.c[key])
        .having(or_(*(func.count(stage.c[c].distinct()) > 1 for c in columns)))
    )
    if where is not None:
        query = query.where(where)
    query = query.order_by(func.min(stage.c[ROW]))
    errors: list[RowError] = []
    for row in connection.execute(query):
        clashing = [c for c in columns if row._mapping[c] > 1]
        detail = select(stage).where(stage.c[key] == row[0])
        if where is not None:
            detail = detail.where(where)
        found = [dict(r._mapping) for r in connection.execute(detail.order_by(stage.c[ROW]))]
        for c in clashing:
            shown = [show(c, r) if r[c] is not None else None for r in found]
            values = [v for v in dict.fromkeys(shown) if v is not None]
            reason = f"{key} {row[0]!r} appears with conflicting {c}: {' vs '.join(values)}"
            errors.extend(RowError(r[ROW], c, v, reason) for r, v in zip(found, shown, strict=True))
    return errors


def rows_of_refused(
    connection: Connection, stage: Table, key: str, refused: set[str]
) -> list[RowError]:
    """Staged rows of records another row of which was refused: storing them would store a
    partial order, with a wrong total."""
    errors: list[RowError] = []
    for chunk in _chunks(refused):
        found = connection.execute(
            select(stage.c[ROW], stage.c[key]).where(stage.c[key].in_(chunk))
        ).all()
        errors += [
            RowError(
                r[0],
                key,
                r[1],
                f"another row of {key} {r[1]!r} was refused: it is stored whole or not at all",
            )
            for r in found
        ]
    return sorted(errors, key=lambda e: e.row)


def drop_rows(connection: Connection, stage: Table, rows: set[int]) -> None:
    for chunk in _chunks(rows):
        connection.execute(delete(stage).where(stage.c[ROW].in_(chunk)))


_T = TypeVar("_T", int, str)


def _chunks(values: Iterable[_T]) -> Iterator[list[_T]]:
    """Distinct values, sorted, in lists short enough for one IN (…) each."""
    ordered = sorted(set(values))
    for i in range(0, len(ordered), 10_000):
        yield ordered[i : i + 10_000]


# An INSERT … SELECT's row count is lost when the cursor closes (psycopg reports -1) unless kept.
_ROWCOUNT = {"preserve_rowcount": True}


def _has_rows(connection: Connection, table: Table, shop_id: int) -> bool:
    """Whether the shop has any row in ``table`` (every business table is indexed by shop
    first, so this is one index probe)."""
    return bool(connection.execute(select(exists().where(table.c.shop_id == shop_id))).scalar())


def upsert(
    connection: Connection,
    target: Table,
    source: Table,
    keys: Sequence[str],
    values: Sequence[str],
    shop_id: int,
    fixed: dict[str, object] | None = None,
    *,
    keys_per_shop: bool = True,
) -> TableCounts:
    """Insert new keys, update changed ones. ``source`` is a work table: the target's key and
    value columns plus ``target_id`` and ``action`` (``insert`` until matched); ``fixed`` values
    are set on every row written. Keys are unique within the shop unless ``keys_per_shop`` is
    false (a line's order and number): such keys are matched without the shop, which would
    only make PostgreSQL add the shop's whole index to each lookup."""
    fixed = dict(fixed or {})
    # Into a shop's empty table (its first load) every row is new: no matching, no updates.
    matching = _has_rows(connection, target, shop_id)
    if matching:
        # Index lookups (correlated subqueries) rather than a join: PostgreSQL may estimate a
        # table just written, or a shop missing from its statistics, at one row and then plan a
        # join that scans the work table once per stored row.
        scope = [target.c.shop_id == shop_id] if keys_per_shop else []
        found = [*scope, *(target.c[k] == source.c[k] for k in keys)]
        differs = or_(
            false(),
            *(target.c[v].is_distinct_from(source.c[v]) for v in values),
            *(target.c[k].is_distinct_from(literal(val)) for k, val in fixed.items()),
        )
        state = select(case((differs, "update"), else_="same")).where(*found)
        connection.execute(
            update(source).values(
                {
                    TARGET_ID: select(target.c.id).where(*found).scalar_subquery(),
                    ACTION: func.coalesce(state.scalar_subquery(), "insert"),
                }
            )
        )
        analyze(connection, source)
    names = [*keys, *values]
    rows = select(
        *(source.c[n] for n in names), *(literal(v) for v in fixed.values()), literal(shop_id)
    ).where(source.c[ACTION] == "insert")
    inserted = connection.execute(
        insert(target).from_select([*names, *fixed, "shop_id"], rows), execution_options=_ROWCOUNT
    ).rowcount
    if not matching:
        return TableCounts(inserted=inserted)
    counts = _action_counts(connection, source)
    if counts.updated:
        connection.execute(
            update(target)
            .where(target.c.id == source.c[TARGET_ID], source.c[ACTION] == "update")
            .values({**{v: source.c[v] for v in values}, **fixed})
        )
    return counts


def _action_counts(connection: Connection, source: Table) -> TableCounts:
    grouped = select(source.c[ACTION], func.count()).group_by(source.c[ACTION])
    counts: dict[str, int] = {row[0]: row[1] for row in connection.execute(grouped)}
    return TableCounts(counts.get("insert", 0), counts.get("update", 0), counts.get("same", 0))


def _work_table(connection: Connection, name: str, columns: list[Column[object]]) -> Table:
    """A temporary table of rows to upsert: every row is to be inserted until `upsert` matches
    it with a stored one."""
    table = temp_table(
        MetaData(),
        name,
        [
            *columns,
            Column(TARGET_ID, BigInteger),
            Column(ACTION, String(6), nullable=False, server_default="insert"),
        ],
    )
    create(connection, table)
    return table


def _copy_columns(stage: Table, names: Sequence[str]) -> list[Column[object]]:
    return [Column(n, stage.c[n].type) for n in names]


def create_stubs(
    connection: Connection,
    shop_id: int,
    customers: ColumnElement[str] | None,
    products: ColumnElement[str] | None,
    titles: ColumnElement[str] | None = None,
    where: ColumnElement[bool] | None = None,
) -> dict[str, int]:
    """Customers and products referred to but not known yet become stubs; returns how many."""
    created: dict[str, int] = {}
    cond = where if where is not None else true()
    # Each distinct key is looked up once, by index (files repeat a customer on many rows).
    if customers is not None:
        found = (
            select(customers.label("key")).where(cond, customers.is_not(None)).distinct().subquery()
        )
        result = connection.execute(
            insert(t.customers).from_select(
                ["external_id", "shop_id", "is_stub"],
                select(found.c.key, literal(shop_id), literal(True)).where(
                    _customer_pk(shop_id, found.c.key).is_(None)
                ),
            ),
            execution_options=_ROWCOUNT,
        )
        created["customers"] = result.rowcount
    if products is not None:
        title = func.max(titles) if titles is not None else null()
        found = (
            select(products.label("key"), title.label("title"))
            .where(cond, products.is_not(None))
            .group_by(products)
            .subquery()
        )
        result = connection.execute(
            insert(t.products).from_select(
                ["sku", "title", "shop_id", "is_stub"],
                select(found.c.key, found.c.title, literal(shop_id), literal(True)).where(
                    _product_pk(shop_id, found.c.key).is_(None)
                ),
            ),
            execution_options=_ROWCOUNT,
        )
        created["products"] = result.rowcount
    return created


# The id of a stored row by its natural key, for a key column of an enclosing query. The lookup
# correlates every other table explicitly: nested inside another subquery, automatic correlation
# would add the staging table to the lookup's own FROM and match some other row's key.
def _customer_pk(shop_id: int, external: ColumnElement[str]) -> ColumnElement[int]:
    return (
        select(t.customers.c.id)
        .where(t.customers.c.shop_id == shop_id, t.customers.c.external_id == external)
        .correlate_except(t.customers)
        .scalar_subquery()
    )


def _product_pk(shop_id: int, sku: ColumnElement[str]) -> ColumnElement[int]:
    return (
        select(t.products.c.id)
        .where(t.products.c.shop_id == shop_id, t.products.c.sku == sku)
        .correlate_except(t.products)
        .scalar_subquery()
    )


def _order_pk(shop_id: int, external: ColumnElement[str]) -> ColumnElement[int]:
    return (
        select(t.orders.c.id)
        .where(t.orders.c.shop_id == shop_id, t.orders.c.external_id == external)
        .correlate_except(t.orders)
        .scalar_subquery()
    )


def _id_map(connection: Connection, name: str, rows: Select[tuple[str, int]]) -> Table:
    """A temporary table of natural keys and their stored ids (``rows`` selects the pairs). Rows
    take their ids by joining it: a join between temporary tables that have statistics, where a
    join with a table just written may be planned blind on PostgreSQL."""
    table = temp_table(
        MetaData(), name, [Column("key", String, primary_key=True), Column("id", BigInteger)]
    )
    create(connection, table)
    connection.execute(insert(table).from_select(["key", "id"], rows))
    analyze(connection, table)
    return table


def _looked_up(
    keys: ColumnElement[str],
    where: ColumnElement[bool],
    pk: Callable[[ColumnElement[str]], ColumnElement[int]],
) -> Select[tuple[str, int]]:
    """Each distinct value of ``keys`` with its stored id: one index lookup per key, not per row."""
    found = select(keys.label("key")).where(where, keys.is_not(None)).distinct().subquery()
    return select(found.c.key, pk(found.c.key))


def _dedupe(connection: Connection, stage: Table, key: Sequence[str]) -> None:
    """Keep the first row of each key (the rest are identical: conflicts were refused before)."""
    first = select(func.min(stage.c[ROW])).group_by(*(stage.c[k] for k in key))
    connection.execute(delete(stage).where(stage.c[ROW].not_in(first)))


# --- entities ---------------------------------------------------------------------------------

CUSTOMER_VALUES = (
    "name",
    "email",
    "phone",
    "gender",
    "birth_date",
    "region",
    "city",
    "city_tier",
    "signup_at",
    "acquisition_channel",
    "consent_email",
    "consent_sms",
    "consent_push",
    "attributes",
)


def customers_conflicts(
    connection: Connection, stage: Table, provided: set[str], show: Show = show_stored
) -> list[RowError]:
    return find_conflicts(
        connection, stage, "customer_id", [c for c in CUSTOMER_VALUES if c in provided], show=show
    )


def merge_customers(
    connection: Connection, stage: Table, shop_id: int, provided: set[str]
) -> MergeResult:
    _dedupe(connection, stage, ["customer_id"])
    values = [c for c in CUSTOMER_VALUES if c in provided]
    work = _work_table(
        connection, "work_customers", [Column("external_id", String), *_copy_columns(stage, values)]
    )
    connection.execute(
        insert(work).from_select(
            ["external_id", *values], select(stage.c.customer_id, *(stage.c[v] for v in values))
        )
    )
    counts = upsert(
        connection, t.customers, work, ["external_id"], values, shop_id, {"is_stub": False}
    )
    return MergeResult({"customers": counts})


PRODUCT_VALUES = ("title", "category_path", "brand", "list_price", "currency")


def products_conflicts(
    connection: Connection, stage: Table, provided: set[str], show: Show = show_stored
) -> list[RowError]:
    return find_conflicts(
        connection, stage, "sku", [c for c in PRODUCT_VALUES if c in provided], show=show
    )


def merge_products(
    connection: Connection, stage: Table, shop_id: int, provided: set[str]
) -> MergeResult:
    _dedupe(connection, stage, ["sku"])
    names = {"list_price": "list_price_minor"}
    values = [c for c in PRODUCT_VALUES if c in provided]
    work = _work_table(
        connection,
        "work_products",
        [Column("sku", String), *(Column(names.get(v, v), stage.c[v].type) for v in values)],
    )
    connection.execute(
        insert(work).from_select(
            ["sku", *(names.get(v, v) for v in values)],
            select(stage.c.sku, *(stage.c[v] for v in values)),
        )
    )
    counts = upsert(
        connection,
        t.products,
        work,
        ["sku"],
        [names.get(v, v) for v in values],
        shop_id,
        {"is_stub": False},
    )
    return MergeResult({"products": counts})


ORDER_HEADER = (
    "customer_id",
    "placed_at",
    "paid_at",
    "status",
    "currency",
    "discount",
    "shipping",
    "total",
    "item_count",
    "refund_amount",
    "refunded_at",
    "channel",
    "coupon_codes",
)


def orders_conflicts(
    connection: Connection, stage: Table, provided: set[str], show: Show = show_stored
) -> list[RowError]:
    sale = stage.c[RETURN_FLAG] == false()
    # placed_at may differ between the lines of one order (line-item exports stamp each line
    # with its own minute): the order takes the earliest, so it is not a conflict.
    checked = [c for c in ORDER_HEADER if c in provided and c != "placed_at"]
    errors = find_conflicts(connection, stage, "order_id", checked, sale, show)
    if "line_no" in provided:
        dup = (
            select(stage.c.order_id, stage.c.line_no)
            .where(sale, stage.c.line_no.is_not(None))
            .group_by(stage.c.order_id, stage.c.line_no)
            .having(func.count() > 1)
            .subquery()
        )
        rows = connection.execute(
            select(stage.c[ROW], stage.c.order_id, stage.c.line_no)
            .join(dup, and_(dup.c.order_id == stage.c.order_id, dup.c.line_no == stage.c.line_no))
            .order_by(stage.c[ROW])
        ).all()
        errors += [
            RowError(r[0], "line_no", str(r[2]), f"order {r[1]!r} has line {r[2]} more than once")
            for r in rows
        ]
    return errors


def _shop_currency(shop_id: int) -> ColumnElement[str]:
    return select(t.shops.c.currency).where(t.shops.c.id == shop_id).scalar_subquery()


def merge_orders(
    connection: Connection, stage: Table, shop_id: int, provided: set[str]
) -> tuple[MergeResult, list[RowError]]:
    sale = stage.c[RETURN_FLAG] == false()
    result = MergeResult()
    result.stubs = create_stubs(
        connection, shop_id, stage.c.customer_id, stage.c.sku, stage.c.product_title
    )

    # Order headers: one per order id, from its sale rows.
    s = stage.c
    lines_total = func.coalesce(func.sum(s.line_total), 0)
    discount = func.coalesce(func.max(s.discount), 0)
    shipping = func.coalesce(func.max(s.shipping), 0)
    total = func.coalesce(func.max(s.total), lines_total - discount + shipping)
    has_lines = func.count(s.sku) > 0
    header = (
        select(
            s.order_id.label("external_id"),
            func.max(s.customer_id).label("customer_ext"),
            func.min(s.placed_at).label("placed_at"),
            func.max(s.paid_at).label("paid_at"),
            func.coalesce(func.max(s.status), OrderStatus.COMPLETED.value).label("status"),
            func.coalesce(func.max(s.currency), _shop_currency(shop_id)).label("currency"),
            case((has_lines, lines_total), else_=total - shipping + discount).label(
                "subtotal_minor"
            ),
            discount.label("discount_minor"),
            shipping.label("shipping_minor"),
            total.label("total_minor"),
            func.coalesce(func.max(s.item_count), func.sum(s.quantity), 0).label("item_count"),
            func.max(s.channel).label("channel"),
            func.max(s.coupon_codes).label("coupon_codes"),
            func.max(s.refund_amount).label("refund_amount"),
            func.max(s.refunded_at).label("refunded_at"),
        )
        .where(sale)
        .group_by(s.order_id)
    )
    cols = [c.name for c in header.selected_columns]
    work = _work_table(
        connection,
        "work_orders",
        [Column(c, header.selected_columns[c].type) for c in cols]
        + [Column("customer_id", BigInteger)],
    )
    customer_ids = _id_map(
        connection,
        "customer_ids",
        _looked_up(s.customer_id, sale, lambda key: _customer_pk(shop_id, key)),
    )
    headers = header.subquery()
    connection.execute(
        insert(work).from_select(
            [*cols, "customer_id"],
            select(headers, customer_ids.c.id).select_from(
                headers.outerjoin(customer_ids, customer_ids.c.key == headers.c.customer_ext)
            ),
        )
    )
    values = [
        "customer_id",
        *(
            c
            for c in cols
            if c not in ("external_id", "customer_ext", "refund_amount", "refunded_at")
        ),
    ]
    orders_stored = _has_rows(connection, t.orders, shop_id)
    order_counts = upsert(connection, t.orders, work, ["external_id"], values, shop_id)

    # The stored ids of the file's orders. When the shop had none before, the file's orders are
    # all it has: one scan finds them.
    o = t.orders
    order_ids = _id_map(
        connection,
        "order_ids",
        select(
            work.c.external_id,
            func.coalesce(work.c[TARGET_ID], _order_pk(shop_id, work.c.external_id)),
        )
        if orders_stored
        else select(o.c.external_id, o.c.id).where(o.c.shop_id == shop_id),
    )
    product_ids = _id_map(
        connection,
        "product_ids",
        _looked_up(s.sku, sale, lambda key: _product_pk(shop_id, key)),
    )
    # Lines: numbered by the file's order within each order unless the file numbers them.
    position = func.row_number().over(partition_by=s.order_id, order_by=s[ROW])
    lines = (
        select(
            order_ids.c.id.label("order_id"),
            func.coalesce(s.line_no, position).label("line_no"),
            product_ids.c.id.label("product_id"),
            s.quantity,
            func.coalesce(
                s.unit_price, func.coalesce(s.line_total, 0) / func.nullif(s.quantity, 0), 0
            ).label("unit_price_minor"),
            func.coalesce(s.line_total, 0).label("line_total_minor"),
        )
        .select_from(
            stage.outerjoin(order_ids, order_ids.c.key == s.order_id).outerjoin(
                product_ids, product_ids.c.key == s.sku
            )
        )
        .where(sale, s.sku.is_not(None))
    )
    line_cols = [c.name for c in lines.selected_columns]
    work_lines = _work_table(connection, "work_lines", [Column(c, BigInteger) for c in line_cols])
    connection.execute(insert(work_lines).from_select(line_cols, lines))
    lines_stored = _has_rows(connection, t.order_lines, shop_id)
    line_counts = upsert(
        connection,
        t.order_lines,
        work_lines,
        ["order_id", "line_no"],
        ["product_id", "quantity", "unit_price_minor", "line_total_minor"],
        shop_id,
        keys_per_shop=False,
    )
    wl = work_lines.c
    # Stored lines of the file's orders that the file no longer has are deleted.
    lost: list[int] = []
    if lines_stored:
        Index("ix_work_lines_key", wl.order_id, wl.line_no).create(connection)
        gone = ~exists().where(
            wl.order_id == t.order_lines.c.order_id, wl.line_no == t.order_lines.c.line_no
        )
        lost = list(
            connection.execute(
                delete(t.order_lines)
                .where(t.order_lines.c.order_id.in_(select(wl.order_id)), gone)
                .returning(t.order_lines.c.order_id)
            ).scalars()
        )
    if order_counts.unchanged:
        # An order whose lines changed is an updated order even if its header is the same.
        same = work.c[ACTION] == "same"
        changed = select(wl.order_id).where(wl[ACTION] != "same")
        connection.execute(
            update(work).where(same, work.c[TARGET_ID].in_(changed)).values({ACTION: "update"})
        )
        for chunk in _chunks(lost):
            connection.execute(
                update(work).where(same, work.c[TARGET_ID].in_(chunk)).values({ACTION: "update"})
            )
        order_counts = _action_counts(connection, work)
    result.tables["orders"] = order_counts
    result.tables["order_lines"] = TableCounts(
        line_counts.inserted, line_counts.updated + len(lost), line_counts.unchanged
    )

    # Whole-order refunds carried by the order export (Shopify, Taobao).
    w = work.c
    refunds = select(
        (w.external_id + literal("#refund")).label("external_id"),
        _order_pk(shop_id, w.external_id).label("order_id"),
        w.refund_amount.label("amount_minor"),
        w.refunded_at,
    ).where(w.refund_amount > 0)
    work_refunds = _work_table(
        connection,
        "work_order_refunds",
        [
            Column("external_id", String),
            Column("order_id", BigInteger),
            Column("amount_minor", BigInteger),
            Column("refunded_at", work.c.refunded_at.type),
        ],
    )
    connection.execute(
        insert(work_refunds).from_select(
            ["external_id", "order_id", "amount_minor", "refunded_at"], refunds
        )
    )
    refund_counts = upsert(
        connection,
        t.refunds,
        work_refunds,
        ["external_id"],
        ["order_id", "amount_minor", "refunded_at"],
        shop_id,
    )

    returned, errors = _merge_returns(connection, stage, shop_id)
    result.tables["refunds"] = refund_counts + returned
    return result, errors


def _merge_returns(
    connection: Connection, stage: Table, shop_id: int
) -> tuple[TableCounts, list[RowError]]:
    """Return lines become refunds of the customer's latest earlier purchase of the same product."""
    s = stage.c
    lines, orders, products = t.order_lines, t.orders, t.products
    bought = (
        select(lines.c.id)
        .join(orders, orders.c.id == lines.c.order_id)
        .join(products, products.c.id == lines.c.product_id)
        .where(
            orders.c.shop_id == shop_id,
            orders.c.customer_id == _customer_pk(shop_id, s.customer_id),
            products.c.sku == s.sku,
            orders.c.placed_at <= s.placed_at,
            orders.c.status != OrderStatus.CANCELLED.value,
        )
        .order_by(orders.c.placed_at.desc(), lines.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    position = func.row_number().over(partition_by=s.order_id, order_by=s[ROW])
    returns = select(
        s[ROW].label("row"),
        s.order_id.label("return_id"),
        position.label("position"),
        bought.label("order_line_id"),
        s.quantity,
        s.line_total.label("amount_minor"),
        s.placed_at.label("refunded_at"),
        s.sku,
        s.customer_id.label("customer"),
    ).where(s[RETURN_FLAG] == true())
    found = connection.execute(returns.order_by(s[ROW])).all()
    if not found:
        return TableCounts(), []
    errors = [
        RowError(
            r.row,
            "sku",
            r.sku,
            f"return by customer {r.customer!r} of {r.sku!r} matches no earlier purchase",
        )
        for r in found
        if r.order_line_id is None
    ]
    matched = [r for r in found if r.order_line_id is not None]
    work = _work_table(
        connection,
        "work_returns",
        [
            Column(ROW, BigInteger),
            Column("external_id", String),
            Column("order_id", BigInteger),
            Column("order_line_id", BigInteger),
            Column("quantity", BigInteger),
            Column("amount_minor", BigInteger),
            Column("refunded_at", s.placed_at.type),
            Column("reason", String),
        ],
    )
    if matched:
        owners = dict(
            connection.execute(
                select(lines.c.id, lines.c.order_id).where(
                    lines.c.id.in_({r.order_line_id for r in matched})
                )
            ).all()
        )
        connection.execute(
            insert(work),
            [
                {
                    ROW: r.row,
                    "external_id": f"{r.return_id}#{r.position}",
                    "order_id": owners[r.order_line_id],
                    "order_line_id": r.order_line_id,
                    "quantity": r.quantity,
                    "amount_minor": r.amount_minor,
                    "refunded_at": r.refunded_at,
                    "reason": f"return {r.return_id}",
                }
                for r in matched
            ],
        )
    over = _over_refunded(connection, work)
    drop_rows(connection, work, {e.row for e in over})
    counts = upsert(
        connection,
        t.refunds,
        work,
        ["external_id"],
        ["order_id", "order_line_id", "quantity", "amount_minor", "refunded_at", "reason"],
        shop_id,
    )
    return counts, sorted(errors + over, key=lambda e: e.row)


def _link_errors(
    connection: Connection, work: Table, column: str, rows: Table, label: str, value: str
) -> list[RowError]:
    """Rows whose reference could not be resolved (``column`` is NULL in the work table)."""
    found = connection.execute(
        select(rows.c[ROW], rows.c[value])
        .where(rows.c[ROW].in_(select(work.c[ROW]).where(work.c[column].is_(None))))
        .order_by(rows.c[ROW])
    ).all()
    return [
        RowError(r[0], value, r[1], f"{label} {r[1]!r} is not known in this shop") for r in found
    ]


def refunds_conflicts(
    connection: Connection, stage: Table, provided: set[str], show: Show = show_stored
) -> list[RowError]:
    return find_conflicts(
        connection,
        stage,
        "refund_id",
        [
            c
            for c in ("order_id", "line_no", "sku", "quantity", "amount", "refunded_at", "reason")
            if c in provided
        ],
        show=show,
    )


def merge_refunds(
    connection: Connection, stage: Table, shop_id: int, provided: set[str]
) -> tuple[MergeResult, list[RowError]]:
    """Refunds name their order, and their line by number or SKU (neither: the whole order).
    The refunds of a line (of an order) never add up to more than its total."""
    _dedupe(connection, stage, ["refund_id"])
    s = stage.c
    lines, products = t.order_lines, t.products
    order_pk = _order_pk(shop_id, s.order_id)
    by_number = (
        select(lines.c.id)
        .where(lines.c.order_id == order_pk, lines.c.line_no == s.line_no)
        .scalar_subquery()
    )
    by_sku = (
        select(func.min(lines.c.id))
        .join(products, products.c.id == lines.c.product_id)
        .where(lines.c.order_id == order_pk, products.c.sku == s.sku)
        .scalar_subquery()
    )
    line_pk = case((s.line_no.is_not(None), by_number), (s.sku.is_not(None), by_sku), else_=null())
    names = [
        "external_id",
        "order_id",
        "order_line_id",
        "quantity",
        "amount_minor",
        "refunded_at",
        "reason",
    ]
    work = _work_table(
        connection,
        "work_refunds",
        [
            Column(ROW, BigInteger),
            Column("external_id", String),
            Column("order_id", BigInteger),
            Column("order_line_id", BigInteger),
            Column("wants_line", Boolean),
            Column("quantity", BigInteger),
            Column("amount_minor", BigInteger),
            Column("refunded_at", s.refunded_at.type),
            Column("reason", String),
        ],
    )
    connection.execute(
        insert(work).from_select(
            [ROW, *names[:3], "wants_line", *names[3:]],
            select(
                s[ROW],
                s.refund_id,
                order_pk,
                line_pk,
                or_(s.line_no.is_not(None), s.sku.is_not(None)),
                s.quantity,
                s.amount,
                s.refunded_at,
                s.reason,
            ),
        )
    )
    w = work.c
    errors = _link_errors(connection, work, "order_id", stage, "order", "order_id")
    unlinked = connection.execute(
        select(s[ROW], s.order_id, s.line_no, s.sku)
        .where(
            s[ROW].in_(
                select(w[ROW]).where(
                    w.order_id.is_not(None), w.wants_line, w.order_line_id.is_(None)
                )
            )
        )
        .order_by(s[ROW])
    ).all()
    errors += [
        RowError(
            r[0],
            "line_no" if r[2] is not None else "sku",
            str(r[2] if r[2] is not None else r[3]),
            f"order {r[1]!r} has no such line",
        )
        for r in unlinked
    ]
    connection.execute(
        delete(work).where(or_(w.order_id.is_(None), and_(w.wants_line, w.order_line_id.is_(None))))
    )
    errors += _over_refunded(connection, work)
    bad = {e.row for e in errors}
    drop_rows(connection, work, bad)
    counts = upsert(connection, t.refunds, work, ["external_id"], names[1:], shop_id)
    return MergeResult({"refunds": counts}), errors


def _over_refunded(connection: Connection, work: Table) -> list[RowError]:
    """Refunds that would take more than was paid for their line (or order)."""
    w, r = work.c, t.refunds
    others = (
        select(func.coalesce(func.sum(r.c.amount_minor), 0))
        .where(
            r.c.order_id == w.order_id,
            r.c.order_line_id.is_not_distinct_from(w.order_line_id),
            r.c.external_id.not_in(select(work.c.external_id)),
        )
        .scalar_subquery()
    )
    limit = case(
        (
            w.order_line_id.is_not(None),
            select(t.order_lines.c.line_total_minor)
            .where(t.order_lines.c.id == w.order_line_id)
            .scalar_subquery(),
        ),
        else_=select(t.orders.c.total_minor).where(t.orders.c.id == w.order_id).scalar_subquery(),
    )
    group = (
        select(
            w.order_id,
            w.order_line_id,
            func.sum(w.amount_minor).label("asked"),
            func.max(limit).label("limit"),
            func.max(others).label("others"),
        )
        .group_by(w.order_id, w.order_line_id)
        .subquery()
    )
    over = connection.execute(
        select(w[ROW], w.external_id, group.c.asked, group.c.limit, group.c.others)
        .join(
            group,
            and_(
                group.c.order_id == w.order_id,
                group.c.order_line_id.is_not_distinct_from(w.order_line_id),
            ),
        )
        .where(group.c.asked + group.c.others > group.c.limit)
        .order_by(w[ROW])
    ).all()
    return [
        RowError(
            o[0],
            "amount",
            None,
            f"refunds would total {o[2] + o[4]} minor units, more than the {o[3]} paid",
        )
        for o in over
    ]


EVENT_VALUES = ("event_type", "customer_id", "product_id", "occurred_at", "session_id", "query")


def events_conflicts(
    connection: Connection, stage: Table, provided: set[str], show: Show = show_stored
) -> list[RowError]:
    return find_conflicts(
        connection,
        stage,
        "event_id",
        ["event_type", "customer_id", "occurred_at", "sku", "session_id", "query"],
        show=show,
    )


def merge_events(
    connection: Connection, stage: Table, shop_id: int, provided: set[str]
) -> MergeResult:
    _dedupe(connection, stage, ["event_id"])
    s = stage.c
    stubs = create_stubs(connection, shop_id, s.customer_id, s.sku)
    work = _work_table(
        connection,
        "work_events",
        [
            Column("event_key", String),
            Column("event_type", String),
            Column("customer_id", BigInteger),
            Column("product_id", BigInteger),
            Column("occurred_at", s.occurred_at.type),
            Column("session_id", String),
            Column("query", String),
        ],
    )
    connection.execute(
        insert(work).from_select(
            ["event_key", *EVENT_VALUES],
            select(
                s.event_id,
                s.event_type,
                _customer_pk(shop_id, s.customer_id),
                _product_pk(shop_id, s.sku),
                s.occurred_at,
                s.session_id,
                s.query,
            ),
        )
    )
    counts = upsert(connection, t.events, work, ["event_key"], EVENT_VALUES, shop_id)
    return MergeResult({"events": counts}, stubs)


REVIEW_VALUES = ("customer_id", "product_id", "order_id", "rating", "text", "created_at")


def reviews_conflicts(
    connection: Connection, stage: Table, provided: set[str], show: Show = show_stored
) -> list[RowError]:
    return find_conflicts(
        connection,
        stage,
        "review_id",
        ["customer_id", "sku", "order_id", "rating", "text", "created_at"],
        show=show,
    )


def merge_reviews(
    connection: Connection, stage: Table, shop_id: int, provided: set[str]
) -> tuple[MergeResult, list[RowError]]:
    _dedupe(connection, stage, ["review_id"])
    s = stage.c
    stubs = create_stubs(connection, shop_id, s.customer_id, s.sku)
    work = _work_table(
        connection,
        "work_reviews",
        [
            Column(ROW, BigInteger),
            Column("external_id", String),
            Column("customer_id", BigInteger),
            Column("product_id", BigInteger),
            Column("order_id", BigInteger),
            Column("rating", BigInteger),
            Column("text", String),
            Column("created_at", s.created_at.type),
        ],
    )
    connection.execute(
        insert(work).from_select(
            [ROW, "external_id", *REVIEW_VALUES],
            select(
                s[ROW],
                s.review_id,
                _customer_pk(shop_id, s.customer_id),
                _product_pk(shop_id, s.sku),
                _order_pk(shop_id, s.order_id),
                s.rating,
                s.text,
                s.created_at,
            ),
        )
    )
    w = work.c
    missing = connection.execute(
        select(s[ROW], s.order_id)
        .where(s.order_id.is_not(None), s[ROW].in_(select(w[ROW]).where(w.order_id.is_(None))))
        .order_by(s[ROW])
    ).all()
    errors = [
        RowError(r[0], "order_id", r[1], f"order {r[1]!r} is not known in this shop")
        for r in missing
    ]
    drop_rows(connection, work, {e.row for e in errors})
    counts = upsert(connection, t.reviews, work, ["external_id"], REVIEW_VALUES, shop_id)
    return MergeResult({"reviews": counts}, stubs), errors
