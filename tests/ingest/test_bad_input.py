"""Bad input gets a clear error naming file, row and column, and a rejected run changes nothing.

Every test first stores a good file, then offers a bad one, and compares a snapshot of every
operational table (all rows, not only counts) and of the shop's statistics before and after.
"""

from __future__ import annotations

import csv
import gc
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select

from patron.cli.app import main
from patron.core import Patron
from patron.db import tables as t
from patron.errors import ConfigError, ErrorCode, IngestRejected, InputError, NotFoundError
from patron.ingest.model import Entity, RunStatus, TableCounts

HEADER = "order_id,customer_id,placed_at,status,sku,product_title,quantity,unit_price,shipping\n"
GOOD = HEADER + (
    "A1,C1,2024-01-05 10:00:00,completed,S1,Mug,2,10.50,5.00\n"
    "A1,C1,2024-01-05 10:00:00,completed,S2,Tea,1,3.25,5.00\n"
    "A2,C2,2024-02-01 09:30:00,completed,S1,Mug,1,10.50,\n"
)
# A1: 2 × 10.50 + 3.25 + 5.00 shipping = 29.25; A2: 10.50.
GOOD_GROSS = 2925 + 1050
# Rows a bad file carries besides its bad ones: were they stored, A2 would change and A3 appear.
CHANGES = (
    "A2,C2,2024-02-01 09:30:00,completed,S1,Mug,3,10.50,\n"
    "A3,C3,2024-03-01 12:00:00,completed,S3,Pen,1,2.00,\n"
)
STORED_TABLES = (
    t.shops,
    t.customers,
    t.products,
    t.orders,
    t.order_lines,
    t.refunds,
    t.events,
    t.reviews,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def snapshot(patron: Patron) -> dict[str, Any]:
    """Every row of every operational table, and the shop statistics."""
    with patron.engine.connect() as connection:
        rows = {
            table.name: [tuple(r) for r in connection.execute(select(table).order_by(table.c.id))]
            for table in STORED_TABLES
        }
    return {"rows": rows, "stats": [s.to_json() for s in patron.stats()]}


def read_quarantine(path: str | Path) -> list[list[str]]:
    with Path(path).open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


@pytest.fixture
def stored(patron: Patron, tmp_path: Path) -> dict[str, Any]:
    """The good file is stored; returns the snapshot of what that stored."""
    report = patron.ingest(Entity.ORDERS, write(tmp_path / "good.csv", GOOD))
    assert report.tables["orders"] == TableCounts(inserted=2)
    before = snapshot(patron)
    assert before["stats"][0]["orders"] == 2
    assert before["stats"][0]["order_lines"] == 3
    assert before["stats"][0]["gross_revenue_minor"] == GOOD_GROSS
    return before


def rejected(patron: Patron, path: Path, entity: Entity = Entity.ORDERS) -> IngestRejected:
    with pytest.raises(IngestRejected) as caught:
        patron.ingest(entity, path)
    error = caught.value
    assert error.code is ErrorCode.INGEST_REJECTED
    assert error.details["file"] == str(path)
    assert error.message.startswith(f"{path}: ")
    return error


def first_errors(error: IngestRejected) -> list[tuple[int, str, str | None, str]]:
    return [(e["row"], e["column"], e["value"], e["reason"]) for e in error.details["first_errors"]]


# --- unreadable files ---------------------------------------------------------------------------


def test_wrong_encoding(patron: Patron, stored: dict[str, Any], tmp_path: Path) -> None:
    # "Zoë" in Latin-1: 0xEB followed by "," is neither UTF-8 nor a GB18030 sequence.
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        (HEADER + CHANGES + "A4,Zoë,2024-03-02 12:00:00,completed,S1,Mug,1,10.50,\n").encode(
            "latin-1"
        )
    )
    offset = len((HEADER + CHANGES + "A4,Zo").encode("latin-1"))
    with pytest.raises(InputError) as caught:
        patron.ingest(Entity.ORDERS, path)
    error = caught.value
    assert error.code is ErrorCode.ENCODING_INVALID
    assert error.message == (
        f"{path}: row 4: the file is neither UTF-8 nor GB18030 "
        f"(invalid UTF-8 at byte {offset}, row 4; invalid GB18030 at byte {offset}, row 4); "
        "save it as UTF-8 or name its encoding in a mapping file"
    )
    assert error.details == {"file": str(path), "row": 4}
    assert snapshot(patron) == stored


def test_missing_required_columns(patron: Patron, stored: dict[str, Any], tmp_path: Path) -> None:
    path = write(
        tmp_path / "missing.csv", "order_id,buyer,sku,quantity,unit_price\nA3,C3,S3,1,2.00\n"
    )
    with pytest.raises(InputError) as caught:
        patron.ingest(Entity.ORDERS, path)
    error = caught.value
    assert error.code is ErrorCode.COLUMNS_MISSING
    assert error.message == (
        f"{path}: missing required column(s): customer_id (column 'customer_id'), "
        "placed_at (column 'placed_at'); found columns: order_id, buyer, sku, quantity, unit_price"
    )
    assert error.details["missing"] == [
        "customer_id (column 'customer_id')",
        "placed_at (column 'placed_at')",
    ]
    assert error.details["found"] == ["order_id", "buyer", "sku", "quantity", "unit_price"]
    assert snapshot(patron) == stored


# --- bad values ---------------------------------------------------------------------------------


def test_malformed_dates(patron: Patron, stored: dict[str, Any], tmp_path: Path) -> None:
    path = write(
        tmp_path / "dates.csv",
        HEADER
        + CHANGES
        + (
            "A4,C4,2024-13-05 10:00:00,completed,S1,Mug,1,10.50,\n"
            "A5,C4,05/01/2024,completed,S1,Mug,1,10.50,\n"
            "A6,C4,yesterday,completed,S1,Mug,1,10.50,\n"
        ),
    )
    error = rejected(patron, path)
    expected = "expected an ISO 8601 date and time"
    assert first_errors(error) == [
        (4, "placed_at", "2024-13-05 10:00:00", expected),
        (5, "placed_at", "05/01/2024", expected),
        (6, "placed_at", "yesterday", expected),
    ]
    assert error.details["rejected_rows"] == 3
    assert (
        f"First: row 4, column 'placed_at', value '2024-13-05 10:00:00': {expected}; "
        f"row 5, column 'placed_at', value '05/01/2024': {expected}; "
        f"row 6, column 'placed_at', value 'yesterday': {expected}." in error.message
    )
    assert snapshot(patron) == stored


def test_malformed_amounts(patron: Patron, stored: dict[str, Any], tmp_path: Path) -> None:
    path = write(
        tmp_path / "amounts.csv",
        HEADER
        + CHANGES
        + (
            "A4,C4,2024-03-02 10:00:00,completed,S1,Mug,1,10.0.0,\n"
            "A5,C4,2024-03-02 10:00:00,completed,S1,Mug,1,ten,\n"
            "A6,C4,2024-03-02 10:00:00,completed,S1,Mug,1,10.50,5 yuan\n"
            "A7,C4,2024-03-02 10:00:00,completed,S1,Mug,1.5,10.50,\n"
        ),
    )
    error = rejected(patron, path)
    amount = "expected an amount such as 1234.50"
    assert first_errors(error) == [
        (4, "unit_price", "10.0.0", amount),
        (5, "unit_price", "ten", amount),
        (6, "shipping", "5 yuan", amount),
        (7, "quantity", "1.5", "expected a whole number"),
    ]
    assert f"row 4, column 'unit_price', value '10.0.0': {amount}" in error.message
    assert snapshot(patron) == stored


def test_signs_that_contradict_the_status(
    patron: Patron, stored: dict[str, Any], tmp_path: Path
) -> None:
    path = write(
        tmp_path / "signs.csv",
        "order_id,customer_id,placed_at,status,sku,quantity,unit_price,total,refund_amount\n"
        "A2,C2,2024-02-01 09:30:00,completed,S1,3,10.50,,\n"
        "A4,C4,2024-03-02 10:00:00,completed,S1,-1,10.50,,\n"
        "A5,C4,2024-03-02 10:00:00,completed,S1,1,10.50,-10.50,\n"
        "A6,C4,2024-03-02 10:00:00,completed,S1,1,-10.50,,\n"
        "A7,C4,2024-03-02 10:00:00,pending,S1,1,10.50,,10.50\n",
    )
    error = rejected(patron, path)
    assert first_errors(error) == [
        (
            3,
            "quantity",
            "-1",
            "negative quantity on a sale line; only return/cancellation lines may be negative "
            "(declare them with [returns] in a mapping file)",
        ),
        (4, "total", "-10.50", "must not be negative on a sale"),
        (5, "unit_price", "-10.50", "must not be negative on a sale"),
        (6, "refund_amount", "10.50", "a pending (unpaid) order cannot have a refund"),
    ]
    assert "row 3, column 'quantity', value '-1': negative quantity on a sale line" in error.message
    assert snapshot(patron) == stored


def test_same_order_with_conflicting_data(
    patron: Patron, stored: dict[str, Any], tmp_path: Path
) -> None:
    path = write(
        tmp_path / "conflict.csv",
        HEADER
        + CHANGES
        + (
            "A4,C4,2024-03-02 10:00:00,completed,S1,Mug,1,10.50,\n"
            "A4,C5,2024-03-02 10:00:00,completed,S2,Tea,1,3.25,\n"
            "A4,C4,2024-03-03 10:00:00,paid,S3,Pen,1,2.00,6.00\n"
        ),
    )
    error = rejected(patron, path)
    who = "order_id 'A4' appears with conflicting customer_id: C4 vs C5"
    # A missing shipping agrees with the 6.00 given; lines stamped at different times do not
    # conflict (the order takes the earliest), a different status does.
    what = "order_id 'A4' appears with conflicting status: completed vs paid"
    assert first_errors(error) == [
        (4, "customer_id", "C4", who),
        (5, "customer_id", "C5", who),
        (6, "customer_id", "C4", who),
        (4, "status", "completed", what),
        (5, "status", "completed", what),
        (6, "status", "paid", what),
    ]
    assert error.details["rejected_rows"] == 3
    assert f"row 4, column 'customer_id', value 'C4': {who}" in error.message
    assert snapshot(patron) == stored


# --- empty and missing files, unknown names ------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\n\n  \n", "the file has no header row"),
        (HEADER.encode(), "the file has a header but no data rows"),
        (HEADER.rstrip("\n").encode(), "the file has a header but no data rows"),
    ],
    ids=["empty", "blank-lines", "header-only", "header-without-newline"],
)
def test_empty_files(
    patron: Patron, stored: dict[str, Any], tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        patron.ingest(Entity.ORDERS, path)
    assert caught.value.code is ErrorCode.FILE_EMPTY
    assert caught.value.message == f"{path}: {message}"
    assert caught.value.details == {"file": str(path)}
    assert snapshot(patron) == stored


def test_header_only_xlsx(patron: Patron, stored: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "header.xlsx"
    book = Workbook()
    book.active.append(HEADER.strip().split(","))
    book.save(path)
    book.close()
    with pytest.raises(InputError) as caught:
        patron.ingest(Entity.ORDERS, path)
    assert caught.value.code is ErrorCode.FILE_EMPTY
    assert caught.value.message == f"{path}: the file has a header but no data rows"
    assert snapshot(patron) == stored


def test_path_that_does_not_exist(patron: Patron, stored: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "orders.csv"
    with pytest.raises(NotFoundError) as caught:
        patron.ingest(Entity.ORDERS, path)
    assert caught.value.code is ErrorCode.FILE_NOT_FOUND
    assert caught.value.message == f"{path}: no such file"
    assert snapshot(patron) == stored


def test_profile_that_does_not_exist(
    patron: Patron, stored: dict[str, Any], tmp_path: Path
) -> None:
    path = write(tmp_path / "orders.csv", HEADER + CHANGES)
    with pytest.raises(ConfigError) as caught:
        patron.ingest(Entity.ORDERS, path, profile="shopfiy")
    error = caught.value
    assert error.code is ErrorCode.PROFILE_UNKNOWN
    assert error.message.startswith("unknown profile 'shopfiy'; known profiles: ")
    assert {"generic", "cdnow"} <= set(error.details["known"])
    assert error.message.endswith(", ".join(sorted(error.details["known"])))
    assert snapshot(patron) == stored


def test_refund_for_an_unknown_order(
    patron: Patron, stored: dict[str, Any], tmp_path: Path
) -> None:
    path = write(
        tmp_path / "refunds.csv",
        "refund_id,order_id,sku,quantity,amount,refunded_at\n"
        "R1,A1,S1,1,10.50,2024-01-10 12:00:00\n"
        "R2,A9,,,1.00,2024-01-10 12:00:00\n",
    )
    error = rejected(patron, path, Entity.REFUNDS)
    assert first_errors(error) == [(3, "order_id", "A9", "order 'A9' is not known in this shop")]
    assert (
        "row 3, column 'order_id', value 'A9': order 'A9' is not known in this shop"
        in error.message
    )
    assert snapshot(patron) == stored


def test_refund_for_more_than_was_paid(
    patron: Patron, stored: dict[str, Any], tmp_path: Path
) -> None:
    path = write(
        tmp_path / "refunds.csv",
        "refund_id,order_id,sku,quantity,amount,refunded_at\n"
        "R1,A1,S2,1,3.00,2024-01-10 12:00:00\n"
        "R2,A1,S2,1,0.30,2024-01-11 12:00:00\n",
    )
    error = rejected(patron, path, Entity.REFUNDS)
    why = "refunds would total 330 minor units, more than the 325 paid"
    assert first_errors(error) == [(2, "amount", None, why), (3, "amount", None, why)]
    assert snapshot(patron) == stored


def test_review_rating_six(patron: Patron, stored: dict[str, Any], tmp_path: Path) -> None:
    path = write(
        tmp_path / "reviews.csv",
        "review_id,customer_id,sku,order_id,rating,text,created_at\n"
        "V1,C1,S1,A1,5,great,2024-01-20 08:00:00\n"
        "V2,C1,S2,A1,6,wow,2024-01-20 08:00:00\n"
        "V3,C2,S1,A2,0,meh,2024-02-20 08:00:00\n",
    )
    error = rejected(patron, path, Entity.REVIEWS)
    rating = "a rating is a whole number from 1 to 5"
    assert first_errors(error) == [(3, "rating", "6", rating), (4, "rating", "0", rating)]
    assert f"row 3, column 'rating', value '6': {rating}" in error.message
    assert snapshot(patron) == stored


# --- quarantine and --max-errors -----------------------------------------------------------------


def test_quarantine_file_lists_every_bad_value(
    patron: Patron, stored: dict[str, Any], tmp_path: Path
) -> None:
    path = write(
        tmp_path / "bad.csv",
        HEADER
        + CHANGES
        + (
            "A4,C4,2024-02-30 10:00:00,completed,S1,Mug,two,10.50,\n"
            ",C4,2024-03-02 10:00:00,completed,S1,Mug,1,10.50,\n"
            'A6,C4,2024-03-02 10:00:00,sold,S1,Mug,1,"1,0.5.0",\n'
        ),
    )
    error = rejected(patron, path)
    assert error.details["rejected_rows"] == 3
    assert error.details["max_errors"] == 0
    quarantine = Path(error.details["quarantine"])
    assert quarantine.parent == tmp_path / "quarantine"
    assert error.message.endswith(f"Every bad row is listed in {quarantine}")
    assert read_quarantine(quarantine) == [
        ["row", "column", "value", "reason"],
        ["4", "placed_at", "2024-02-30 10:00:00", "expected an ISO 8601 date and time"],
        ["4", "quantity", "two", "expected a whole number"],
        ["5", "order_id", "", "required value is missing"],
        [
            "6",
            "status",
            "sold",
            "expected one of pending, paid, shipped, completed, cancelled, refunded",
        ],
        ["6", "unit_price", "1,0.5.0", "expected an amount such as 1234.50"],
    ]
    report = error.details["report"]
    assert report.status is RunStatus.REJECTED
    assert (report.rows_read, report.rows_rejected, report.tables) == (5, 3, {})
    runs = t.ingest_runs
    with patron.engine.connect() as connection:
        run = connection.execute(
            select(
                runs.c.status, runs.c.rows_read, runs.c.rows_rejected, runs.c.quarantine_path
            ).where(runs.c.id == report.run_id)
        ).one()
    assert tuple(run) == ("rejected", 5, 3, str(quarantine))
    assert snapshot(patron) == stored


def test_max_errors_stores_good_rows_when_at_most_n_are_bad(
    patron: Patron, stored: dict[str, Any], tmp_path: Path
) -> None:
    path = write(
        tmp_path / "two-bad.csv",
        HEADER
        + CHANGES
        + (
            "A4,C4,2024-03-02 10:00:00,completed,S1,Mug,1,ten,\n"
            "A5,C4,not a date,completed,S1,Mug,1,10.50,\n"
        ),
    )
    with pytest.raises(IngestRejected) as caught:
        patron.ingest(Entity.ORDERS, path, max_errors=1)
    assert caught.value.details["rejected_rows"] == 2
    assert snapshot(patron) == stored

    report = patron.ingest(Entity.ORDERS, path, max_errors=2)
    assert report.status is RunStatus.STORED
    assert (report.rows_read, report.rows_rejected, report.rows_accepted) == (4, 2, 2)
    assert report.tables == {
        "orders": TableCounts(inserted=1, updated=1, unchanged=0),  # A3 new, A2 now 3 mugs
        "order_lines": TableCounts(inserted=1, updated=1, unchanged=0),
        "refunds": TableCounts(),
    }
    assert report.stubs == {"customers": 1, "products": 1}  # C3 and S3; nothing of A4/A5
    assert report.quarantine_path is not None
    assert read_quarantine(report.quarantine_path) == [
        ["row", "column", "value", "reason"],
        ["4", "unit_price", "ten", "expected an amount such as 1234.50"],
        ["5", "placed_at", "not a date", "expected an ISO 8601 date and time"],
    ]
    stats = patron.stats()[0]
    assert (stats.customers, stats.products, stats.orders, stats.order_lines) == (3, 3, 3, 4)
    assert stats.gross_revenue_minor == 2925 + 3 * 1050 + 200


def test_an_order_with_a_refused_line_is_stored_whole_or_not_at_all(
    patron: Patron, stored: dict[str, Any], tmp_path: Path
) -> None:
    path = write(
        tmp_path / "partial.csv",
        HEADER
        + CHANGES
        + (
            "A4,C4,2024-03-02 10:00:00,completed,S1,Mug,1,10.50,\n"
            "A4,C4,2024-03-02 10:00:00,completed,S2,Tea,1,ten,\n"
        ),
    )
    with pytest.raises(IngestRejected) as caught:
        patron.ingest(Entity.ORDERS, path, max_errors=1)
    assert caught.value.details["rejected_rows"] == 2
    assert snapshot(patron) == stored

    report = patron.ingest(Entity.ORDERS, path, max_errors=2)
    assert report.quarantine_path is not None
    assert read_quarantine(report.quarantine_path) == [
        ["row", "column", "value", "reason"],
        ["5", "unit_price", "ten", "expected an amount such as 1234.50"],
        [
            "4",
            "order_id",
            "A4",
            "another row of order_id 'A4' was refused: it is stored whole or not at all",
        ],
    ]
    stats = patron.stats()[0]
    assert (stats.orders, stats.order_lines) == (3, 4)  # A1, A2, A3: nothing of A4


def test_lines_stamped_at_different_times_make_one_order_placed_at_the_first(
    patron: Patron, stored: dict[str, Any], tmp_path: Path
) -> None:
    path = write(
        tmp_path / "minutes.csv",
        HEADER
        + "A4,C4,2024-03-02 10:01:00,completed,S1,Mug,1,10.50,\n"
        + "A4,C4,2024-03-02 10:00:00,completed,S2,Tea,1,3.25,\n",
    )
    patron.ingest(Entity.ORDERS, path)
    with patron.engine.connect() as connection:
        placed = connection.execute(
            select(t.orders.c.placed_at).where(t.orders.c.external_id == "A4")
        ).scalar_one()
    assert placed.isoformat() == "2024-03-02T02:00:00+00:00"


def test_a_rejected_first_run_creates_no_shop(patron: Patron, tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.csv", HEADER + "A1,C1,2024-01-05 10:00:00,completed,S1,Mug,-2,10.50,\n"
    )
    with pytest.raises(IngestRejected):
        patron.ingest(Entity.ORDERS, path, shop="new-shop")
    assert snapshot(patron) == {"rows": {table.name: [] for table in STORED_TABLES}, "stats": []}


# --- the command line -----------------------------------------------------------------------------


Cli = Callable[..., int]


@pytest.fixture
def cli(patron: Patron, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """Runs `patron --db <the test database> ARGS…` in-process and returns its exit status;
    afterwards, checks that the commands closed every database connection they opened."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATRON_QUARANTINE_DIR", str(tmp_path / "cli-quarantine"))
    leaked: list[str] = []

    def run(*args: str) -> int:
        status = main(["--db", patron.settings.database_url, *args])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            gc.collect()
        leaked.extend(str(w.message) for w in caught if issubclass(w.category, ResourceWarning))
        return status

    yield run
    assert not leaked, f"the command left resources open: {leaked}"


def test_cli_exit_status_of_a_rejected_run(
    patron: Patron,
    stored: dict[str, Any],
    cli: Cli,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write(
        tmp_path / "bad.csv",
        HEADER + CHANGES + "A4,C4,2024-03-02 10:00:00,completed,S1,Mug,-1,10.50,\n",
    )
    capsys.readouterr()
    assert cli("ingest", "orders", str(path)) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{path}: 1 bad row(s)" in err
    assert "row 4, column 'quantity', value '-1'" in err
    assert snapshot(patron) == stored

    assert cli("ingest", "orders", str(path), "--max-errors", "1") == 0
    assert patron.stats()[0].orders == 3


@pytest.mark.parametrize(
    ("make", "status", "message"),
    [
        (lambda d: write(d / "h.csv", HEADER), 2, "the file has a header but no data rows"),
        (
            lambda d: write(d / "m.csv", "order_id\nA1\n"),
            2,
            "missing required column(s): customer_id (column 'customer_id'), "
            "placed_at (column 'placed_at'); found columns: order_id",
        ),
        (lambda d: d / "absent.csv", 3, "no such file"),
    ],
    ids=["header-only", "missing-columns", "absent"],
)
def test_cli_exit_status_of_bad_files(
    patron: Patron,
    stored: dict[str, Any],
    cli: Cli,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], Path],
    status: int,
    message: str,
) -> None:
    path = make(tmp_path)
    capsys.readouterr()
    assert cli("ingest", "orders", str(path)) == status
    err = " ".join(capsys.readouterr().err.split())
    assert f"{path}: {message}" in err
    assert snapshot(patron) == stored


def test_same_product_with_conflicting_prices(
    patron: Patron, stored: dict[str, Any], tmp_path: Path
) -> None:
    path = write(
        tmp_path / "products.csv",
        "sku,title,list_price\nS9,Vase,12.00\nS8,Bowl,3.00\nS9,Vase,12.5\nS9,Vase,12.000\n",
    )
    error = rejected(patron, path, Entity.PRODUCTS)
    why = "sku 'S9' appears with conflicting list_price: 12.00 vs 12.50"  # amounts in yuan, not fen
    assert first_errors(error) == [
        (2, "list_price", "12.00", why),
        (4, "list_price", "12.50", why),
        (5, "list_price", "12.00", why),
    ]
    assert snapshot(patron) == stored


def test_row_with_too_few_values(patron: Patron, stored: dict[str, Any], tmp_path: Path) -> None:
    path = write(
        tmp_path / "ragged.csv",
        HEADER + CHANGES + "\nA4,C4,2024-03-02 10:00:00,completed,S1,Mug,1,10.50\n",
    )
    with pytest.raises(InputError) as caught:
        patron.ingest(Entity.ORDERS, path)
    # The empty line is not a row, as for every CSV reader.
    assert caught.value.message == (
        f"{path}: row 4: expected 9 values (one per column of the header), found 8"
    )
    assert caught.value.details == {"file": str(path), "row": 4}
    assert snapshot(patron) == stored


def test_blank_rows_are_padding_not_bad_data(
    patron: Patron, stored: dict[str, Any], tmp_path: Path
) -> None:
    """Spreadsheets export formatted empty rows as ",,,,": skipped, yet counted in row numbers."""
    path = write(
        tmp_path / "padded.csv",
        HEADER
        + CHANGES
        + ",,,,,,,,\n"
        + "A4,C4,2024-03-02 10:00:00,completed,S1,Mug,-1,10.50,\n"
        + " , ,,,,,,,\n",
    )
    report = patron.ingest(Entity.ORDERS, path, max_errors=1)
    assert (report.rows_read, report.rows_rejected, report.rows_accepted) == (3, 1, 2)
    assert report.quarantine_path is not None
    assert read_quarantine(report.quarantine_path)[1][:3] == ["5", "quantity", "-1"]
    assert report.tables["orders"] == TableCounts(inserted=1, updated=1, unchanged=0)


def test_blank_rows_of_a_workbook(patron: Patron, stored: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "padded.xlsx"
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.strip().split(","))
    for line in CHANGES.splitlines():
        sheet.append(line.split(","))
        sheet.append([None] * 9)
    sheet.cell(row=20, column=3).font = Font(bold=True)  # formatting makes openpyxl yield rows 6–20
    book.save(path)
    book.close()
    report = patron.ingest(Entity.ORDERS, path)
    assert (report.rows_read, report.rows_rejected) == (2, 0)
    assert report.tables["orders"] == TableCounts(inserted=1, updated=1, unchanged=0)
    assert patron.stats()[0].orders == 3


def test_ambiguous_local_time_is_refused_not_guessed(
    patron: Patron, stored: dict[str, Any], tmp_path: Path
) -> None:
    mapping = write(
        tmp_path / "ny.toml",
        'entity = "orders"\n[columns]\norder_id = "order_id"\ncustomer_id = "customer_id"\n'
        'placed_at = "placed_at"\nsku = "sku"\n[parse]\ntimezone = "America/New_York"\n',
    )
    path = write(
        tmp_path / "ny.csv",
        "order_id,customer_id,placed_at,sku\n"
        "N1,c1,2024-11-03 00:30:00,S1\n"  # EDT
        "N2,c1,2024-11-03 01:30:00,S1\n"  # 01:00–02:00 happened twice that night
        "N3,c1,2024-11-03 01:30:00-05:00,S1\n"  # the second one, with its offset: fine
        "N4,c1,2024-11-03 25:30:00,S1\n",
    )
    with pytest.raises(IngestRejected) as caught:
        patron.ingest(Entity.ORDERS, path, mapping=mapping)
    assert first_errors(caught.value) == [
        (
            3,
            "placed_at",
            "2024-11-03 01:30:00",
            "ambiguous local time in America/New_York (the clocks were set back): "
            "give the UTC offset, e.g. 2024-11-03T01:30:00-04:00",
        ),
        (5, "placed_at", "2024-11-03 25:30:00", "expected an ISO 8601 date and time"),
    ]
    assert snapshot(patron) == stored
