"""The right to be forgotten: personal data wiped in the table itself, the old id gone, a random
pseudonym in its place, the customer's orders, refunds and events kept on the same row."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from intake.support import NOW, count, order_input, write_ctx
from patron.access.guard import WriteContext
from patron.clock import FixedClock
from patron.core import Patron
from patron.db import tables as t
from patron.db.shops import Shop
from patron.errors import NotFoundError
from patron.intake.model import CustomerInput, EventInput, ProductInput, RefundInput
from patron.intake.service import IntakeService

FULL = CustomerInput(
    name="林小美",
    email="xiaomei@example.cn",
    phone="+86 138 0000 0000",
    gender="F",
    birth_date=date(1990, 5, 17),
    region="浙江",
    city="杭州",
    city_tier=2,
    signup_at=datetime(2025, 3, 1, 8, 30, tzinfo=UTC),
    acquisition_channel="douyin",
    consent_email=True,
    consent_sms=True,
    consent_push=True,
    attributes={"wechat": "xm1990"},
)


def customer_row(patron: Patron, external_id: str) -> dict[str, object]:
    with patron.engine.connect() as connection:
        row = connection.execute(
            select(t.customers).where(t.customers.c.external_id == external_id)
        ).one()
    return dict(row._mapping)


@pytest.fixture
def erased(
    patron: Patron, service: IntakeService, shop: Shop, clock: FixedClock
) -> tuple[str, int]:
    """C-1 with PII, an order with a refund and an event, written with idempotency keys (the
    stored responses of two name C-1); then erased an hour later. Returns (pseudonym, row id)."""
    service.upsert_customer(write_ctx(shop, "k-customer", "h1"), "C-1", FULL)
    service.upsert_order(write_ctx(shop, "k-order", "h2"), "O-1", order_input())
    service.upsert_product(write_ctx(shop, "k-product", "h3"), "PEN", ProductInput(title="Pen"))
    service.refund_order(write_ctx(shop), "O-1", RefundInput("R-1", amount_minor=100))
    service.record_events(write_ctx(shop), [EventInput("view", NOW, customer_id="C-1")])
    row_id = customer_row(patron, "C-1")["id"]
    clock.advance(3600)
    recorded = service.erase_customer(write_ctx(shop, route="/v1/customers/C-1"), "C-1")
    assert (recorded.status, recorded.target) == (200, "customer:C-1")
    assert isinstance(row_id, int)
    return recorded.body["id"], row_id


def test_the_answer_carries_a_random_pseudonym_and_no_personal_data(
    service: IntakeService, shop: Shop, erased: tuple[str, int]
) -> None:
    pseudonym, _ = erased
    assert re.fullmatch(r"anon-[0-9a-f]{24}", pseudonym)
    assert service.get_customer(shop.id, pseudonym) == {
        "id": pseudonym,
        "name": None,
        "email": None,
        "phone": None,
        "gender": "F",
        "birth_date": None,
        "region": "浙江",
        "city": None,
        "city_tier": 2,
        "signup_at": "2025-03-01T00:00:00Z",  # the day only
        "acquisition_channel": "douyin",
        "consent": {"email": False, "sms": False, "push": False},
        "attributes": {},
        "is_stub": False,
        "erased": True,
        "updated_at": "2026-11-23T13:00:00Z",
    }


def test_personal_data_is_gone_from_the_table_itself(
    patron: Patron, erased: tuple[str, int]
) -> None:
    pseudonym, row_id = erased
    row = customer_row(patron, pseudonym)
    assert row["id"] == row_id
    wiped = ("name", "email", "phone", "birth_date", "city", "attributes")
    assert {k: row[k] for k in wiped} == dict.fromkeys(wiped)
    assert row["erased_at"] == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    assert count(patron, t.customers, external_id="C-1") == 0


def test_stored_responses_naming_the_old_id_are_deleted(
    patron: Patron, erased: tuple[str, int]
) -> None:
    with patron.engine.connect() as connection:
        stored = connection.execute(select(t.idempotency_keys.c.response)).scalars().all()
    assert [s["sku"] for s in stored] == ["PEN"]  # the product's answer does not name C-1


def test_the_old_id_is_not_found(
    service: IntakeService, shop: Shop, erased: tuple[str, int]
) -> None:
    with pytest.raises(NotFoundError):
        service.get_customer(shop.id, "C-1")
    with pytest.raises(NotFoundError):
        service.erase_customer(write_ctx(shop), "C-1")
    assert service.list_orders(shop.id, customer_id="C-1", limit=10).items == []


def test_orders_refunds_and_events_stay_with_the_pseudonym(
    patron: Patron, service: IntakeService, shop: Shop, erased: tuple[str, int]
) -> None:
    pseudonym, row_id = erased
    order = service.get_order(shop.id, "O-1")
    assert (order["customer_id"], order["total_minor"]) == (pseudonym, 4583)
    assert [r["amount_minor"] for r in order["refunds"]] == [100]
    assert count(patron, t.events, customer_id=row_id) == 1
    page = service.list_orders(shop.id, customer_id=pseudonym, limit=10)
    assert [o["id"] for o in page.items] == ["O-1"]


def test_a_later_upsert_of_the_old_id_creates_a_new_unrelated_customer(
    patron: Patron, service: IntakeService, shop: Shop, erased: tuple[str, int]
) -> None:
    pseudonym, row_id = erased
    recorded = service.upsert_customer(write_ctx(shop), "C-1", CustomerInput(name="New"))
    assert (recorded.status, recorded.body["name"], recorded.body["erased"]) == (201, "New", False)
    assert customer_row(patron, "C-1")["id"] != row_id
    assert service.get_customer(shop.id, pseudonym)["erased"] is True
    assert service.list_orders(shop.id, customer_id="C-1", limit=10).items == []


def test_erasing_the_pseudonym_again_changes_nothing(
    service: IntakeService, shop: Shop, erased: tuple[str, int], clock: FixedClock
) -> None:
    pseudonym, _ = erased
    before = service.get_customer(shop.id, pseudonym)
    clock.advance(60)
    recorded = service.erase_customer(write_ctx(shop), pseudonym)
    assert (recorded.status, recorded.body) == (200, before)


def test_each_erasure_draws_its_own_pseudonym(service: IntakeService, ctx: WriteContext) -> None:
    pseudonyms = set()
    for n in range(3):
        service.upsert_customer(ctx, "C-1", CustomerInput(name=f"person {n}"))
        pseudonyms.add(service.erase_customer(ctx, "C-1").body["id"])
    assert len(pseudonyms) == 3


def test_erasing_an_unknown_customer_is_not_found(
    service: IntakeService, ctx: WriteContext
) -> None:
    with pytest.raises(NotFoundError) as caught:
        service.erase_customer(ctx, "C-404")
    assert caught.value.details == {"object": "customer", "id": "C-404"}
