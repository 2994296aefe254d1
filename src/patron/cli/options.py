"""Options every command accepts, and the Patron object they build."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from patron.core import Patron
from patron.settings import Settings

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: PATRON_DATABASE_URL or sqlite:///patron.db).",
        envvar="PATRON_DATABASE_URL",
        show_envvar=False,
    ),
]
ShopOption = Annotated[str | None, typer.Option("--shop", help="Shop name (default: 'default').")]


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


FormatOption = Annotated[OutputFormat, typer.Option("--format", help="Output format.")]


class Globals:
    """Values of the root command's --db/--shop, which a command's own options override."""

    db: str | None = None
    shop: str | None = None


def build(db: str | None) -> Patron:
    url = db or Globals.db
    settings = Settings(database_url=url) if url else Settings()
    return Patron(settings)


def shop_name(shop: str | None) -> str | None:
    return shop or Globals.shop
