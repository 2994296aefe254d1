"""Tier logic on the sample programme: growth = yuan × 1 + orders × 10; member 0, silver 1,000,
gold 5,000, diamond 20,000; evaluated monthly on the 1st with 30 days of grace and warnings
7 days ahead."""

from __future__ import annotations

import ast
import inspect
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.loyalty import tiers
from patron.loyalty.programme import Programme, parse_programme, sample_programme, to_dict
from patron.loyalty.tiers import (
    DowngradeWarning,
    Evaluation,
    Facts,
    Outcome,
    TierState,
    benefits,
    evaluate,
    growth,
    is_evaluation_day,
    next_evaluation,
    on_growth_change,
    tier_for,
    warning_due,
)

SAMPLE = sample_programme()
GOLD = TierState("gold")
GOLD_DUE = TierState("gold", date(2027, 1, 1))


def evaluation(**changes: Any) -> Programme:
    data = to_dict(SAMPLE)
    data["tiers"]["evaluation"].update(changes)
    return parse_programme(data, "test")


# --- growth and tier_for -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spend", "orders", "value"),
    [
        (123456, 3, 1264),  # 1,234.56 + 30 = 1,264.56 → 1,264
        (99, 0, 0),  # 0.99 → 0
        (0, 7, 70),
        (-50000, 2, 0),  # refunds of older orders outweigh the window: never below 0
    ],
)
def test_growth_value_from_spend_and_orders(spend: int, orders: int, value: int) -> None:
    assert growth(SAMPLE, Facts(spend, orders)) == value


def test_growth_weights_are_decimals() -> None:
    data = to_dict(SAMPLE)
    data["tiers"]["growth"] = {"per_currency_unit": "0.1", "per_order": "2.5"}
    prog = parse_programme(data, "test")
    # 333.30 × 0.1 + 3 × 2.5 = 33.33 + 7.5 = 40.83 → 40
    assert growth(prog, Facts(33330, 3)) == 40


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (0, "member"),
        (999, "member"),
        (1000, "silver"),
        (4999, "silver"),
        (5000, "gold"),
        (19999, "gold"),
        (20000, "diamond"),
        (10**12, "diamond"),
    ],
)
def test_tier_for_takes_the_highest_threshold_reached(value: int, code: str) -> None:
    assert tier_for(SAMPLE, value).code == code


@given(a=st.integers(-(10**6), 10**9), b=st.integers(-(10**6), 10**9))
def test_tier_for_is_monotone(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert SAMPLE.rank(tier_for(SAMPLE, low).code) <= SAMPLE.rank(tier_for(SAMPLE, high).code)
    level = tier_for(SAMPLE, high)
    assert level.threshold <= max(high, 0)


@given(
    spend=st.integers(-(10**8), 10**10),
    orders=st.integers(0, 10**4),
    more_spend=st.integers(0, 10**8),
    more_orders=st.integers(0, 100),
)
def test_growth_is_monotone_in_spend_and_orders(
    spend: int, orders: int, more_spend: int, more_orders: int
) -> None:
    assert growth(SAMPLE, Facts(spend + more_spend, orders + more_orders)) >= growth(
        SAMPLE, Facts(spend, orders)
    )


# --- upgrades between evaluations ----------------------------------------------------------------


def test_crossing_a_threshold_upgrades_at_once() -> None:
    assert on_growth_change(SAMPLE, TierState("member"), 1200) == TierState("silver")
    assert on_growth_change(SAMPLE, TierState("member"), 25000) == TierState("diamond")
    assert on_growth_change(SAMPLE, GOLD_DUE, 20000) == TierState("diamond")


def test_a_drop_in_growth_never_lowers_a_tier_between_evaluations() -> None:
    assert on_growth_change(SAMPLE, GOLD, 100) is None
    assert on_growth_change(SAMPLE, GOLD, 5000) is None
    assert on_growth_change(SAMPLE, GOLD_DUE, 4999) is None


def test_recovering_the_threshold_cancels_a_scheduled_downgrade() -> None:
    assert on_growth_change(SAMPLE, GOLD_DUE, 5000) == GOLD


@given(tier=st.sampled_from(["member", "silver", "gold", "diamond"]), value=st.integers(0, 10**6))
def test_on_growth_change_never_lowers_the_rank(tier: str, value: int) -> None:
    changed = on_growth_change(SAMPLE, TierState(tier), value)
    assert changed is None or SAMPLE.rank(changed.tier) > SAMPLE.rank(tier)


# --- evaluation dates ----------------------------------------------------------------------------


def test_next_evaluation_monthly_on_the_first() -> None:
    assert next_evaluation(SAMPLE, date(2026, 12, 2)) == date(2027, 1, 1)
    assert next_evaluation(SAMPLE, date(2026, 12, 31)) == date(2027, 1, 1)
    assert next_evaluation(SAMPLE, date(2027, 1, 1)) == date(2027, 1, 1)
    mid = evaluation(day=15)
    assert next_evaluation(mid, date(2026, 2, 10)) == date(2026, 2, 15)
    assert next_evaluation(mid, date(2026, 2, 16)) == date(2026, 3, 15)
    assert is_evaluation_day(mid, date(2026, 3, 15)) and not is_evaluation_day(
        mid, date(2026, 3, 1)
    )


def test_next_evaluation_yearly() -> None:
    july = evaluation(cadence="yearly", month=7, day=1)
    assert next_evaluation(july, date(2026, 6, 15)) == date(2026, 7, 1)
    assert next_evaluation(july, date(2026, 7, 1)) == date(2026, 7, 1)
    assert next_evaluation(july, date(2026, 7, 2)) == date(2027, 7, 1)
    assert is_evaluation_day(july, date(2027, 7, 1)) and not is_evaluation_day(
        july, date(2027, 8, 1)
    )


# --- evaluations ---------------------------------------------------------------------------------


def test_an_evaluation_keeps_a_member_at_or_above_the_threshold() -> None:
    assert evaluate(SAMPLE, GOLD, 6000, date(2026, 12, 1)) == Evaluation(
        GOLD, GOLD, Outcome.KEPT, 6000
    )


def test_an_evaluation_upgrades_a_member_who_qualifies_higher() -> None:
    result = evaluate(SAMPLE, TierState("silver"), 25000, date(2026, 12, 1))
    assert (result.after, result.outcome) == (TierState("diamond"), Outcome.UPGRADED)


def test_below_the_threshold_a_downgrade_is_scheduled_after_the_grace() -> None:
    # Found below on 2026-12-01; 30 days of grace end 2026-12-31; next evaluation 2027-01-01.
    result = evaluate(SAMPLE, GOLD, 3000, date(2026, 12, 1))
    assert (result.after, result.outcome) == (GOLD_DUE, Outcome.DOWNGRADE_SCHEDULED)


@pytest.mark.parametrize(
    ("grace", "due"),
    [(31, date(2027, 1, 1)), (32, date(2027, 2, 1)), (90, date(2027, 3, 1))],
)
def test_the_downgrade_date_is_the_first_evaluation_on_or_after_the_grace_end(
    grace: int, due: date
) -> None:
    result = evaluate(evaluation(grace_days=grace), GOLD, 3000, date(2026, 12, 1))
    assert result.after == TierState("gold", due)


def test_a_scheduled_downgrade_waits_then_happens_if_still_below() -> None:
    pending = evaluate(SAMPLE, GOLD_DUE, 3000, date(2026, 12, 15))
    assert (pending.after, pending.outcome) == (GOLD_DUE, Outcome.DOWNGRADE_PENDING)
    done = evaluate(SAMPLE, GOLD_DUE, 3000, date(2027, 1, 1))
    assert (done.after, done.outcome) == (TierState("silver"), Outcome.DOWNGRADED)
    # Straight to the tier the growth reaches…
    assert evaluate(SAMPLE, GOLD_DUE, 500, date(2027, 1, 1)).after == TierState("member")
    # …or one level at a time.
    one = evaluate(evaluation(downgrade_to="one_level"), GOLD_DUE, 500, date(2027, 1, 1))
    assert (one.after, one.outcome) == (TierState("silver"), Outcome.DOWNGRADED)


def test_recovering_before_the_date_cancels_the_downgrade() -> None:
    result = evaluate(SAMPLE, GOLD_DUE, 5200, date(2027, 1, 1))
    assert (result.after, result.outcome) == (GOLD, Outcome.RECOVERED)


def test_without_grace_the_evaluation_that_finds_a_member_below_downgrades() -> None:
    now = evaluation(grace_days=0)
    result = evaluate(now, GOLD, 3000, date(2026, 12, 1))
    assert (result.after, result.outcome) == (TierState("silver"), Outcome.DOWNGRADED)
    # Run on a day that is not an evaluation day, it waits for the next one.
    result = evaluate(now, GOLD, 3000, date(2026, 12, 15))
    assert result.after == GOLD_DUE


def test_a_year_of_evaluations() -> None:
    state = GOLD
    outcomes = []
    # Monthly growth at each evaluation (the window slides, old orders drop out).
    for month, value in [(12, 4000), (1, 4200), (2, 5100), (3, 4900), (4, 4800), (5, 4700)]:
        today = date(2026 if month == 12 else 2027, month, 1)
        result = evaluate(SAMPLE, state, value, today)
        outcomes.append((today.isoformat(), result.outcome.value, result.after.downgrade_on))
        state = result.after
    assert outcomes == [
        ("2026-12-01", "downgrade_scheduled", date(2027, 1, 1)),
        ("2027-01-01", "downgraded", None),
        ("2027-02-01", "upgraded", None),
        ("2027-03-01", "downgrade_scheduled", date(2027, 4, 1)),
        ("2027-04-01", "downgraded", None),
        ("2027-05-01", "kept", None),
    ]
    assert state == TierState("silver")


@given(values=st.lists(st.integers(0, 30000), min_size=1, max_size=24))
def test_a_downgrade_only_follows_a_schedule_made_a_grace_period_earlier(
    values: list[int],
) -> None:
    state, scheduled_on = GOLD, None
    today = date(2026, 1, 1)
    for value in values:
        result = evaluate(SAMPLE, state, value, today)
        level = SAMPLE.level(state.tier)
        if result.outcome is Outcome.DOWNGRADED:
            assert value < level.threshold
            assert scheduled_on is not None and today - scheduled_on >= timedelta(days=30)
        if value >= level.threshold:
            assert SAMPLE.rank(result.after.tier) >= SAMPLE.rank(state.tier)
        if result.outcome is Outcome.DOWNGRADE_SCHEDULED:
            scheduled_on = today
        if result.after.downgrade_on is None:
            scheduled_on = None
        state = result.after
        today = next_evaluation(SAMPLE, today + timedelta(days=1))


# --- warnings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "due"),
    [
        (date(2026, 12, 24), False),
        (date(2026, 12, 25), True),
        (date(2026, 12, 31), True),
        (date(2027, 1, 1), False),
    ],
)
def test_a_warning_is_due_in_the_week_before_the_downgrade(today: date, due: bool) -> None:
    warning = warning_due(SAMPLE, GOLD_DUE, 4200, today)
    expected = DowngradeWarning("gold", date(2027, 1, 1), 800, "tier-warning:gold:2027-01-01")
    assert warning == (expected if due else None)


def test_no_warning_after_recovery_without_a_schedule_or_when_switched_off() -> None:
    assert warning_due(SAMPLE, GOLD_DUE, 5000, date(2026, 12, 28)) is None
    assert warning_due(SAMPLE, GOLD, 100, date(2026, 12, 28)) is None
    assert warning_due(evaluation(warning_days=0), GOLD_DUE, 100, date(2026, 12, 31)) is None


# --- benefits ------------------------------------------------------------------------------------


def test_benefits_now_and_what_the_next_tier_unlocks() -> None:
    gold = benefits(SAMPLE, "gold", 6000)
    assert gold.level.code == "gold" and gold.benefits.discount == Decimal("0.05")
    assert gold.benefits.free_shipping and not gold.benefits.early_access
    assert gold.keep_needed == 0
    assert gold.next is not None
    assert gold.next.level.code == "diamond" and gold.next.level.benefits.early_access
    assert (gold.next.growth_needed, gold.next.progress) == (14000, Decimal("0.3"))


@pytest.mark.parametrize(
    ("tier", "value", "keep", "needed", "progress"),
    [
        ("member", 0, 0, 1000, Decimal(0)),
        ("member", 333, 0, 667, Decimal("0.333")),
        ("member", 999, 0, 1, Decimal("0.999")),
        ("silver", 4999, 0, 1, Decimal("0.9998")),
        ("silver", 1, 999, 4999, Decimal("0.0002")),  # kept in grace, far below
        ("member", 1200, 0, 0, Decimal(1)),  # the upgrade is due
        ("gold", 3000, 2000, 17000, Decimal("0.15")),
    ],
)
def test_progress_to_the_next_tier(
    tier: str, value: int, keep: int, needed: int, progress: Decimal
) -> None:
    result = benefits(SAMPLE, tier, value)
    assert result.keep_needed == keep
    assert result.next is not None
    assert (result.next.growth_needed, result.next.progress) == (needed, progress)


def test_the_top_tier_has_nothing_next() -> None:
    diamond = benefits(SAMPLE, "diamond", 25000)
    assert diamond.next is None
    assert diamond.benefits.points_multiplier == 2
    assert diamond.benefits.exclusive_coupons[0] == "DIAMOND-100-OFF-599"


# --- tiers never read points ---------------------------------------------------------------------


def test_tiers_cannot_see_points_balances() -> None:
    """Structural: nothing in the module imports the ledger vocabulary, and no public function
    takes a balance, points or a member's account — so redeeming cannot lower a tier."""
    tree = ast.parse(inspect.getsource(tiers))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not imported & {"patron.loyalty.model", "patron.loyalty.ledger", "patron.loyalty.earn"}
    for name, function in inspect.getmembers(tiers, inspect.isfunction):
        if function.__module__ != tiers.__name__ or name.startswith("_"):
            continue
        for parameter in inspect.signature(function).parameters.values():
            text = f"{parameter.name}: {parameter.annotation}".lower()
            assert not any(word in text for word in ("balance", "point", "member", "lot")), (
                f"{name}({text})"
            )
