"""Customers: create, update, unchanged, stubs, bad input — exact JSON on both databases."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from intake.support import NOW, count, order_input
from patron.access.guard import WriteContext
from patron.clock import FixedClock
from patron.core import Patron
from patron.db import tables as t
from patron.errors import ConflictError, InputError, NotFoundError
from patron.intake.model import CustomerInput, EventInput
from patron.intake.service import IntakeService

CST = timezone(timedelta(hours=8))
FULL = CustomerInput(
    name="林小美",
    email="xiaomei@example.cn",
    phone="+86 138 0000 0000",
    gender="F",
    birth_date=date(1990, 5, 17),
    region="浙江",
    city="杭州",
    city_tier=2,
    signup_at=datetime(2025, 3, 1, 8, 30, tzinfo=CST),
    acquisition_channel="douyin",
    consent_email=True,
    consent_sms=False,
    attributes={"vip": True, "size": "M"},
)
FULL_JSON: dict[str, Any] = {
    "id": "C-1",
    "name": "林小美",
    "email": "xiaomei@example.cn",
    "phone": "+86 138 0000 0000",
    "gender": "F",
    "birth_date": "1990-05-17",
    "region": "浙江",
    "city": "杭州",
    "city_tier": 2,
    "signup_at": "2025-03-01T00:30:00Z",
    "acquisition_channel": "douyin",
    "consent": {"email": True, "sms": False, "push": None},
    "attributes": {"vip": True, "size": "M"},
    "is_stub": False,
    "erased": False,
    "updated_at": "2026-11-23T12:00:00Z",
}


def test_create_answers_201_with_the_stored_customer(
    service: IntakeService, ctx: WriteContext
) -> None:
    recorded = service.upsert_customer(ctx, "C-1", FULL)
    assert (recorded.status, recorded.target) == (201, "customer:C-1")
    assert recorded.body == FULL_JSON
    assert service.get_customer(ctx.shop_id, "C-1") == FULL_JSON


def test_update_sets_only_the_fields_given_and_moves_updated_at(
    service: IntakeService, ctx: WriteContext, clock: FixedClock
) -> None:
    service.upsert_customer(ctx, "C-1", FULL)
    clock.advance(60)
    recorded = service.upsert_customer(ctx, "C-1", CustomerInput(city="上海", city_tier=1))
    expected = {**FULL_JSON, "city": "上海", "city_tier": 1, "updated_at": "2026-11-23T12:01:00Z"}
    assert (recorded.status, recorded.body) == (200, expected)
    assert service.get_customer(ctx.shop_id, "C-1") == expected


def test_the_same_customer_again_changes_nothing(
    service: IntakeService, ctx: WriteContext, clock: FixedClock
) -> None:
    service.upsert_customer(ctx, "C-1", FULL)
    clock.advance(60)
    for data in (FULL, CustomerInput(), CustomerInput(name="林小美")):
        recorded = service.upsert_customer(ctx, "C-1", data)
        assert (recorded.status, recorded.body) == (200, FULL_JSON)


def test_cleared_fields_become_null_and_empty_attributes_clear_them(
    service: IntakeService, ctx: WriteContext
) -> None:
    service.upsert_customer(ctx, "C-1", FULL)
    data = CustomerInput(cleared=frozenset({"phone", "birth_date"}), attributes={})
    body = service.upsert_customer(ctx, "C-1", data).body
    assert (body["phone"], body["birth_date"], body["attributes"]) == (None, None, {})
    assert body["name"] == "林小美"


def test_a_stub_from_an_order_becomes_a_full_customer(
    service: IntakeService, ctx: WriteContext, clock: FixedClock
) -> None:
    service.upsert_order(ctx, "O-1", order_input(customer_id="C-9"))
    stub = service.get_customer(ctx.shop_id, "C-9")
    assert stub == {
        **dict.fromkeys(FULL_JSON, None),
        "id": "C-9",
        "consent": {"email": None, "sms": None, "push": None},
        "attributes": {},
        "is_stub": True,
        "erased": False,
        "updated_at": "2026-11-23T12:00:00Z",
    }
    clock.advance(5)
    recorded = service.upsert_customer(ctx, "C-9", CustomerInput())
    assert (recorded.status, recorded.body["is_stub"]) == (200, False)
    assert recorded.body["updated_at"] == "2026-11-23T12:00:05Z"


@pytest.mark.parametrize(
    ("external_id", "data", "field"),
    [
        ("C-1", CustomerInput(gender="X"), "gender"),
        ("C-1", CustomerInput(city_tier=7), "city_tier"),
        ("C-1", CustomerInput(signup_at=datetime(2025, 3, 1)), "signup_at"),
        ("C-1", CustomerInput(name="x" * 201), "name"),
        ("C-1", CustomerInput(email="a\x00@b.cn"), "email"),
        ("C-1", CustomerInput(attributes={"when": date(2025, 1, 1)}), "attributes"),
        ("C-1", CustomerInput(attributes={"score": float("nan")}), "attributes"),
        ("C-1", CustomerInput(attributes={"note": "a\x00b"}), "attributes"),
        ("C-1", CustomerInput(cleared=frozenset({"shoe_size"})), "cleared"),
        ("C-1", CustomerInput(name="A", cleared=frozenset({"name"})), "cleared"),
        (" C-1", CustomerInput(), "id"),
        ("", CustomerInput(), "id"),
        ("C" * 129, CustomerInput(), "id"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(
    patron: Patron,
    service: IntakeService,
    ctx: WriteContext,
    external_id: str,
    data: CustomerInput,
    field: str,
) -> None:
    with pytest.raises(InputError) as caught:
        service.upsert_customer(ctx, external_id, data)
    assert caught.value.details["field"] == field
    assert count(patron, t.customers) == count(patron, t.audit_log) == 0


def test_unknown_customer_is_not_found(service: IntakeService, ctx: WriteContext) -> None:
    with pytest.raises(NotFoundError) as caught:
        service.get_customer(ctx.shop_id, "C-404")
    assert caught.value.to_dict() == {
        "code": "not_found",
        "message": "no customer 'C-404' in this shop",
        "details": {"object": "customer", "id": "C-404"},
    }


def test_a_stub_from_an_event_becomes_a_full_customer(
    patron: Patron, service: IntakeService, ctx: WriteContext
) -> None:
    service.record_events(ctx, [EventInput("visit", NOW, customer_id="C-1")])
    recorded = service.upsert_customer(ctx, "C-1", FULL)
    assert (recorded.status, recorded.body) == (200, FULL_JSON)
    assert count(patron, t.customers) == 1


def test_an_erased_customers_pseudonym_cannot_take_data_again(
    service: IntakeService, ctx: WriteContext
) -> None:
    service.upsert_customer(ctx, "C-1", FULL)
    pseudonym = service.erase_customer(ctx, "C-1").body["id"]
    with pytest.raises(ConflictError) as caught:
        service.upsert_customer(ctx, pseudonym, CustomerInput(name="Back again"))
    assert caught.value.details == {"object": "customer", "id": pseudonym}
