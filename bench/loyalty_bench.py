"""Loyalty service benchmark: earn and redeem operations through `LoyaltyService` from
concurrent worker processes, on PostgreSQL and on SQLite.

    python bench/loyalty_bench.py [--postgres URL] [--skip-sqlite] [--workers 8]
                                  [--duration 20] [--members 2000]

Each worker is a process with its own Patron (engine, pool) that runs a closed loop for
--duration seconds: half the operations earn (a share action, 2 points, keyed by a new share
id), half redeem 1–5 points (keyed by a new request key), each on a member drawn at random.
Every member starts with 1,000,000 spendable points (an adjustment each), so redemptions are
never refused for want of points. Latency is measured per operation around the service call;
CPU seconds of the workers (their own clocks) and of the whole machine are measured over
the run, which the workers start together once all are connected and warmed up.

The shop is built in a PostgreSQL schema of its own, dropped afterwards (or a temporary SQLite
file). Figures go to stdout and to bench/out/loyalty_bench.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import random
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import insert, text

from patron.core import Patron
from patron.db import tables as t
from patron.db.engine import make_engine
from patron.db.shops import ensure_shop
from patron.errors import ConflictError
from patron.loyalty.actions import ActionInput
from patron.loyalty.earn import Action
from patron.loyalty.programme import sample_programme, to_dict
from patron.settings import Settings

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
SHOP = "bench"


def programme_document() -> dict[str, Any]:
    """The sample programme with uncapped shares: every earn operation grants."""
    document = to_dict(sample_programme())
    document["earn"]["share"] = {"points": 2}
    document["earn"]["yearly_cap"] = None
    return document


def build(url: str, members: int) -> None:
    """Schema, shop, programme, customers; each member opened with 1,000,000 points."""
    patron = Patron(Settings(database_url=url))
    patron.upgrade()
    with patron.engine.begin() as connection:
        shop = ensure_shop(connection, SHOP, "Asia/Shanghai", "CNY", patron.clock)
        connection.execute(
            insert(t.customers),
            [
                {"shop_id": shop.id, "external_id": f"C-{n}", "is_stub": False}
                for n in range(members)
            ],
        )
    loyalty = patron.loyalty()
    loyalty.set_programme(shop.id, programme_document())
    for n in range(members):
        loyalty.adjust(shop.id, f"C-{n}", 1_000_000, "opening balance", f"open-{n}", "bench")
    if patron.engine.dialect.name == "postgresql":
        with patron.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    patron.close()


def worker(
    url: str, members: int, duration: float, seed: int, queue: Any, ready: Any, go: Any
) -> None:
    patron = Patron(Settings(database_url=url, database_pool_size=2))
    loyalty = patron.loyalty()
    shop_id = patron.operator_context(SHOP, "bench").shop_id
    rng = random.Random(seed)
    latencies: list[float] = []
    refused = 0
    tag = uuid.uuid4().hex[:8]
    n = 0
    # Warm-up: the connection, prepared statements, the programme; then all start together.
    loyalty.member(shop_id, "C-0")
    ready.release()
    go.wait()
    cpu_start = time.process_time()
    end = time.perf_counter() + duration
    while time.perf_counter() < end:
        customer = f"C-{rng.randrange(members)}"
        n += 1
        started = time.perf_counter()
        try:
            if n % 2:
                share = ActionInput(Action.SHARE, ref=f"{tag}-{n}")
                loyalty.earn_action(shop_id, customer, share)
            else:
                loyalty.redeem(shop_id, customer, rng.randint(1, 5), f"{tag}-{n}", "bench")
        except ConflictError:
            refused += 1
        latencies.append(time.perf_counter() - started)
    worker_cpu = time.process_time() - cpu_start
    patron.close()
    queue.put({"latencies": latencies, "refused": refused, "cpu": worker_cpu})


def percentile(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def run(url: str, name: str, args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    build(url, args.members)
    print(f"{name}: built {args.members:,} members in {time.perf_counter() - started:.1f} s")
    context = mp.get_context("spawn")
    queue: Any = context.Queue()
    ready: Any = context.Semaphore(0)
    go: Any = context.Event()
    workers = [
        context.Process(target=worker, args=(url, args.members, args.duration, n, queue, ready, go))
        for n in range(args.workers)
    ]
    for process in workers:
        process.start()
    for _ in workers:
        ready.acquire()
    machine_before = psutil.cpu_times()
    go.set()
    results = [queue.get() for _ in workers]
    for process in workers:
        process.join()
    machine_after = psutil.cpu_times()
    workers_cpu = sum(r["cpu"] for r in results)
    latencies = sorted(x for r in results for x in r["latencies"])
    ops = len(latencies)
    busy = (machine_after.user + machine_after.system) - (
        machine_before.user + machine_before.system
    )
    figures = {
        "target": name,
        "workers": args.workers,
        "duration_s": args.duration,
        "operations": ops,
        "ops_per_s": round(ops / args.duration, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "refused": sum(r["refused"] for r in results),
        "machine_cpu_ms_per_op": round(busy / ops * 1000, 3),
        "workers_cpu_ms_per_op": round(workers_cpu / ops * 1000, 3),
    }
    print(json.dumps(figures))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("PATRON_TEST_POSTGRES_URL"))
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--members", type=int, default=2_000)
    args = parser.parse_args()
    results = []
    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(args.postgres)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in args.postgres else "?"
        try:
            url = f"{args.postgres}{separator}options=-csearch_path%3D{schema}"
            results.append(run(url, "postgresql", args))
        finally:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            results.append(run(f"sqlite:///{folder}/bench.db", "sqlite", args))
    OUT.mkdir(exist_ok=True)
    record = {
        "date": date.today().isoformat(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average": os.getloadavg(),
        "results": results,
    }
    (OUT / "loyalty_bench.json").write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
