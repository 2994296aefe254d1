"""`patron db`: schema migrations."""

from __future__ import annotations

import typer

from patron.cli import render
from patron.cli.options import DbOption, build

app = typer.Typer(
    help="Database schema: upgrade to the latest migration, show the revision.",
    no_args_is_help=True,
)


@app.command()
def upgrade(db: DbOption = None) -> None:
    """Create or migrate the database schema to the latest revision."""
    with build(db) as patron:
        revision = patron.upgrade()
    render.console.print(f"database schema at revision {revision}")


@app.command()
def current(db: DbOption = None) -> None:
    """Show the schema revision of the database and the latest one."""
    with build(db) as patron:
        current, head = patron.schema_revision()
    render.console.print(f"database: {current or '(empty)'}; latest: {head}")
