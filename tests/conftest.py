"""Shared fixtures: a migrated database per test (SQLite always, PostgreSQL too when
PATRON_TEST_POSTGRES_URL is set, each test in its own schema), a fixed clock, a Patron object."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from patron.clock import FixedClock
from patron.core import Patron
from patron.db import tables as t
from patron.db.engine import make_engine
from patron.settings import Settings

POSTGRES_URL = os.environ.get("PATRON_TEST_POSTGRES_URL")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def shared_file(name: str) -> Path:
    """A file of ../shared/data, or a clean skip when it is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent (real data sets live in ../shared/data beside the checkout)")
    return path


def _backends() -> list[object]:
    skip_pg = pytest.mark.skipif(
        POSTGRES_URL is None, reason="PATRON_TEST_POSTGRES_URL is not set: no PostgreSQL to test on"
    )
    return ["sqlite", pytest.param("postgresql", marks=skip_pg)]


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'patron.db'}"
        return
    assert POSTGRES_URL is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        quarantine_dir=tmp_path / "quarantine",
        analytics_dir=tmp_path / "analytics",
    )


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def patron(settings: Settings, clock: FixedClock) -> Iterator[Patron]:
    """A Patron on a migrated database."""
    app = Patron(settings, clock)
    app.upgrade()
    yield app
    app.close()


def lines_of(patron: Patron, shop: str = "default") -> list[tuple[Any, ...]]:
    """(order, line number, SKU, quantity, unit price, line total) of a shop's lines."""
    o, ln, p, s = t.orders, t.order_lines, t.products, t.shops
    with patron.engine.connect() as connection:
        rows = connection.execute(
            select(
                o.c.external_id,
                ln.c.line_no,
                p.c.sku,
                ln.c.quantity,
                ln.c.unit_price_minor,
                ln.c.line_total_minor,
            )
            .join(o, o.c.id == ln.c.order_id)
            .join(p, p.c.id == ln.c.product_id)
            .join(s, s.c.id == o.c.shop_id)
            .where(s.c.name == shop)
            .order_by(o.c.external_id, ln.c.line_no)
        ).all()
    return [tuple(r) for r in rows]


def orders_of(patron: Patron, shop: str | None = None) -> list[tuple[Any, ...]]:
    """Every stored order header by natural keys (ids differ between databases, keys do not):
    (order, customer, placed, paid, status, currency, subtotal, discount, shipping, total,
    item count, channel, coupon codes); of one shop, or of all shops when none is named."""
    o, c, s = t.orders, t.customers, t.shops
    query = (
        select(
            o.c.external_id,
            c.c.external_id,
            o.c.placed_at,
            o.c.paid_at,
            o.c.status,
            o.c.currency,
            o.c.subtotal_minor,
            o.c.discount_minor,
            o.c.shipping_minor,
            o.c.total_minor,
            o.c.item_count,
            o.c.channel,
            o.c.coupon_codes,
        )
        .join(c, c.c.id == o.c.customer_id)
        .order_by(o.c.external_id)
    )
    if shop is not None:
        query = query.join(s, s.c.id == o.c.shop_id).where(s.c.name == shop)
    with patron.engine.connect() as connection:
        return [tuple(r) for r in connection.execute(query)]
