"""Analytics benchmark: the full analysis (summary, RFM and both segment schemes, lifecycle
stages and 30-day transitions, retention cohorts, KPIs; then preference tags and intent) over
N orders in Parquet, on DuckDB through Ibis, against a straightforward pandas implementation of
the same analysis without tags (bench/analytics_pandas.py) in the same run; the two must agree
on every headline figure.

    python bench/analytics_bench.py [--orders 10000000] [--skip-baseline] [--memory-limit 3GB]

The fact files are generated once per size (bench/analytics_data.py) under bench/out/. Each
measurement runs in a child process, so its peak RSS is its own; the figures go to stdout and
to bench/out/analytics_bench.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
CORE_STEPS = ("summary", "rfm", "stages", "cohorts", "kpis")
OUT = BENCH / "out"
sys.path.insert(0, str(BENCH))

from analytics_data import AS_OF, generate  # noqa: E402
from analytics_pandas import disagreements, patron_figures, timed  # noqa: E402
from patron.analytics.facts import connect_duckdb, read_facts  # noqa: E402
from patron.analytics.service import Schemes, compute  # noqa: E402


def child_patron(folder: Path, memory_limit: str) -> dict[str, Any]:
    steps: dict[str, float] = {}
    start = time.perf_counter()
    last = [start, ""]

    def progress(step: str) -> None:
        now = time.perf_counter()
        if last[1]:
            steps[str(last[1])] = round(now - float(last[0]), 2)
        last[0], last[1] = now, step

    con = connect_duckdb(memory_limit, folder.parent / "duck-spill", threads=2)
    analysis = compute(read_facts(con, folder), AS_OF, Schemes.shipped(), progress=progress)
    progress("")
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "seconds": round(seconds, 2),
        # The bar's analysis, as the pandas baseline does it: summary, RFM and segments,
        # stages and transitions, cohorts, KPIs; not the tags and intent, nor the assembly
        # of the profiles to store (which joins the tags).
        "core_seconds": round(sum(steps[name] for name in CORE_STEPS), 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "steps": steps,
        **patron_figures(analysis),
    }


def child_pandas(folder: Path) -> dict[str, Any]:
    return timed(folder, AS_OF)


def measure(kind: str, folder: Path, memory_limit: str) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", kind, "--folder", str(folder)]
    argv += ["--memory-limit", memory_limit]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--memory-limit", default="3GB", help="DuckDB memory_limit")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = (
            child_patron(args.folder, args.memory_limit)
            if args.child == "patron"
            else child_pandas(args.folder)
        )
        result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print(json.dumps(result, default=str))
        return
    label = f"{args.orders // 1_000_000}m" if args.orders >= 1_000_000 else str(args.orders)
    folder = generate(args.orders, OUT / f"facts_{label}")
    report: dict[str, Any] = {
        "orders": args.orders,
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "patron": measure("patron", folder, args.memory_limit),
    }
    print("patron:", json.dumps(report["patron"]))
    if not args.skip_baseline:
        report["pandas"] = measure("pandas", folder, args.memory_limit)
        print("pandas:", json.dumps(report["pandas"]))
        differ = disagreements(report["pandas"], report["patron"])
        report["agree"] = not differ
        print("figures agree:", report["agree"], *differ, sep="\n  ")
        pandas, patron = report["pandas"]["seconds"], report["patron"]
        report["speedup_core"] = round(pandas / patron["core_seconds"], 2)
        report["speedup_with_tags"] = round(pandas / patron["seconds"], 2)
        print(
            "pandas / patron wall time:",
            report["speedup_core"],
            "(with tags and intent:",
            f"{report['speedup_with_tags']})",
        )
    OUT.mkdir(exist_ok=True)
    (OUT / "analytics_bench.json").write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
