"""The ingest run: read → transform → stage → merge, in one transaction per run.

With ``max_errors`` bad rows or fewer the good rows are stored; with more, the transaction is
rolled back and nothing already stored changes. Either way the bad rows go to a quarantine file
and the run is recorded in ``ingest_runs``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, MetaData, Table, insert

from patron.clock import Clock
from patron.db import tables
from patron.db.shops import Shop, ensure_shop, lock_shop_writes
from patron.errors import ErrorCode, IngestRejected, InputError
from patron.ingest import merge, staging
from patron.ingest.model import Entity, IngestReport, RowError, RunStatus
from patron.ingest.profiles import Profile, resolve
from patron.ingest.quarantine import Quarantine
from patron.ingest.readers import Source, open_source
from patron.ingest.schema import NATURAL_KEY, Kind, fields
from patron.ingest.transform import (
    HEADER_ROWS,
    Context,
    RunState,
    Transformed,
    check_columns,
    transform,
)
from patron.money import Money
from patron.settings import Settings

_T = TypeVar("_T")

Progress = Callable[[int, int, int], None]
"""Called after each chunk with (bytes done, bytes total, rows read)."""

Conflicts = Callable[[Connection, Table, set[str], merge.Show], list[RowError]]

_CONFLICTS: dict[Entity, Conflicts] = {
    Entity.ORDERS: merge.orders_conflicts,
    Entity.CUSTOMERS: merge.customers_conflicts,
    Entity.PRODUCTS: merge.products_conflicts,
    Entity.EVENTS: merge.events_conflicts,
    Entity.REFUNDS: merge.refunds_conflicts,
    Entity.REVIEWS: merge.reviews_conflicts,
}


def ingest(
    engine: Engine,
    settings: Settings,
    clock: Clock,
    *,
    entity: Entity,
    path: Path,
    shop: str | None = None,
    profile: str | None = None,
    mapping: Path | None = None,
    max_errors: int = 0,
    progress: Progress | None = None,
) -> IngestReport:
    """Load one file. Raises :class:`IngestRejected` (with the report in ``details``) when the
    file has more than ``max_errors`` bad rows."""
    chosen = resolve(entity, profile, mapping)
    shop_name = shop or settings.default_shop
    started = clock.now()
    quarantine_path = _quarantine_path(
        settings.quarantine_dir, f"{shop_name}-{entity}-{started:%Y%m%dT%H%M%S%f}"
    )
    quarantine = Quarantine(quarantine_path)
    source = open_source(path, chosen.read, settings.ingest_chunk_rows)
    rows_read = 0
    result = merge.MergeResult()
    rejected = False
    try:
        with engine.begin() as connection:
            lock_shop_writes(connection, shop_name)
            the_shop = ensure_shop(
                connection,
                shop_name,
                chosen.timezone or settings.default_timezone,
                chosen.constants.get("currency", settings.default_currency),
                clock,
            )
            context = Context(entity, chosen, the_shop.timezone, the_shop.currency, str(path))
            check_columns(context, source.columns)
            stage = staging.stage_table(MetaData(), entity)
            staging.create(connection, stage)
            rows_read, refused = _stage_all(
                connection, context, source, stage, quarantine, max_errors, progress
            )
            provided = _provided(chosen, entity, source.columns)
            staging.index_by_key(connection, stage, entity)
            if len(quarantine.rows) <= max_errors:
                quarantine.add(
                    merge.rows_of_refused(connection, stage, NATURAL_KEY[entity], refused)
                )
                quarantine.add(_CONFLICTS[entity](connection, stage, provided, _show(context)))
                merge.drop_rows(connection, stage, quarantine.rows)
            if len(quarantine.rows) <= max_errors:
                result, late = _merge(connection, entity, stage, the_shop, provided)
                quarantine.add(late)
            if len(quarantine.rows) > max_errors:
                rejected = True
                connection.rollback()
    finally:
        source.close()
        saved = quarantine.close()
    report = IngestReport(
        run_id=0,
        shop=shop_name,
        entity=entity,
        source=str(path),
        profile=chosen.name,
        status=RunStatus.REJECTED if rejected else RunStatus.STORED,
        rows_read=rows_read,
        rows_rejected=len(quarantine.rows),
        tables=result.tables if not rejected else {},
        stubs=result.stubs if not rejected else {},
        quarantine_path=saved,
        first_errors=tuple(quarantine.first),
    )
    report = _record(engine, report, started, clock)
    if rejected:
        raise IngestRejected(
            f"{path}: {len(quarantine.rows)} bad row(s), more than the {max_errors} allowed "
            f"(--max-errors); nothing was stored. {_describe(quarantine.first)}. "
            f"Every bad row is listed in {saved}",
            file=str(path),
            rejected_rows=len(quarantine.rows),
            max_errors=max_errors,
            quarantine=saved,
            first_errors=[
                {"row": e.row, "column": e.column, "value": e.value, "reason": e.reason}
                for e in quarantine.first
            ],
            report=report,
        )
    return report


_SHOWN_ERRORS = 3


def _describe(errors: list[RowError]) -> str:
    """The first bad values, naming row, column, value and reason."""
    shown = "; ".join(
        f"row {e.row}, column {e.column!r}"
        + (f", value {e.value!r}" if e.value is not None else "")
        + f": {e.reason}"
        for e in errors[:_SHOWN_ERRORS]
    )
    more = " …" if len(errors) > _SHOWN_ERRORS else ""
    return f"First: {shown}{more}"


def _quarantine_path(folder: Path, stem: str) -> Path:
    """A quarantine file name not used yet: an earlier run's file is never overwritten."""
    path = folder / f"{stem}.csv"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}.csv"
    return path


def _stage_all(
    connection: Connection,
    context: Context,
    source: Source,
    stage: Table,
    quarantine: Quarantine,
    max_errors: int,
    progress: Progress | None,
) -> tuple[int, set[str]]:
    """Stage every good row; returns the rows read and the orders some row of which was refused
    (an order is stored whole or not at all)."""
    rows_read = 0
    refused: set[str] = set()
    for first_row, rows, done in _prefetch(_transformed(context, source)):
        quarantine.add(done.errors)
        if context.entity is Entity.ORDERS and not done.good.all():
            bad = pc.filter(done.columns["order_id"], pa.array(~done.good))
            refused.update(v for v in bad.to_pylist() if v is not None)
        if (
            len(quarantine.rows) <= max_errors
        ):  # once rejected, keep reading only to list every bad row
            numbers = np.arange(first_row, first_row + rows, dtype=np.int64)
            staging.append(connection, stage, done.columns, done.good, numbers)
        rows_read += rows - done.blank
        if progress is not None:
            progress(source.position(), source.size, rows_read)
    if rows_read == 0:
        raise InputError(
            f"{source.path}: the file has a header but no data rows",
            code=ErrorCode.FILE_EMPTY,
            file=str(source.path),
        )
    return rows_read, refused


def _transformed(context: Context, source: Source) -> Iterator[tuple[int, int, Transformed]]:
    """Each chunk transformed: (source row number of its first row, rows, result)."""
    state = RunState()
    rows_read = 0
    header_rows = HEADER_ROWS if context.profile.read.header else 0
    for chunk in source.chunks:
        first_row = rows_read + header_rows + 1
        yield first_row, chunk.num_rows, transform(context, chunk, first_row, state)
        rows_read += chunk.num_rows


def _prefetch(items: Iterator[_T]) -> Iterator[_T]:
    """Compute the next item in a worker thread while the caller works on this one: reading and
    validating (Arrow, releasing the GIL) overlaps with loading into the database."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(next, items, None)
        while (item := future.result()) is not None:
            future = pool.submit(next, items, None)
            yield item


def _show(context: Context) -> merge.Show:
    """Staged values as a person reads them: amounts in major units of the row's currency,
    times in the time zone the file was read in."""
    kinds = {f.name: f.kind for f in fields(context.entity)}
    zone = ZoneInfo(context.profile.timezone or context.timezone)

    def show(column: str, row: Mapping[str, Any]) -> str:
        value = row[column]
        kind = kinds.get(column)
        if kind is Kind.MONEY and isinstance(value, int):
            currency = row.get("currency") or context.currency
            return f"{Money(value, currency).to_decimal():f}"
        if kind is Kind.TIMESTAMP and isinstance(value, datetime):
            return value.astimezone(zone).isoformat(sep=" ")
        return str(value)

    return show


def _provided(profile: Profile, entity: Entity, found: list[str]) -> set[str]:
    """Canonical columns this file gives values for: only those may overwrite stored values."""
    wanted = {c.strip().casefold() for c in found}
    names = {
        f.name
        for f in fields(entity)
        if f.name in profile.constants
        or (profile.source_of(f.name) or "\0").strip().casefold() in wanted
    }
    if (
        entity is Entity.CUSTOMERS
        and profile.attribute_prefix
        and any(c.startswith(profile.attribute_prefix) for c in found)
    ):
        names.add("attributes")
    if profile.derive is not None:
        names.add("order_id")
    return names


def _merge(
    connection: Connection, entity: Entity, stage: Table, shop: Shop, provided: set[str]
) -> tuple[merge.MergeResult, list[RowError]]:
    if entity is Entity.ORDERS:
        return merge.merge_orders(connection, stage, shop.id, provided)
    if entity is Entity.REFUNDS:
        return merge.merge_refunds(connection, stage, shop.id, provided)
    if entity is Entity.REVIEWS:
        return merge.merge_reviews(connection, stage, shop.id, provided)
    if entity is Entity.CUSTOMERS:
        return merge.merge_customers(connection, stage, shop.id, provided), []
    if entity is Entity.PRODUCTS:
        return merge.merge_products(connection, stage, shop.id, provided), []
    return merge.merge_events(connection, stage, shop.id, provided), []


def _record(engine: Engine, report: IngestReport, started: object, clock: Clock) -> IngestReport:
    with engine.begin() as connection:
        run_id = connection.execute(
            insert(tables.ingest_runs)
            .values(
                shop=report.shop,
                entity=str(report.entity),
                source=report.source,
                profile=report.profile,
                status=str(report.status),
                started_at=started,
                finished_at=clock.now(),
                rows_read=report.rows_read,
                rows_rejected=report.rows_rejected,
                quarantine_path=report.quarantine_path,
                counts=report.counts_json(),
            )
            .returning(tables.ingest_runs.c.id)
        ).scalar_one()
    return replace(report, run_id=int(run_id))
