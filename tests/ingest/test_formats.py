"""Every supported file format and encoding stores the same rows; every entity loads.

One small orders export (Chinese and English values, a quoted comma, empty cells) is written as
CSV with four delimiters, UTF-8 with BOM, GB18030, gzip, Parquet, JSON Lines and XLSX; each must
store exactly the hand-computed rows below.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook
from sqlalchemy import select

from conftest import lines_of, orders_of
from patron.core import Patron
from patron.db import tables as t
from patron.errors import IngestRejected
from patron.ingest.model import Entity, RunStatus, TableCounts

COLUMNS = [
    "order_id",
    "customer_id",
    "placed_at",
    "paid_at",
    "status",
    "sku",
    "product_title",
    "quantity",
    "unit_price",
    "discount",
    "shipping",
    "channel",
    "coupon_codes",
]
ROWS: list[list[str]] = [
    [
        "T1001",
        "王芳",
        "2024-11-11 00:05:00",
        "2024-11-11 00:06:00",
        "completed",
        "SKU-1",
        "保温杯",
        "2",
        "59.90",
        "10.00",
        "0",
        "tmall",
        "DOUBLE11,VIP",
    ],
    [
        "T1001",
        "王芳",
        "2024-11-11 00:05:00",
        "2024-11-11 00:06:00",
        "completed",
        "SKU-2",
        "茶叶 礼盒",
        "1",
        "128.00",
        "10.00",
        "0",
        "tmall",
        "DOUBLE11,VIP",
    ],
    [
        "T1002",
        "li.lei",
        "2024-06-18 20:30:00",
        "",
        "pending",
        "SKU-1",
        "保温杯",
        "1",
        "59.90",
        "",
        "8.00",
        "app",
        "",
    ],
    [
        "T1003",
        "王芳",
        "2024-12-01 09:00:00",
        "2024-12-01 09:01:00",
        "cancelled",
        "SKU-3",
        "Mug, large",
        "3",
        "19.99",
        "",
        "",
        "web",
        "",
    ],
]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# Shop time zone Asia/Shanghai (UTC+8), currency CNY (fen).
# T1001: 2 × 59.90 + 128.00 = 247.80, less 10.00 discount = 237.80; T1002: 59.90 + 8.00 shipping.
EXPECTED_ORDERS = [
    (
        "T1001",
        "王芳",
        utc(2024, 11, 10, 16, 5),
        utc(2024, 11, 10, 16, 6),
        "completed",
        "CNY",
        24780,
        1000,
        0,
        23780,
        3,
        "tmall",
        "DOUBLE11,VIP",
    ),
    (
        "T1002",
        "li.lei",
        utc(2024, 6, 18, 12, 30),
        None,
        "pending",
        "CNY",
        5990,
        0,
        800,
        6790,
        1,
        "app",
        None,
    ),
    (
        "T1003",
        "王芳",
        utc(2024, 12, 1, 1, 0),
        utc(2024, 12, 1, 1, 1),
        "cancelled",
        "CNY",
        5997,
        0,
        0,
        5997,
        3,
        "web",
        None,
    ),
]
EXPECTED_LINES = [
    ("T1001", 1, "SKU-1", 2, 5990, 11980),
    ("T1001", 2, "SKU-2", 1, 12800, 12800),
    ("T1002", 1, "SKU-1", 1, 5990, 5990),
    ("T1003", 1, "SKU-3", 3, 1999, 5997),
]
EXPECTED_PRODUCTS = [
    ("SKU-1", "保温杯", True),
    ("SKU-2", "茶叶 礼盒", True),
    ("SKU-3", "Mug, large", True),
]
EXPECTED_CUSTOMERS = [("li.lei", True), ("王芳", True)]


def write_csv(path: Path, delimiter: str = ",", encoding: str = "utf-8") -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(ROWS)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_gzip(path: Path) -> Path:
    plain = write_csv(path.with_suffix(".plain"))
    path.write_bytes(gzip.compress(plain.read_bytes()))
    return path


def _typed(name: str, value: str) -> Any:
    """The value as a typed export writes it: numbers as numbers, times as times."""
    if value == "":
        return None
    if name in ("placed_at", "paid_at"):
        return datetime.fromisoformat(value)
    if name == "quantity":
        return int(value)
    if name in ("unit_price", "discount", "shipping"):
        return Decimal(value)
    return value


def write_parquet(path: Path) -> Path:
    types = {
        "placed_at": pa.timestamp("s"),
        "paid_at": pa.timestamp("s"),
        "quantity": pa.int64(),
        "unit_price": pa.decimal128(10, 2),
        "discount": pa.decimal128(10, 2),
        "shipping": pa.decimal128(10, 2),
    }
    table = pa.table(
        {
            name: pa.array([_typed(name, row[i]) for row in ROWS], types.get(name, pa.string()))
            for i, name in enumerate(COLUMNS)
        }
    )
    pq.write_table(table, path)
    return path


def write_jsonl(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for row in ROWS:
            obj: dict[str, Any] = {}
            for name, value in zip(COLUMNS, row, strict=True):
                typed = _typed(name, value)
                if isinstance(typed, Decimal):
                    typed = float(typed)
                elif isinstance(typed, datetime):
                    typed = value
                obj[name] = typed
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")
    return path


def write_xlsx(path: Path) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(COLUMNS)
    for row in ROWS:
        cells = [_typed(n, v) for n, v in zip(COLUMNS, row, strict=True)]
        sheet.append([float(c) if isinstance(c, Decimal) else c for c in cells])
    book.save(path)
    book.close()
    return path


WRITERS: dict[str, tuple[str, Callable[[Path], Path]]] = {
    "comma": ("orders.csv", write_csv),
    "semicolon": ("orders.csv", lambda p: write_csv(p, ";")),
    "tab": ("orders.tsv", lambda p: write_csv(p, "\t")),
    "pipe": ("orders.txt", lambda p: write_csv(p, "|")),
    "utf8-bom": ("orders.csv", lambda p: write_csv(p, encoding="utf-8-sig")),
    "gb18030": ("orders.csv", lambda p: write_csv(p, encoding="gb18030")),
    "gzip": ("orders.csv.gz", write_gzip),
    "parquet": ("orders.parquet", write_parquet),
    "jsonl": ("orders.jsonl", write_jsonl),
    "xlsx": ("orders.xlsx", write_xlsx),
}


def stored_orders(patron: Patron) -> dict[str, list[tuple[Any, ...]]]:
    """What is stored, by natural keys (ids differ between databases, keys do not)."""
    c, p = t.customers, t.products
    with patron.engine.connect() as connection:
        products = connection.execute(
            select(p.c.sku, p.c.title, p.c.is_stub).order_by(p.c.sku)
        ).all()
        customers = connection.execute(
            select(c.c.external_id, c.c.is_stub).order_by(c.c.external_id)
        ).all()
    return {
        "orders": orders_of(patron),
        "lines": lines_of(patron),
        "products": [tuple(r) for r in products],
        "customers": [tuple(r) for r in customers],
    }


@pytest.mark.parametrize("layout", list(WRITERS))
def test_every_format_stores_the_same_orders(patron: Patron, tmp_path: Path, layout: str) -> None:
    name, writer = WRITERS[layout]
    path = writer(tmp_path / name)
    report = patron.ingest(Entity.ORDERS, path)
    assert report.status is RunStatus.STORED
    assert (report.rows_read, report.rows_rejected) == (4, 0)
    assert report.tables == {
        "orders": TableCounts(inserted=3),
        "order_lines": TableCounts(inserted=4),
        "refunds": TableCounts(),
    }
    assert report.stubs == {"customers": 2, "products": 3}
    assert stored_orders(patron) == {
        "orders": EXPECTED_ORDERS,
        "lines": EXPECTED_LINES,
        "products": EXPECTED_PRODUCTS,
        "customers": sorted(EXPECTED_CUSTOMERS),
    }
    stats = patron.stats()[0]
    assert stats.gross_revenue_minor == 23780 + 6790  # the cancelled order does not count
    assert stats.first_order_at == utc(2024, 6, 18, 12, 30)
    assert stats.last_order_at == utc(2024, 12, 1, 1, 0)

    again = patron.ingest(Entity.ORDERS, path)
    assert again.tables == {
        "orders": TableCounts(unchanged=3),
        "order_lines": TableCounts(unchanged=4),
        "refunds": TableCounts(),
    }


def test_formats_agree_with_each_other(patron: Patron, tmp_path: Path) -> None:
    """Loading every layout one after the other into one shop changes nothing after the first."""
    first = None
    for layout, (name, writer) in WRITERS.items():
        folder = tmp_path / layout
        folder.mkdir()
        report = patron.ingest(Entity.ORDERS, writer(folder / name))
        if first is None:
            first = stored_orders(patron)
            continue
        assert report.tables["orders"] == TableCounts(unchanged=3), layout
        assert report.tables["order_lines"] == TableCounts(unchanged=4), layout
        assert stored_orders(patron) == first, layout


def test_chinese_headers_need_gb18030_detection_not_a_guess(patron: Patron, tmp_path: Path) -> None:
    """A GB18030 file whose Chinese bytes happen to be valid nowhere else still reads exactly."""
    path = write_csv(tmp_path / "orders.csv", encoding="gb18030")
    assert path.read_bytes() != write_csv(tmp_path / "utf8.csv").read_bytes()
    patron.ingest(Entity.ORDERS, path)
    with patron.engine.connect() as connection:
        titles = (
            connection.execute(select(t.products.c.title).order_by(t.products.c.sku))
            .scalars()
            .all()
        )
    assert titles == ["保温杯", "茶叶 礼盒", "Mug, large"]


# --- the other entities ----------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_customers_with_attributes_and_consent(patron: Patron, tmp_path: Path) -> None:
    path = write(
        tmp_path / "customers.csv",
        "customer_id,name,email,phone,gender,birth_date,region,city,city_tier,signup_at,"
        "acquisition_channel,consent_email,consent_sms,consent_push,attr_vip_level,attr_source\n"
        "王芳,王芳,wf@example.cn,13800000000,F,1990-05-01,浙江,杭州,2,2023-01-02 08:00:00,"
        "douyin,是,否,,gold,直播\n"
        "li.lei,Li Lei,li@example.com,,M,,Guangdong,Shenzhen,1,2023-03-04T10:00:00+00:00,"
        "search,yes,no,TRUE,,\n"
        "c3,,,,O,,,,,,,1,0,false,silver,ads\n",
    )
    report = patron.ingest(Entity.CUSTOMERS, path)
    assert report.tables == {"customers": TableCounts(inserted=3)}
    c = t.customers
    with patron.engine.connect() as connection:
        rows = connection.execute(
            select(
                c.c.external_id,
                c.c.name,
                c.c.email,
                c.c.phone,
                c.c.gender,
                c.c.birth_date,
                c.c.region,
                c.c.city,
                c.c.city_tier,
                c.c.signup_at,
                c.c.acquisition_channel,
                c.c.consent_email,
                c.c.consent_sms,
                c.c.consent_push,
                c.c.attributes,
                c.c.is_stub,
            ).order_by(c.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        (
            "王芳",
            "王芳",
            "wf@example.cn",
            "13800000000",
            "F",
            date(1990, 5, 1),
            "浙江",
            "杭州",
            2,
            utc(2023, 1, 2, 0, 0),
            "douyin",
            True,
            False,
            None,
            {"vip_level": "gold", "source": "直播"},
            False,
        ),
        (
            "li.lei",
            "Li Lei",
            "li@example.com",
            None,
            "M",
            None,
            "Guangdong",
            "Shenzhen",
            1,
            utc(2023, 3, 4, 10, 0),
            "search",
            True,
            False,
            True,
            None,
            False,
        ),
        (
            "c3",
            None,
            None,
            None,
            "O",
            None,
            None,
            None,
            None,
            None,
            None,
            True,
            False,
            False,
            {"vip_level": "silver", "source": "ads"},
            False,
        ),
    ]
    assert patron.ingest(Entity.CUSTOMERS, path).tables == {"customers": TableCounts(unchanged=3)}


def test_bad_consent_value_names_row_and_column(patron: Patron, tmp_path: Path) -> None:
    path = write(tmp_path / "customers.csv", "customer_id,consent_sms\nc1,是\nc2,maybe\n")
    with pytest.raises(IngestRejected) as caught:
        patron.ingest(Entity.CUSTOMERS, path)
    assert caught.value.details["first_errors"] == [
        {
            "row": 3,
            "column": "consent_sms",
            "value": "maybe",
            "reason": "expected yes/no (true/false, 1/0, 是/否)",
        }
    ]


def test_products(patron: Patron, tmp_path: Path) -> None:
    path = write(
        tmp_path / "products.csv",
        "sku,title,category_path,brand,list_price,currency\n"
        'SKU-1,保温杯,家居 > 厨房 > 杯子,象印,"1,299.00",CNY\n'
        "SKU-2,Green tea,Food > Tea,,45,\n"
        "SKU-9,Camera,Electronics,Sony,¥3999.5,\n",
    )
    report = patron.ingest(Entity.PRODUCTS, path)
    assert report.tables == {"products": TableCounts(inserted=3)}
    p = t.products
    with patron.engine.connect() as connection:
        rows = connection.execute(
            select(
                p.c.sku,
                p.c.title,
                p.c.category_path,
                p.c.brand,
                p.c.list_price_minor,
                p.c.currency,
                p.c.is_stub,
            ).order_by(p.c.sku)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("SKU-1", "保温杯", "家居 > 厨房 > 杯子", "象印", 129900, "CNY", False),
        ("SKU-2", "Green tea", "Food > Tea", None, 4500, "CNY", False),
        ("SKU-9", "Camera", "Electronics", "Sony", 399950, "CNY", False),
    ]


EVENTS = (
    "event_type,customer_id,occurred_at,sku,session_id,query\n"
    "visit,c1,2024-05-01 10:00:00,,s1,\n"
    "search,c1,2024-05-01 10:00:30,,s1,保温杯\n"
    "view,c1,2024-05-01 10:01:00,SKU-1,s1,\n"
    "cart_add,c1,2024-05-01 10:02:00,SKU-1,s1,\n"
    "view,,2024-05-01 11:00:00,SKU-2,s2,\n"
    "view,c1,2024-05-01 10:01:00,SKU-1,s1,\n"  # the same view twice in the export: one event
)


def test_events_without_id_are_idempotent(patron: Patron, tmp_path: Path) -> None:
    path = write(tmp_path / "events.csv", EVENTS)
    report = patron.ingest(Entity.EVENTS, path)
    assert report.rows_read == 6
    assert report.tables == {"events": TableCounts(inserted=5)}
    assert report.stubs == {"customers": 1, "products": 2}
    again = patron.ingest(Entity.EVENTS, path)
    assert again.tables == {"events": TableCounts(unchanged=5)}
    assert again.stubs == {"customers": 0, "products": 0}
    # A later export that repeats two events and adds one stores only the new one.
    later = write(
        tmp_path / "later.csv",
        EVENTS.splitlines()[0]
        + "\n"
        + "\n".join(EVENTS.splitlines()[3:5])
        + "\nsign_in,c2,2024-05-02 09:00:00,,s3,\n",
    )
    assert patron.ingest(Entity.EVENTS, later).tables == {
        "events": TableCounts(inserted=1, unchanged=2)
    }
    e, c, p = t.events, t.customers, t.products
    with patron.engine.connect() as connection:
        rows = connection.execute(
            select(
                e.c.event_type, c.c.external_id, p.c.sku, e.c.occurred_at, e.c.session_id, e.c.query
            )
            .outerjoin(c, c.c.id == e.c.customer_id)
            .outerjoin(p, p.c.id == e.c.product_id)
            .order_by(e.c.occurred_at)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("visit", "c1", None, utc(2024, 5, 1, 2, 0), "s1", None),
        ("search", "c1", None, utc(2024, 5, 1, 2, 0, 30), "s1", "保温杯"),
        ("view", "c1", "SKU-1", utc(2024, 5, 1, 2, 1), "s1", None),
        ("cart_add", "c1", "SKU-1", utc(2024, 5, 1, 2, 2), "s1", None),
        ("view", None, "SKU-2", utc(2024, 5, 1, 3, 0), "s2", None),
        ("sign_in", "c2", None, utc(2024, 5, 2, 1, 0), "s3", None),
    ]
    assert patron.stats()[0].events == 6


def jsonl(path: Path, *objects: dict[str, Any]) -> Path:
    return write(path, "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects))


def test_events_with_ids(patron: Patron, tmp_path: Path) -> None:
    favorite = {"event_id": "e1", "event_type": "favorite", "customer_id": "c1",
                "occurred_at": "2024-05-01T10:00:00+08:00", "sku": "SKU-1"}  # fmt: skip
    share = {"event_id": "e2", "event_type": "share", "customer_id": "c1",
             "occurred_at": "2024-05-01T10:05:00+08:00"}  # fmt: skip
    path = jsonl(tmp_path / "events.jsonl", favorite, share)
    assert patron.ingest(Entity.EVENTS, path).tables == {"events": TableCounts(inserted=2)}
    changed = jsonl(tmp_path / "events2.jsonl", {**share, "event_type": "inquiry"})
    assert patron.ingest(Entity.EVENTS, changed).tables == {"events": TableCounts(updated=1)}
    assert patron.ingest(Entity.EVENTS, path).tables == {
        "events": TableCounts(updated=1, unchanged=1)
    }


def test_reviews(patron: Patron, tmp_path: Path) -> None:
    patron.ingest(Entity.ORDERS, write_csv(tmp_path / "orders.csv"))
    path = write(
        tmp_path / "reviews.csv",
        "review_id,customer_id,sku,order_id,rating,text,created_at\n"
        'R1,王芳,SKU-1,T1001,5,"保温效果很好, 推荐",2024-11-15 12:00:00\n'
        "R2,li.lei,SKU-1,,3,,2024-06-25 08:00:00\n"
        "R3,new-buyer,SKU-7,,1,broken,2024-07-01 08:00:00\n",
    )
    report = patron.ingest(Entity.REVIEWS, path)
    assert report.tables == {"reviews": TableCounts(inserted=3)}
    assert report.stubs == {"customers": 1, "products": 1}
    r, c, p, o = t.reviews, t.customers, t.products, t.orders
    with patron.engine.connect() as connection:
        rows = connection.execute(
            select(
                r.c.external_id,
                c.c.external_id,
                p.c.sku,
                o.c.external_id,
                r.c.rating,
                r.c.text,
                r.c.created_at,
            )
            .join(c, c.c.id == r.c.customer_id)
            .join(p, p.c.id == r.c.product_id)
            .outerjoin(o, o.c.id == r.c.order_id)
            .order_by(r.c.external_id)
        ).all()
    assert [tuple(x) for x in rows] == [
        ("R1", "王芳", "SKU-1", "T1001", 5, "保温效果很好, 推荐", utc(2024, 11, 15, 4, 0)),
        ("R2", "li.lei", "SKU-1", None, 3, None, utc(2024, 6, 25, 0, 0)),
        ("R3", "new-buyer", "SKU-7", None, 1, "broken", utc(2024, 7, 1, 0, 0)),
    ]
    assert patron.ingest(Entity.REVIEWS, path).tables == {"reviews": TableCounts(unchanged=3)}
    assert patron.stats()[0].reviews == 3
