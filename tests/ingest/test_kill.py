"""A run killed with SIGKILL midway leaves the database as it was, and a re-run completes it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from patron.core import Patron
from patron.db import tables as t
from patron.settings import Settings

LINES = 300_000  # 100,000 orders of three lines
PREVIOUS = 3_000  # the first 1,000 orders are stored before the big run
PATRON = Path(sys.executable).with_name("patron")


def _line(i: int) -> tuple[str, int]:
    """Line ``i`` of the big export and its amount in fen."""
    order = i // 3
    cents = (i % 5000 + 1) * 100 + i % 100
    quantity = 1 + i % 4
    placed = f"2024-{1 + order % 12:02d}-{1 + order % 28:02d} {order % 24:02d}:00:00"
    text = (
        f"K{order},c{order % 20_000},{placed},"
        f"P{(i * 7) % 1000},{quantity},{cents // 100}.{cents % 100:02d}\n"
    )
    return text, quantity * cents


def _write(path: Path, lines: int) -> int:
    """Writes the first ``lines`` lines; returns their gross revenue in fen."""
    gross = 0
    with path.open("w", encoding="utf-8") as f:
        f.write("order_id,customer_id,placed_at,sku,quantity,unit_price\n")
        for i in range(lines):
            text, amount = _line(i)
            f.write(text)
            gross += amount
    return gross


def _counts(db: Path) -> tuple[int, int, int, int, int]:
    connection = sqlite3.connect(db)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        return tuple(  # type: ignore[return-value]
            connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("orders", "order_lines", "customers", "products", "ingest_runs")
        )
    finally:
        connection.close()


def _patron(args: list[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PATRON_QUARANTINE_DIR": str(cwd / "quarantine")}
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(PATRON), *args], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _wait_for_writes(wal: Path, process: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    """Until the run has written several MB of the merge into the write-ahead log."""
    start = wal.stat().st_size if wal.exists() else 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if wal.exists() and wal.stat().st_size > start + (8 << 20):
            return
        time.sleep(0.02)
    pytest.fail("the run never started writing its merge")


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["reading", "merging"])
def test_sigkill_midway_leaves_the_database_consistent(tmp_path: Path, moment: str) -> None:
    db = tmp_path / "patron.db"
    url = f"sqlite:///{db}"
    big = tmp_path / "big.csv"
    gross = _write(big, LINES)
    previous = tmp_path / "previous.csv"
    previous_gross = _write(previous, PREVIOUS)

    for args in (["db", "upgrade"], ["ingest", "orders", str(previous)]):
        done = _patron(["--db", url, *args], tmp_path, tmp_path / "setup.log")
        assert done.wait(timeout=120) == 0, (tmp_path / "setup.log").read_text()
    before = _counts(db)
    assert before == (1_000, 3_000, 1_000, 1_000, 1)

    run = _patron(["--db", url, "ingest", "orders", str(big)], tmp_path, tmp_path / "killed.log")
    try:
        if moment == "reading":
            time.sleep(1.5)
        else:
            _wait_for_writes(tmp_path / "patron.db-wal", run)
        assert run.poll() is None, (
            "the run finished before it could be killed: make the file bigger"
        )
        os.kill(run.pid, signal.SIGKILL)
    finally:
        status = run.wait(timeout=60)
    assert status == -signal.SIGKILL

    assert _counts(db) == before  # orders, lines, customers, products, runs: all as before the run

    rerun = _patron(["--db", url, "ingest", "orders", str(big)], tmp_path, tmp_path / "rerun.log")
    assert rerun.wait(timeout=600) == 0, (tmp_path / "rerun.log").read_text()
    assert _counts(db) == (100_000, 300_000, 20_000, 1_000, 2)

    app = Patron(Settings(database_url=url, quarantine_dir=tmp_path / "quarantine"))
    try:
        stats = app.stats()[0]
        assert (stats.orders, stats.order_lines, stats.customers, stats.products) == (
            100_000,
            300_000,
            20_000,
            1_000,
        )
        assert stats.gross_revenue_minor == gross
        with app.engine.connect() as connection:
            counts = connection.execute(
                select(t.ingest_runs.c.status, t.ingest_runs.c.counts).order_by(t.ingest_runs.c.id)
            ).all()
    finally:
        app.close()
    assert previous_gross < gross
    assert [status for status, _ in counts] == ["stored", "stored"]
    assert counts[1][1]["tables"]["orders"] == {
        "inserted": 99_000,
        "updated": 0,
        "unchanged": 1_000,
    }
    assert counts[1][1]["tables"]["order_lines"] == {
        "inserted": 297_000,
        "updated": 0,
        "unchanged": 3_000,
    }
    assert counts[1][1]["stubs"] == {"customers": 19_000, "products": 0}
