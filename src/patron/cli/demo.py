"""`patron demo`: the main job on the embedded default."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from patron.cli import render
from patron.cli.analyze import Language, show_headline
from patron.cli.clv_report import score_summary, show_score
from patron.cli.loyalty_tables import show_liability, show_tiers
from patron.cli.options import Globals
from patron.cli.predict import show
from patron.cli.stats import show_shop
from patron.core import Patron
from patron.demo.pipeline import run_demo
from patron.settings import Settings


def demo(
    out: Annotated[
        Path, typer.Option(help="Folder for the generated files and the database.")
    ] = Path("demo-shop"),
    customers: Annotated[
        int, typer.Option(min=50, help="Number of customers to generate.")
    ] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same shop.")] = 7,
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (default: a SQLite file in --out).")
    ] = None,
) -> None:
    """Generate a realistic shop (customers, catalogue, two years of orders, refunds, behaviour,
    reviews), load it into the embedded database and print what it holds."""
    out.mkdir(parents=True, exist_ok=True)
    url = db or Globals.db or f"sqlite:///{(out / 'patron.db').resolve()}"
    with (
        Patron(
            Settings(
                database_url=url,
                quarantine_dir=out / "quarantine",
                analytics_dir=out / "analytics",
            )
        ) as patron,
        render.errors.status("working…") as status,
    ):
        result = run_demo(patron, out, customers=customers, seed=seed, on_step=status.update)
    rows = [
        (
            str(r.entity),
            f"{r.rows_read:,}",
            *(f"{c.inserted:,}" for c in list(r.tables.values())[:1]),
        )
        for r in result.reports
    ]
    render.table("loaded", ["file", "rows", "inserted"], rows)
    show_shop(result.stats, f"shop {result.stats.shop} ({result.database_url})")
    show_headline(result.analysis, Language.EN)
    if result.holdout is not None and result.predictions is not None:
        show(result.holdout)
        show_score(score_summary(result.predictions), result.stats.currency)
    else:
        render.console.print(f"no predictions: {result.skipped}")
    done, loyalty = result.backfilled, result.loyalty
    enrolled = (
        f"{done.customers:,} enrolled now from their {done.orders:,} orders"
        if done.customers
        else "no new buyers to enrol"
    )
    render.console.print(
        f"loyalty programme {loyalty.programme!r} v{loyalty.version}: "
        f"{loyalty.redemption_rate.members:,} members ({enrolled})",
        highlight=False,
    )
    show_tiers(loyalty, Language.EN)
    show_liability(loyalty)
    render.console.print(
        f"next: patron --db {url} report segments --shop demo --lang zh"
        f"  (also: stats, report stages|transitions|cohorts|kpis|clv)\n"
        f"      patron --db {url} loyalty report --shop demo --as-of {result.last_day}"
        f"  (also: loyalty programme show, loyalty member CUSTOMER)"
    )
