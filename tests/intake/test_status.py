"""Order status changes: every pair of statuses, allowed or refused, and paid_at."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from intake.support import PLACED, order_input
from patron.access.guard import WriteContext
from patron.clock import FixedClock
from patron.errors import ConflictError, InputError, NotFoundError
from patron.intake.model import StatusChange
from patron.intake.service import IntakeService

ALLOWED = {
    ("pending", "paid"),
    ("pending", "cancelled"),
    ("paid", "shipped"),
    ("paid", "completed"),
    ("paid", "cancelled"),
    ("paid", "refunded"),
    ("shipped", "completed"),
    ("shipped", "refunded"),
    ("completed", "refunded"),
}
STATUSES = ("pending", "paid", "shipped", "completed", "cancelled", "refunded")
PAIRS = [(a, b) for a in STATUSES for b in STATUSES]


@pytest.mark.parametrize(("start", "to"), [p for p in PAIRS if p in ALLOWED])
def test_an_allowed_move(
    service: IntakeService, ctx: WriteContext, clock: FixedClock, start: str, to: str
) -> None:
    service.upsert_order(ctx, "O-1", order_input(status=start))
    clock.advance(60)
    recorded = service.change_order_status(ctx, "O-1", StatusChange(to))
    assert (recorded.status, recorded.target) == (200, "order:O-1")
    assert (recorded.body["status"], recorded.body["updated_at"]) == (to, "2026-11-23T12:01:00Z")
    assert service.get_order(ctx.shop_id, "O-1") == recorded.body


@pytest.mark.parametrize(("start", "to"), [(a, b) for a, b in PAIRS if a == b])
def test_the_same_status_changes_nothing(
    service: IntakeService, ctx: WriteContext, clock: FixedClock, start: str, to: str
) -> None:
    first = service.upsert_order(ctx, "O-1", order_input(status=start)).body
    clock.advance(60)
    assert service.change_order_status(ctx, "O-1", StatusChange(to)).body == first


@pytest.mark.parametrize(
    ("start", "to"), [(a, b) for a, b in PAIRS if a != b and (a, b) not in ALLOWED]
)
def test_a_refused_move(service: IntakeService, ctx: WriteContext, start: str, to: str) -> None:
    service.upsert_order(ctx, "O-1", order_input(status=start))
    with pytest.raises(ConflictError) as caught:
        service.change_order_status(ctx, "O-1", StatusChange(to))
    allowed = [b for a, b in PAIRS if (a, b) in ALLOWED and a == start]
    assert caught.value.details == {"field": "status", "from": start, "to": to, "allowed": allowed}
    assert service.get_order(ctx.shop_id, "O-1")["status"] == start


def test_paying_records_when(service: IntakeService, ctx: WriteContext) -> None:
    pending = order_input(status="pending", paid_at=None)
    service.upsert_order(ctx, "O-1", pending)
    at = datetime(2026, 11, 11, 1, 0, tzinfo=UTC)
    body = service.change_order_status(ctx, "O-1", StatusChange("paid", at)).body
    assert body["paid_at"] == "2026-11-11T01:00:00Z"
    service.upsert_order(ctx, "O-2", pending)
    body = service.change_order_status(ctx, "O-2", StatusChange("paid")).body
    assert body["paid_at"] == "2026-11-23T12:00:00Z"  # now


def test_a_stored_paid_at_is_kept(service: IntakeService, ctx: WriteContext) -> None:
    service.upsert_order(ctx, "O-1", order_input(status="pending"))  # paid_at given already
    body = service.change_order_status(ctx, "O-1", StatusChange("paid", PLACED)).body
    assert body["paid_at"] == "2026-11-11T00:15:00Z"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (StatusChange("lost"), "status"),
        (StatusChange("paid", datetime(2026, 11, 11, 1)), "at"),
        (StatusChange("paid", datetime(2026, 11, 1, tzinfo=UTC)), "at"),
    ],
)
def test_bad_changes_name_the_field(
    service: IntakeService, ctx: WriteContext, change: StatusChange, field: str
) -> None:
    service.upsert_order(ctx, "O-1", order_input(status="pending", paid_at=None))
    with pytest.raises(InputError) as caught:
        service.change_order_status(ctx, "O-1", change)
    assert caught.value.details["field"] == field
    assert service.get_order(ctx.shop_id, "O-1")["status"] == "pending"


def test_an_unknown_order_is_not_found(service: IntakeService, ctx: WriteContext) -> None:
    with pytest.raises(NotFoundError):
        service.change_order_status(ctx, "O-404", StatusChange("paid"))
