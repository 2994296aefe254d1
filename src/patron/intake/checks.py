"""Checks of request values that a schema layer may let through. Every refusal is an InputError
whose ``field`` names the value (``lines[2].quantity``), raised before anything is written, so
the database never sees a value it would refuse."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column

from patron.errors import InputError
from patron.intake.rules import MAX_AMOUNT, MAX_QUANTITY
from patron.money import is_currency_code


def text(value: str | None, column: Column[Any], field: str) -> str | None:
    """Text that fits ``column`` (its declared length) and holds no NUL character, which
    PostgreSQL cannot store."""
    if value is None:
        return None
    limit: int | None = getattr(column.type, "length", None)
    if limit is not None and len(value) > limit:
        raise InputError(
            f"{field} is longer than {limit} characters", field=field, max_length=limit
        )
    if "\x00" in value:
        raise InputError(f"{field} contains a NUL character", field=field)
    return value


def key(value: str, column: Column[Any], field: str) -> str:
    """A natural key: not empty and without surrounding white space (ingestion trims values, so
    ' C1' here would silently be another customer than C1 from a file)."""
    if not value.strip() or value != value.strip():
        raise InputError(
            f"{field} must not be empty or start or end with white space",
            field=field,
            value=value,
        )
    text(value, column, field)
    return value


def aware(value: datetime | None, field: str) -> datetime | None:
    """A timestamp with an offset, within the years 1900–2199 (beyond them it is a typo, and
    the earliest ones do not even convert to UTC)."""
    if value is None:
        return None
    if value.utcoffset() is None:
        raise InputError(
            f"{field} needs a time zone offset (e.g. 2026-11-23T12:00:00Z)", field=field
        )
    if not _EARLIEST <= value <= _LATEST:
        raise InputError(
            f"{field} must be between {_EARLIEST:%Y-%m-%d} and {_LATEST:%Y-%m-%d}",
            field=field,
            value=value.isoformat(),
        )
    return value


_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
_LATEST = datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC)


def amount(value: int | None, field: str, minimum: int = 0) -> int | None:
    """An amount in minor units within [minimum, MAX_AMOUNT]."""
    if value is not None and not minimum <= value <= MAX_AMOUNT:
        raise InputError(
            f"{field} must be between {minimum} and {MAX_AMOUNT} minor units, not {value}",
            field=field,
            value=value,
        )
    return value


def quantity(value: int | None, field: str) -> int | None:
    if value is not None and not 1 <= value <= MAX_QUANTITY:
        raise InputError(
            f"{field} must be between 1 and {MAX_QUANTITY}, not {value}", field=field, value=value
        )
    return value


def choice(value: str | None, choices: Iterable[str], field: str) -> str | None:
    allowed = list(choices)
    if value is not None and value not in allowed:
        raise InputError(
            f"{field} must be one of {', '.join(allowed)}, not {value!r}",
            field=field,
            value=value,
            allowed=allowed,
        )
    return value


def currency(value: str | None, field: str) -> str | None:
    if value is not None and not is_currency_code(value):
        raise InputError(
            f"{field} must be an ISO 4217 currency code such as CNY, not {value!r}",
            field=field,
            value=value,
        )
    return value


def provided(data: Any, fields: Sequence[str], clearable: Collection[str]) -> dict[str, Any]:
    """The columns an input sets: its provided (not None) ``fields``, and those its ``cleared``
    names, as null."""
    cleared: frozenset[str] = data.cleared
    refused = sorted(cleared - set(clearable))
    both = sorted(f for f in cleared & set(clearable) if getattr(data, f) is not None)
    if refused or both:
        reason = "it cannot be cleared" if refused else "a value is given for it too"
        raise InputError(
            f"cannot clear {', '.join(refused or both)}: {reason}",
            field="cleared",
            value=refused or both,
        )
    values = {f: getattr(data, f) for f in fields if getattr(data, f) is not None}
    return {**values, **dict.fromkeys(cleared)}
