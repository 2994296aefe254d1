"""`patron shops`: create and list shops."""

from __future__ import annotations

from typing import Annotated

import typer

from patron.cli import render
from patron.cli.options import DbOption, FormatOption, OutputFormat, build

app = typer.Typer(help="Shops: every customer, order and key belongs to one.", no_args_is_help=True)


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="Shop name, unique in this database.")],
    timezone: Annotated[
        str | None,
        typer.Option("--timezone", help="IANA time zone for day boundaries (default: settings)."),
    ] = None,
    currency: Annotated[
        str | None, typer.Option("--currency", help="ISO 4217 currency (default: settings).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Create a shop (again with the same settings: nothing changes)."""
    with build(db) as patron:
        shop, created = patron.access().create_shop(
            name,
            timezone or patron.settings.default_timezone,
            (currency or patron.settings.default_currency).upper(),
        )
    verb = "created" if created else "already exists:"
    render.console.print(
        f"shop {shop.name!r} {verb} time zone {shop.timezone}, currency {shop.currency}",
        highlight=False,
    )


@app.command("list")
def list_shops(db: DbOption = None, output: FormatOption = OutputFormat.TABLE) -> None:
    """List the shops with their time zone and currency."""
    with build(db) as patron:
        shops = patron.access().list_shops()
    records = [{"name": s.name, "timezone": s.timezone, "currency": s.currency} for s in shops]
    render.records("Shops", records, output)
