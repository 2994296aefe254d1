"""Behaviour events, sent in batches of up to 1000."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from patron.db import tables as t
from patron.db.shops import Shop
from patron.errors import InputError
from patron.ingest.model import EventType
from patron.intake import checks, stubs
from patron.intake.model import BatchResult, EventInput
from patron.intake.rules import MAX_EVENTS, event_key
from patron.intake.sql import insert_new

e = t.events.c
TYPES = tuple(x.value for x in EventType)


def record(
    connection: Connection, shop: Shop, events: Sequence[EventInput], now: datetime
) -> BatchResult:
    """Store the events not stored yet, in one multi-row INSERT … ON CONFLICT DO NOTHING.

    An event's key is its ``event_id``, or the digest of its content that file ingestion gives
    it, so an event sent twice (in one batch, in a retried batch, or once by file) is stored
    once and counted a duplicate. Events are facts: a stored one is never changed. Unknown
    customers and products become stubs.
    """
    if not 1 <= len(events) <= MAX_EVENTS:
        raise InputError(
            f"send 1 to {MAX_EVENTS} events at a time, not {len(events)}",
            field="events",
            count=len(events),
        )
    by_key: dict[str, EventInput] = {}
    for n, event in enumerate(events):
        by_key.setdefault(_key(event, f"events[{n}]"), event)
    ids = stubs.resolve(
        connection,
        shop.id,
        {x.customer_id for x in by_key.values() if x.customer_id},
        {x.sku: None for x in by_key.values() if x.sku},
        now,
    )
    # In key order: concurrent batches then wait on each other's new keys in one order.
    rows = [
        {
            "shop_id": shop.id,
            "event_key": key,
            "event_type": x.type,
            "customer_id": ids.customers[x.customer_id] if x.customer_id else None,
            "product_id": ids.products[x.sku] if x.sku else None,
            "occurred_at": x.occurred_at,
            "session_id": x.session_id,
            "query": x.query,
        }
        for key, x in sorted(by_key.items())
    ]
    stored = insert_new(connection, t.events, ["shop_id", "event_key"], rows, [e.id])
    return BatchResult(len(stored), len(events) - len(stored))


def _key(event: EventInput, field: str) -> str:
    """The checked event's key."""
    checks.choice(event.type, TYPES, f"{field}.type")
    checks.aware(event.occurred_at, f"{field}.occurred_at")
    if event.customer_id is not None:
        checks.key(event.customer_id, t.customers.c.external_id, f"{field}.customer_id")
    if event.sku is not None:
        checks.key(event.sku, t.products.c.sku, f"{field}.sku")
    checks.text(event.session_id, e.session_id, f"{field}.session_id")
    checks.text(event.query, e.query, f"{field}.query")
    if event.event_id is not None:
        return checks.key(event.event_id, e.event_key, f"{field}.event_id")
    return event_key(
        event.type, event.customer_id, event.occurred_at, event.sku, event.session_id, event.query
    )
