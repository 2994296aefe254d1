"""Values of the intake domain: what a shop's system sends, and what a write answers (pure).

Throughout, ``None`` means "not provided": a create uses the documented default and an update
keeps what is stored. Customers and products may also name fields in ``cleared`` to set them to
null explicitly (the API passes the fields a request sent as ``null``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class CustomerInput:
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    gender: str | None = None  # F, M or O
    birth_date: date | None = None
    region: str | None = None
    city: str | None = None
    city_tier: int | None = None  # 1 to 6
    signup_at: datetime | None = None
    acquisition_channel: str | None = None
    consent_email: bool | None = None
    consent_sms: bool | None = None
    consent_push: bool | None = None
    # Replaces the stored attributes as a whole (an empty mapping clears them).
    attributes: dict[str, Any] | None = None
    cleared: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ProductInput:
    title: str | None = None
    category_path: str | None = None
    brand: str | None = None
    list_price_minor: int | None = None
    currency: str | None = None  # default: the shop's currency
    cleared: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class OrderLineInput:
    sku: str
    quantity: int
    unit_price_minor: int
    line_total_minor: int | None = None  # default quantity × unit price
    title: str | None = None  # names the product when it is created as a stub


@dataclass(frozen=True, slots=True)
class OrderInput:
    customer_id: str
    placed_at: datetime
    lines: Sequence[OrderLineInput]
    paid_at: datetime | None = None
    status: str | None = None  # create: pending
    currency: str | None = None  # create: the shop's currency
    discount_minor: int | None = None  # create: 0
    shipping_minor: int | None = None  # create: 0
    total_minor: int | None = None  # default: lines − discount + shipping
    channel: str | None = None
    coupon_codes: Sequence[str] | None = None


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: str
    at: datetime | None = None  # when it happened (default now); kept as paid_at when paying


@dataclass(frozen=True, slots=True)
class RefundLineInput:
    line_no: int
    quantity: int | None = None  # neither quantity nor amount: every unit not yet refunded
    amount_minor: int | None = None  # default: pro rata of the line total for the quantity


@dataclass(frozen=True, slots=True)
class RefundInput:
    refund_id: str
    lines: Sequence[RefundLineInput] = ()
    amount_minor: int | None = None  # a refund of the whole order: only without lines
    refunded_at: datetime | None = None  # default now
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class EventInput:
    type: str
    occurred_at: datetime
    event_id: str | None = None  # default: a digest of the content, as ingestion makes it
    customer_id: str | None = None
    sku: str | None = None
    session_id: str | None = None
    query: str | None = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    accepted: int
    duplicates: int

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a write did: whether it created its object, and the object's JSON."""

    created: bool
    body: dict[str, Any]
