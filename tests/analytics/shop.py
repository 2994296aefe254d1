"""A small hand-built shop for the analytics tests, written as the fact files that
`patron.analytics.extract` writes; every expected figure in the tests is computed by hand from
what is here.

As of AS_OF (2026-07-01 00:00 UTC):

- A (1): purchases 2026-01-10 10,000; 2026-03-10 20,000 (5,000 refunded 2026-03-15);
  2026-06-20 30,000. Viewed a product 2026-06-29.
- B (2): one purchase 2026-06-25 5,000; carted 2026-06-26.
- C (3): purchases 2025-07-01 8,000 and 2025-08-01 8,000.
- D (4): never bought; visited 2026-06-30.
- E (5): a cancelled order 2026-02-01 15,000, a purchase 2026-04-01 12,000, a pending order
  2026-06-30 7,000.
- F (6): a purchase 2026-07-02 9,000, after AS_OF.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from patron.analytics.extract import FACTS, _arrow_type

AS_OF = datetime(2026, 7, 1, tzinfo=UTC)


def at(y: int, m: int, d: int, h: int = 12) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


CUSTOMERS = [
    (1, "A", "F", date(1990, 5, 1), "Shanghai", 1, at(2025, 12, 1)),
    (2, "B", "M", None, "Beijing", 1, at(2026, 6, 24)),
    (3, "C", None, None, None, None, at(2025, 6, 1)),
    (4, "D", "F", date(2000, 1, 1), "Chengdu", 2, at(2026, 6, 1)),
    (5, "E", None, None, "Hangzhou", 2, None),
    (6, "F", None, None, None, None, None),
]
PRODUCTS = [
    (1, "PEN", "Stationery > Pens", "Hero", 1000),
    (2, "INK", "Stationery > Ink", "Hero", 500),
    (3, "MILK", "Baby > Formula > Stage 1", "Feihe", 20000),
]
# id, customer, placed_at, status, subtotal, discount, total, items, coupon codes
ORDERS = [
    (1, 1, at(2026, 1, 10), "completed", 10000, 0, 10000, 1, None),
    (2, 1, at(2026, 3, 10), "completed", 21000, 1000, 20000, 2, "SPRING"),
    (3, 1, at(2026, 6, 20), "paid", 30000, 0, 30000, 3, None),
    (4, 2, at(2026, 6, 25), "shipped", 5000, 0, 5000, 5, None),
    (5, 3, at(2025, 7, 1), "completed", 8000, 0, 8000, 1, None),
    (6, 3, at(2025, 8, 1), "completed", 8000, 0, 8000, 1, None),
    (7, 5, at(2026, 2, 1), "cancelled", 15000, 0, 15000, 1, None),
    (8, 5, at(2026, 4, 1), "completed", 12000, 0, 12000, 2, None),
    (9, 5, at(2026, 6, 30), "pending", 7000, 0, 7000, 1, None),
    (10, 6, at(2026, 7, 2), "paid", 9000, 0, 9000, 1, None),
]
# id, order, product, quantity, unit price, line total
ORDER_LINES = [
    (1, 1, 1, 1, 10000, 10000),
    (2, 2, 3, 1, 20000, 20000),
    (3, 2, 2, 1, 1000, 1000),
    (4, 3, 3, 1, 20000, 20000),
    (5, 3, 1, 2, 5000, 10000),
    (6, 4, 1, 5, 1000, 5000),
    (7, 5, 3, 1, 8000, 8000),
    (8, 6, 3, 1, 8000, 8000),
    (9, 7, 1, 1, 15000, 15000),
    (10, 8, 2, 2, 6000, 12000),
    (11, 9, 1, 1, 7000, 7000),
    (12, 10, 2, 1, 9000, 9000),
]
# id, order, order line, amount, refunded at
REFUNDS = [(1, 2, 2, 5000, at(2026, 3, 15))]
# id, customer, product, type, occurred at
EVENTS = [
    (1, 1, 1, "view", at(2026, 6, 29)),
    (2, 4, None, "visit", at(2026, 6, 30)),
    (3, 2, 1, "cart_add", at(2026, 6, 26)),
    (4, None, None, "search", at(2026, 6, 27)),
]

ROWS: dict[str, list[tuple[Any, ...]]] = {
    "customers": CUSTOMERS,
    "products": PRODUCTS,
    "orders": ORDERS,
    "order_lines": ORDER_LINES,
    "refunds": REFUNDS,
    "events": EVENTS,
}


def write_shop(folder: Path, rows: dict[str, list[tuple[Any, ...]]] | None = None) -> Path:
    """The fact files of the hand-built shop (or of ``rows`` in the same shape) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, (table, columns) in FACTS.items():
        data = (rows or ROWS)[name]
        schema = pa.schema([pa.field(c, _arrow_type(table.c[c])) for c in columns])
        arrays = [
            pa.array([row[n] for row in data], type=schema.field(n).type)
            for n in range(len(columns))
        ]
        pq.write_table(pa.table(arrays, schema=schema), folder / f"{name}.parquet")
    return folder
