"""Values of the access domain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its secret."""

    id: int
    shop: str
    prefix: str
    scopes: frozenset[Scope]
    label: str | None
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key just created: the only moment its full token is known."""

    key: ApiKey
    token: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an authenticated key and the shop it acts in."""

    key_id: int
    shop_id: int
    shop: str
    scopes: frozenset[Scope]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    api_key_id: int | None
    method: str
    route: str
    target: str | None
    status_code: int
    error_code: str | None
    at: datetime
