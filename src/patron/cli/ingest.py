"""`patron ingest ENTITY FILE`: load a shop export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from patron.cli import render
from patron.cli.options import DbOption, ShopOption, build, shop_name
from patron.ingest.model import Entity, IngestReport
from patron.ingest.profiles import PROFILES


def ingest(
    entity: Annotated[Entity, typer.Argument(help="What the file holds.")],
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV (any delimiter, UTF-8/GB18030, .gz), Parquet, JSON Lines or XLSX."
        ),
    ],
    profile: Annotated[
        str | None, typer.Option(help=f"Column layout: {', '.join(sorted(PROFILES))}.")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="TOML mapping file for any other layout.")
    ] = None,
    max_errors: Annotated[
        int, typer.Option(min=0, help="Store the good rows when at most this many are bad.")
    ] = 0,
    db: DbOption = None,
    shop: ShopOption = None,
) -> None:
    """Load a file of orders, customers, products, events, refunds or reviews.

    Bad rows go to a quarantine CSV (row, column, value, reason). With more bad rows than
    --max-errors nothing is stored and the exit status is 2. Re-ingesting a file never counts
    anything twice.
    """
    with (
        build(db) as patron,
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[rows]:,} rows"),
            TimeElapsedColumn(),
            console=render.errors,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task(f"{entity} ← {file.name}", total=None, rows=0)

        def advance(done: int, total: int, rows: int) -> None:
            bar.update(task, completed=done, total=total, rows=rows)

        report = patron.ingest(
            entity,
            file,
            shop=shop_name(shop),
            profile=profile,
            mapping=mapping,
            max_errors=max_errors,
            progress=advance,
        )
    show_report(report)


def show_report(report: IngestReport) -> None:
    render.console.print(
        f"[green]stored[/green] {report.entity} from {report.source} into shop {report.shop!r} "
        f"(run {report.run_id}, profile {report.profile}): {report.rows_read:,} rows read, "
        f"{report.rows_accepted:,} accepted, {report.rows_rejected:,} rejected"
    )
    rows = [
        (name, f"{c.inserted:,}", f"{c.updated:,}", f"{c.unchanged:,}")
        for name, c in report.tables.items()
    ]
    rows += [(f"stub {name}", f"{n:,}", "", "") for name, n in report.stubs.items() if n]
    render.table("", ["table", "inserted", "updated", "unchanged"], rows)
    if report.quarantine_path:
        render.console.print(f"bad rows: {report.quarantine_path}")
