"""What `patron predict` prints after scoring, and `patron report clv`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from patron.cli import render
from patron.cli.options import OutputFormat
from patron.predict.report import ClvReport
from patron.predict.service import ScoreRun


def score_summary(run: ScoreRun) -> dict[str, Any]:
    """Customers scored, the fitted models and the totals of a scoring run."""
    scores = run.scores
    p = scores.predictions
    clv = p["clv_minor"].dropna()
    return {
        "shop": run.shop.name,
        "as_of": run.as_of.isoformat(),
        "model": run.options.model,
        "horizon_days": run.options.horizon_days,
        "customers": run.written,
        "buyers": len(scores.summary),
        "params": scores.purchases.params_.as_dict(),
        "log_likelihood": scores.purchases.log_likelihood_,
        "converged": scores.purchases.converged_,
        "spend_params": scores.spend.params_.as_dict() if scores.spend else None,
        "spend_refused": scores.spend_refused,
        "churn_model": run.options.churn_model,
        "total_clv_minor": int(clv.sum()) if len(clv) else None,
        "mean_p_alive": float(np.nanmean(p["p_alive"].to_numpy(np.float64))),
        "mean_churn_risk": float(np.nanmean(p["churn_risk"].to_numpy(np.float64))),
    }


def show_score(summary: dict[str, Any], currency: str) -> None:
    params = {**summary["params"], **(summary["spend_params"] or {})}
    total = summary["total_clv_minor"]
    render.table(
        f"shop {summary['shop']} scored as of {summary['as_of']} with {summary['model']}",
        ["", "value"],
        [
            ("customers scored", f"{summary['customers']:,}"),
            ("buyers (with predictions)", f"{summary['buyers']:,}"),
            *((name, f"{value:.4g}") for name, value in params.items()),
            ("log-likelihood", f"{summary['log_likelihood']:,.1f}"),
            ("converged", "yes" if summary["converged"] else "no"),
            (
                f"predicted CLV, next {summary['horizon_days']} days",
                render.money(total, currency) if total is not None else "—",
            ),
            ("mean P(alive) of buyers", f"{summary['mean_p_alive']:.3f}"),
            (f"mean churn risk ({summary['churn_model']})", f"{summary['mean_churn_risk']:.3f}"),
        ],
    )
    if summary["spend_refused"]:
        render.console.print(f"no CLV: {summary['spend_refused']}")


def show(report: ClvReport, output: OutputFormat) -> None:
    """JSON: the whole report; CSV: the bands, segments and stages as one table (a ``by``
    column says which); a table: each part."""
    groups = [
        *({"by": "band", "group": r["band"], **_group(r)} for r in report.bands),
        *({"by": "segment", "group": r["segment"], **_group(r)} for r in report.segments),
        *({"by": "stage", "group": r["stage"], **_group(r)} for r in report.stages),
    ]
    if output is OutputFormat.JSON:
        render.as_json(report.to_json())
        return
    if output is OutputFormat.CSV:
        render.as_csv(groups)
        return
    money = _money(report.currency)
    title = (
        f"CLV over {report.horizon_days} days · {report.shop} · {report.model} as of "
        f"{report.as_of:%Y-%m-%d %H:%M} UTC"
    )
    render.table(
        title,
        ["", "value"],
        [
            ("customers", f"{report.customers:,}"),
            ("with a predicted CLV", f"{report.valued:,}"),
            ("total", money(report.total_minor)),
            *((name, money(value)) for name, value in report.quantiles.items()),
        ],
    )
    _groups("customers ranked by CLV", report.bands, money)
    render.table(
        "top customers by CLV",
        ["customer", "CLV", "expected orders", "P(alive)", "churn risk", "segment", "stage"],
        [
            (
                r["customer"],
                money(r["clv_minor"]),
                f"{r['expected_orders']:.2f}",
                f"{r['p_alive']:.3f}",
                f"{r['churn_risk']:.3f}",
                r["segment"],
                r["stage"],
            )
            for r in report.top
        ],
    )
    if report.analysed_as_of is None:
        render.console.print(
            "CLV by segment and stage: the shop has not been analysed yet: run `patron analyze`"
        )
        return
    when = f"analysis as of {report.analysed_as_of:%Y-%m-%d %H:%M} UTC"
    _groups(f"CLV by segment ({when})", report.segments, money)
    _groups(f"CLV by stage ({when})", report.stages, money)


def _group(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in ("label", "customers", "clv_minor", "share")}


def _groups(title: str, rows: list[dict[str, Any]], money: Callable[[int], str]) -> None:
    render.table(
        title,
        ["", "customers", "CLV", "share"],
        [
            (
                r["label"],
                f"{r['customers']:,}",
                money(r["clv_minor"]),
                "—" if r["share"] is None else f"{100 * r['share']:.1f} %",
            )
            for r in rows
        ],
    )


def _money(currency: str) -> Callable[[int], str]:
    return lambda minor: render.money(minor, currency)
