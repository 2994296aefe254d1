"""Create-or-update of one row by its natural key, shared by customers and products."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, Row, Table, select, update

from patron.errors import ConflictError
from patron.intake.sql import insert_for

_ATTEMPTS = 3


def upsert_row(
    connection: Connection,
    table: Table,
    key: Column[str],
    shop_id: int,
    key_value: str,
    values: Mapping[str, Any],
    now: datetime,
    *,
    defaults: Mapping[str, Any] | None = None,
    refuse: Callable[[Row[Any]], None] | None = None,
) -> tuple[bool, Row[Any]]:
    """Insert the row, or set ``values`` on the stored one; returns (created, row as stored).

    ``defaults`` fill columns that stay null otherwise; ``refuse`` may raise on a stored row
    that must not be updated. ``updated_at`` moves only when a value changes. Two concurrent
    creates of one key both succeed: the second becomes an update of the first's row. The
    stored row is read locked, so that a write that changes its key meanwhile (an erasure
    replaces a customer's id) is seen: this write then finds no row by the old key.
    """
    row = locked_row(connection, table, key, shop_id, key_value)
    insert = (
        insert_for(connection, table)
        .values(
            {
                **(defaults or {}),
                **values,
                "shop_id": shop_id,
                key.name: key_value,
                "updated_at": now,
            }
        )
        .on_conflict_do_nothing(index_elements=["shop_id", key.name])
        .returning(*table.c)
    )
    # The insert can meet the old version of a row whose key a concurrent write (an erasure)
    # is changing: then neither the insert nor the read finds it, and the next attempt inserts.
    for _attempt in range(_ATTEMPTS):
        if row is not None:
            break
        created = connection.execute(insert).first()
        if created is not None:
            return True, created
        row = locked_row(connection, table, key, shop_id, key_value)
    if row is None:
        raise ConflictError(f"{key_value!r} changed concurrently; retry the request", id=key_value)
    if refuse is not None:
        refuse(row)
    stored = row._mapping
    changes = {k: v for k, v in values.items() if stored[k] != v}
    for name, value in (defaults or {}).items():
        if stored[name] is None and name not in values:
            changes[name] = value
    if not changes:
        return False, row
    updated = connection.execute(
        update(table)
        .where(table.c.shop_id == shop_id, table.c.id == row.id)
        .values(**changes, updated_at=now)
        .returning(*table.c)
    ).one()
    return False, updated


def locked_row(
    connection: Connection, table: Table, key: Column[str], shop_id: int, key_value: str
) -> Row[Any] | None:
    """The stored row of a natural key, locked until the transaction ends (PostgreSQL)."""
    query = select(table).where(table.c.shop_id == shop_id, key == key_value)
    return connection.execute(query.with_for_update()).first()
