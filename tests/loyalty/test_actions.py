"""Points for actions and referrals through the service, on SQLite and PostgreSQL: caps,
streaks and once-only grants hold across retries (sample programme)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from loyalty.support import Shopfront
from patron.clock import FixedClock
from patron.core import Patron
from patron.errors import ConflictError, InputError
from patron.intake.model import CustomerInput
from patron.loyalty.actions import ActionInput
from patron.loyalty.earn import Action

pytestmark = pytest.mark.postgres

DAY = 86_400


@pytest.fixture
def front(patron: Patron) -> Shopfront:
    shop = Shopfront(patron)
    for customer in ("C-1", "C-2"):
        shop.intake.upsert_customer(
            shop.ctx, customer, CustomerInput(birth_date=date(1990, 11, 23))
        )
    return shop


def test_sign_in_streaks_pay_their_bonus_on_the_seventh_day(
    front: Shopfront, clock: FixedClock
) -> None:
    signin = ActionInput(Action.SIGNIN)
    points = []
    for _ in range(7):
        points.append(front.loyalty.earn_action(front.shop.id, "C-1", signin).award["points"])
        again = front.loyalty.earn_action(front.shop.id, "C-1", signin)
        assert again.award == {
            "action": "signin",
            "rule_points": 0,
            "points": 0,
            "held": "signed_in_today",
        }
        clock.advance(DAY)
    assert points == [5, 5, 5, 5, 5, 5, 25]
    clock.advance(DAY)  # a day missed: the streak starts again
    result = front.loyalty.earn_action(front.shop.id, "C-1", signin)
    assert result.award is not None and result.award["points"] == 5
    assert result.member["balance"] == 60


def test_reviews_need_enough_text_and_stop_at_the_daily_count(front: Shopfront) -> None:
    short = ActionInput(Action.REVIEW, ref="rv-0", text="good")
    assert front.loyalty.earn_action(front.shop.id, "C-1", short).award["held"] == "text_too_short"
    text = "fits well, fabric is soft, colour as shown"
    granted = [
        front.loyalty.earn_action(
            front.shop.id,
            "C-1",
            ActionInput(Action.REVIEW, ref=f"rv-{n}", text=text, has_photo=n == 1),
        ).award["points"]
        for n in range(1, 7)
    ]
    # 10 a review, 20 with a photo; 5 reviews a day at most.
    assert granted == [20, 10, 10, 10, 10, 0]
    retry = front.loyalty.earn_action(
        front.shop.id, "C-1", ActionInput(Action.REVIEW, ref="rv-2", text=text)
    )
    assert retry.replayed and retry.member["balance"] == 60


def test_once_only_tasks_grant_once(front: Shopfront) -> None:
    task = ActionInput(Action.TASK, task="complete_profile", ref="x")
    assert front.loyalty.earn_action(front.shop.id, "C-1", task).award["points"] == 50
    again = front.loyalty.earn_action(
        front.shop.id, "C-1", ActionInput(Action.TASK, task="complete_profile", ref="y")
    )
    assert again.replayed and again.member["balance"] == 50
    with pytest.raises(InputError, match="task"):
        front.loyalty.earn_action(
            front.shop.id, "C-1", ActionInput(Action.TASK, task="nope", ref="x")
        )


def test_birthday_points_once_a_year_with_the_tiers_gift(front: Shopfront) -> None:
    # 23 November is C-1's birthday; the sample gives 50 points in the birthday month.
    first = front.loyalty.earn_action(front.shop.id, "C-1", ActionInput(Action.BIRTHDAY))
    assert first.award is not None and first.award["points"] == 50
    again = front.loyalty.earn_action(front.shop.id, "C-1", ActionInput(Action.BIRTHDAY))
    assert again.replayed and again.member["balance"] == 50


def test_a_referral_is_granted_after_the_first_orders_return_window(
    front: Shopfront, clock: FixedClock
) -> None:
    front.loyalty.refer(front.shop.id, "C-1", "C-2")
    assert front.loyalty.refer(front.shop.id, "C-1", "C-2")["granted_at"] is None
    front.intake.upsert_customer(front.ctx, "C-3", CustomerInput())
    with pytest.raises(ConflictError, match="already referred"):
        front.loyalty.refer(front.shop.id, "C-3", "C-2")
    with pytest.raises(InputError, match="themselves"):
        front.loyalty.refer(front.shop.id, "C-1", "C-1")
    assert front.loyalty.grant_referrals(front.shop.id) == 0  # no order yet
    front.order("O-1", "C-2", [("BOOK", 1, 10_000)], at=clock.now())
    front.loyalty.credit_order(front.shop.id, "O-1")
    assert front.loyalty.grant_referrals(front.shop.id) == 0  # inside the return window
    # Paid 23 Nov in Shanghai: spendable, and the referral due, from 9 Dec 00:00 local.
    clock.advance((datetime(2026, 12, 8, 16, 0, tzinfo=UTC) - clock.now()).total_seconds())
    assert front.loyalty.grant_referrals(front.shop.id) == 1
    assert front.loyalty.grant_referrals(front.shop.id) == 0
    assert front.loyalty.member(front.shop.id, "C-1")["balance"] == 200
    # 100 + 100 (first order) + 100 (referred).
    assert front.loyalty.member(front.shop.id, "C-2")["balance"] == 300
