"""The facts a pipeline reads, as Ibis tables, and the DuckDB connection that reads them.

Every pipeline function takes :class:`Facts` (or tables derived from them) and returns Ibis
expressions: nothing runs until a result is asked for, and the same functions run on any Ibis
backend (DuckDB here; PySpark on a cluster) over the same Parquet files.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import ibis
from ibis import BaseBackend
from ibis.expr.types import Table, TimestampScalar

from patron.analytics.extract import FACTS

PURCHASE_STATUSES = ("paid", "shipped", "completed", "refunded")
"""Orders that count as purchases; pending (unpaid) and cancelled orders do not."""

HELD_ORDER_COLUMNS = ("id", "customer_id", "placed_at", "total_minor")
"""The order columns the pipelines read, and so the ones :meth:`Facts.held` keeps with the
columns :meth:`Facts.purchases` adds."""

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Facts:
    customers: Table
    products: Table
    orders: Table
    order_lines: Table
    refunds: Table
    events: Table
    held_until: datetime | None = None
    """Set by :meth:`held`: ``orders`` then holds only the purchases before this moment."""

    def purchases(self, as_of: datetime) -> Table:
        """Orders that count as purchases, placed before ``as_of``, each with ``n`` (the
        customer's 0-based purchase number, ties in time broken by order id), ``first_at``
        (the customer's first purchase), ``previous_at`` (the purchase before, null for the
        first) and ``discounted`` (a discount or a non-blank coupon code). The first three
        depend on earlier purchases only: a later ``as_of`` leaves them as they are, which
        lets :meth:`held` compute them once."""
        o = self.orders
        if self.held_until is not None:
            if as_of > self.held_until:
                raise ValueError(f"facts held until {self.held_until}, not {as_of}")
            return o if as_of == self.held_until else o.filter(o.placed_at < stamp(as_of))
        p = o.filter(o.status.isin(PURCHASE_STATUSES), o.placed_at < stamp(as_of))
        # One window (one sort) for all three columns.
        w = ibis.window(group_by=p.customer_id, order_by=[p.placed_at, p.id])
        return p.mutate(
            n=ibis.row_number().over(w),
            first_at=p.placed_at.min().over(w),
            previous_at=p.placed_at.lag().over(w),
            discounted=(p.discount_minor.fill_null(0) > 0)
            | (p.coupon_codes.strip().fill_null("") != ""),
        )

    def refunds_until(self, as_of: datetime) -> Table:
        """Refunds made before ``as_of`` (a refund without a time counts from the start)."""
        r = self.refunds
        return r.filter(r.refunded_at.isnull() | (r.refunded_at < stamp(as_of)))

    def held(self, as_of: datetime) -> Facts:
        """These facts with only the purchases (ranked, :data:`HELD_ORDER_COLUMNS`) and the
        refunds before ``as_of``, held in the engine (cached tables): an analysis reads them a
        dozen times, from memory rather than from the files, and ranks the purchases once.
        Analyses as of ``as_of`` or earlier give the same results on the held facts as on
        these."""
        return replace(
            self,
            orders=self.purchases(as_of)
            .select(*HELD_ORDER_COLUMNS, "n", "first_at", "previous_at", "discounted")
            .cache(),
            refunds=self.refunds_until(as_of).cache(),
            held_until=as_of,
        )


def connect_duckdb(
    memory_limit: str = "4GB", temp_directory: Path | None = None, threads: int | None = None
) -> BaseBackend:
    """An in-process DuckDB with an explicit memory limit and spill folder (its defaults take
    80 % of the machine's memory and spill next to the process)."""
    # Results are ordered where order matters (order_by); not keeping the order of the
    # input saves time and memory on every materialised table.
    config: dict[str, str | int | bool] = {
        "memory_limit": memory_limit,
        "preserve_insertion_order": False,
    }
    if temp_directory is not None:
        temp_directory.mkdir(parents=True, exist_ok=True)
        config["temp_directory"] = str(temp_directory)
    if threads is not None:
        config["threads"] = threads
    return ibis.duckdb.connect(**config)


def read_facts(con: BaseBackend, folder: Path) -> Facts:
    """The fact files of ``folder`` (see :mod:`patron.analytics.extract`)."""
    missing = [name for name in FACTS if not (folder / f"{name}.parquet").exists()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(f'{m}.parquet' for m in missing)}")
    tables = {
        name: con.read_parquet(folder / f"{name}.parquet", table_name=f"patron_{name}")
        for name in FACTS
    }
    return Facts(**tables)


def stamp(moment: datetime) -> TimestampScalar:
    """The literal of ``moment`` as the fact files hold moments: UTC, without a zone."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: give a time zone")
    return ibis.timestamp(moment.astimezone(UTC).replace(tzinfo=None))


CATEGORY_SEPARATOR = " > "
"""Between the levels of a category path, as ingestion documents it ("母婴 > 奶粉 > 1段")."""


def category_path(path: ibis.Value) -> ibis.Value:
    """The path with its levels joined by exactly :data:`CATEGORY_SEPARATOR`, whatever the
    spacing around ``>`` in the source."""
    return path.strip().re_replace(r"\s*>\s*", CATEGORY_SEPARATOR)


def top_category(path: ibis.Value) -> ibis.Value:
    """The first level of a category path ("母婴" of "母婴 > 奶粉 > 1段")."""
    return path.split(">")[0].strip()


def days_between(start: ibis.Value, end: datetime) -> ibis.Value:
    """Whole days from ``start`` (a timestamp column) to ``end``, rounded down."""
    seconds = stamp(end).epoch_seconds() - start.epoch_seconds()
    return (seconds / SECONDS_PER_DAY).floor().cast("int64")
