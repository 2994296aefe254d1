"""Database helpers shared by the intake modules."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    Column,
    ColumnElement,
    Connection,
    Row,
    Select,
    Table,
    any_,
    bindparam,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from patron.db.shops import Shop
from patron.db.tables import shops
from patron.errors import ErrorCode, NotFoundError
from patron.intake import checks
from patron.pagination import Page, check_limit, decode_cursor, page_of

T = TypeVar("T")


def insert_for(connection: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's own INSERT, for ``ON CONFLICT`` (SQLite and PostgreSQL spell it alike)."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def one_of(connection: Connection, column: Column[Any], values: list[Any]) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``= ANY(array)``: one parameter, not one each."""
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam(None, values, ARRAY(column.type)))
    return column.in_(values)


def insert_new(
    connection: Connection,
    table: Table,
    key: Sequence[str],
    rows: Sequence[dict[str, Any]],
    returning: Sequence[Column[Any]],
) -> list[tuple[Any, ...]]:
    """Insert the rows whose ``key`` is not stored yet (ON CONFLICT DO NOTHING); ``returning``
    of those inserted. The rows go as one multi-row INSERT (SQLAlchemy's "insertmanyvalues"
    batching), whose statement is compiled once and cached, whatever the number of rows."""
    if connection.dialect.name == "postgresql" and len(rows) > 1:
        # One array per column, unnested: the statement text stays small and cached, where a
        # VALUES list of a thousand rows is new text that the driver must parse every time.
        names = list(rows[0])
        arrays = [
            bindparam(f"{name}_values", [row[name] for row in rows], ARRAY(table.c[name].type))
            for name in names
        ]
        unnested = func.unnest(*arrays).table_valued(*names).render_derived()
        from_arrays = (
            postgresql.insert(table)
            .from_select(names, select(*[unnested.c[name] for name in names]))
            .on_conflict_do_nothing(index_elements=list(key))
        )
        return [tuple(row) for row in connection.execute(from_arrays.returning(*returning))]
    insert = insert_for(connection, table).on_conflict_do_nothing(index_elements=list(key))
    return [tuple(row) for row in connection.execute(insert.returning(*returning), list(rows))]


def shop_by_id(connection: Connection, shop_id: int) -> Shop:
    row = connection.execute(select(shops).where(shops.c.id == shop_id)).first()
    if row is None:
        raise NotFoundError(
            f"no shop with id {shop_id}", code=ErrorCode.SHOP_NOT_FOUND, shop_id=shop_id
        )
    return Shop(row.id, row.name, row.timezone, row.currency)


def not_found(kind: str, external_id: str) -> NotFoundError:
    return NotFoundError(f"no {kind} {external_id!r} in this shop", object=kind, id=external_id)


def get_row(
    connection: Connection, table: Table, key: Column[str], shop_id: int, value: str, kind: str
) -> Row[Any]:
    """The row of a natural key in the shop; NotFoundError naming the ``kind`` of object."""
    checks.text(value, key, "id")
    row = connection.execute(select(table).where(table.c.shop_id == shop_id, key == value)).first()
    if row is None:
        raise not_found(kind, value)
    return row


def list_table(
    connection: Connection,
    table: Table,
    shop_id: int,
    to_json: Callable[[Row[Any]], T],
    *,
    updated_since: datetime | None,
    cursor: str | None,
    limit: int,
) -> Page[T]:
    """A page of the shop's rows of ``table`` (see :func:`page`), as JSON."""
    rows = page(
        connection,
        select(table).where(table.c.shop_id == shop_id),
        table.c.id,
        updated_at=table.c.updated_at,
        updated_since=updated_since,
        cursor=cursor,
        limit=limit,
    )
    return Page([to_json(r) for r in rows.items], rows.next_cursor)


def page(
    connection: Connection,
    query: Select[Any],
    id_column: Column[int],
    *,
    updated_at: Column[datetime],
    updated_since: datetime | None,
    cursor: str | None,
    limit: int,
) -> Page[Row[Any]]:
    """A page of ``query``'s rows in id order after ``cursor``; only rows updated at or after
    ``updated_since`` when it is given. A client syncing changes walks every page, then starts
    its next walk from the time it started this one: a row changed during a walk is seen by
    the next."""
    check_limit(limit)
    after = decode_cursor(cursor)
    if updated_since is not None:
        checks.aware(updated_since, "updated_since")
        query = query.where(updated_at >= updated_since)
    rows = connection.execute(
        query.where(id_column > after).order_by(id_column).limit(limit + 1)
    ).all()
    return page_of(rows, limit, lambda row: int(row._mapping[id_column]))
