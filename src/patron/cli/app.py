"""The root `patron` command: global options, sub-commands, and error translation."""

from __future__ import annotations

import sys
from typing import Annotated

import click
import typer
from rich.markup import escape

from patron.cli import (
    analyze,
    customers,
    db,
    demo,
    ingest,
    keys,
    loyalty,
    predict,
    render,
    serve,
    shops,
    stats,
)
from patron.cli.options import Globals
from patron.errors import ErrorCode, PatronError

app = typer.Typer(
    name="patron",
    help="Patron: customer lifecycle and loyalty platform for e-commerce.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.command("ingest")(ingest.ingest)
app.command("stats")(stats.stats)
app.command("demo")(demo.demo)
app.command("analyze")(analyze.analyze)
app.command("report")(analyze.report)
app.add_typer(shops.app, name="shops")
app.add_typer(keys.app, name="keys")
app.add_typer(customers.app, name="customers")
app.add_typer(predict.app, name="predict")
app.add_typer(loyalty.app, name="loyalty")
app.command("serve")(serve.serve)


@app.callback()
def root(
    db_url: Annotated[
        str | None, typer.Option("--db", help="Database URL for every command.")
    ] = None,
    shop: Annotated[str | None, typer.Option("--shop", help="Shop for every command.")] = None,
) -> None:
    Globals.db = db_url
    Globals.shop = shop


EXIT_CODES = {
    ErrorCode.CONFIG_INVALID: 2,
    ErrorCode.PROFILE_UNKNOWN: 2,
    ErrorCode.MAPPING_INVALID: 2,
    ErrorCode.INGEST_REJECTED: 2,
    ErrorCode.INPUT_INVALID: 2,
    ErrorCode.ENCODING_INVALID: 2,
    ErrorCode.COLUMNS_MISSING: 2,
    ErrorCode.FILE_EMPTY: 2,
    ErrorCode.FORMAT_UNSUPPORTED: 2,
    ErrorCode.FILE_NOT_FOUND: 3,
    ErrorCode.NOT_FOUND: 3,
    ErrorCode.SHOP_NOT_FOUND: 3,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the command and turns a PatronError into a message and an exit status."""
    try:
        app(args=argv, standalone_mode=False)
    except PatronError as error:
        render.errors.print(
            f"[red]error[/red] {escape(f'[{error.code}]')}: {escape(error.message)}",
            highlight=False,
            soft_wrap=True,
        )
        return EXIT_CODES.get(error.code, 1)
    except (click.exceptions.Exit, typer.Exit) as done:
        return int(done.exit_code)
    except (click.exceptions.Abort, typer.Abort):
        return 130
    except (click.ClickException, typer.TyperException) as error:
        # Typer 0.29 raises the usage errors of the Click it bundles: a TyperException.
        show = getattr(error, "show", None)
        if show is None:
            raise
        show()
        return int(getattr(error, "exit_code", 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
