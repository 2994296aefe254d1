"""The deterministic synthetic shop: six CSV files of a Chinese e-commerce shop over two years.

``generate_shop`` is pure computation plus writing the files: every draw comes from numpy
generators seeded from ``seed`` (one stream per component), the period is fixed (orders from
2024-11-01 to 2026-10-31, local time Asia/Shanghai, money in CNY), so the same seed and size give
byte-identical files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

import pyarrow as pa
import pyarrow.csv as pacsv

from patron.demo.calendar import build_calendar
from patron.demo.catalog import build_catalog
from patron.demo.customers import build_customers
from patron.demo.events import build_events, events_table
from patron.demo.orders import build_orders, orders_table
from patron.demo.purchases import simulate_purchases
from patron.demo.refunds import build_refunds, refunds_table
from patron.demo.reviews import build_reviews, reviews_table
from patron.demo.sampling import stream
from patron.errors import InputError
from patron.ingest.model import Entity
from patron.ingest.schema import field_names

ATTRIBUTE_PREFIX = "attr_"


@dataclass(frozen=True, slots=True)
class DemoFiles:
    """The files written and how many data rows each holds (orders: one row per order line)."""

    customers: Path
    products: Path
    orders: Path
    refunds: Path
    events: Path
    reviews: Path
    counts: Mapping[Entity, int]
    order_count: int
    """Distinct orders (the orders file has one row per line)."""

    def path(self, entity: Entity) -> Path:
        path: Path = getattr(self, entity.value)
        return path

    def paths(self) -> dict[Entity, Path]:
        """Every file by entity, in the order to load them (referenced entities first)."""
        return {entity: self.path(entity) for entity in LOAD_ORDER}


LOAD_ORDER: tuple[Entity, ...] = (
    Entity.PRODUCTS,
    Entity.CUSTOMERS,
    Entity.ORDERS,
    Entity.REFUNDS,
    Entity.REVIEWS,
    Entity.EVENTS,
)


def generate_shop(out_dir: Path, *, customers: int = 20_000, seed: int = 7) -> DemoFiles:
    """Write the demo shop's files into ``out_dir`` (created if missing) and describe them."""
    if customers < 1:
        raise InputError(
            f"customers must be at least 1, got {customers}",
            parameter="customers",
            value=customers,
        )
    tables, order_count = _tables(customers, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {entity: out_dir / f"{entity.value}.csv" for entity in LOAD_ORDER}
    for entity, table in tables.items():
        write_csv(_conform(entity, table), paths[entity])
    counts = MappingProxyType({entity: tables[entity].num_rows for entity in LOAD_ORDER})
    return DemoFiles(
        **{entity.value: paths[entity] for entity in LOAD_ORDER},
        counts=counts,
        order_count=order_count,
    )


def _tables(n_customers: int, seed: int) -> tuple[dict[Entity, pa.Table], int]:
    calendar = build_calendar()
    catalog = build_catalog(seed)
    people = build_customers(n_customers, seed, calendar)
    purchases = simulate_purchases(people, calendar, stream(seed, "purchases"))
    orders = build_orders(purchases, people, catalog, calendar, stream(seed, "orders"))
    refunds = build_refunds(orders, catalog, calendar, stream(seed, "refunds"))
    reviews = build_reviews(orders, refunds, people, catalog, stream(seed, "reviews"))
    events = build_events(
        orders,
        reviews,
        p=purchases,
        c=people,
        cat=catalog,
        calendar=calendar,
        rng=stream(seed, "events"),
    )
    tables = {
        Entity.PRODUCTS: catalog.table(),
        Entity.CUSTOMERS: people.table,
        Entity.ORDERS: orders_table(replace(orders, status=refunds.status), catalog),
        Entity.REFUNDS: refunds_table(refunds, orders),
        Entity.REVIEWS: reviews_table(reviews, orders, catalog, stream(seed, "review-texts")),
        Entity.EVENTS: events_table(events),
    }
    return tables, orders.size


def _conform(entity: Entity, table: pa.Table) -> pa.Table:
    """Check that every column is canonical and order them as the schema does."""
    canonical = field_names(entity)
    extra = [
        name
        for name in table.column_names
        if name not in canonical and not name.startswith(ATTRIBUTE_PREFIX)
    ]
    if extra:
        raise AssertionError(f"{entity.value}: columns not in the schema: {extra}")
    attributes = [n for n in table.column_names if n.startswith(ATTRIBUTE_PREFIX)]
    return table.select([n for n in canonical if n in table.column_names] + attributes)


def write_csv(table: pa.Table, path: Path) -> None:
    """UTF-8, comma separated, header of column names, empty fields for missing values.

    Values are written unquoted, as most shop exports are; should a value ever hold a comma, a
    quote or a line break, the file is rewritten with quoted text instead.
    """
    header = (",".join(table.column_names) + "\n").encode()
    try:
        _write(table, path, header, "none")
    except pa.ArrowInvalid:
        _write(table, path, header, "needed")


def _write(table: pa.Table, path: Path, header: bytes, quoting: str) -> None:
    options = pacsv.WriteOptions(include_header=False, quoting_style=quoting)
    with path.open("wb") as out:
        out.write(header)
        pacsv.write_csv(table, out, options)
