"""`patron stats`: what each shop holds."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from patron.cli import render
from patron.cli.options import DbOption, FormatOption, OutputFormat, ShopOption, build, shop_name
from patron.ingest.stats import ShopStats


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
        show_shop(s, f"shop {s.shop}")


def show_shop(s: ShopStats, title: str) -> None:
    """What a shop holds, as a table; order times in the shop's time zone."""
    zone = ZoneInfo(s.timezone)

    def local(moment: datetime | None) -> str | None:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z") if moment else None

    render.table(
        title,
        ["", "value"],
        [
            ("customers", f"{s.customers:,}"),
            ("products", f"{s.products:,}"),
            ("orders", f"{s.orders:,}"),
            ("order lines", f"{s.order_lines:,}"),
            ("refunds", f"{s.refunds:,}"),
            ("events", f"{s.events:,}"),
            ("reviews", f"{s.reviews:,}"),
            ("gross revenue", render.money(s.gross_revenue_minor, s.currency)),
            ("net revenue", render.money(s.net_revenue_minor, s.currency)),
            ("first order", local(s.first_order_at)),
            ("last order", local(s.last_order_at)),
        ],
    )
