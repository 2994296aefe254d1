"""The state an incremental refresh keeps between analyses, as Parquet files in one folder.

Everything the core results read, summed up so that a window of new facts updates it without
going back to the history (:mod:`patron.analytics.merge`):

- ``customers``: one row per customer — orders, first purchase (moment and order id), second
  purchase, last purchase, gross spend, refunds and refunded amount, last visit;
- ``purchases`` and ``refunds``: every purchase, ranked as :meth:`Facts.purchases` ranks it,
  and every refund netted on one, in append-only parts (one per refresh, sorted by time so
  that reading the last year skips the older row groups);
- ``events``: the customers' events of the last
  :data:`patron.analytics.kpis.EVENT_WINDOW_DAYS` days (KPIs);
- ``gaps``: the inter-purchase intervals in whole days and how many (stage thresholds);
- ``monthly_buyers``: customers per cohort month and month since (retention);
- ``gateway_settled``, ``first_keys`` and ``product_keys`` (the category gateway): per
  category key, the counts of the buyers whose figures can no longer change (first purchase
  more than :data:`patron.analytics.kpis.PERIOD_DAYS` days ago); the category keys of the
  other buyers' first orders; the products' keys they were read with;
- ``tags``: the preference tags and intent of the last full analysis, carried over as they are.

``state.json`` names the files of the current state, its moment and :class:`History`. A new
state is written to new files and then named by replacing ``state.json`` in one rename, so a
refresh that fails half-way leaves the previous state whole.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
from ibis import BaseBackend
from ibis.expr.types import Table

VERSION = 1
"""Of the layout: a state of another version is not read (a full analysis rebuilds it)."""
MANIFEST = "state.json"

_INT = pa.int64()
_AT = pa.timestamp("us")  # UTC without a zone, as the fact files hold moments
SCHEMAS: dict[str, pa.Schema] = {
    "customers": pa.schema(
        [
            ("customer_id", _INT),
            ("orders", _INT),
            ("first_order_at", _AT),
            ("first_order_id", _INT),
            ("second_order_at", _AT),
            ("last_order_at", _AT),
            ("gross_minor", _INT),
            ("refunded_minor", _INT),
            ("refunds", _INT),
            ("last_visit_at", _AT),
        ]
    ),
    "purchases": pa.schema(
        [
            ("id", _INT),
            ("customer_id", _INT),
            ("placed_at", _AT),
            ("total_minor", _INT),
            ("n", _INT),
            ("first_at", _AT),
            ("previous_at", _AT),
        ]
    ),
    "refunds": pa.schema(
        [
            ("id", _INT),
            ("order_id", _INT),
            ("order_line_id", _INT),
            ("amount_minor", _INT),
            ("refunded_at", _AT),
        ]
    ),
    "events": pa.schema(
        [
            ("id", _INT),
            ("customer_id", _INT),
            ("product_id", _INT),
            ("event_type", pa.string()),
            ("occurred_at", _AT),
        ]
    ),
    "gaps": pa.schema([("days", _INT), ("n", _INT)]),
    "monthly_buyers": pa.schema([("cohort_month", _INT), ("k", _INT), ("customers", _INT)]),
    "gateway_settled": pa.schema(
        [("key", _INT), ("customers", _INT), ("eligible", _INT), ("repurchased", _INT)]
    ),
    "first_keys": pa.schema([("order_id", _INT), ("key", _INT)]),
    "product_keys": pa.schema([("product_id", _INT), ("key", _INT)]),
}
"""The tables of a state and their columns."""
APPENDED = ("purchases", "refunds")
"""Tables kept in parts: a refresh adds one instead of rewriting them."""
UPSERTED = "customers"
"""The table kept as a whole and in parts of the customers each refresh changed (a later
part's row replaces the earlier ones of its customer), rewritten whole when the parts hold
more than :data:`COMPACT_SHARE` of its rows: a day changes a few of the customers, and
writing them all again cost more than the rest of a refresh."""
COMPACT_SHARE = 0.25

_ROW_GROUP = 122_880


@dataclass(frozen=True, slots=True)
class History:
    """Counts and sums of the facts a state was built from, to check on refresh that the facts
    before the state's moment are still those (a late order, a cancelled one or a new refund
    changes them). Purchases: orders paid, shipped, completed or refunded placed before the
    moment; refunds: those dated before it; undated refunds (they count from the start, so
    the state took them all in when it was built); events: all of them before the moment."""

    purchases: int = 0
    purchase_ids: int = 0
    purchase_customer_ids: int = 0
    gross_minor: int = 0
    refunds: int = 0
    refunded_minor: int = 0
    undated_refunds: int = 0
    events: int = 0

    def plus(self, other: History) -> History:
        """The sums of the two, each undated-refund count kept from ``self`` unless it is 0
        (undated refunds are counted once, when the state is built)."""
        summed = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        summed["undated_refunds"] = self.undated_refunds or other.undated_refunds
        return History(**summed)

    def differences(self, now: History) -> list[str]:
        """ "name: kept → now" for each figure that differs."""
        return [
            f"{f.name}: {getattr(self, f.name)} kept, {getattr(now, f.name)} now"
            for f in fields(self)
            if getattr(self, f.name) != getattr(now, f.name)
        ]


@dataclass(frozen=True)
class State:
    """The kept state as of ``as_of`` (None: the empty state, before any fact), as Ibis tables
    (see the module docstring). ``files`` names the files each table was read from;
    ``added`` holds the parts of the :data:`APPENDED` tables not written yet."""

    as_of: datetime | None
    history: History
    customers: Table
    """The per-customer figures; a merged state's (in memory) are those of every customer of
    the customers fact, followed by their external_id and signup_at."""
    purchases: Table
    refunds: Table
    events: Table
    gaps: Table
    monthly_buyers: Table
    gateway_settled: Table
    first_keys: Table
    product_keys: Table
    tags: Table | None = None
    """customer_id, the tags of :data:`patron.analytics.tags.TAGS`, intent_score and
    intent_reasons."""
    tags_as_of: datetime | None = None
    files: dict[str, tuple[str, ...]] | None = None
    added: dict[str, Table] | None = None

    def table(self, name: str) -> Table:
        table: Table = getattr(self, name)
        return table


def empty(anchor: Table) -> State:
    """The state before any fact: every table without rows, on the backend of ``anchor`` (any
    table of the facts; in-memory tables are not every engine's, nor filtered alike)."""
    tables = {name: _empty(anchor, name) for name in SCHEMAS}
    return State(as_of=None, history=History(), **tables)


def sum_by(kept: Table, new: Table, keys: list[str], counts: list[str]) -> Table:
    """The ``counts`` of ``kept`` and ``new`` summed per ``keys`` (int64, as kept)."""
    u = ibis.union(kept.select(*keys, *counts), new.select(*keys, *counts).cast(kept.schema()))
    return u.group_by(keys).aggregate(**{c: u[c].sum().cast("int64") for c in counts})


def _empty(anchor: Table, name: str) -> Table:
    schema = ibis.schema(SCHEMAS[name])
    return anchor.limit(0).select(**{n: ibis.null(t) for n, t in schema.items()})


def read(con: BaseBackend, folder: Path) -> State | None:
    """The state kept in ``folder``, None when there is none (or of another layout)."""
    path = folder / MANIFEST
    if not path.exists():
        return None
    manifest: dict[str, Any] = json.loads(path.read_text("utf-8"))
    if manifest.get("version") != VERSION:
        return None
    files: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in manifest["files"].items()}
    tables = {
        name: con.read_parquet([folder / f for f in files[name]]).cast(ibis.schema(schema))
        for name, schema in SCHEMAS.items()
        if name != UPSERTED
    }
    parts = [_read(con, folder / f, UPSERTED) for f in files[UPSERTED]]
    tables[UPSERTED] = _latest(parts)
    tags = con.read_parquet(folder / files["tags"][0]) if "tags" in files else None
    return State(
        as_of=_moment(manifest["as_of"]),
        history=History(**manifest["history"]),
        tags=tags,
        tags_as_of=_moment(manifest["tags_as_of"]),
        files=files,
        **tables,
    )


def write(state: State, folder: Path) -> State:
    """Write ``state`` into ``folder`` (a new generation of files, then ``state.json``) and
    remove the files of the state it replaces; returns the state as written (nothing added)."""
    if state.as_of is None:
        raise ValueError("the empty state is not kept")
    folder.mkdir(parents=True, exist_ok=True)
    kept = state.files or {}
    generation = _generation(folder) + 1
    files: dict[str, tuple[str, ...]] = {}
    added = state.added or {}
    for name in SCHEMAS:
        if name in APPENDED:
            files[name] = kept.get(name, ())
            if name in added:
                part = _save(added[name].order_by(_ORDER[name]), name, folder, generation)
                files[name] += (part,)
        elif name == UPSERTED and name in added and _fits(folder, kept.get(name), added[name]):
            files[name] = (*kept[name], _save(added[name], name, folder, generation))
        else:
            files[name] = (_save(state.table(name), name, folder, generation),)
    if state.tags is not None:
        files["tags"] = kept.get("tags") or (_save(state.tags, "tags", folder, generation),)
    manifest = {
        "version": VERSION,
        "generation": generation,
        "as_of": state.as_of.isoformat(),
        "tags_as_of": None if state.tags_as_of is None else state.tags_as_of.isoformat(),
        "history": {f.name: getattr(state.history, f.name) for f in fields(state.history)},
        "files": {name: list(names) for name, names in files.items()},
    }
    partial = folder / f"{MANIFEST}.partial"
    partial.write_text(json.dumps(manifest, indent=1), "utf-8")
    os.replace(partial, folder / MANIFEST)
    current = {f for names in files.values() for f in names}
    for path in folder.glob("*.parquet"):
        if path.name not in current:
            path.unlink()
    return replace(state, files=files, added=None)


_ORDER = {"purchases": "placed_at", "refunds": "id"}
"""How each part is sorted: purchases by time, so that windows of time skip row groups."""


def _read(con: BaseBackend, path: Path, name: str) -> Table:
    return con.read_parquet(path).cast(ibis.schema(SCHEMAS[name]))


def _latest(parts: list[Table]) -> Table:
    """The customers of the whole (first) part and the parts after it, each customer's row from
    the last part holding it."""
    rows = parts[-1]
    for part in reversed(parts[:-1]):
        rows = ibis.union(rows, part.anti_join(rows, part.customer_id == rows.customer_id))
    return rows


def _fits(folder: Path, kept: tuple[str, ...] | None, part: Table) -> bool:
    """Whether ``part`` may follow the ``kept`` files of the customers (the first one whole)
    within :data:`COMPACT_SHARE` of the whole one's rows."""
    if not kept:
        return False
    rows = [int(pq.read_metadata(folder / f).num_rows) for f in kept]
    added = int(part.count().to_pyarrow().as_py())
    return sum(rows[1:]) + added <= COMPACT_SHARE * rows[0]


def _generation(folder: Path) -> int:
    path = folder / MANIFEST
    if not path.exists():
        return 0
    generation: int = json.loads(path.read_text("utf-8")).get("generation", 0)
    return generation


def _save(table: Table, name: str, folder: Path, generation: int) -> str:
    """Write ``table`` to ``<name>-<generation>.parquet`` (through Arrow batches, which keep
    the Ibis types: DuckDB would write its 128-bit sums as doubles); the file name."""
    file = f"{name}-{generation}.parquet"
    schema = SCHEMAS.get(name)
    with warnings.catch_warnings():
        # ibis 12 reads batches with DuckDB's fetch_record_batch, deprecated since DuckDB 1.4.
        warnings.filterwarnings("ignore", "fetch_record_batch", DeprecationWarning)
        batches = table.to_pyarrow_batches()
        target = schema or batches.schema
        with pq.ParquetWriter(folder / file, target, compression="zstd") as writer:
            for batch in batches:
                chosen = batch if schema is None else batch.select(schema.names).cast(schema)
                writer.write_batch(chosen, row_group_size=_ROW_GROUP)
    return file


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
