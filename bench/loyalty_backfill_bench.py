"""Loyalty backfill benchmark: the demo shop's whole order history replayed through the sample
programme (`patron loyalty backfill`), against crediting the same orders one by one through
the online path (`LoyaltyService.credit_order`, timed on a sample of customers and scaled to
all), on SQLite and on PostgreSQL.

    python bench/loyalty_backfill_bench.py [--customers 20000] [--postgres URL]
                                           [--skip-sqlite] [--sample 300]

The demo shop is generated (the default demo's size and seed) and ingested once per database;
the backfill runs as of the end of its history. The online baseline credits every order of
``--sample`` customers in time order (the clock set to each payment) in a second shop of the
same database, and is scaled by the shop's orders. Figures go to stdout and to
bench/out/loyalty_backfill_bench.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from patron.clock import FixedClock
from patron.core import Patron
from patron.db import tables as t
from patron.db.engine import make_engine
from patron.demo.generator import generate_shop
from patron.demo.pipeline import DEMO_SHOP, LOAD_ORDER
from patron.loyalty.programme import sample_programme, to_dict
from patron.settings import Settings

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load(url: str, files: Any, clock: FixedClock) -> Patron:
    patron = Patron(Settings(database_url=url, quarantine_dir=Path(tempfile.mkdtemp())), clock)
    patron.upgrade()
    for entity in LOAD_ORDER:
        patron.ingest(entity, getattr(files, str(entity)), shop=DEMO_SHOP)
    if patron.engine.dialect.name == "postgresql":
        with patron.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    return patron


def online_baseline(patron: Patron, shop_id: int, sample: int, clock: FixedClock) -> dict[str, Any]:
    """Credit every order of ``sample`` customers in payment order, the clock at each payment."""
    o = t.orders.c
    with patron.engine.connect() as connection:
        customers = (
            connection.execute(
                select(o.customer_id)
                .where(o.shop_id == shop_id)
                .group_by(o.customer_id)
                .order_by(o.customer_id)
                .limit(sample)
            )
            .scalars()
            .all()
        )
        orders = connection.execute(
            select(o.external_id, func.coalesce(o.paid_at, o.placed_at))
            .where(o.shop_id == shop_id, o.customer_id.in_(customers))
            .order_by(func.coalesce(o.paid_at, o.placed_at), o.id)
        ).all()
    loyalty = patron.loyalty()
    wall, spent = time.perf_counter(), cpu()
    for external_id, paid_at in orders:
        clock.advance((paid_at - clock.now()).total_seconds())
        loyalty.credit_order(shop_id, external_id)
    return {
        "orders": len(orders),
        "wall_s": round(time.perf_counter() - wall, 2),
        "cpu_s": round(cpu() - spent, 2),
    }


def run(url: str, name: str, files: Any, args: argparse.Namespace) -> dict[str, Any]:
    clock = FixedClock(datetime(2026, 11, 1, tzinfo=UTC))
    started = time.perf_counter()
    patron = load(url, files, clock)
    print(f"{name}: demo shop loaded in {time.perf_counter() - started:.0f} s")
    shop_id = patron.operator_context(DEMO_SHOP, "bench").shop_id
    loyalty = patron.loyalty()
    loyalty.set_programme(shop_id, to_dict(sample_programme()))
    with patron.engine.connect() as connection:
        orders = connection.execute(
            select(func.count()).select_from(t.orders).where(t.orders.c.shop_id == shop_id)
        ).scalar_one()
        last = connection.execute(
            select(func.max(t.orders.c.placed_at)).where(t.orders.c.shop_id == shop_id)
        ).scalar_one()
    as_of = last + timedelta(seconds=1)
    clock.advance((as_of - clock.now()).total_seconds())
    wall, spent = time.perf_counter(), cpu()
    done = loyalty.backfill(shop_id, as_of)
    backfill = {
        "wall_s": round(time.perf_counter() - wall, 2),
        "cpu_s": round(cpu() - spent, 2),
        "customers": done.customers,
        "orders": done.orders,
        "entries": done.entries,
        "tiers": done.tiers,
    }
    print(f"{name}: backfill {json.dumps(backfill, ensure_ascii=False)}")
    # The baseline: the same orders credited online, in a copy of the programme's shop.
    with patron.engine.begin() as connection:
        connection.execute(text("DELETE FROM loyalty_lot_uses"))
        for table in ("loyalty_lots", "loyalty_tier_changes", "loyalty_events", "loyalty_entries"):
            connection.execute(text(f"DELETE FROM {table}"))
        connection.execute(text("DELETE FROM loyalty_members"))
    clock.advance((datetime(2024, 10, 1, tzinfo=UTC) - clock.now()).total_seconds())
    online = online_baseline(patron, shop_id, args.sample, clock)
    scaled = online["wall_s"] * orders / max(online["orders"], 1)
    online["scaled_to_all_orders_wall_s"] = round(scaled, 1)
    print(f"{name}: online {json.dumps(online)}")
    patron.close()
    return {
        "target": name,
        "orders": orders,
        "backfill": backfill,
        "online": online,
        "speedup": round(scaled / max(backfill["wall_s"], 1e-9), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--postgres", default=os.environ.get("PATRON_TEST_POSTGRES_URL"))
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--sample", type=int, default=300)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        files = generate_shop(Path(folder) / "data", customers=args.customers, seed=7)
        if not args.skip_sqlite:
            results.append(run(f"sqlite:///{folder}/bench.db", "sqlite", files, args))
        if args.postgres:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = make_engine(args.postgres)
            with admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            separator = "&" if "?" in args.postgres else "?"
            try:
                url = f"{args.postgres}{separator}options=-csearch_path%3D{schema}"
                results.append(run(url, "postgresql", files, args))
            finally:
                with admin.begin() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    OUT.mkdir(exist_ok=True)
    record = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average": os.getloadavg(),
        "results": results,
    }
    (OUT / "loyalty_backfill_bench.json").write_text(json.dumps(record, indent=2))
    print(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
