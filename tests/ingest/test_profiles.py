"""The shipped profiles (shopify, taobao) and the Online Retail mapping file store exactly the
hand-computed rows of small hand-written exports; docs/ingestion.md lists every canonical column.

Run this file as a script to print the tables of docs/ingestion.md that are generated from the
code (canonical columns, profile mappings, status maps).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from conftest import lines_of, orders_of
from patron.clock import FixedClock
from patron.core import Patron
from patron.db import tables as t
from patron.ingest.model import Entity, RunStatus, TableCounts
from patron.ingest.profiles import PROFILES, Profile
from patron.ingest.schema import FIELDS
from patron.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ingestion.md"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type, misc]


def refunds_of(patron: Patron) -> list[tuple[Any, ...]]:
    """(refund id, order, line number or None, quantity, amount, refunded at)."""
    r, o, ln = t.refunds, t.orders, t.order_lines
    query = (
        select(
            r.c.external_id,
            o.c.external_id,
            ln.c.line_no,
            r.c.quantity,
            r.c.amount_minor,
            r.c.refunded_at,
        )
        .join(o, o.c.id == r.c.order_id)
        .outerjoin(ln, ln.c.id == r.c.order_line_id)
        .order_by(r.c.external_id)
    )
    with patron.engine.connect() as connection:
        return [tuple(r) for r in connection.execute(query)]


def products_of(patron: Patron) -> list[tuple[Any, ...]]:
    p = t.products
    with patron.engine.connect() as connection:
        rows = connection.execute(select(p.c.sku, p.c.title, p.c.is_stub).order_by(p.c.sku))
        return [tuple(r) for r in rows]


# --- Shopify ------------------------------------------------------------------------------------

SHOPIFY_HEADER = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,"
    "Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,"
    "Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Billing Name,"
    "Cancelled at,Refunded Amount,Source\n"
)
# #1001: two lines, the order's columns on its first row only, the second line without SKU:
#   2 × 10.00 + 1 × 20.00 = 40.00, less 5.00 discount, plus 5.00 shipping = 40.00.
# #1002: voided → cancelled. #1003: partially refunded (12.50 of 30.00) → paid, one refund.
# #1004: refunded → refunded, a refund of the whole 18.00. #1005: authorized → pending.
SHOPIFY_CSV = SHOPIFY_HEADER + (
    "#1001,Ann@Example.com,paid,2023-01-05 10:02:00 +0800,unfulfilled,,yes,USD,35.00,5.00,0.00,"
    "40.00,WELCOME,5.00,Standard,2023-01-05 10:01:02 +0800,2,Mug,10.00,MUG-1,Ann Lee,,0.00,web\n"
    "#1001,,,,,,,,,,,,,,,,1,Hand-made card,20.00,,,,,\n"
    "#1002,bob@example.com,voided,,unfulfilled,,no,USD,18.00,0.00,0.00,18.00,,0.00,,"
    "2023-01-06 11:00:00 +0800,1,Tea,18.00,TEA-1,Bob Ng,2023-01-06 12:00:00 +0800,0.00,web\n"
    "#1003,ann@example.com,partially_refunded,2023-02-01 08:00:00 +0800,,,yes,USD,30.00,0.00,"
    "0.00,30.00,,0.00,,2023-02-01 07:59:00 +0800,3,Mug,10.00,MUG-1,Ann Lee,,12.50,pos\n"
    "#1004,cy@example.com,refunded,2023-03-01 09:00:00 +0800,unfulfilled,,no,USD,18.00,0.00,"
    "0.00,18.00,,0.00,,2023-03-01 08:58:00 +0800,1,Tea,18.00,TEA-1,Cy Wu,,18.00,web\n"
    "#1005,dee@example.com,authorized,,,,no,USD,10.00,0.00,0.00,10.00,,0.00,,"
    "2023-03-02 10:00:00 +0800,1,Mug,10.00,MUG-1,Dee Ho,,0.00,web\n"
)


@pytest.fixture(params=[100_000, 1], ids=["one-chunk", "row-per-chunk"])
def chunked(
    request: pytest.FixtureRequest, patron: Patron, settings: Settings, clock: FixedClock
) -> Patron:
    """The test's Patron, or one on the same database reading one row per chunk (an order's
    rows then span chunks)."""
    if request.param == settings.ingest_chunk_rows:
        return patron
    other = Patron(settings.model_copy(update={"ingest_chunk_rows": request.param}), clock)
    request.addfinalizer(other.close)
    return other


def test_shopify_orders(chunked: Patron, tmp_path: Path) -> None:
    path = tmp_path / "orders_export.csv"
    path.write_text(SHOPIFY_CSV, encoding="utf-8")

    report = chunked.ingest(Entity.ORDERS, path, profile="shopify")

    assert report.status is RunStatus.STORED
    assert (report.rows_read, report.rows_rejected) == (6, 0)
    assert report.tables == {
        "orders": TableCounts(inserted=5),
        "order_lines": TableCounts(inserted=6),
        "refunds": TableCounts(inserted=2),
    }
    assert report.stubs == {"customers": 4, "products": 3}
    assert orders_of(chunked) == [
        # Times with an offset are stored in UTC; emails are the customer ids, in lower case.
        ("#1001", "ann@example.com", utc(2023, 1, 5, 2, 1, 2), utc(2023, 1, 5, 2, 2), "paid",
         "USD", 4000, 500, 500, 4000, 3, "web", "WELCOME"),
        ("#1002", "bob@example.com", utc(2023, 1, 6, 3), None, "cancelled",
         "USD", 1800, 0, 0, 1800, 1, "web", None),
        ("#1003", "ann@example.com", utc(2023, 1, 31, 23, 59), utc(2023, 2, 1), "paid",
         "USD", 3000, 0, 0, 3000, 3, "pos", None),
        ("#1004", "cy@example.com", utc(2023, 3, 1, 0, 58), utc(2023, 3, 1, 1), "refunded",
         "USD", 1800, 0, 0, 1800, 1, "web", None),
        ("#1005", "dee@example.com", utc(2023, 3, 2, 2), None, "pending",
         "USD", 1000, 0, 0, 1000, 1, "web", None),
    ]  # fmt: skip
    assert lines_of(chunked) == [
        ("#1001", 1, "MUG-1", 2, 1000, 2000),
        ("#1001", 2, "name:Hand-made card", 1, 2000, 2000),
        ("#1002", 1, "TEA-1", 1, 1800, 1800),
        ("#1003", 1, "MUG-1", 3, 1000, 3000),
        ("#1004", 1, "TEA-1", 1, 1800, 1800),
        ("#1005", 1, "MUG-1", 1, 1000, 1000),
    ]
    assert products_of(chunked) == [
        ("MUG-1", "Mug", True),
        ("TEA-1", "Tea", True),
        ("name:Hand-made card", "Hand-made card", True),
    ]
    assert refunds_of(chunked) == [
        ("#1003#refund", "#1003", None, None, 1250, None),
        ("#1004#refund", "#1004", None, None, 1800, None),
    ]

    again = chunked.ingest(Entity.ORDERS, path, profile="shopify")
    assert again.tables == {
        "orders": TableCounts(unchanged=5),
        "order_lines": TableCounts(unchanged=6),
        "refunds": TableCounts(unchanged=2),
    }


def test_shopify_unknown_financial_status_names_the_column(patron: Patron, tmp_path: Path) -> None:
    path = tmp_path / "orders_export.csv"
    path.write_text(SHOPIFY_CSV.replace("authorized", "on_hold"), encoding="utf-8")

    report = patron.ingest(Entity.ORDERS, path, profile="shopify", max_errors=1)

    assert report.rows_rejected == 1
    error = report.first_errors[0]
    assert (error.row, error.column, error.value) == (7, "Financial Status", "on_hold")
    assert error.reason.startswith("expected one of pending, paid")


def test_shopify_fulfilment_and_cancellation(patron: Patron, tmp_path: Path) -> None:
    rows = SHOPIFY_CSV.replace(",unfulfilled,,yes,USD,35.00", ",fulfilled,,yes,USD,35.00")
    rows = rows.replace("2023-02-01 08:00:00 +0800,,", "2023-02-01 08:00:00 +0800,partial,")
    rows = rows.replace("Cy Wu,,18.00", "Cy Wu,2023-03-02 09:00:00 +0800,18.00")
    path = tmp_path / "orders_export.csv"
    path.write_text(rows, encoding="utf-8")

    patron.ingest(Entity.ORDERS, path, profile="shopify")

    statuses = [(r[0], r[4]) for r in orders_of(patron)]
    assert statuses == [
        ("#1001", "completed"),  # paid and fulfilled
        ("#1002", "cancelled"),
        ("#1003", "shipped"),  # paid, partially fulfilled
        ("#1004", "cancelled"),  # refunded and cancelled
        ("#1005", "pending"),
    ]


# --- Taobao -------------------------------------------------------------------------------------

TAOBAO_HEADER = (
    "订单编号,买家会员名,买家支付宝账号,买家应付货款,买家应付邮费,总金额,买家实际支付金额,订单状态,"
    "买家留言,收货人姓名,收货地址,订单创建时间,订单付款时间,宝贝标题,宝贝种类,物流单号,订单备注,"
    "宝贝总数量,店铺名称,退款金额\n"
)
# Long numbers as ="…" (Excel's text trick), raw or quoted the CSV way; one status with an ASCII
# comma, one wrapped; a closed order with money refunded is refunded. Times are Beijing time.
TAOBAO_CSV = TAOBAO_HEADER + (
    '="3551000000000000001",王芳,="wf@example.com",128.00,0.00,128.00,0.00,等待买家付款,,王芳,'
    "浙江省 杭州市,2023-11-11 00:00:05,,保温杯,1,,,1,旗舰店,0.00\n"
    '"=""3551000000000000002""",王芳,,59.90,10.00,69.90,69.90,买家已付款，等待卖家发货,,王芳,'
    "浙江省 杭州市,2023-11-11 00:10:00,2023-11-11 00:10:30,茶叶 礼盒,2,,,3,旗舰店,0.00\n"
    '="3551000000000000003",李雷,,20.00,0.00,20.00,20.00,"买家已付款,等待卖家发货",,李雷,'
    "上海市,2023-11-11 08:00:00,2023-11-11 08:01:00,杯垫,1,,,2,旗舰店,0.00\n"
    '="3551000000000000004",李雷,,99.00,0.00,99.00,89.00,卖家已发货，等待买家确认,,李雷,'
    '上海市,2023-11-12 09:30:00,2023-11-12 09:31:00,茶壶,1,="SF1234567890",,1,旗舰店,0.00\n'
    '="3551000000000000005",韩梅梅,,300.00,12.00,312.00,312.00,交易成功,,韩梅梅,北京市,'
    "2023-11-13 20:00:00,2023-11-13 20:05:00,茶具 套装,2,,部分退款,4,旗舰店,100.00\n"
    '="3551000000000000006",韩梅梅,,45.00,0.00,45.00,0.00,交易关闭,,韩梅梅,北京市,'
    "2023-11-14 10:00:00,,茶叶,1,,,1,旗舰店,0.00\n"
    '="3551000000000000007",王芳,,45.00,0.00,45.00,45.00,交易关闭,,王芳,浙江省 杭州市,'
    "2023-11-15 10:00:00,2023-11-15 10:00:09,茶叶,1,,,1,旗舰店,45.00\n"
    '="3551000000000000008",李雷,,88.00,0.00,88.00,88.00,付款以后用户退款成功，交易自动关闭,,李雷,'
    "上海市,2023-11-16 11:00:00,2023-11-16 11:00:30,茶杯,1,,,2,旗舰店,88.00\n"
    '="3551000000000000009",李雷,,10.00,6.00,16.00,16.00,="交易成功",,李雷,上海市,'
    "2023-12-31 23:59:59,2024-01-01 00:00:01,杯刷,1,,,1,旗舰店,0.00\n"
)


def test_taobao_report_gb18030(patron: Patron, tmp_path: Path) -> None:
    path = tmp_path / "ExportOrderList.csv"
    path.write_bytes(TAOBAO_CSV.encode("gb18030"))

    report = patron.ingest(Entity.ORDERS, path, shop="tmall", profile="taobao")

    assert report.status is RunStatus.STORED
    assert (report.rows_read, report.rows_rejected) == (9, 0)
    assert report.tables == {
        "orders": TableCounts(inserted=9),
        "order_lines": TableCounts(),
        "refunds": TableCounts(inserted=3),
    }
    assert report.stubs == {"customers": 3, "products": 0}
    # No line items: the subtotal is total − shipping; Beijing is UTC+8.
    n = "35510000000000000"
    assert orders_of(patron) == [
        (n + "01", "王芳", utc(2023, 11, 10, 16, 0, 5), None, "pending",
         "CNY", 0, 0, 0, 0, 1, None, None),
        (n + "02", "王芳", utc(2023, 11, 10, 16, 10), utc(2023, 11, 10, 16, 10, 30), "paid",
         "CNY", 5990, 0, 1000, 6990, 3, None, None),
        (n + "03", "李雷", utc(2023, 11, 11), utc(2023, 11, 11, 0, 1), "paid",
         "CNY", 2000, 0, 0, 2000, 2, None, None),
        (n + "04", "李雷", utc(2023, 11, 12, 1, 30), utc(2023, 11, 12, 1, 31), "shipped",
         "CNY", 8900, 0, 0, 8900, 1, None, None),
        (n + "05", "韩梅梅", utc(2023, 11, 13, 12), utc(2023, 11, 13, 12, 5), "completed",
         "CNY", 30000, 0, 1200, 31200, 4, None, None),
        (n + "06", "韩梅梅", utc(2023, 11, 14, 2), None, "cancelled",
         "CNY", 0, 0, 0, 0, 1, None, None),
        (n + "07", "王芳", utc(2023, 11, 15, 2), utc(2023, 11, 15, 2, 0, 9), "refunded",
         "CNY", 4500, 0, 0, 4500, 1, None, None),
        (n + "08", "李雷", utc(2023, 11, 16, 3), utc(2023, 11, 16, 3, 0, 30), "refunded",
         "CNY", 8800, 0, 0, 8800, 2, None, None),
        (n + "09", "李雷", utc(2023, 12, 31, 15, 59, 59), utc(2023, 12, 31, 16, 0, 1), "completed",
         "CNY", 1000, 0, 600, 1600, 1, None, None),
    ]  # fmt: skip
    assert refunds_of(patron) == [
        (n + "05#refund", n + "05", None, None, 10000, None),
        (n + "07#refund", n + "07", None, None, 4500, None),
        (n + "08#refund", n + "08", None, None, 8800, None),
    ]
    stats = patron.stats("tmall")[0]
    assert stats.currency == "CNY"
    # Gross: every order but the cancelled one; net: less the three refunds.
    assert stats.gross_revenue_minor == 6990 + 2000 + 8900 + 31200 + 4500 + 8800 + 1600
    assert stats.net_revenue_minor == stats.gross_revenue_minor - 10000 - 4500 - 8800


# --- Online Retail mapping file -----------------------------------------------------------------

# 30 rows of the real file (2010-12-01, UK time = UTC in December): a guest row without a customer
# (refused), and C536506 cancelling 6 of the 8 JAM MAKING SET WITH JARS of invoice 536488.
ONLINE_RETAIL_CSV = """\
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom
536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom
536365,84406B,CREAM CUPID HEARTS COAT HANGER,8,2010-12-01 08:26:00,2.75,17850,United Kingdom
536365,84029G,KNITTED UNION FLAG HOT WATER BOTTLE,6,2010-12-01 08:26:00,3.39,17850,United Kingdom
536365,84029E,RED WOOLLY HOTTIE WHITE HEART.,6,2010-12-01 08:26:00,3.39,17850,United Kingdom
536365,22752,SET 7 BABUSHKA NESTING BOXES,2,2010-12-01 08:26:00,7.65,17850,United Kingdom
536365,21730,GLASS STAR FROSTED T-LIGHT HOLDER,6,2010-12-01 08:26:00,4.25,17850,United Kingdom
536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,17850,United Kingdom
536366,22632,HAND WARMER RED POLKA DOT,6,2010-12-01 08:28:00,1.85,17850,United Kingdom
536414,22139,,56,2010-12-01 11:52:00,0.0,,United Kingdom
536488,22738,RIBBON REEL SNOWY VILLAGE,5,2010-12-01 12:31:00,1.65,17897,United Kingdom
536488,21621,VINTAGE UNION JACK BUNTING,1,2010-12-01 12:31:00,8.5,17897,United Kingdom
536488,22960,JAM MAKING SET WITH JARS,8,2010-12-01 12:31:00,4.25,17897,United Kingdom
536488,22082,RIBBON REEL STRIPES DESIGN ,5,2010-12-01 12:31:00,1.65,17897,United Kingdom
536488,47563A,RETRO LONGBOARD IRONING BOARD COVER,1,2010-12-01 12:31:00,3.75,17897,United Kingdom
536488,84558A,3D DOG PICTURE PLAYING CARDS,1,2010-12-01 12:31:00,2.95,17897,United Kingdom
536488,21592,RETROSPOT CIGAR BOX MATCHES ,1,2010-12-01 12:31:00,1.25,17897,United Kingdom
536488,20878,SET/9 CHRISTMAS T-LIGHTS SCENTED ,2,2010-12-01 12:31:00,1.25,17897,United Kingdom
536488,84347,ROTATING SILVER ANGELS T-LIGHT HLDR,1,2010-12-01 12:31:00,2.55,17897,United Kingdom
536488,84347,ROTATING SILVER ANGELS T-LIGHT HLDR,1,2010-12-01 12:31:00,2.55,17897,United Kingdom
536500,21622,VINTAGE UNION JACK CUSHION COVER,10,2010-12-01 12:35:00,4.95,17377,United Kingdom
536500,46000M,POLYESTER FILLER PAD 45x45cm,10,2010-12-01 12:35:00,1.55,17377,United Kingdom
536500,22630,DOLLY GIRL LUNCH BOX,2,2010-12-01 12:35:00,1.95,17377,United Kingdom
536500,22616,PACK OF 12 LONDON TISSUES ,12,2010-12-01 12:35:00,0.29,17377,United Kingdom
536500,22712,CARD DOLLY GIRL ,12,2010-12-01 12:35:00,0.42,17377,United Kingdom
536500,22983,CARD BILLBOARD FONT,12,2010-12-01 12:35:00,0.42,17377,United Kingdom
536500,22024,RAINY LADIES BIRTHDAY CARD,12,2010-12-01 12:35:00,0.42,17377,United Kingdom
536500,22113,GREY HEART HOT WATER BOTTLE,3,2010-12-01 12:35:00,3.75,17377,United Kingdom
536500,84029E,RED WOOLLY HOTTIE WHITE HEART.,2,2010-12-01 12:35:00,3.75,17377,United Kingdom
C536506,22960,JAM MAKING SET WITH JARS,-6,2010-12-01 12:38:00,4.25,17897,United Kingdom
"""


def invoice(order: str, customer: str, placed: datetime, pence: int, units: int) -> tuple[Any, ...]:
    """An order row of orders_of() for an invoice: completed, GBP, no discount nor shipping."""
    paid_at = channel = coupons = None
    status, currency = "completed", "GBP"
    amounts = (pence, 0, 0, pence)  # subtotal, discount, shipping, total
    return (order, customer, placed, paid_at, status, currency, *amounts, units, channel, coupons)


def test_online_retail_mapping(patron: Patron, tmp_path: Path) -> None:
    path = tmp_path / "online_retail.csv"
    path.write_text(ONLINE_RETAIL_CSV, encoding="utf-8")
    mapping = ROOT / "docs" / "examples" / "online_retail.toml"

    report = patron.ingest(Entity.ORDERS, path, shop="retail", mapping=mapping, max_errors=1)

    assert (report.rows_read, report.rows_rejected) == (30, 1)
    error = report.first_errors[0]
    assert (error.row, error.column) == (11, "CustomerID")
    assert error.reason == "required value is missing"
    assert report.tables == {
        "orders": TableCounts(inserted=4),
        "order_lines": TableCounts(inserted=28),
        "refunds": TableCounts(inserted=1),
    }
    assert report.stubs == {"customers": 3, "products": 26}
    # 536365: 15.30 + 20.34 + 22.00 + 20.34 + 20.34 + 15.30 + 25.50 = 139.12 for 40 units;
    # 536366: 2 × 11.10; 536488: 74.55 for 26 units; 536500: 106.25 for 75 units.
    assert orders_of(patron) == [
        invoice("536365", "17850", utc(2010, 12, 1, 8, 26), 13912, 40),
        invoice("536366", "17850", utc(2010, 12, 1, 8, 28), 2220, 12),
        invoice("536488", "17897", utc(2010, 12, 1, 12, 31), 7455, 26),
        invoice("536500", "17377", utc(2010, 12, 1, 12, 35), 10625, 75),
    ]
    lines = lines_of(patron, "retail")
    assert len(lines) == 28
    assert lines[9:12] == [
        ("536488", 1, "22738", 5, 165, 825),
        ("536488", 2, "21621", 1, 850, 850),
        ("536488", 3, "22960", 8, 425, 3400),
    ]
    assert lines[17:19] == [  # the same product twice in one invoice: two lines
        ("536488", 9, "84347", 1, 255, 255),
        ("536488", 10, "84347", 1, 255, 255),
    ]
    # The cancellation is a refund of line 3 of 536488: 6 × 4.25.
    assert refunds_of(patron) == [
        ("C536506#1", "536488", 3, 6, 2550, utc(2010, 12, 1, 12, 38)),
    ]
    stats = patron.stats("retail")[0]
    assert (stats.currency, stats.gross_revenue_minor) == ("GBP", 13912 + 2220 + 7455 + 10625)
    assert stats.net_revenue_minor == stats.gross_revenue_minor - 2550

    again = patron.ingest(Entity.ORDERS, path, shop="retail", mapping=mapping, max_errors=1)
    assert again.tables == {
        "orders": TableCounts(unchanged=4),
        "order_lines": TableCounts(unchanged=28),
        "refunds": TableCounts(unchanged=1),
    }


def test_online_retail_ii_mapping_reads_its_headers(patron: Patron, tmp_path: Path) -> None:
    header, *rows = ONLINE_RETAIL_CSV.splitlines(keepends=True)
    renamed = header.replace("InvoiceNo", "Invoice").replace("UnitPrice", "Price")
    path = tmp_path / "online_retail_II.csv"
    path.write_text(renamed.replace("CustomerID", "Customer ID") + "".join(rows), encoding="utf-8")
    mapping = ROOT / "docs" / "examples" / "online_retail_ii.toml"

    report = patron.ingest(Entity.ORDERS, path, mapping=mapping, max_errors=1)

    assert report.tables["order_lines"] == TableCounts(inserted=28)
    assert report.tables["refunds"] == TableCounts(inserted=1)


# --- docs/ingestion.md --------------------------------------------------------------------------


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def canonical_table(entity: Entity) -> str:
    rows = [_row("column", "kind", "required", "meaning"), _row("---", "---", "---", "---")]
    for f in FIELDS[entity]:
        kind = f"{f.kind} ({', '.join(f.choices)})" if f.choices else str(f.kind)
        rows.append(_row(f"`{f.name}`", kind, "yes" if f.required else "", f.doc))
    return "\n".join(rows)


def profile_table(profile: Profile) -> str:
    rows = [_row("canonical column", "source"), _row("---", "---")]
    helpers = set(profile.columns) - {f.name for f in FIELDS[profile.entities[0]]}
    for name, source in profile.columns.items():
        note = " (read by the profile's hook, not stored)" if name in helpers else ""
        rows.append(_row(f"`{name}`", f"`{source}`{note}"))
    rows += [_row(f"`{name}`", f"always `{value}`") for name, value in profile.constants.items()]
    return "\n".join(rows)


def values_table(profile: Profile, column: str) -> str:
    header = [_row(f"{profile.source_of(column)}", column), _row("---", "---")]
    mapping = profile.values[column]
    return "\n".join(header + [_row(f"`{k}`", f"`{v}`") for k, v in mapping.items()])


def generated_tables() -> list[str]:
    """Every table of docs/ingestion.md made from the code."""
    tables = [canonical_table(entity) for entity in FIELDS]
    for name in ("shopify", "taobao", "cdnow"):
        profile = PROFILES[name]
        tables.append(profile_table(profile))
        tables += [values_table(profile, column) for column in profile.values]
    return tables


def test_docs_list_every_canonical_column() -> None:
    text = DOC.read_text(encoding="utf-8")
    for entity, fields in FIELDS.items():
        for f in fields:
            assert f"| `{f.name}` |" in text, f"docs/ingestion.md does not list {entity}.{f.name}"


def test_docs_tables_match_the_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    for table in generated_tables():
        assert table in text, (
            "docs/ingestion.md is out of date; paste the output of "
            f"`python tests/ingest/test_profiles.py`. Missing:\n{table}"
        )
    example = (ROOT / "docs" / "examples" / "online_retail.toml").read_text(encoding="utf-8")
    assert f"```toml\n{example}```" in text, "docs/ingestion.md shows another online_retail.toml"


if __name__ == "__main__":
    print("\n\n".join(generated_tables()))
