"""A new order of a stored customer for stored products: on PostgreSQL one statement writes it,
its lines and its audit entry, in autocommit (patron.intake.new_order); whatever it cannot
insert takes the transaction of the general path. The rows, the answers and the audit log are
the same on both databases and on both paths."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from intake.support import NOW, count, order_input, rows, write_ctx
from patron.access.guard import WriteContext
from patron.access.keys import parse_scopes
from patron.core import Patron
from patron.db import tables as t
from patron.db.shops import Shop
from patron.intake import orders
from patron.intake.model import OrderLineInput
from patron.intake.service import IntakeService

AUDIT = ("shop_id", "api_key_id", "method", "route", "target", "status_code", "error_code", "at")


@pytest.fixture
def keyed(patron: Patron, service: IntakeService, shop: Shop) -> WriteContext:
    """A write context of a real API key, after O-1 stored C-1 and the SKUs PEN, INK, PAD."""
    key = patron.access().create_key(shop.name, parse_scopes("write"), "checkout").key
    ctx = replace(write_ctx(shop, route="/v1/orders/O-1"), api_key_id=key.id)
    service.upsert_order(ctx, "O-1", order_input())
    return ctx


@pytest.fixture
def general(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """``new_first`` of each call of the general path (patron.intake.orders.upsert)."""
    calls: list[bool] = []
    upsert = orders.upsert

    def spy(*args: Any, new_first: bool = True) -> Any:
        calls.append(new_first)
        return upsert(*args, new_first=new_first)

    monkeypatch.setattr(orders, "upsert", spy)
    yield calls


def _on_postgresql(patron: Patron) -> bool:
    return patron.engine.dialect.name == "postgresql"


def test_the_order_and_its_audit_entry(
    patron: Patron, service: IntakeService, keyed: WriteContext, general: list[bool]
) -> None:
    ctx = replace(keyed, route="/v1/orders/O-2")
    recorded = service.upsert_order(ctx, "O-2", order_input())
    first = service.get_order(ctx.shop_id, "O-1")
    assert (recorded.status, recorded.target) == (201, "order:O-2")
    assert recorded.body == {**first, "id": "O-2"} == service.get_order(ctx.shop_id, "O-2")
    # On PostgreSQL the statement did it all; on SQLite the transaction did.
    assert general == ([] if _on_postgresql(patron) else [True])
    assert (count(patron, t.orders), count(patron, t.order_lines)) == (2, 6)
    key, shop = keyed.api_key_id, keyed.shop_id
    assert rows(patron, t.audit_log, *AUDIT) == [
        (shop, key, "PUT", "/v1/orders/O-1", "order:O-1", 201, None, NOW),
        (shop, key, "PUT", "/v1/orders/O-2", "order:O-2", 201, None, NOW),
    ]


@pytest.mark.parametrize(
    ("external_id", "changes", "status"),
    [
        ("O-2", {"customer_id": "C-2"}, 201),
        ("O-2", {"lines": [OrderLineInput("PEN", 1, 1111), OrderLineInput("NEW", 1, 5)]}, 201),
        ("O-1", {}, 200),
        ("O-1", {"status": "shipped"}, 200),
    ],
    ids=["new customer", "new SKU", "the same order again", "a change"],
)
def test_what_the_statement_cannot_insert_takes_the_transaction(
    patron: Patron,
    service: IntakeService,
    keyed: WriteContext,
    general: list[bool],
    external_id: str,
    changes: dict[str, Any],
    status: int,
) -> None:
    """The transaction does not try the statement again; it writes as the general path does,
    with one audit entry."""
    before = rows(patron, t.orders, "id", "updated_at")
    data = order_input(**changes)
    recorded = service.upsert_order(keyed, external_id, data)
    assert recorded.status == status
    assert recorded.body == service.get_order(keyed.shop_id, external_id)
    assert general == [not _on_postgresql(patron)]
    audited = rows(patron, t.audit_log, "target", "status_code")
    assert audited == [("order:O-1", 201), (f"order:{external_id}", status)]
    if not changes:
        assert rows(patron, t.orders, "id", "updated_at") == before


def _refuse_audit_entries(patron: Patron) -> None:
    """A trigger that fails every audit insert: the last part of the one-statement write."""
    with patron.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger AS $$"
                    " BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON audit_log"
                    " FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON audit_log"
                    " BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )


def test_a_failure_inside_the_statement_writes_nothing(
    patron: Patron, service: IntakeService, keyed: WriteContext
) -> None:
    """An audit entry that cannot be stored fails the write: the order and its lines are not
    written either."""
    _refuse_audit_entries(patron)
    with pytest.raises(DBAPIError):
        service.upsert_order(keyed, "O-2", order_input())
    assert (count(patron, t.orders), count(patron, t.order_lines)) == (1, 3)
    assert count(patron, t.audit_log) == 1
