"""`patron predict`: buy-till-you-die purchase models and their holdout check."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from patron.cli import render
from patron.predict.calibration import Evaluation, holdout_check
from patron.predict.transactions import read_transactions
from patron.predict.units import TimeUnit

app = typer.Typer(
    help="Predictions: purchase models and their holdout check.", no_args_is_help=True
)

# Weeks of the cumulative tracking shown in the table (the JSON has every week).
TRACKING_EVERY = 13


class ModelName(StrEnum):
    BGNBD = "bgnbd"
    PARETO_NBD = "pareto_nbd"
    MBGNBD = "mbgnbd"


class ReportFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


@app.command()
def evaluate(
    transactions: Annotated[
        Path,
        typer.Option(
            "--transactions", help="CSV with customer_id, date and amount (or CDNOW: --cdnow)."
        ),
    ],
    calibration_end: Annotated[
        datetime,
        typer.Option("--calibration-end", formats=["%Y-%m-%d"], help="Last calibration day."),
    ],
    holdout_end: Annotated[
        datetime, typer.Option("--holdout-end", formats=["%Y-%m-%d"], help="Last holdout day.")
    ],
    model: Annotated[ModelName, typer.Option("--model", help="Purchase model.")] = (
        ModelName.BGNBD
    ),
    unit: Annotated[TimeUnit, typer.Option("--unit", help="Time unit of the model.")] = (
        TimeUnit.WEEKS
    ),
    cdnow: Annotated[
        bool, typer.Option("--cdnow", help="Whitespace-separated CDNOW master or sample file.")
    ] = False,
    output: Annotated[ReportFormat, typer.Option("--format", help="Output format.")] = (
        ReportFormat.TABLE
    ),
) -> None:
    """Fit a purchase model on the transactions up to the calibration end and check its
    forecast of the purchases up to the holdout end (same-day purchases are one transaction)."""
    frame = read_transactions(transactions, cdnow=cdnow)
    report = holdout_check(frame, calibration_end.date(), holdout_end.date(), model, unit)
    if output is ReportFormat.JSON:
        render.as_json(report.to_json())
    else:
        show(report)


def show(report: Evaluation) -> None:
    h = report.holdout
    render.table(
        f"{report.model} fitted on {report.customers:,} customers ({report.unit})",
        ["", "value"],
        [
            *((name, f"{value:.4g}") for name, value in report.params.items()),
            ("log-likelihood", f"{report.log_likelihood:,.1f}"),
            (
                f"holdout purchases, actual ({report.holdout_length:g} {report.unit})",
                f"{h.actual:,.0f}",
            ),
            ("holdout purchases, predicted", f"{h.predicted:,.1f}"),
            ("cumulative error at holdout end", f"{report.cumulative_error:+.1%}"),
            ("individual correlation", f"{h.correlation:.3f}"),
            ("mean absolute error", f"{h.mae:.3f}"),
        ],
    )
    render.table(
        "Holdout purchases per customer by calibration frequency",
        ["repeat purchases", "customers", "actual", "predicted"],
        [
            (
                f"{row.frequency}{'+' if row.or_more else ''}",
                f"{row.customers:,}",
                f"{row.actual:.2f}",
                f"{row.predicted:.2f}",
            )
            for row in report.by_frequency
        ],
    )
    weeks = len(report.week_ends)
    shown = sorted({*range(TRACKING_EVERY - 1, weeks, TRACKING_EVERY), weeks - 1})
    render.table(
        "Cumulative repeat transactions",
        ["week", "ends", "actual", "predicted"],
        [
            (
                i + 1,
                report.week_ends[i],
                f"{report.cumulative_actual[i]:,.0f}",
                f"{report.cumulative_predicted[i]:,.1f}",
            )
            for i in shown
        ],
    )
