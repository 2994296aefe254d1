"""Synthetic fact files for the analytics benchmark, in the shape `patron.analytics.extract`
writes: N orders of N/4 customers over three years, ~2.5 lines per order, 2 % refunded and 3 %
cancelled orders, N/2 behaviour events; order ids follow the time of ordering. Written with
numpy and pyarrow in row groups, so that 100M orders fit in memory-bounded steps.

    python bench/analytics_data.py --orders 10000000 --out bench/out/facts_10m
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from patron.analytics.extract import FACTS, _arrow_type

START = datetime(2023, 7, 1, tzinfo=UTC)
SPAN_SECONDS = 3 * 365 * 86_400
AS_OF = datetime(2026, 7, 1, tzinfo=UTC)
CATEGORIES = ("Baby", "Beauty", "Home", "Food", "Sports", "Books", "Toys", "Fashion")
STEP = 5_000_000


def _writer(folder: Path, name: str) -> tuple[pq.ParquetWriter, pa.Schema]:
    table, columns = FACTS[name]
    schema = pa.schema([pa.field(c, _arrow_type(table.c[c])) for c in columns])
    return pq.ParquetWriter(folder / f"{name}.parquet", schema, compression="zstd"), schema


def _stamps(seconds: np.ndarray) -> pa.Array:
    micros = (int(START.timestamp()) + seconds.astype(np.int64)) * 1_000_000
    return pa.array(micros, type=pa.timestamp("us"))  # UTC, as extract writes it


def generate(orders: int, folder: Path, seed: int = 7) -> Path:
    """Write the fact files of a shop with ``orders`` orders into ``folder`` (kept if present)."""
    done = folder / "DONE"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    customers = max(orders // 4, 1)
    products = 20_000

    writer, schema = _writer(folder, "customers")
    ids = np.arange(1, customers + 1)
    signup = rng.integers(0, SPAN_SECONDS, size=customers)
    writer.write_table(
        pa.table(
            [
                pa.array(ids),
                pa.array([f"C{i}" for i in ids]),
                pa.array(rng.choice(np.array(["F", "M", None], dtype=object), size=customers)),
                pa.nulls(customers, pa.date32()),
                pa.nulls(customers, pa.string()),
                pa.array(rng.integers(1, 7, size=customers)),
                _stamps(signup),
            ],
            schema=schema,
        )
    )
    writer.close()

    writer, schema = _writer(folder, "products")
    pid = np.arange(1, products + 1)
    writer.write_table(
        pa.table(
            [
                pa.array(pid),
                pa.array([f"SKU-{i}" for i in pid]),
                pa.array([f"{CATEGORIES[i % len(CATEGORIES)]} > Sub{i % 40}" for i in pid]),
                pa.array([f"Brand{i % 300}" for i in pid]),
                pa.array(rng.integers(100, 50_000, size=products)),
            ],
            schema=schema,
        )
    )
    writer.close()

    order_writer, order_schema = _writer(folder, "orders")
    line_writer, line_schema = _writer(folder, "order_lines")
    refund_writer, refund_schema = _writer(folder, "refunds")
    next_line = 1
    next_refund = 1
    for first in range(0, orders, STEP):
        n = min(STEP, orders - first)
        oid = np.arange(first + 1, first + n + 1)
        # 60 % of orders from anyone (many buy once), 40 % from the loyal tenth of customers.
        loyal = rng.random(n) < 0.4
        customer = np.where(
            loyal,
            rng.integers(1, customers // 10 + 2, size=n),
            rng.integers(1, customers + 1, size=n),
        )
        # Order ids follow the time of ordering, as a shop's system assigns them.
        placed = np.sort(
            rng.integers(SPAN_SECONDS * first // orders, SPAN_SECONDS * (first + n) // orders, n)
        )
        status = rng.choice(
            np.array(["completed", "paid", "shipped", "cancelled", "refunded"], dtype=object),
            p=[0.85, 0.05, 0.05, 0.03, 0.02],
            size=n,
        )
        lines = rng.integers(1, 5, size=n)
        units = rng.integers(1, 4, size=lines.sum())
        price = rng.integers(100, 30_000, size=lines.sum())
        line_total = units * price
        order_of_line = np.repeat(oid, lines)
        subtotal = np.bincount(order_of_line - first - 1, weights=line_total, minlength=n).astype(
            np.int64
        )
        discount = np.where(rng.random(n) < 0.2, subtotal // 10, 0)
        order_writer.write_table(
            pa.table(
                [
                    pa.array(oid),
                    pa.array(customer),
                    _stamps(placed),
                    pa.array(status),
                    pa.array(subtotal),
                    pa.array(discount),
                    pa.array(subtotal - discount),
                    pa.array(
                        np.bincount(order_of_line - first - 1, weights=units, minlength=n).astype(
                            np.int64
                        )
                    ),
                    pa.array(np.where(discount > 0, "SAVE10", None)),
                ],
                schema=order_schema,
            )
        )
        lid = np.arange(next_line, next_line + lines.sum())
        next_line += int(lines.sum())
        line_writer.write_table(
            pa.table(
                [
                    pa.array(lid),
                    pa.array(order_of_line),
                    pa.array(rng.integers(1, products + 1, size=lines.sum())),
                    pa.array(units),
                    pa.array(price),
                    pa.array(line_total),
                ],
                schema=line_schema,
            )
        )
        refunded = np.flatnonzero(status == "refunded")
        rid = np.arange(next_refund, next_refund + refunded.size)
        next_refund += refunded.size
        refund_writer.write_table(
            pa.table(
                [
                    pa.array(rid),
                    pa.array(oid[refunded]),
                    pa.nulls(refunded.size, pa.int64()),
                    pa.array((subtotal - discount)[refunded] // 2),
                    _stamps(np.minimum(placed[refunded] + 10 * 86_400, SPAN_SECONDS - 1)),
                ],
                schema=refund_schema,
            )
        )
    for w in (order_writer, line_writer, refund_writer):
        w.close()

    writer, schema = _writer(folder, "events")
    events = orders // 2
    for first in range(0, events, STEP):
        n = min(STEP, events - first)
        writer.write_table(
            pa.table(
                [
                    pa.array(np.arange(first + 1, first + n + 1)),
                    pa.array(rng.integers(1, customers + 1, size=n)),
                    pa.array(rng.integers(1, products + 1, size=n)),
                    pa.array(
                        rng.choice(
                            np.array(["visit", "view", "cart_add", "search"], dtype=object), size=n
                        )
                    ),
                    _stamps(rng.integers(0, SPAN_SECONDS, size=n)),
                ],
                schema=schema,
            )
        )
    writer.close()
    done.write_text("ok\n")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(generate(args.orders, args.out))


if __name__ == "__main__":
    main()
