"""A shop for the scoring tests, written as an order export and ingested like any shop's:
400 buyers with a deterministic purchase history (enough for the thresholds: 200 customers
and 50 repeat buyers, 200 repeat buyers for the spend model), a heavy buyer, and a customer
who never bought."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

FIRST_DAY = date(2025, 1, 1)
LAST_DAY = date(2026, 6, 30)
BUYERS = 400
HEAVY = "HEAVY"
"""Bought on each of the last 400 days, several times on some of them."""


@dataclass(frozen=True)
class Order:
    order_id: str
    customer: str
    day: date
    cents: int
    status: str = "completed"


def orders(buyers: int = BUYERS, seed: int = 5) -> list[Order]:
    rng = np.random.default_rng(seed)
    span = (LAST_DAY - FIRST_DAY).days
    found: list[Order] = []
    for n in range(buyers):
        first = int(rng.integers(0, span - 60))
        # A quarter buy once; the others come back a few times before a random last day.
        repeats = int(rng.poisson(3)) if n % 4 else 0
        last = int(rng.integers(first, span + 1))
        days = [first, *sorted(rng.integers(first, last + 1, size=repeats).tolist())]
        for k, day in enumerate(days):
            cents = int(rng.integers(20, 400)) * 100
            found.append(Order(f"O{n}-{k}", f"C{n:03d}", FIRST_DAY + timedelta(day), cents))
    for k in range(400):
        for extra in range(1 + k % 3):
            day = LAST_DAY - timedelta(399 - k)
            found.append(Order(f"H{k}-{extra}", HEAVY, day, 50_000 + 100 * extra))
    # Not purchases: a cancelled and a pending order.
    found.append(Order("X1", "C001", LAST_DAY, 99_900, "cancelled"))
    found.append(Order("X2", "C003", LAST_DAY, 99_900, "pending"))
    return found


def write_orders(path: Path, rows: list[Order]) -> Path:
    lines = ["order_id,customer_id,placed_at,sku,quantity,unit_price,status"]
    lines += [
        f"{o.order_id},{o.customer},{o.day} 12:00:00,PEN,1,{o.cents / 100:.2f},{o.status}"
        for o in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
