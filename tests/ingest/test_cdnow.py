"""The real CDNOW master file (../shared/data) loads with the `cdnow` profile, exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from conftest import shared_file
from patron.core import Patron
from patron.db import tables as t
from patron.ingest.model import Entity, RunStatus, TableCounts

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]

NEW_YORK = ZoneInfo("America/New_York")


def _midnight_utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=NEW_YORK).astimezone(UTC)


def _facts(path: Path) -> dict[str, object]:
    """What the file holds, read without Patron: one transaction per line after the header."""
    customers: set[str] = set()
    days: list[date] = []
    dollars = Decimal(0)
    cds = 0
    with path.open(encoding="ascii") as f:
        header = f.readline().split()
        assert header == ["customer_id", "date", "number_of_cds", "dollar_value"]
        for line in f:
            if not line.strip():
                continue
            customer, day, count, value = line.split()
            customers.add(customer)
            days.append(date(int(day[:4]), int(day[4:6]), int(day[6:])))
            cds += int(count)
            dollars += Decimal(value)
    return {
        "transactions": len(days),
        "customers": len(customers),
        "cents": int(dollars * 100),
        "exact": dollars * 100 == int(dollars * 100),
        "cds": cds,
        "first": min(days),
        "last": max(days),
    }


def test_cdnow_master(patron: Patron) -> None:
    path = shared_file("CDNOW_master.txt")
    facts = _facts(path)
    assert facts["transactions"] == 69_659
    assert facts["customers"] == 23_570
    assert facts["exact"]  # every value has whole cents
    assert (facts["first"], facts["last"]) == (date(1997, 1, 1), date(1998, 6, 30))

    report = patron.ingest(Entity.ORDERS, path, shop="cdnow", profile="cdnow")
    assert report.status is RunStatus.STORED
    assert (report.rows_read, report.rows_rejected) == (69_659, 0)
    assert report.tables == {
        "orders": TableCounts(inserted=69_659),
        "order_lines": TableCounts(),
        "refunds": TableCounts(),
    }
    assert report.stubs == {"customers": 23_570, "products": 0}

    stats = patron.stats("cdnow")[0]
    assert stats.currency == "USD"
    assert (stats.orders, stats.customers, stats.order_lines, stats.refunds) == (
        69_659,
        23_570,
        0,
        0,
    )
    assert stats.gross_revenue_minor == stats.net_revenue_minor == facts["cents"]
    # Dates are days in New York: 1997-01-01 00:00 EST, 1998-06-30 00:00 EDT.
    assert (
        stats.first_order_at
        == _midnight_utc(date(1997, 1, 1))
        == datetime(1997, 1, 1, 5, tzinfo=UTC)
    )
    assert (
        stats.last_order_at
        == _midnight_utc(date(1998, 6, 30))
        == datetime(1998, 6, 30, 4, tzinfo=UTC)
    )
    with patron.engine.connect() as connection:
        items = connection.execute(select(func.sum(t.orders.c.item_count))).scalar_one()
        first_customer = connection.execute(
            select(t.orders.c.external_id, t.orders.c.total_minor, t.orders.c.item_count)
            .join(t.customers, t.customers.c.id == t.orders.c.customer_id)
            .where(t.customers.c.external_id == "00001")
        ).all()
    assert items == facts["cds"]
    assert [tuple(r) for r in first_customer] == [
        ("00001-19970101-1", 1177, 1)
    ]  # " 00001 19970101  1   11.77"

    again = patron.ingest(Entity.ORDERS, path, shop="cdnow", profile="cdnow")
    assert again.tables["orders"] == TableCounts(unchanged=69_659)
    assert again.stubs == {"customers": 0, "products": 0}
    assert patron.stats("cdnow")[0] == stats
