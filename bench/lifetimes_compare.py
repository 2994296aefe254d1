"""Patron against the `lifetimes` package: BG/NBD and Gamma-Gamma fits on the CDNOW sample and
on 1,000,000 simulated customers, CPU seconds and parameters of both, in the same run.

    python bench/lifetimes_compare.py [--customers 1000000]

lifetimes is unmaintained and breaks on current pandas and numpy, and it is never a Patron
dependency: the first run creates its own virtual environment in bench/out/lifetimes-venv with
the last versions it works with (pinned below) and runs it there in a subprocess on the same
arrays (written as .npy files). Each fit is called as its documentation shows: lifetimes on one
row per customer, Patron on the summary (it compresses identical patterns itself). Figures go
to stdout and to bench/out/lifetimes_compare.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from patron.predict.calibration import split
from patron.predict.clv import BGNBD, BGNBDParams, GammaGamma, simulate
from patron.predict.clv.gamma_gamma import GammaGammaParams
from patron.predict.transactions import read_transactions

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
VENV = OUT / "lifetimes-venv"
DATA = BENCH.parents[1] / "shared" / "data"
# The last releases lifetimes 0.11.3 runs with on Python 3.11 (pandas 2 removed what it uses).
PINS = (
    "lifetimes==0.11.3",
    "pandas==1.5.3",
    "numpy==1.24.4",
    "scipy==1.10.1",
    "autograd==1.6.2",
    "dill==0.3.8",
)
CDNOW_BG = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
CDNOW_SPEND = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)

# Runs in the lifetimes environment: fit both models on the arrays of one folder.
WORKER = """
import json, sys, time
import numpy as np
from lifetimes import BetaGeoFitter, GammaGammaFitter

folder = sys.argv[1]
x, t_x, age = (np.load(f"{folder}/{n}.npy") for n in ("frequency", "recency", "T"))
spend_x, spend_m = (np.load(f"{folder}/{n}.npy") for n in ("spend_frequency", "spend_value"))
cpu = time.process_time()
bg = BetaGeoFitter().fit(x, t_x, age)
bg_cpu = time.process_time() - cpu
cpu = time.process_time()
gg = GammaGammaFitter().fit(spend_x, spend_m)
gg_cpu = time.process_time() - cpu
print(json.dumps({
    "bgnbd": {"cpu_s": bg_cpu, "params": {k: float(v) for k, v in bg.params_.items()},
              "ll": float(-bg._negative_log_likelihood_ * len(x))},
    "gamma_gamma": {"cpu_s": gg_cpu, "params": {k: float(v) for k, v in gg.params_.items()}},
}))
"""


def lifetimes_python() -> Path:
    """The interpreter of the lifetimes environment, created on first use."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS], check=True)
    return python


def cdnow() -> tuple[pd.DataFrame, pd.DataFrame]:
    transactions = read_transactions(DATA / "CDNOW_sample.txt", cdnow=True)
    summary = split(transactions, date(1997, 9, 30), date(1998, 6, 30)).summary
    return summary, summary[summary["frequency"] > 0]


def simulated(customers: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A CDNOW-like cohort in weeks, purchases on whole days (as in predict_bench.py), and as
    many repeat buyers with Gamma-Gamma spends."""
    age = rng.integers(27 * 7, 39 * 7 + 1, customers) / 7.0
    summary = simulate.bgnbd(CDNOW_BG, age, rng)
    summary["recency"] = np.floor(summary["recency"] * 7) / 7
    repeat = rng.geometric(0.3, customers).astype(np.float64)
    spenders = pd.DataFrame(
        {"frequency": repeat, "monetary_value": simulate.gamma_gamma(CDNOW_SPEND, repeat, rng)}
    )
    return summary, spenders


def run_lifetimes(summary: pd.DataFrame, spenders: pd.DataFrame, folder: Path) -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("frequency", "recency", "T"):
        np.save(folder / f"{name}.npy", summary[name].to_numpy(np.float64))
    np.save(folder / "spend_frequency.npy", spenders["frequency"].to_numpy(np.float64))
    np.save(folder / "spend_value.npy", spenders["monetary_value"].to_numpy(np.float64))
    done = subprocess.run(
        [str(lifetimes_python()), "-c", WORKER, str(folder)],
        check=True,
        capture_output=True,
        text=True,
        env={"OPENBLAS_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_patron(summary: pd.DataFrame, spenders: pd.DataFrame) -> dict[str, Any]:
    cpu = time.process_time()
    bg = BGNBD().fit(summary)
    bg_cpu = time.process_time() - cpu
    cpu = time.process_time()
    gg = GammaGamma().fit(spenders)
    gg_cpu = time.process_time() - cpu
    return {
        "bgnbd": {"cpu_s": bg_cpu, "params": bg.params_.as_dict(), "ll": bg.log_likelihood_},
        "gamma_gamma": {"cpu_s": gg_cpu, "params": gg.params_.as_dict()},
    }


def significant(value: float) -> str:
    return f"{value:.4g}"


def compare(name: str, summary: pd.DataFrame, spenders: pd.DataFrame) -> list[dict[str, Any]]:
    theirs = run_lifetimes(summary, spenders, OUT / "lifetimes-data" / name.replace(" ", "-"))
    ours = run_patron(summary, spenders)
    rows = []
    for model in ("bgnbd", "gamma_gamma"):
        a, b = ours[model], theirs[model]
        same = [significant(v) for v in a["params"].values()] == [
            significant(v) for v in b["params"].values()
        ]
        row = {
            "data": name,
            "model": model,
            "customers": len(summary) if model == "bgnbd" else len(spenders),
            "patron_cpu_s": round(a["cpu_s"], 3),
            "lifetimes_cpu_s": round(b["cpu_s"], 3),
            "ratio": round(b["cpu_s"] / a["cpu_s"], 1),
            "patron_params": {k: significant(v) for k, v in a["params"].items()},
            "lifetimes_params": {k: significant(v) for k, v in b["params"].items()},
            "same_4_digits": same,
        }
        print(json.dumps(row))
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()
    lifetimes_python()
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "lifetimes_environment": list(PINS),
        "fits": [
            *compare("CDNOW sample", *cdnow()),
            *compare(
                f"simulated {args.customers:,}",
                *simulated(args.customers, np.random.default_rng(2026)),
            ),
        ],
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "lifetimes_compare.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
