"""Two ingest runs of one shop at the same time, from two real clients: the shop's write lock
(BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL) serialises them, so neither fails on
a duplicate key and nothing is stored twice."""

from __future__ import annotations

import threading
from pathlib import Path

from patron.core import Patron
from patron.ingest.model import Entity, IngestReport


def orders_file(path: Path, first: int, last: int) -> Path:
    rows = [
        f"O{n},C{n % 37},2025-01-{1 + n % 28:02d} 10:00:00,S{n % 11},{1 + n % 3},9.90\n"
        for n in range(first, last)
    ]
    path.write_text("order_id,customer_id,placed_at,sku,quantity,unit_price\n" + "".join(rows))
    return path


def test_overlapping_runs_of_one_shop_in_parallel(patron: Patron, tmp_path: Path) -> None:
    files = [orders_file(tmp_path / "a.csv", 0, 3000), orders_file(tmp_path / "b.csv", 1500, 4500)]
    clients = [Patron(patron.settings, patron.clock) for _ in files]
    reports: list[IngestReport] = []
    failures: list[BaseException] = []
    start = threading.Barrier(len(files))

    def run(client: Patron, path: Path) -> None:
        start.wait()
        try:
            reports.append(client.ingest(Entity.ORDERS, path, shop="busy"))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=run, args=pair) for pair in zip(clients, files, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()

    assert failures == []
    inserted = sum(r.tables["orders"].inserted for r in reports)
    unchanged = sum(r.tables["orders"].unchanged for r in reports)
    assert (inserted, unchanged) == (4500, 1500)  # the overlap is stored once
    (stats,) = patron.stats("busy")
    assert (stats.orders, stats.order_lines, stats.customers, stats.products) == (
        4500,
        4500,
        37,
        11,
    )
    expected = sum(990 * (1 + n % 3) for n in range(4500))
    assert stats.gross_revenue_minor == expected
