"""How values appear in intake's JSON (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z: 2026-11-23T12:00:00Z (fractions of a second when there are)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def day(value: date | None) -> str | None:
    return value.isoformat() if value else None
