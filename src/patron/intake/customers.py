"""Customers sent one at a time: upsert, read, list and erase (the right to be forgotten)."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, or_, update

from patron.db import tables as t
from patron.db.shops import Shop
from patron.errors import ConflictError, InputError
from patron.ingest.merge import CUSTOMER_VALUES
from patron.intake import checks
from patron.intake.model import CustomerInput, Outcome
from patron.intake.render import day, iso
from patron.intake.sql import not_found
from patron.intake.upsert import locked_row, upsert_row

c = t.customers.c
# The columns a customer record sets: the same ones file ingestion merges.
FIELDS = CUSTOMER_VALUES
_TEXT = ("name", "email", "phone", "region", "city", "acquisition_channel")

# Erasure wipes what identifies a person, and free-form attributes, which may; it keeps what
# aggregates need and cannot single anyone out: gender, region, city tier, acquisition channel
# and the signup day. Consent becomes an explicit no: nobody may contact an erased customer.
_ERASED: dict[str, Any] = {
    "name": None,
    "email": None,
    "phone": None,
    "birth_date": None,
    "city": None,
    "attributes": None,
    "consent_email": False,
    "consent_sms": False,
    "consent_push": False,
}


def upsert(
    connection: Connection, shop: Shop, external_id: str, data: CustomerInput, now: datetime
) -> Outcome:
    """Create the customer, or set the fields the input provides (and those it clears) on the
    stored one. A stub becomes a full customer. ``updated_at`` moves only when something
    changed. An erased customer's pseudonym cannot be given data again (ConflictError)."""
    checks.key(external_id, c.external_id, "id")
    values = {**_values(data), "is_stub": False}
    created, row = upsert_row(
        connection, t.customers, c.external_id, shop.id, external_id, values, now, refuse=_erased
    )
    return Outcome(created, to_json(row))


def _erased(row: Row[Any]) -> None:
    if row.erased_at is not None:
        raise ConflictError(
            f"customer {row.external_id!r} was erased: it cannot hold personal data again",
            object="customer",
            id=row.external_id,
        )


def erase(connection: Connection, shop: Shop, external_id: str, now: datetime) -> Outcome:
    """Wipe the customer's personal data for good and replace its id by a random pseudonym
    (``anon-`` and 24 hex digits: random, never derived from the old id, so it cannot be traced
    back by guessing). Orders, refunds, events and reviews stay on the same row. The old id is
    then unknown: a later upsert with it creates a new, unrelated customer. Stored API responses
    that name the old id (idempotency records) are deleted too. Erasing a pseudonym again
    changes nothing."""
    row = locked_row(connection, t.customers, c.external_id, shop.id, external_id)
    if row is None:
        raise not_found("customer", external_id)
    if row.erased_at is not None:
        return Outcome(False, to_json(row))
    signup = row.signup_at
    erased = connection.execute(
        update(t.customers)
        .where(c.shop_id == shop.id, c.id == row.id)
        .values(
            **_ERASED,
            external_id="anon-" + secrets.token_hex(12),
            signup_at=signup.replace(hour=0, minute=0, second=0, microsecond=0) if signup else None,
            erased_at=now,
            updated_at=now,
        )
        .returning(*t.customers.c)
    ).one()
    k = t.idempotency_keys.c
    connection.execute(
        delete(t.idempotency_keys).where(
            k.shop_id == shop.id,
            or_(
                k.response["id"].as_string() == external_id,
                k.response["customer_id"].as_string() == external_id,
            ),
        )
    )
    return Outcome(False, to_json(erased))


def to_json(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.external_id,
        "name": row.name,
        "email": row.email,
        "phone": row.phone,
        "gender": row.gender,
        "birth_date": day(row.birth_date),
        "region": row.region,
        "city": row.city,
        "city_tier": row.city_tier,
        "signup_at": iso(row.signup_at),
        "acquisition_channel": row.acquisition_channel,
        "consent": {"email": row.consent_email, "sms": row.consent_sms, "push": row.consent_push},
        "attributes": row.attributes or {},
        "is_stub": row.is_stub,
        "erased": row.erased_at is not None,
        "updated_at": iso(row.updated_at),
    }


def _values(data: CustomerInput) -> dict[str, Any]:
    """The checked columns the input sets."""
    for name in _TEXT:
        checks.text(getattr(data, name), c[name], name)
    checks.choice(data.gender, ("F", "M", "O"), "gender")
    if data.city_tier is not None and not 1 <= data.city_tier <= 6:
        raise InputError(
            f"city_tier must be from 1 to 6, not {data.city_tier}",
            field="city_tier",
            value=data.city_tier,
        )
    checks.aware(data.signup_at, "signup_at")
    values = checks.provided(data, FIELDS, FIELDS)
    if data.attributes is not None:
        values["attributes"] = _attributes(data.attributes)
    return values


def _attributes(attributes: dict[str, Any]) -> dict[str, Any] | None:
    """A JSON object that PostgreSQL can store: no NaN or infinity, no NUL character (an empty
    object is stored as none)."""
    try:
        text = json.dumps(attributes, allow_nan=False)
    except (TypeError, ValueError):
        text = None
    if not isinstance(attributes, dict) or text is None or "\\u0000" in text:
        raise InputError(
            "attributes must be a JSON object (no NaN, no NUL character)", field="attributes"
        )
    return attributes or None
