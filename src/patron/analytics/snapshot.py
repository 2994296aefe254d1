"""The analysis written back to the operational database, where the services read it.

One transaction per analysis: the run (its settings and KPIs), every customer's latest profile,
and a stage change for each customer whose stage differs from the one before. Analysing the
same moment again replaces what that analysis wrote; a moment before the latest analysis is
refused, since the stage history is built forwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, Engine, and_, delete, func, insert, select

from patron.db import tables as t
from patron.db.snapshots import refuse_earlier

PROFILE_COLUMNS = (
    "customer_id",
    "orders",
    "net_minor",
    "days_since_last_order",
    "r_score",
    "f_score",
    "m_score",
    "rfm_cell",
    "grid_segment",
    "segment",
    "stage",
    "intent_score",
    "intent_reasons",
)
"""Columns of a profile as computed and stored; the tag columns of
:data:`patron.analytics.tags.TAGS` follow them and are stored together as ``tags``."""
_CHUNK = 20_000


@dataclass(frozen=True, slots=True)
class Written:
    profiles: int
    stage_changes: int


def write(
    engine: Engine,
    shop_id: int,
    as_of: datetime,
    now: datetime,
    profiles: pa.Table,
    settings: dict[str, Any],
    kpis: dict[str, Any],
    progress: Callable[[int], None] | None = None,
) -> Written:
    """Store the analysis of ``as_of``: ``profiles`` has PROFILE_COLUMNS, one row per customer."""
    with engine.begin() as connection:
        refuse_earlier(
            connection,
            t.analysis_runs,
            shop_id,
            as_of,
            "analysed",
            "an analysis",
            "rewrite the stage history",
        )
        _forget(connection, shop_id, as_of)
        connection.execute(
            insert(t.analysis_runs).values(
                shop_id=shop_id, as_of=as_of, created_at=now, settings=settings, kpis=kpis
            )
        )
        previous = _stages_before(connection, shop_id, as_of)
        changes = 0
        done = 0
        for chunk in _chunks(profiles):
            connection.execute(
                insert(t.customer_profiles),
                [{**row, "shop_id": shop_id, "as_of": as_of} for row in chunk],
            )
            moved = [
                {
                    "shop_id": shop_id,
                    "customer_id": row["customer_id"],
                    "as_of": as_of,
                    "stage": row["stage"],
                    "previous_stage": previous.get(row["customer_id"]),
                }
                for row in chunk
                if previous.get(row["customer_id"]) != row["stage"]
            ]
            if moved:
                connection.execute(insert(t.customer_stage_changes), moved)
            changes += len(moved)
            done += len(chunk)
            if progress is not None:
                progress(done)
    return Written(done, changes)


def _forget(connection: Connection, shop_id: int, as_of: datetime) -> None:
    """Remove what an analysis of the same moment wrote, and the profiles it replaces."""
    changes = t.customer_stage_changes.c
    connection.execute(
        delete(t.customer_stage_changes).where(changes.shop_id == shop_id, changes.as_of == as_of)
    )
    connection.execute(delete(t.customer_profiles).where(t.customer_profiles.c.shop_id == shop_id))
    runs = t.analysis_runs.c
    connection.execute(delete(t.analysis_runs).where(runs.shop_id == shop_id, runs.as_of == as_of))


def _stages_before(connection: Connection, shop_id: int, as_of: datetime) -> dict[int, str]:
    """Each customer's stage as of the last change before ``as_of``."""
    c = t.customer_stage_changes.c
    last = (
        select(c.customer_id, func.max(c.as_of).label("as_of"))
        .where(c.shop_id == shop_id, c.as_of < as_of)
        .group_by(c.customer_id)
        .subquery()
    )
    query = select(c.customer_id, c.stage).join(
        last, and_(c.customer_id == last.c.customer_id, c.as_of == last.c.as_of)
    )
    return {customer: stage for customer, stage in connection.execute(query)}


def _chunks(profiles: pa.Table) -> Iterator[list[dict[str, Any]]]:
    """Rows to store: the profile columns, and the tags (the other columns) as one mapping of
    the tags a customer has."""
    tags = [name for name in profiles.column_names if name not in PROFILE_COLUMNS]
    for batch in profiles.to_batches(_CHUNK):
        rows = []
        for row in batch.to_pylist():
            held = {name: row.pop(name) for name in tags}
            row["tags"] = {name: value for name, value in held.items() if value is not None}
            rows.append(row)
        yield rows
