"""Behaviour events: set-wise batches, duplicates inside a batch and across retries, the same
keys as file ingestion, stubs, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.support import count, rows
from patron.access.guard import WriteContext
from patron.core import Patron
from patron.db import tables as t
from patron.errors import InputError
from patron.ingest.model import Entity
from patron.intake.model import EventInput
from patron.intake.rules import event_key
from patron.intake.service import IntakeService

AT = datetime(2026, 11, 11, 0, 0, 1, 250000, tzinfo=UTC)
VIEW = EventInput("view", AT, customer_id="C-1", sku="PEN", session_id="s-1")
SEARCH = EventInput("search", AT, session_id="s-2", query="钢笔")


def test_a_batch_with_duplicates_inside_and_a_replay(
    patron: Patron, service: IntakeService, ctx: WriteContext
) -> None:
    batch = [
        EventInput("cart_add", AT, event_id="ev-1", customer_id="C-1", sku="PEN"),
        VIEW,
        VIEW,  # the same content: the same digest
        EventInput("cart_add", AT, event_id="ev-1"),  # the same id: a duplicate whatever it says
        SEARCH,
    ]
    recorded = service.record_events(ctx, batch)
    assert (recorded.status, recorded.target, recorded.body) == (
        201,
        "events",
        {"accepted": 3, "duplicates": 2},
    )
    replay = service.record_events(ctx, batch)
    assert (replay.status, replay.body) == (200, {"accepted": 0, "duplicates": 5})
    keys = sorted(k for (k,) in rows(patron, t.events, "event_key"))
    assert keys == sorted(["ev-1", view_key(), search_key()])
    assert count(patron, t.events) == 3


def view_key() -> str:
    return event_key("view", "C-1", AT, "PEN", "s-1", None)


def search_key() -> str:
    return event_key("search", None, AT, None, "s-2", "钢笔")


def test_events_are_stored_as_sent_with_stubs(
    patron: Patron, service: IntakeService, ctx: WriteContext
) -> None:
    service.record_events(ctx, [VIEW, SEARCH])
    customer = service.get_customer(ctx.shop_id, "C-1")
    product = service.get_product(ctx.shop_id, "PEN")
    assert (customer["is_stub"], product["is_stub"]) == (True, True)
    e, c, p = t.events.c, t.customers.c, t.products.c
    with patron.engine.connect() as connection:
        stored = connection.execute(
            select(e.event_type, c.external_id, p.sku, e.occurred_at, e.session_id, e.query)
            .outerjoin(t.customers, c.id == e.customer_id)
            .outerjoin(t.products, p.id == e.product_id)
            .order_by(e.event_type)
        ).all()
    assert [tuple(x) for x in stored] == [
        ("search", None, None, AT, "s-2", "钢笔"),
        ("view", "C-1", "PEN", AT, "s-1", None),
    ]


def test_keys_are_the_digests_of_file_ingestion(
    patron: Patron, service: IntakeService, ctx: WriteContext, tmp_path: Path
) -> None:
    """An event without an id loaded from a file, then sent over the API (with its time in
    another zone), is one event."""
    path = tmp_path / "events.csv"
    path.write_text(
        "event_type,customer_id,occurred_at,sku,session_id,query\n"
        "view,C-1,2026-11-11T00:00:01.25Z,PEN,s-1,\n"
        "search,,2026-11-11T08:00:01.250+08:00,,s-2,钢笔\n",
        encoding="utf-8",
    )
    patron.ingest(Entity.EVENTS, path, shop="default")
    assert sorted(k for (k,) in rows(patron, t.events, "event_key")) == sorted(
        [view_key(), search_key()]
    )
    shifted = EventInput(
        "search", AT.astimezone(timezone(timedelta(hours=8))), None, None, None, "s-2", "钢笔"
    )
    recorded = service.record_events(ctx, [VIEW, shifted])
    assert recorded.body == {"accepted": 0, "duplicates": 2}


@pytest.mark.parametrize(
    ("batch", "field"),
    [
        ([], "events"),
        ([SEARCH] * 1001, "events"),
        ([VIEW, EventInput("buy", AT)], "events[1].type"),
        ([EventInput("view", datetime(2026, 11, 11))], "events[0].occurred_at"),
        ([VIEW, VIEW, EventInput("view", AT, event_id="e" * 65)], "events[2].event_id"),
        ([EventInput("view", AT, customer_id="C-1 ")], "events[0].customer_id"),
        ([EventInput("view", AT, sku="")], "events[0].sku"),
        ([EventInput("search", AT, query="q" * 501)], "events[0].query"),
        ([EventInput("visit", AT, session_id="s\x00")], "events[0].session_id"),
    ],
)
def test_bad_events_name_the_field_and_store_nothing(
    patron: Patron,
    service: IntakeService,
    ctx: WriteContext,
    batch: list[EventInput],
    field: str,
) -> None:
    with pytest.raises(InputError) as caught:
        service.record_events(ctx, batch)
    assert caught.value.details["field"] == field
    assert [count(patron, x) for x in (t.events, t.customers, t.products)] == [0, 0, 0]


def test_a_full_batch_is_one_write(
    patron: Patron, service: IntakeService, ctx: WriteContext
) -> None:
    batch = [
        EventInput("view", AT + timedelta(seconds=n), customer_id=f"C-{n % 7}", sku=f"P-{n % 13}")
        for n in range(1000)
    ]
    assert service.record_events(ctx, batch).body == {"accepted": 1000, "duplicates": 0}
    assert (count(patron, t.customers), count(patron, t.products)) == (7, 13)
    assert count(patron, t.audit_log) == 1


def test_an_offset_beyond_what_postgresql_reads_is_stored_in_utc(
    patron: Patron, service: IntakeService, ctx: WriteContext
) -> None:
    """Python takes offsets up to ±23:59, PostgreSQL's timestamptz input only up to ±15:59."""
    far_east = datetime(2000, 1, 1, tzinfo=timezone(timedelta(hours=16)))
    assert service.record_events(ctx, [EventInput("visit", far_east)]).status == 201
    assert rows(patron, t.events, "occurred_at") == [(datetime(1999, 12, 31, 8, tzinfo=UTC),)]
