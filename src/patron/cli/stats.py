"""`patron stats`: what each shop holds."""

from __future__ import annotations

from patron.cli import render
from patron.cli.options import DbOption, FormatOption, OutputFormat, ShopOption, build, shop_name


def stats(
    db: DbOption = None, shop: ShopOption = None, format: FormatOption = OutputFormat.TABLE
) -> None:
    """Customers, orders, lines, refunds, events, products, revenue and order span per shop."""
    with build(db) as patron:
        found = patron.stats(shop_name(shop))
    records = [s.to_json() for s in found]
    if format is OutputFormat.JSON:
        render.as_json(records[0] if shop_name(shop) else records)
        return
    if format is OutputFormat.CSV:
        render.as_csv(records)
        return
    if not found:
        render.console.print("no shops yet: load a file with `patron ingest` or run `patron demo`")
    for s in found:
        render.table(
            f"shop {s.shop}",
            ["", "value"],
            [
                ("customers", f"{s.customers:,}"),
                ("orders", f"{s.orders:,}"),
                ("order lines", f"{s.order_lines:,}"),
                ("refunds", f"{s.refunds:,}"),
                ("events", f"{s.events:,}"),
                ("products", f"{s.products:,}"),
                ("reviews", f"{s.reviews:,}"),
                ("gross revenue", render.money(s.gross_revenue_minor, s.currency)),
                ("net revenue", render.money(s.net_revenue_minor, s.currency)),
                ("first order", s.first_order_at),
                ("last order", s.last_order_at),
            ],
        )
