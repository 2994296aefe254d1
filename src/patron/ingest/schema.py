"""The canonical columns of each ingestable entity (documented in docs/ingestion.md).

A profile or mapping file maps a source layout onto these names; everything after the mapping
works on canonical columns only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from patron.ingest.model import Entity, EventType, OrderStatus


class Kind(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    MONEY = "money"
    TIMESTAMP = "timestamp"
    DATE = "date"
    BOOLEAN = "boolean"
    CURRENCY = "currency"
    CHOICE = "choice"
    JSON = "json"


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: Kind
    required: bool = False
    max_length: int = 200
    choices: tuple[str, ...] = ()
    doc: str = ""


def _f(name: str, kind: Kind, doc: str, **kw: object) -> Field:
    return Field(name, kind, doc=doc, **kw)  # type: ignore[arg-type]


ORDER_STATUSES = tuple(s.value for s in OrderStatus)
EVENT_TYPES = tuple(t.value for t in EventType)

FIELDS: dict[Entity, tuple[Field, ...]] = {
    Entity.ORDERS: (
        _f(
            "order_id",
            Kind.TEXT,
            "Order number, unique in the shop.",
            required=True,
            max_length=128,
        ),
        _f("customer_id", Kind.TEXT, "Buyer's id in the shop.", required=True, max_length=128),
        _f("placed_at", Kind.TIMESTAMP, "When the order was placed.", required=True),
        _f("paid_at", Kind.TIMESTAMP, "When it was paid."),
        _f("status", Kind.CHOICE, "Order status (default completed).", choices=ORDER_STATUSES),
        _f("currency", Kind.CURRENCY, "ISO 4217 code (default: the shop's currency)."),
        _f("sku", Kind.TEXT, "Line: product SKU; empty for an order-only row.", max_length=128),
        _f(
            "product_title", Kind.TEXT, "Line: product title (names stub products).", max_length=500
        ),
        _f("quantity", Kind.INTEGER, "Line: units (default 1)."),
        _f("unit_price", Kind.MONEY, "Line: price of one unit."),
        _f("line_total", Kind.MONEY, "Line: amount of the line (default quantity × unit price)."),
        _f("line_no", Kind.INTEGER, "Line: number within the order (default: file order)."),
        _f("discount", Kind.MONEY, "Order: discount on the whole order."),
        _f("shipping", Kind.MONEY, "Order: shipping charged."),
        _f("total", Kind.MONEY, "Order: amount paid (default lines − discount + shipping)."),
        _f("item_count", Kind.INTEGER, "Order: units, for files without lines."),
        _f("refund_amount", Kind.MONEY, "Order: amount refunded on the whole order."),
        _f("refunded_at", Kind.TIMESTAMP, "Order: when it was refunded."),
        _f("channel", Kind.TEXT, "Sales channel (web, app, store, tmall…).", max_length=64),
        _f("coupon_codes", Kind.TEXT, "Coupon codes used, comma separated.", max_length=500),
    ),
    Entity.CUSTOMERS: (
        _f("customer_id", Kind.TEXT, "Customer's id in the shop.", required=True, max_length=128),
        _f("name", Kind.TEXT, "Full name (PII)."),
        _f("email", Kind.TEXT, "Email address (PII).", max_length=320),
        _f("phone", Kind.TEXT, "Phone number (PII).", max_length=40),
        _f("gender", Kind.CHOICE, "F, M or O.", choices=("F", "M", "O")),
        _f("birth_date", Kind.DATE, "Date of birth."),
        _f("region", Kind.TEXT, "Province, state or region.", max_length=100),
        _f("city", Kind.TEXT, "City.", max_length=100),
        _f("city_tier", Kind.INTEGER, "City tier 1–6 (一线…六线)."),
        _f("signup_at", Kind.TIMESTAMP, "When the customer signed up."),
        _f("acquisition_channel", Kind.TEXT, "How the customer was acquired.", max_length=64),
        _f("consent_email", Kind.BOOLEAN, "Agreed to marketing email."),
        _f("consent_sms", Kind.BOOLEAN, "Agreed to marketing SMS."),
        _f("consent_push", Kind.BOOLEAN, "Agreed to marketing push notifications."),
        _f("attributes", Kind.JSON, "Custom attributes: every column named attr_<key>."),
    ),
    Entity.PRODUCTS: (
        _f("sku", Kind.TEXT, "Product SKU, unique in the shop.", required=True, max_length=128),
        _f("title", Kind.TEXT, "Title.", max_length=500),
        _f("category_path", Kind.TEXT, "Category path, levels joined by ' > '.", max_length=500),
        _f("brand", Kind.TEXT, "Brand."),
        _f("list_price", Kind.MONEY, "List price."),
        _f("currency", Kind.CURRENCY, "ISO 4217 code (default: the shop's currency)."),
    ),
    Entity.EVENTS: (
        _f("event_id", Kind.TEXT, "Event id (default: a digest of the event).", max_length=64),
        _f("event_type", Kind.CHOICE, "Type of behaviour.", required=True, choices=EVENT_TYPES),
        _f(
            "customer_id", Kind.TEXT, "Customer's id, empty for anonymous visitors.", max_length=128
        ),
        _f("occurred_at", Kind.TIMESTAMP, "When it happened.", required=True),
        _f("sku", Kind.TEXT, "Product concerned.", max_length=128),
        _f("session_id", Kind.TEXT, "Session id.", max_length=128),
        _f("query", Kind.TEXT, "Search text.", max_length=500),
    ),
    Entity.REFUNDS: (
        _f("refund_id", Kind.TEXT, "Refund id, unique in the shop.", required=True, max_length=128),
        _f("order_id", Kind.TEXT, "Order refunded.", required=True, max_length=128),
        _f("line_no", Kind.INTEGER, "Line refunded (or give sku; neither: whole order)."),
        _f("sku", Kind.TEXT, "SKU of the line refunded.", max_length=128),
        _f("quantity", Kind.INTEGER, "Units returned."),
        _f("amount", Kind.MONEY, "Amount refunded.", required=True),
        _f("refunded_at", Kind.TIMESTAMP, "When it was refunded."),
        _f("reason", Kind.TEXT, "Reason given.", max_length=500),
    ),
    Entity.REVIEWS: (
        _f("review_id", Kind.TEXT, "Review id, unique in the shop.", required=True, max_length=128),
        _f("customer_id", Kind.TEXT, "Reviewer.", required=True, max_length=128),
        _f("sku", Kind.TEXT, "Product reviewed.", required=True, max_length=128),
        _f("order_id", Kind.TEXT, "Order the review belongs to.", max_length=128),
        _f("rating", Kind.INTEGER, "Rating 1–5.", required=True),
        _f("text", Kind.TEXT, "Review text.", max_length=10_000),
        _f("created_at", Kind.TIMESTAMP, "When it was written.", required=True),
    ),
}

NATURAL_KEY: dict[Entity, str] = {
    Entity.ORDERS: "order_id",
    Entity.CUSTOMERS: "customer_id",
    Entity.PRODUCTS: "sku",
    Entity.EVENTS: "event_id",
    Entity.REFUNDS: "refund_id",
    Entity.REVIEWS: "review_id",
}
"""The column that identifies a record of each entity within a shop."""

RETURN_FLAG = "is_return"
"""Derived orders column: the row returns goods bought earlier (a cancellation invoice line)."""


def fields(entity: Entity) -> tuple[Field, ...]:
    return FIELDS[entity]


def field_names(entity: Entity) -> tuple[str, ...]:
    return tuple(f.name for f in FIELDS[entity])
