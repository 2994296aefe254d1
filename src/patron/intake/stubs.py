"""The customers and products a write refers to, created as stubs when not known yet, as file
ingestion does (``patron.ingest.merge.create_stubs`` is its set-wise form over staging tables).
A stub created here also gets ``updated_at``, so that a client syncing changes sees it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, Select, Table, literal, select, union_all

from patron.db import tables as t
from patron.intake.sql import insert_new, one_of


@dataclass(frozen=True, slots=True)
class Ids:
    customers: dict[str, int]  # by external id
    products: dict[str, int]  # by SKU


def resolve(
    connection: Connection,
    shop_id: int,
    customers: Iterable[str],
    products: Mapping[str, str | None],
    now: datetime,
) -> Ids:
    """Row ids of the customers (by external id) and products (by SKU, each with the title a
    stub takes), in one query when all exist; the others are inserted as stubs."""
    kinds: list[tuple[Table, Column[str], dict[str, dict[str, Any]]]] = [
        (t.customers, t.customers.c.external_id, {c: {} for c in customers}),
        (t.products, t.products.c.sku, {sku: {"title": title} for sku, title in products.items()}),
    ]
    found: list[dict[str, int]] = [{}, {}]
    lookups = [
        _lookup(connection, table, key, shop_id, list(wanted)).add_columns(literal(n).label("kind"))
        for n, (table, key, wanted) in enumerate(kinds)
        if wanted
    ]
    if lookups:
        for key_value, row_id, kind in connection.execute(union_all(*lookups)):
            found[kind][key_value] = row_id
    for (table, key, wanted), ids in zip(kinds, found, strict=True):
        missing = {k: values for k, values in wanted.items() if k not in ids}
        if missing:
            ids.update(_create(connection, table, key, shop_id, missing, now))
    return Ids(*found)


def _lookup(
    connection: Connection, table: Table, key: Column[str], shop_id: int, values: list[str]
) -> Select[Any]:
    return select(key, table.c.id).where(
        table.c.shop_id == shop_id, one_of(connection, key, values)
    )


def _create(
    connection: Connection,
    table: Table,
    key: Column[str],
    shop_id: int,
    missing: dict[str, dict[str, Any]],
    now: datetime,
) -> dict[str, int]:
    """Insert stubs for the missing keys, in sorted order (so that concurrent writers wait on
    each other's new keys in one order and cannot deadlock); their ids."""
    rows = [
        {"shop_id": shop_id, key.name: k, "is_stub": True, "updated_at": now, **values}
        for k, values in sorted(missing.items())
    ]
    created = insert_new(connection, table, ["shop_id", key.name], rows, [key, table.c.id])
    ids = {k: i for k, i in created}
    # Keys a concurrent writer created meanwhile: its commit ended our insert's wait on them.
    raced = [k for k in missing if k not in ids]
    if raced:
        ids.update(
            (k, i) for k, i in connection.execute(_lookup(connection, table, key, shop_id, raced))
        )
    return ids
