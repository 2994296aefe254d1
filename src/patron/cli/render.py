"""Output helpers: Rich tables for people, JSON and CSV for programs."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from patron.money import Money

console = Console()
errors = Console(stderr=True)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    out = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        out.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        out.add_row(*(str(v) if v is not None else "—" for v in row))
    console.print(out)


def as_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def as_csv(records: Sequence[dict[str, Any]]) -> None:
    if not records:
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=list(records[0]))
    writer.writeheader()
    writer.writerows(records)


def percent(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.1f} %"


def money(minor: int, currency: str) -> str:
    return f"{Money(minor, currency).to_decimal():,f} {currency}"


def records(title: str, rows: Sequence[dict[str, Any]], output: str) -> None:
    """Rows of a listing as a table, JSON or CSV (``output`` is an OutputFormat value)."""
    if output == "json":
        as_json(list(rows))
    elif output == "csv":
        as_csv(rows)
    elif not rows:
        console.print(f"{title}: none")
    else:
        table(title, list(rows[0]), [list(row.values()) for row in rows])
