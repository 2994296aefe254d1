"""`patron customers`: the operator's writes on single customers."""

from __future__ import annotations

from typing import Annotated

import typer

from patron.cli import render
from patron.cli.options import DbOption, FormatOption, OutputFormat, build, shop_name

app = typer.Typer(help="Customers: erase personal data on request.", no_args_is_help=True)


@app.command()
def erase(
    customer_id: Annotated[str, typer.Argument(help="The customer's id in the shop.")],
    shop: Annotated[str | None, typer.Option("--shop", help="Shop of the customer.")] = None,
    db: DbOption = None,
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Erase a customer's personal data (right to erasure): name, email, phone, birth date,
    city and custom attributes are wiped and the id is replaced by a random pseudonym; orders
    and events stay, under the pseudonym. It cannot be undone."""
    with build(db) as patron:
        name = shop_name(shop) or patron.settings.default_shop
        ctx = patron.operator_context(name, f"patron customers erase {customer_id}")
        erased = patron.intake_service().erase_customer(ctx, customer_id).body
    if output == OutputFormat.TABLE:
        render.console.print(
            f"customer {customer_id!r} of shop {name!r} erased; now {erased['id']}",
            highlight=False,
        )
    else:
        render.records("Erased customer", [erased], output)
