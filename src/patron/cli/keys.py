"""`patron keys`: API keys of a shop."""

from __future__ import annotations

from typing import Annotated

import typer

from patron.access.keys import format_scopes, parse_scopes
from patron.access.model import ApiKey
from patron.cli import render
from patron.cli.options import DbOption, FormatOption, OutputFormat, build, shop_name

app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)


@app.command()
def create(
    shop: Annotated[str | None, typer.Option("--shop", help="Shop the key acts in.")] = None,
    scopes: Annotated[
        str,
        typer.Option(
            "--scopes",
            help="Comma-separated: read, write (implies read), admin (implies both).",
        ),
    ] = "read",
    label: Annotated[
        str | None, typer.Option("--label", help="What the key is for (shown in lists).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Create an API key and print it once: only its salted hash is stored."""
    with build(db) as patron:
        name = shop_name(shop) or patron.settings.default_shop
        issued = patron.access().create_key(name, parse_scopes(scopes), label)
    render.errors.print(
        f"API key {issued.key.id} for shop {name!r} ({format_scopes(issued.key.scopes)}); "
        "store it now, it is not shown again:",
        highlight=False,
    )
    print(issued.token)


@app.command("list")
def list_keys(
    shop: Annotated[str | None, typer.Option("--shop", help="Only this shop's keys.")] = None,
    db: DbOption = None,
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """List keys without their secrets."""
    with build(db) as patron:
        keys = patron.access().list_keys(shop_name(shop))
    render.records("API keys", [_record(k) for k in keys], output)


@app.command()
def revoke(
    key_id: Annotated[int, typer.Argument(help="Key id, as listed.")], db: DbOption = None
) -> None:
    """Revoke a key: requests with it are refused from now on."""
    with build(db) as patron:
        key = patron.access().revoke_key(key_id)
    render.console.print(f"API key {key.id} of shop {key.shop!r} revoked at {key.revoked_at}")


def _record(key: ApiKey) -> dict[str, object]:
    return {
        "id": key.id,
        "shop": key.shop,
        "prefix": key.prefix,
        "scopes": format_scopes(key.scopes),
        "label": key.label,
        "created_at": key.created_at.isoformat(),
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }
