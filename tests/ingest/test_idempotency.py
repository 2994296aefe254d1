"""Re-ingesting the same or an overlapping file never double counts: new keys are inserted,
changed ones updated, identical ones counted unchanged; stubs become full records."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from conftest import lines_of
from patron.core import Patron
from patron.db import tables as t
from patron.ingest.model import Entity, TableCounts

HEADER = "order_id,customer_id,placed_at,status,sku,product_title,quantity,unit_price,shipping\n"
# O1: 2 × 10.00 + 5.00 + 6.00 shipping = 31.00; O2: 3 × 7.50 = 22.50; O3: 12.00 + 2 × 1.25 = 14.50;
# O4: 99.99.
BASE = HEADER + (
    "O1,c1,2024-03-01 10:00:00,completed,P1,Pen,2,10.00,6.00\n"
    "O1,c1,2024-03-01 10:00:00,completed,P2,Ink,1,5.00,6.00\n"
    "O2,c2,2024-03-02 10:00:00,completed,P3,Pad,3,7.50,\n"
    "O3,c1,2024-03-03 10:00:00,paid,P1,Pen,1,12.00,\n"
    "O3,c1,2024-03-03 10:00:00,paid,P4,Clip,2,1.25,\n"
    "O4,c3,2024-03-04 10:00:00,completed,P5,Lamp,1,99.99,\n"
)
BASE_GROSS = 3100 + 2250 + 1450 + 9999
STORED = (t.shops, t.customers, t.products, t.orders, t.order_lines, t.refunds, t.events, t.reviews)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def snapshot(patron: Patron) -> dict[str, Any]:
    with patron.engine.connect() as connection:
        rows = {
            table.name: [tuple(r) for r in connection.execute(select(table).order_by(table.c.id))]
            for table in STORED
        }
    return {"rows": rows, "stats": [s.to_json() for s in patron.stats()]}


def orders_of(patron: Patron, shop: str = "default") -> list[tuple[Any, ...]]:
    o, c, s = t.orders, t.customers, t.shops
    with patron.engine.connect() as connection:
        rows = connection.execute(
            select(
                o.c.external_id,
                c.c.external_id,
                o.c.placed_at,
                o.c.status,
                o.c.subtotal_minor,
                o.c.discount_minor,
                o.c.shipping_minor,
                o.c.total_minor,
                o.c.item_count,
            )
            .join(c, c.c.id == o.c.customer_id)
            .join(s, s.c.id == o.c.shop_id)
            .where(s.c.name == shop)
            .order_by(o.c.external_id)
        ).all()
    return [tuple(r) for r in rows]


def test_same_file_twice_is_all_unchanged(patron: Patron, tmp_path: Path) -> None:
    path = write(tmp_path / "orders.csv", BASE)
    first = patron.ingest(Entity.ORDERS, path)
    assert first.tables == {
        "orders": TableCounts(inserted=4),
        "order_lines": TableCounts(inserted=6),
        "refunds": TableCounts(),
    }
    assert first.stubs == {"customers": 3, "products": 5}
    before = snapshot(patron)
    assert before["stats"][0]["gross_revenue_minor"] == BASE_GROSS
    second = patron.ingest(Entity.ORDERS, path)
    assert second.tables == {
        "orders": TableCounts(unchanged=4),
        "order_lines": TableCounts(unchanged=6),
        "refunds": TableCounts(),
    }
    assert second.stubs == {"customers": 0, "products": 0}
    assert second.run_id == first.run_id + 1
    assert snapshot(patron) == before


def test_overlapping_export(patron: Patron, tmp_path: Path) -> None:
    patron.ingest(Entity.ORDERS, write(tmp_path / "march.csv", BASE))
    newer = write(
        tmp_path / "newer.csv",
        HEADER
        + (
            "O2,c2,2024-03-02 10:00:00,completed,P3,Pad,3,7.50,\n"  # same
            "O3,c1,2024-03-03 10:00:00,completed,P1,Pen,1,12.00,\n"  # paid → completed
            "O3,c1,2024-03-03 10:00:00,completed,P4,Clip,2,1.25,\n"
            "O4,c3,2024-03-04 10:00:00,completed,P5,Lamp,2,99.99,\n"  # 1 → 2 lamps
            "O5,c4,2024-03-05 10:00:00,completed,P1,Pen,1,10.00,\n"  # new
            "O5,c4,2024-03-05 10:00:00,completed,P6,Box,1,3.00,\n"
            "O6,c1,2024-03-06 10:00:00,pending,P2,Ink,4,5.00,\n"  # new
        ),
    )
    report = patron.ingest(Entity.ORDERS, newer)
    assert report.tables == {
        "orders": TableCounts(inserted=2, updated=2, unchanged=1),
        "order_lines": TableCounts(inserted=3, updated=1, unchanged=3),
        "refunds": TableCounts(),
    }
    assert report.stubs == {"customers": 1, "products": 1}
    assert orders_of(patron) == [
        ("O1", "c1", _utc(2024, 3, 1, 2), "completed", 2500, 0, 600, 3100, 3),
        ("O2", "c2", _utc(2024, 3, 2, 2), "completed", 2250, 0, 0, 2250, 3),
        ("O3", "c1", _utc(2024, 3, 3, 2), "completed", 1450, 0, 0, 1450, 3),
        ("O4", "c3", _utc(2024, 3, 4, 2), "completed", 19998, 0, 0, 19998, 2),
        ("O5", "c4", _utc(2024, 3, 5, 2), "completed", 1300, 0, 0, 1300, 2),
        ("O6", "c1", _utc(2024, 3, 6, 2), "pending", 2000, 0, 0, 2000, 4),
    ]
    stats = patron.stats()[0]
    assert (stats.customers, stats.products, stats.orders, stats.order_lines) == (4, 6, 6, 9)
    assert stats.gross_revenue_minor == 3100 + 2250 + 1450 + 19998 + 1300 + 2000
    # The newer export again: nothing changes.
    assert patron.ingest(Entity.ORDERS, newer).tables["orders"] == TableCounts(unchanged=5)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_line_removed_in_a_newer_export(patron: Patron, tmp_path: Path) -> None:
    patron.ingest(Entity.ORDERS, write(tmp_path / "march.csv", BASE))
    newer = write(
        tmp_path / "newer.csv", HEADER + "O1,c1,2024-03-01 10:00:00,completed,P1,Pen,2,10.00,6.00\n"
    )
    report = patron.ingest(Entity.ORDERS, newer)
    assert report.tables == {
        "orders": TableCounts(updated=1),
        "order_lines": TableCounts(updated=1, unchanged=1),  # the ink line is gone
        "refunds": TableCounts(),
    }
    assert [r for r in lines_of(patron) if r[0] == "O1"] == [("O1", 1, "P1", 2, 1000, 2000)]
    assert orders_of(patron)[0] == (
        "O1",
        "c1",
        _utc(2024, 3, 1, 2),
        "completed",
        2000,
        0,
        600,
        2600,
        2,
    )
    assert patron.stats()[0].gross_revenue_minor == BASE_GROSS - 500
    # The product of the removed line stays: other data may refer to it.
    assert patron.stats()[0].products == 5


def test_a_line_changed_in_place(patron: Patron, tmp_path: Path) -> None:
    patron.ingest(Entity.ORDERS, write(tmp_path / "march.csv", BASE))
    newer = write(
        tmp_path / "newer.csv",
        HEADER
        + (
            "O1,c1,2024-03-01 10:00:00,completed,P1,Pen,2,10.00,6.00\n"
            # line 2 is now another product
            "O1,c1,2024-03-01 10:00:00,completed,P6,Box,1,5.00,6.00\n"
        ),
    )
    report = patron.ingest(Entity.ORDERS, newer)
    assert report.tables["orders"] == TableCounts(updated=1)  # totals are the same, a line is not
    assert report.tables["order_lines"] == TableCounts(updated=1, unchanged=1)
    assert report.stubs == {"customers": 0, "products": 1}
    assert [r for r in lines_of(patron) if r[0] == "O1"] == [
        ("O1", 1, "P1", 2, 1000, 2000),
        ("O1", 2, "P6", 1, 500, 500),
    ]


def test_customer_file_after_orders_completes_the_stubs(patron: Patron, tmp_path: Path) -> None:
    patron.ingest(Entity.ORDERS, write(tmp_path / "march.csv", BASE))
    customers = write(
        tmp_path / "customers.csv",
        "customer_id,name,email,region\nc1,Ada,ada@example.com,Beijing\nc2,Bo,,Shanghai\nc9,Cy,cy@example.com,\n",
    )
    report = patron.ingest(Entity.CUSTOMERS, customers)
    assert report.tables == {"customers": TableCounts(inserted=1, updated=2)}
    c = t.customers
    with patron.engine.connect() as connection:
        rows = connection.execute(
            select(c.c.external_id, c.c.name, c.c.email, c.c.region, c.c.is_stub).order_by(
                c.c.external_id
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("c1", "Ada", "ada@example.com", "Beijing", False),
        ("c2", "Bo", None, "Shanghai", False),
        ("c3", None, None, None, True),
        ("c9", "Cy", "cy@example.com", None, False),
    ]
    assert patron.ingest(Entity.CUSTOMERS, customers).tables == {
        "customers": TableCounts(unchanged=3)
    }
    # Orders loaded again do not turn full customers back into stubs nor count them again.
    again = patron.ingest(Entity.ORDERS, tmp_path / "march.csv")
    assert again.stubs == {"customers": 0, "products": 0}
    assert again.tables["orders"] == TableCounts(unchanged=4)
    with patron.engine.connect() as connection:
        stubs = connection.execute(select(c.c.external_id).where(c.c.is_stub)).scalars().all()
    assert stubs == ["c3"]
    assert patron.stats()[0].customers == 4


def test_customer_file_leaves_columns_it_lacks_alone(patron: Patron, tmp_path: Path) -> None:
    patron.ingest(
        Entity.CUSTOMERS,
        write(tmp_path / "a.csv", "customer_id,name,email\nc1,Ada,ada@example.com\n"),
    )
    report = patron.ingest(
        Entity.CUSTOMERS, write(tmp_path / "b.csv", "customer_id,phone\nc1,555\n")
    )
    assert report.tables == {"customers": TableCounts(updated=1)}
    c = t.customers
    with patron.engine.connect() as connection:
        row = connection.execute(select(c.c.name, c.c.email, c.c.phone)).one()
    assert tuple(row) == ("Ada", "ada@example.com", "555")


def test_stub_products_from_lines_then_the_catalogue(patron: Patron, tmp_path: Path) -> None:
    report = patron.ingest(Entity.ORDERS, write(tmp_path / "march.csv", BASE))
    assert report.stubs["products"] == 5
    p = t.products
    query = select(p.c.sku, p.c.title, p.c.list_price_minor, p.c.is_stub).order_by(p.c.sku)
    with patron.engine.connect() as connection:
        assert [tuple(r) for r in connection.execute(query)] == [
            ("P1", "Pen", None, True),
            ("P2", "Ink", None, True),
            ("P3", "Pad", None, True),
            ("P4", "Clip", None, True),
            ("P5", "Lamp", None, True),
        ]
    catalogue = write(
        tmp_path / "products.csv",
        "sku,title,list_price\nP1,Fountain pen,12.00\nP5,Lamp,99.99\nP7,Desk,300\n",
    )
    assert patron.ingest(Entity.PRODUCTS, catalogue).tables == {
        "products": TableCounts(inserted=1, updated=2)
    }
    with patron.engine.connect() as connection:
        assert [tuple(r) for r in connection.execute(query)] == [
            ("P1", "Fountain pen", 1200, False),
            ("P2", "Ink", None, True),
            ("P3", "Pad", None, True),
            ("P4", "Clip", None, True),
            ("P5", "Lamp", 9999, False),
            ("P7", "Desk", 30000, False),
        ]
    assert patron.ingest(Entity.PRODUCTS, catalogue).tables == {
        "products": TableCounts(unchanged=3)
    }
    # Orders loaded again keep the catalogue's titles.
    patron.ingest(Entity.ORDERS, tmp_path / "march.csv")
    with patron.engine.connect() as connection:
        assert (
            connection.execute(select(p.c.title).where(p.c.sku == "P1")).scalar_one()
            == "Fountain pen"
        )


def test_refunds_link_to_their_own_order_and_reload_unchanged(
    patron: Patron, tmp_path: Path
) -> None:
    patron.ingest(Entity.ORDERS, write(tmp_path / "march.csv", BASE))
    refunds = write(
        tmp_path / "refunds.csv",
        "refund_id,order_id,line_no,sku,quantity,amount,refunded_at,reason\n"
        "R1,O1,,P2,1,5.00,2024-03-05 10:00:00,damaged\n"
        "R2,O3,,P1,1,12.00,2024-03-06 10:00:00,\n"
        "R3,O3,2,,1,1.25,2024-03-06 10:00:00,\n"
        "R4,O4,,,,20.00,2024-03-07 10:00:00,late\n",
    )
    report = patron.ingest(Entity.REFUNDS, refunds)
    assert report.tables == {"refunds": TableCounts(inserted=4)}
    r, o, ln, p = t.refunds, t.orders, t.order_lines, t.products
    line_order = o.alias("line_order")
    with patron.engine.connect() as connection:
        rows = connection.execute(
            select(
                r.c.external_id,
                o.c.external_id,
                line_order.c.external_id,
                ln.c.line_no,
                p.c.sku,
                r.c.quantity,
                r.c.amount_minor,
                r.c.reason,
            )
            .join(o, o.c.id == r.c.order_id)
            .outerjoin(ln, ln.c.id == r.c.order_line_id)
            .outerjoin(line_order, line_order.c.id == ln.c.order_id)
            .outerjoin(p, p.c.id == ln.c.product_id)
            .order_by(r.c.external_id)
        ).all()
    assert [tuple(x) for x in rows] == [
        ("R1", "O1", "O1", 2, "P2", 1, 500, "damaged"),
        ("R2", "O3", "O3", 1, "P1", 1, 1200, None),
        ("R3", "O3", "O3", 2, "P4", 1, 125, None),
        ("R4", "O4", None, None, None, None, 2000, "late"),
    ]
    stats = patron.stats()[0]
    assert (stats.refunds, stats.gross_revenue_minor) == (4, BASE_GROSS)
    assert stats.net_revenue_minor == BASE_GROSS - 500 - 1200 - 125 - 2000
    assert patron.ingest(Entity.REFUNDS, refunds).tables == {"refunds": TableCounts(unchanged=4)}


RETAIL_MAPPING = """
name = "retail"
entity = "orders"

[columns]
order_id = "Invoice"
sku = "StockCode"
product_title = "Description"
quantity = "Quantity"
placed_at = "InvoiceDate"
unit_price = "Price"
customer_id = "Customer ID"

[returns]
order_id_prefix = "C"
negative_quantity = true
"""


def test_returns_match_the_customers_own_purchase(patron: Patron, tmp_path: Path) -> None:
    mapping = write(tmp_path / "retail.toml", RETAIL_MAPPING)
    path = write(
        tmp_path / "retail.csv",
        "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
        "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"
        "536366,85123A,WHITE HANGING HEART,2,2010-12-01 09:00:00,2.55,13047,United Kingdom\n"
        "536366,22633,HAND WARMER,4,2010-12-01 09:00:00,1.85,13047,United Kingdom\n"
        "C536400,85123A,WHITE HANGING HEART,-1,2010-12-02 10:00:00,2.55,13047,United Kingdom\n"
        "C536401,85123A,WHITE HANGING HEART,-2,2010-12-02 11:00:00,2.55,17850,United Kingdom\n",
    )
    report = patron.ingest(Entity.ORDERS, path, mapping=mapping)
    assert report.tables == {
        "orders": TableCounts(inserted=2),
        "order_lines": TableCounts(inserted=3),
        "refunds": TableCounts(inserted=2),
    }
    r, o, c = t.refunds, t.orders, t.customers
    with patron.engine.connect() as connection:
        rows = connection.execute(
            select(
                r.c.external_id, o.c.external_id, c.c.external_id, r.c.quantity, r.c.amount_minor
            )
            .join(o, o.c.id == r.c.order_id)
            .join(c, c.c.id == o.c.customer_id)
            .order_by(r.c.external_id)
        ).all()
    assert [tuple(x) for x in rows] == [
        ("C536400#1", "536366", "13047", 1, 255),
        ("C536401#1", "536365", "17850", 2, 510),
    ]
    stats = patron.stats()[0]
    assert stats.gross_revenue_minor == 6 * 255 + 2 * 255 + 4 * 185
    assert stats.net_revenue_minor == stats.gross_revenue_minor - 255 - 510
    again = patron.ingest(Entity.ORDERS, path, mapping=mapping)
    assert again.tables == {
        "orders": TableCounts(unchanged=2),
        "order_lines": TableCounts(unchanged=3),
        "refunds": TableCounts(unchanged=2),
    }


def test_a_return_of_more_than_was_bought_is_refused(patron: Patron, tmp_path: Path) -> None:
    mapping = write(tmp_path / "retail.toml", RETAIL_MAPPING)
    path = write(
        tmp_path / "retail.csv",
        "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
        "536366,85123A,WHITE HANGING HEART,2,2010-12-01 09:00:00,2.55,13047,United Kingdom\n"
        "C536400,85123A,WHITE HANGING HEART,-3,2010-12-02 10:00:00,2.55,13047,United Kingdom\n",
    )
    report = patron.ingest(Entity.ORDERS, path, mapping=mapping, max_errors=1)
    assert report.rows_rejected == 1
    assert report.first_errors[0].row == 3
    assert report.first_errors[0].reason == (
        "refunds would total 765 minor units, more than the 510 paid"
    )
    assert report.tables["refunds"] == TableCounts()
    assert patron.stats()[0].net_revenue_minor == 510


# --- property: any split into two overlapping files stores what one file stores ---------


ORDER = st.fixed_dictionaries(
    {
        "customer": st.sampled_from(["c1", "c2", "c3", "客户4"]),
        "day": st.integers(1, 28),
        "minute": st.integers(0, 24 * 60 - 1),
        "status": st.sampled_from(["completed", "paid", "shipped", "pending", "cancelled"]),
        "shipping": st.integers(0, 2000),
        "lines": st.lists(
            st.tuples(
                st.sampled_from(["S1", "S2", "S3", "S4", "S5"]),
                st.integers(1, 5),
                st.integers(0, 100_000),
            ),
            min_size=1,
            max_size=3,
        ),
        # 0: only in the first file, 1: only in the second, 2: in both
        "where": st.integers(0, 2),
    }
)

_shops = itertools.count()


def _rows(number: int, order: dict[str, Any]) -> list[str]:
    placed = f"2024-02-{order['day']:02d} {order['minute'] // 60:02d}:{order['minute'] % 60:02d}:00"
    shipping = Decimal(order["shipping"]).scaleb(-2)
    return [
        f"N{number},{order['customer']},{placed},{order['status']},{sku},,{qty},{Decimal(price).scaleb(-2)},{shipping}\n"
        for sku, qty, price in order["lines"]
    ]


def _gross(orders: list[dict[str, Any]]) -> int:
    return sum(
        sum(qty * price for _, qty, price in o["lines"]) + o["shipping"]
        for o in orders
        if o["status"] != "cancelled"
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(orders=st.lists(ORDER, min_size=1, max_size=8))
def test_any_overlapping_split_stores_what_one_file_stores(
    patron: Patron, tmp_path: Path, orders: list[dict[str, Any]]
) -> None:
    n = next(_shops)
    rows = {i: _rows(i, o) for i, o in enumerate(orders)}
    whole = write(tmp_path / f"whole-{n}.csv", HEADER + "".join(itertools.chain(*rows.values())))
    first = write(
        tmp_path / f"first-{n}.csv",
        HEADER
        + "".join(itertools.chain(*(r for i, r in rows.items() if orders[i]["where"] in (0, 2)))),
    )
    second = write(
        tmp_path / f"second-{n}.csv",
        HEADER
        + "".join(itertools.chain(*(r for i, r in rows.items() if orders[i]["where"] in (1, 2)))),
    )
    once, split = f"once-{n}", f"split-{n}"

    patron.ingest(Entity.ORDERS, whole, shop=once)
    for part in (first, second):
        if part.read_text(encoding="utf-8") != HEADER:
            patron.ingest(Entity.ORDERS, part, shop=split)

    assert orders_of(patron, split) == orders_of(patron, once)
    assert lines_of(patron, split) == lines_of(patron, once)
    stats = {s.shop: s for s in patron.stats()}
    assert stats[once].orders == stats[split].orders == len(orders)
    assert (
        stats[once].order_lines == stats[split].order_lines == sum(len(o["lines"]) for o in orders)
    )
    assert stats[once].gross_revenue_minor == stats[split].gross_revenue_minor == _gross(orders)
    assert stats[once].customers == stats[split].customers == len({o["customer"] for o in orders})

    # Loading the whole file on top of the split changes nothing.
    again = patron.ingest(Entity.ORDERS, whole, shop=split)
    assert again.tables["orders"] == TableCounts(unchanged=len(orders))
    assert again.tables["order_lines"] == TableCounts(
        unchanged=sum(len(o["lines"]) for o in orders)
    )


@pytest.mark.parametrize("chunk_rows", [1, 2, 3])
def test_chunk_boundaries_do_not_matter(
    patron: Patron, tmp_path: Path, chunk_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An order whose lines straddle chunks is stored whole, its lines numbered in file order."""
    monkeypatch.setattr(patron.settings, "ingest_chunk_rows", chunk_rows)
    report = patron.ingest(Entity.ORDERS, write(tmp_path / "march.csv", BASE))
    assert report.tables["order_lines"] == TableCounts(inserted=6)
    assert lines_of(patron) == [
        ("O1", 1, "P1", 2, 1000, 2000),
        ("O1", 2, "P2", 1, 500, 500),
        ("O2", 1, "P3", 3, 750, 2250),
        ("O3", 1, "P1", 1, 1200, 1200),
        ("O3", 2, "P4", 2, 125, 250),
        ("O4", 1, "P5", 1, 9999, 9999),
    ]
    assert patron.stats()[0].gross_revenue_minor == BASE_GROSS
