"""`patron predict`: buy-till-you-die purchase models and their holdout check, and the
churn models compared out of time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from patron.analytics.facts import PURCHASE_STATUSES, Facts, connect_duckdb, read_facts
from patron.analytics.service import Schemes, compute
from patron.cli import render
from patron.cli.analyze import parse_day
from patron.cli.clv_report import score_summary, show_score
from patron.cli.options import DbOption, ShopOption, build, shop_name
from patron.errors import ErrorCode, InputError, NotFoundError
from patron.predict.calibration import Evaluation, holdout_check
from patron.predict.churn import DEFAULT_HORIZON_DAYS
from patron.predict.churn_data import FeatureSource
from patron.predict.churn_eval import ChurnEvaluation, evaluate_churn, last_day_after
from patron.predict.transactions import read_transactions
from patron.predict.units import TimeUnit

app = typer.Typer(
    help="Predictions: score every customer (no sub-command), or check the purchase and churn "
    "models on held-out data.",
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


class ScoreModel(StrEnum):
    BGNBD = "bgnbd"
    PNBD = "pnbd"
    PARETO_NBD = "pareto_nbd"
    MBGNBD = "mbgnbd"


@app.callback(invoke_without_command=True)
def predict(
    ctx: typer.Context,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Score as of the end of this day (YYYY-MM-DD) in the shop's time zone "
            "(default: now).",
        ),
    ] = None,
    model: Annotated[
        ScoreModel | None,
        typer.Option("--model", help="Purchase model (default: the predict_model setting)."),
    ] = None,
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", min=1, help="Predict over this many days.")
    ] = 365,
    db: DbOption = None,
    shop: ShopOption = None,
    output: Annotated[ReportFormat, typer.Option("--format", help="Output format.")] = (
        ReportFormat.TABLE
    ),
) -> None:
    """Fit a purchase model and a spend model on the shop's purchases and store every
    customer's expected orders, P(alive), P(buying), churn risk, expected order value, CLV and
    expected next order."""
    if ctx.invoked_subcommand is not None:
        return
    day = parse_day(as_of)
    with build(db) as patron, render.errors.status("scoring…") as status:
        run = patron.predict().score(
            shop_name(shop) or patron.settings.default_shop,
            day,
            model.value if model else None,
            horizon_days,
            lambda step: status.update(f"{step}…"),
        )
    summary = score_summary(run)
    if output is ReportFormat.JSON:
        render.as_json(summary)
    else:
        show_score(summary, run.shop.currency)


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


@app.command("churn-evaluate")
def churn_evaluate(
    transactions: Annotated[
        Path | None,
        typer.Option(
            "--transactions", help="CSV with customer_id, date and amount (or CDNOW: --cdnow)."
        ),
    ] = None,
    facts: Annotated[
        Path | None,
        typer.Option(
            "--facts",
            help="Folder of a shop's fact files (analytics_dir/shop-<id>): adds the analytics "
            "profiles (RFM, segments, stage, intent, tags) to the features.",
        ),
    ] = None,
    cdnow: Annotated[
        bool, typer.Option("--cdnow", help="Whitespace-separated CDNOW master or sample file.")
    ] = False,
    end: Annotated[
        datetime | None,
        typer.Option(
            "--end",
            formats=["%Y-%m-%d"],
            help="First day after the test window (default: the day after the last purchase).",
        ),
    ] = None,
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", min=1, help="Churn: no purchase in this many days.")
    ] = DEFAULT_HORIZON_DAYS,
    output: Annotated[ReportFormat, typer.Option("--format", help="Output format.")] = (
        ReportFormat.TABLE
    ),
) -> None:
    """Train the boosted churn model on one window of --horizon-days, then score the next
    window with it and with the pattern baseline (1 − P(a purchase in the horizon), BG/NBD):
    AUC, PR-AUC, Brier score and calibration by decile of each."""
    if (transactions is None) == (facts is None):
        raise InputError("give either --transactions or --facts", field="transactions")
    extra: FeatureSource | None = None
    if transactions is not None:
        frame = read_transactions(transactions, cdnow=cdnow)
    else:
        assert facts is not None
        frame, extra = _shop_inputs(facts)
    last = end.date() if end is not None else last_day_after(frame)
    report = evaluate_churn(frame, last, horizon_days, extra)
    if output is ReportFormat.JSON:
        render.as_json(report.to_json())
    else:
        show_churn(report)


def _shop_inputs(folder: Path) -> tuple[pd.DataFrame, FeatureSource]:
    """The purchases of a shop's fact files (total in minor units, UTC days) and its
    analytics profiles as of the start of a UTC day."""
    if not (folder / "orders.parquet").is_file():
        raise NotFoundError(
            f"{folder}: no orders.parquet (expected a folder of fact files)",
            code=ErrorCode.FILE_NOT_FOUND,
            file=str(folder),
        )
    shop: Facts = read_facts(connect_duckdb(temp_directory=folder / "spill"), folder)
    o = shop.orders
    purchases = (
        o.filter(o.status.isin(PURCHASE_STATUSES))
        .select("customer_id", date=o.placed_at, amount=o.total_minor)
        .to_pandas()
    )
    schemes = Schemes.shipped()

    def profiles(day: date) -> pd.DataFrame:
        moment = datetime.combine(day, time(), UTC)
        table: pd.DataFrame = compute(shop, moment, schemes).profiles.to_pandas()
        return table.set_index("customer_id")

    return purchases, profiles


def show_churn(report: ChurnEvaluation) -> None:
    boosted, baseline = report.boosted, report.baseline
    render.table(
        f"Churn in {report.horizon_days} days from {report.test_cut}: "
        f"{report.customers:,} customers, {report.churn_rate:.1%} churned "
        f"(boosted trained on {report.training_customers:,} from {report.train_cut})",
        ["", "boosted", "pattern (BG/NBD)"],
        [
            ("ROC AUC", f"{boosted.auc:.3f}", f"{baseline.auc:.3f}"),
            ("PR-AUC", f"{boosted.pr_auc:.3f}", f"{baseline.pr_auc:.3f}"),
            ("Brier score", f"{boosted.brier:.4f}", f"{baseline.brier:.4f}"),
        ],
    )
    render.table(
        "Calibration by decile of predicted risk: mean predicted vs share churned",
        ["decile", "boosted predicted", "observed", "pattern predicted", "observed"],
        [
            (
                a.bin,
                f"{a.predicted:.3f}",
                f"{a.observed:.3f}",
                f"{b.predicted:.3f}",
                f"{b.observed:.3f}",
            )
            for a, b in zip(boosted.calibration, baseline.calibration, strict=True)
        ],
    )
