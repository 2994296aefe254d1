"""Buy-till-you-die benchmark: BG/NBD and Pareto/NBD fits on the CDNOW sample, the full CDNOW
master file and 1,000,000 simulated customers, against a straightforward baseline in the same
run: the same stable log-likelihood, one row per customer (no pattern compression), and
L-BFGS-B on finite differences polished by Newton steps (no closed-form gradient). Also, on
the 1M customers: predictions, 12-month CLV and the Gamma-Gamma fit.

    python bench/predict_bench.py [--customers 1000000] [--baseline-limit 1000000]

The CDNOW files are read from ../shared/data; the simulated customers are a CDNOW-like cohort
(first purchases over 12 weeks, observed to week 39, times in whole days). Figures are wall and
CPU seconds; they go to stdout and to bench/out/predict_bench.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from patron.predict.calibration import split
from patron.predict.clv import BGNBD, BGNBDParams, GammaGamma, ParetoNBD, simulate
from patron.predict.clv.base import Patterns, maximise
from patron.predict.clv.gamma_gamma import GammaGammaParams
from patron.predict.clv.pareto_nbd import ParetoNBDParams
from patron.predict.clv.purchases import PurchaseModel
from patron.predict.clv.value import customer_value
from patron.predict.transactions import read_transactions
from patron.predict.units import TimeUnit

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
DATA = BENCH.parents[1] / "shared" / "data"
CDNOW_BG = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
CDNOW_PARETO = ParetoNBDParams(r=0.553, alpha=10.578, s=0.606, beta=11.669)
CDNOW_SPEND = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)


def timed(work: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, round(time.perf_counter() - wall, 3), round(time.process_time() - cpu, 3)


def cdnow(name: str) -> pd.DataFrame:
    transactions = read_transactions(DATA / name, cdnow=True)
    return split(transactions, date(1997, 9, 30), date(1998, 6, 30)).summary


def simulated(model: str, customers: int, rng: np.random.Generator) -> pd.DataFrame:
    """A CDNOW-like cohort: T from 27 to 39 weeks in whole days, last purchases on whole days."""
    age = rng.integers(27 * 7, 39 * 7 + 1, customers) / 7.0
    if model == "bgnbd":
        data = simulate.bgnbd(CDNOW_BG, age, rng)
    else:
        data = simulate.pareto_nbd(CDNOW_PARETO, age, rng)
    data["recency"] = np.floor(data["recency"] * 7) / 7
    return data


def baseline(model: PurchaseModel[Any], summary: pd.DataFrame) -> dict[str, Any]:
    columns = model.read(summary)
    rows = Patterns(columns, np.ones(len(columns[0])))
    names = model.params_type.names()
    optimum = maximise(
        lambda v: model.log_likelihood(model.params_type.of(v), rows.columns),
        rows,
        np.ones(len(names)),
    )
    return {
        "params": dict(zip(names, optimum.params.tolist(), strict=True)),
        "ll": optimum.log_likelihood,
    }


def fit_both(
    model: type[PurchaseModel[Any]], summary: pd.DataFrame, with_baseline: bool
) -> dict[str, Any]:
    fitted, wall, cpu = timed(lambda: model().fit(summary))
    patterns = len(Patterns.compress(*fitted.read(summary)).weight)
    row: dict[str, Any] = {
        "model": model.name,
        "customers": len(summary),
        "patterns": patterns,
        "wall_s": wall,
        "cpu_s": cpu,
        "params": {k: round(v, 4) for k, v in fitted.params_.as_dict().items()},
        "ll": round(fitted.log_likelihood_, 3),
    }
    if with_baseline:
        found, wall, cpu = timed(lambda: baseline(model(), summary))
        row["baseline"] = {
            "wall_s": wall,
            "cpu_s": cpu,
            "params": {k: round(v, 4) for k, v in found["params"].items()},
            "ll": round(found["ll"], 3),
        }
        row["speedup"] = round(wall / row["wall_s"], 1)
    print(json.dumps(row))
    return row


def scoring(summary: pd.DataFrame, rng: np.random.Generator) -> dict[str, Any]:
    """Predictions for every customer, 12-month CLV, and the Gamma-Gamma fit on as many repeat
    buyers as there are customers (1 + a geometric number of repeat transactions each)."""
    model = BGNBD().fit(summary)
    x = summary["frequency"].to_numpy()
    summary = summary.assign(monetary_value=simulate.gamma_gamma(CDNOW_SPEND, x, rng))
    spend = GammaGamma().fit(summary)
    _, purchases_wall, purchases_cpu = timed(lambda: model.expected_purchases(summary, 52.0))
    _, alive_wall, alive_cpu = timed(lambda: model.p_alive(summary))
    _, clv_wall, clv_cpu = timed(
        lambda: customer_value(
            model, spend, summary, horizon=52.0, unit=TimeUnit.WEEKS, annual_discount_rate=0.1
        )
    )
    repeat = rng.geometric(0.3, len(summary)).astype(np.float64)
    spenders = pd.DataFrame(
        {"frequency": repeat, "monetary_value": simulate.gamma_gamma(CDNOW_SPEND, repeat, rng)}
    )
    spend, gg_wall, gg_cpu = timed(lambda: GammaGamma().fit(spenders))
    row = {
        "customers": len(summary),
        "expected_purchases": {"wall_s": purchases_wall, "cpu_s": purchases_cpu},
        "p_alive": {"wall_s": alive_wall, "cpu_s": alive_cpu},
        "clv_12_months": {"wall_s": clv_wall, "cpu_s": clv_cpu},
        "gamma_gamma_fit": {
            "repeat_buyers": len(spenders),
            "wall_s": gg_wall,
            "cpu_s": gg_cpu,
            "params": {k: round(v, 4) for k, v in spend.params_.as_dict().items()},
        },
    }
    print(json.dumps(row))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument(
        "--baseline-limit",
        type=int,
        default=1_000_000,
        help="run the baseline only on data sets of at most this many customers",
    )
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "fits": [],
    }
    data = {"CDNOW sample": cdnow("CDNOW_sample.txt"), "CDNOW master": cdnow("CDNOW_master.txt")}
    for name, summary in data.items():
        for model in (BGNBD, ParetoNBD):
            print(name, end=": ")
            report["fits"].append({"data": name, **fit_both(model, summary, True)})
    for model in (BGNBD, ParetoNBD):
        summary = simulated(model.name, args.customers, rng)
        with_baseline = args.customers <= args.baseline_limit
        print(f"simulated {model.name}", end=": ")
        fit = fit_both(model, summary, with_baseline)
        report["fits"].append({"data": f"simulated {model.name}", **fit})
    report["scoring"] = scoring(simulated("bgnbd", args.customers, rng), rng)
    OUT.mkdir(exist_ok=True)
    (OUT / "predict_bench.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
