"""Values of the ingestion domain."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Entity(StrEnum):
    ORDERS = "orders"
    CUSTOMERS = "customers"
    PRODUCTS = "products"
    EVENTS = "events"
    REFUNDS = "refunds"
    REVIEWS = "reviews"


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class EventType(StrEnum):
    VISIT = "visit"
    VIEW = "view"
    SEARCH = "search"
    FAVORITE = "favorite"
    CART_ADD = "cart_add"
    CART_REMOVE = "cart_remove"
    CHECKOUT_START = "checkout_start"
    INQUIRY = "inquiry"
    REVIEW = "review"
    SHARE = "share"
    SIGN_IN = "sign_in"


class RunStatus(StrEnum):
    STORED = "stored"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad value: ``row`` is the line of the source file (the header is row 1)."""

    row: int
    column: str
    value: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class TableCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: TableCounts) -> TableCounts:
        return TableCounts(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )


@dataclass(frozen=True, slots=True)
class IngestReport:
    run_id: int
    shop: str
    entity: Entity
    source: str
    profile: str
    status: RunStatus
    rows_read: int
    rows_rejected: int
    tables: dict[str, TableCounts] = field(default_factory=dict)
    stubs: dict[str, int] = field(default_factory=dict)
    quarantine_path: str | None = None
    first_errors: tuple[RowError, ...] = ()

    @property
    def rows_accepted(self) -> int:
        return self.rows_read - self.rows_rejected if self.status is RunStatus.STORED else 0

    def counts_json(self) -> dict[str, object]:
        return {
            "tables": {
                name: {"inserted": c.inserted, "updated": c.updated, "unchanged": c.unchanged}
                for name, c in self.tables.items()
            },
            "stubs": dict(self.stubs),
        }
