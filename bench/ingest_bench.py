"""Ingestion benchmark: N order lines from CSV into SQLite and PostgreSQL, first load and re-load,
with peak memory, against a naive baseline (pandas.read_csv + DataFrame.to_sql) in the same run.

    python bench/ingest_bench.py [--lines 1000000] [--postgres URL] [--skip-baseline]

Each measurement runs in a child process, so peak RSS is the child's own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

OUT = Path(__file__).resolve().parent / "out"
PATRON = [sys.executable, "-m", "patron.cli.app"]


def make_orders_csv(lines: int, path: Path, seed: int = 1) -> Path:
    """A generic-profile orders file: ~3 lines per order, 50k customers, 5k products."""
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    per_order = rng.integers(1, 6, size=lines // 2 + 10)
    order_of_line = np.repeat(np.arange(per_order.size), per_order)[:lines]
    orders = int(order_of_line[-1]) + 1
    customers = rng.integers(1, 50_001, size=orders)
    start = np.datetime64("2024-01-01T00:00:00")
    placed = start + rng.integers(0, 2 * 365 * 86400, size=orders).astype("timedelta64[s]")
    sku = rng.integers(1, 5001, size=lines)
    price_fen = (rng.lognormal(4.0, 0.8, size=5001) * 100).astype(np.int64)
    quantity = rng.integers(1, 4, size=lines)
    table = pa.table(
        {
            "order_id": pa.array(np.char.add("O", order_of_line.astype(str))),
            "customer_id": pa.array(np.char.add("C", customers[order_of_line].astype(str))),
            "placed_at": pa.array(np.datetime_as_string(placed[order_of_line], unit="s")),
            "status": pa.array(
                np.where(rng.random(orders) < 0.03, "cancelled", "completed")[order_of_line]
            ),
            "sku": pa.array(np.char.add("SKU-", sku.astype(str))),
            "quantity": pa.array(quantity),
            "unit_price": pa.array([f"{p // 100}.{p % 100:02d}" for p in price_fen[sku].tolist()]),
            "channel": pa.array(np.array(["app", "web", "store"])[order_of_line % 3]),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, path)
    return path


def measured(argv: list[str]) -> tuple[float, int]:
    """Run ``argv`` under a fresh Python that reports its child's peak RSS."""
    probe = (
        "import resource, subprocess, sys, time, json;"
        "t=time.perf_counter();"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL);"
        "w=time.perf_counter()-t;"
        "print(json.dumps([w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss//1024]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *argv], check=True, capture_output=True, text=True
    )
    wall, rss = json.loads(out.stdout.strip().splitlines()[-1])
    return float(wall), int(rss)


BASELINE = """
import sys, pandas as pd, sqlalchemy as sa
engine = sa.create_engine(sys.argv[2])
frame = pd.read_csv(sys.argv[1])
frame.to_sql("baseline_lines", engine, if_exists="replace", index=False, chunksize=50_000)
"""


def bench(lines: int, postgres: str | None, baseline: bool) -> dict[str, object]:
    csv_path = make_orders_csv(lines, OUT / f"orders_{lines}.csv")
    results: dict[str, object] = {
        "lines": lines,
        "file_mib": round(csv_path.stat().st_size / 2**20, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "date": date.today().isoformat(),
    }
    targets = {"sqlite": f"sqlite:///{OUT / f'bench_{lines}.db'}"}
    if postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        subprocess.run(["psql", _libpq(postgres), "-qc", f"CREATE SCHEMA {schema}"], check=True)
        sep = "&" if "?" in postgres else "?"
        targets["postgresql"] = f"{postgres}{sep}options=-csearch_path%3D{schema}"
    for name, url in targets.items():
        if name == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(str(OUT / f"bench_{lines}.db") + suffix).unlink(missing_ok=True)
        subprocess.run(
            [*PATRON, "--db", url, "db", "upgrade"], check=True, stdout=subprocess.DEVNULL
        )
        ingest = [*PATRON, "--db", url, "ingest", "orders", str(csv_path)]
        results[f"{name}_first"] = measured(ingest)
        results[f"{name}_again"] = measured(ingest)
        if baseline:
            results[f"{name}_baseline"] = measured(
                [sys.executable, "-c", BASELINE, str(csv_path), url]
            )
        print(json.dumps(results), flush=True)
    if postgres:
        drop = f"DROP SCHEMA {schema} CASCADE"
        subprocess.run(["psql", _libpq(postgres), "-qc", drop], check=True)
    return results


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=os.environ.get("PATRON_TEST_POSTGRES_URL"))
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    results = bench(args.lines, args.postgres, not args.skip_baseline)
    OUT.mkdir(exist_ok=True)
    (OUT / f"ingest_{args.lines}.json").write_text(json.dumps(results, indent=2))
    for key, value in results.items():
        print(f"{key:22} {value}")


if __name__ == "__main__":
    main()
