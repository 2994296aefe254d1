"""Shops: every row of Patron belongs to one."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, insert, select, text

from patron.clock import Clock
from patron.db.tables import shops
from patron.errors import ConfigError, ErrorCode, NotFoundError
from patron.money import is_currency_code


@dataclass(frozen=True, slots=True)
class Shop:
    id: int
    name: str
    timezone: str
    currency: str


def find_shop(connection: Connection, name: str) -> Shop | None:
    row = connection.execute(select(shops).where(shops.c.name == name)).first()
    return Shop(row.id, row.name, row.timezone, row.currency) if row else None


def get_shop(connection: Connection, name: str) -> Shop:
    shop = find_shop(connection, name)
    if shop is None:
        known = connection.execute(select(shops.c.name).order_by(shops.c.name)).scalars().all()
        raise NotFoundError(
            f"no shop named {name!r}; shops: {', '.join(known) or '(none yet)'}",
            code=ErrorCode.SHOP_NOT_FOUND,
            shop=name,
        )
    return shop


def ensure_shop(
    connection: Connection, name: str, timezone: str, currency: str, clock: Clock
) -> Shop:
    """The shop named ``name``, created with this time zone and currency if it does not exist."""
    existing = find_shop(connection, name)
    if existing is not None:
        return existing
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {timezone!r}", timezone=timezone) from None
    if not is_currency_code(currency):
        raise ConfigError(f"not an ISO 4217 currency code: {currency!r}", currency=currency)
    connection.execute(
        insert(shops).values(
            name=name, timezone=timezone, currency=currency, created_at=clock.now()
        )
    )
    return get_shop(connection, name)


def lock_shop_writes(connection: Connection, name: str) -> None:
    """Serialise bulk writers of one shop. SQLite's BEGIN IMMEDIATE already serialises writers;
    PostgreSQL takes a transaction-scoped advisory lock keyed by the shop's name."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})
