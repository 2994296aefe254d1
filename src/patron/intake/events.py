"""Behaviour events, sent in batches of up to 1000."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, text

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
    if connection.dialect.name == "postgresql":
        return _record_postgresql(connection, shop, by_key, len(events), now)
    ids = _resolve(connection, shop, by_key, now)
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


# The batch travels as one JSON text (json.dumps in C), not as seven arrays that the driver
# would dump element by element; the customers and products are joined in the same statement.
# Events whose customer or SKU is not stored yet are left out and counted as ``unresolved``.
_INSERT_BATCH = text(
    """
    WITH batch AS (
        SELECT b.*, c.id AS customer_row, p.id AS product_row
        FROM json_to_recordset(CAST(:batch AS json)) AS b(
            event_key text, event_type text, customer text, sku text,
            occurred_at timestamptz, session_id text, query text)
        LEFT JOIN customers AS c ON c.shop_id = :shop_id AND c.external_id = b.customer
        LEFT JOIN products AS p ON p.shop_id = :shop_id AND p.sku = b.sku
    ),
    resolved AS (
        SELECT * FROM batch
        WHERE (customer IS NULL OR customer_row IS NOT NULL)
          AND (sku IS NULL OR product_row IS NOT NULL)
    ),
    inserted AS (
        INSERT INTO events (shop_id, event_key, event_type, customer_id, product_id,
                            occurred_at, session_id, query)
        SELECT :shop_id, event_key, event_type, customer_row, product_row,
               occurred_at, session_id, query
        FROM resolved
        ORDER BY event_key
        ON CONFLICT (shop_id, event_key) DO NOTHING
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM inserted) AS inserted,
           (SELECT count(*) FROM batch) - (SELECT count(*) FROM resolved) AS unresolved
    """
)


def _record_postgresql(
    connection: Connection, shop: Shop, by_key: dict[str, EventInput], sent: int, now: datetime
) -> BatchResult:
    """One statement when every customer and SKU is stored; otherwise the stubs are created
    and the same statement stores the events it left out (the others are duplicates now)."""
    batch = json.dumps(
        [
            {
                "event_key": key,
                "event_type": x.type,
                "customer": x.customer_id,
                "sku": x.sku,
                # In UTC: PostgreSQL refuses offsets beyond 15:59 that Python allows.
                "occurred_at": x.occurred_at.astimezone(UTC).isoformat(),
                "session_id": x.session_id,
                "query": x.query,
            }
            for key, x in by_key.items()
        ]
    )
    params = {"batch": batch, "shop_id": shop.id}
    inserted, unresolved = connection.execute(_INSERT_BATCH, params).one()
    if unresolved:
        _resolve(connection, shop, by_key, now)
        inserted += connection.execute(_INSERT_BATCH, params).one().inserted
    return BatchResult(inserted, sent - inserted)


def _resolve(
    connection: Connection, shop: Shop, by_key: dict[str, EventInput], now: datetime
) -> stubs.Ids:
    """Row ids of the batch's customers and products, unknown ones created as stubs."""
    return stubs.resolve(
        connection,
        shop.id,
        {x.customer_id for x in by_key.values() if x.customer_id},
        {x.sku: None for x in by_key.values() if x.sku},
        now,
    )


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
