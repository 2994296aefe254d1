"""Point computations on the sample programme (1 point per CNY; milk powder ×0.5, beauty ×2,
serums ×3, the house brand ×2, a launch SKU ×5; tiers ×1, ×1.2, ×1.5, ×2), values computed by
hand in the comments."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.errors import InputError
from patron.loyalty.earn import (
    Action,
    Award,
    Held,
    OrderLine,
    Usage,
    birthday_points,
    line_rule,
    order_points,
    referral_points,
    review_points,
    share_points,
    sign_in,
    task_points,
)
from patron.loyalty.programme import Programme, parse_programme, sample_programme, to_dict

SAMPLE = sample_programme()
CAP = 200_000

LINES = (
    # 259.99 × 0.5 (母婴 > 奶粉) = 129.995 → 129
    OrderLine("MILK-1", 25999, "母婴 > 奶粉 > 1段"),
    # 199.00 × 3 (美妆 > 面部护理 > 精华, the deepest prefix) = 597
    OrderLine("SERUM-X", 19900, "美妆 > 面部护理 > 精华 > 抗老"),
    # 89.50 × 2: the brand (any case) before the category 美妆 (also 2) = 179
    OrderLine("LIP-1", 8950, "美妆 > 彩妆", "patron select"),
    # 99.99 × 5: the SKU before brand and category = 499.95 → 499
    OrderLine("NEW-SERUM-30ML", 9999, "美妆 > 面部护理 > 精华", "Patron Select"),
    # 9.99 × 1 (no rule) = 9.99 → 9
    OrderLine("TOWEL", 999, "家居"),
    # 10.00 × 1: 奶粉粉 is not the level 奶粉 = 10
    OrderLine("X", 1000, "母婴 > 奶粉粉"),
)


def variant(**changes: Any) -> Programme:
    """The sample with top-level or ``earn.*`` / ``tiers.*`` values replaced."""
    data = to_dict(SAMPLE)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[last] = value
    return parse_programme(data, "test")


def local(text: str) -> datetime:
    """A Shanghai wall time as an aware moment."""
    return datetime.fromisoformat(text + "+08:00")


# --- orders --------------------------------------------------------------------------------------


def test_each_line_takes_its_best_rule_and_floors_on_its_own() -> None:
    points = order_points(SAMPLE, LINES, "member", True, earned_this_year=0)
    assert [(p.rule, p.multiplier, p.points) for p in points.lines] == [
        ("category:母婴 > 奶粉", 0.5, 129),
        ("category:美妆 > 面部护理 > 精华", 3, 597),
        ("brand:Patron Select", 2, 179),
        ("sku:NEW-SERUM-30ML", 5, 499),
        ("base", 1, 9),
        ("base", 1, 10),
    ]
    assert (points.subtotal, points.bonus, points.total, points.cut) == (1423, 100, 1523, 0)
    assert points.held is None and points.tier == "member"


def test_the_tier_multiplier_applies_on_top_of_the_line_rule() -> None:
    points = order_points(SAMPLE, LINES, "gold", False, earned_this_year=0)
    # ×1.5: 194.9925 → 194, 895.5 → 895, 268.5 → 268, 749.925 → 749, 14.985 → 14, 15
    assert [p.points for p in points.lines] == [194, 895, 268, 749, 14, 15]
    assert [p.multiplier for p in points.lines] == [0.75, 4.5, 3, 7.5, 1.5, 1.5]
    assert (points.subtotal, points.bonus, points.total) == (2135, 0, 2135)


def test_the_arithmetic_is_exact_decimal_not_float() -> None:
    # 100.00 CNY × 1.15: exactly 115 (in binary floats 114.99999999999999 → 114).
    prog = variant(tiers__levels__1__benefits__points_multiplier="1.15")
    points = order_points(prog, [OrderLine("A", 10000)], "silver", False, earned_this_year=0)
    assert points.total == 115


def test_points_per_n_units_and_currencies_without_minor_units() -> None:
    per_ten = variant(earn__per=10)
    # 259.99 / 10 × 0.5 = 12.9995 → 12; 199.00 / 10 × 3 = 59.7 → 59
    points = order_points(per_ten, LINES[:2], "member", False, earned_this_year=0)
    assert [p.points for p in points.lines] == [12, 59]
    yen = variant(currency="JPY", earn__points=1, earn__per=100)
    # ¥1999 / 100 = 19.99 → 19
    assert (
        order_points(yen, [OrderLine("A", 1999)], "member", False, earned_this_year=0).total == 19
    )


def test_lines_without_category_or_brand_and_empty_orders() -> None:
    assert line_rule(SAMPLE, OrderLine("A", 100)) == ("base", 1)
    points = order_points(SAMPLE, [], "member", True, earned_this_year=0)
    assert (points.lines, points.subtotal, points.total) == ((), 0, 100)


def test_the_yearly_cap_cuts_the_bonus_first_then_the_lines_pro_rata() -> None:
    # Room 1,500: the lines' 1,423 fit, the bonus keeps 77 of 100.
    points = order_points(SAMPLE, LINES, "member", True, earned_this_year=CAP - 1500)
    assert (points.subtotal, points.bonus, points.total, points.cut) == (1423, 77, 1500, 23)
    assert points.held is Held.YEARLY_CAP
    # Room 1,000: lines scaled by 1000/1423 → 90.65, 419.54, 125.79, 350.67, 6.32, 7.03;
    # floors make 997, the 3 left go to the largest remainders (.79, .67, .65).
    points = order_points(SAMPLE, LINES, "member", True, earned_this_year=CAP - 1000)
    assert [p.points for p in points.lines] == [91, 419, 126, 351, 6, 7]
    assert (points.subtotal, points.bonus, points.total, points.cut) == (1000, 0, 1000, 523)
    # Nothing left this year (or the cap was lowered below what was earned).
    for earned in (CAP, CAP + 5000):
        points = order_points(SAMPLE, LINES, "member", True, earned_this_year=earned)
        assert (points.total, points.cut) == (0, 1523)
        assert all(p.points == 0 for p in points.lines)


def test_bad_order_input_is_refused() -> None:
    with pytest.raises(InputError, match=r"lines\[1\]\.net_minor must be 0 or more, got -5"):
        order_points(SAMPLE, [LINES[0], OrderLine("B", -5)], "member", False, earned_this_year=0)
    with pytest.raises(InputError, match="unknown tier 'vip'"):
        order_points(SAMPLE, LINES, "vip", False, earned_this_year=0)


CATEGORIES = ["母婴 > 奶粉 > 1段", "美妆", "美妆 > 面部护理 > 精华", "家居", None]
line_strategy = st.builds(
    OrderLine,
    sku=st.sampled_from(["A", "NEW-SERUM-30ML"]),
    net_minor=st.integers(0, 10**9),
    category=st.sampled_from(CATEGORIES),
    brand=st.sampled_from([None, "Patron Select", "Other"]),
)
tiers = st.sampled_from(["member", "silver", "gold", "diamond"])
NO_CAP = variant(earn__yearly_cap=None)


@given(line=line_strategy, more=st.integers(0, 10**7), tier=tiers)
def test_order_points_are_monotone_in_the_amount(line: OrderLine, more: int, tier: str) -> None:
    bigger = OrderLine(line.sku, line.net_minor + more, line.category, line.brand)
    small = order_points(SAMPLE, [line], tier, False, earned_this_year=0).total
    assert order_points(SAMPLE, [bigger], tier, False, earned_this_year=0).total >= small


@given(line=line_strategy, tier=tiers)
def test_a_higher_tier_never_earns_fewer_points(line: OrderLine, tier: str) -> None:
    base = order_points(SAMPLE, [line], "member", False, earned_this_year=0).total
    assert order_points(SAMPLE, [line], tier, False, earned_this_year=0).total >= base


@given(
    lines=st.lists(line_strategy, max_size=8),
    tier=tiers,
    first=st.booleans(),
    earned=st.integers(0, CAP + 10),
)
def test_line_points_add_up_to_the_subtotal_and_the_cap_holds(
    lines: list[OrderLine], tier: str, first: bool, earned: int
) -> None:
    points = order_points(SAMPLE, lines, tier, first, earned_this_year=earned)
    assert sum(p.points for p in points.lines) == points.subtotal
    assert points.total == points.subtotal + points.bonus
    assert earned + points.total <= max(CAP, earned)
    uncapped = order_points(NO_CAP, lines, tier, first, earned_this_year=earned)
    assert points.total + points.cut == uncapped.total
    assert all(0 <= p.points <= u.points for p, u in zip(points.lines, uncapped.lines, strict=True))


# --- sign-in -------------------------------------------------------------------------------------


def test_a_first_sign_in_earns_the_daily_points() -> None:
    result = sign_in(SAMPLE, local("2026-11-29T10:00"), last_day=None, streak=0, earned_this_year=0)
    assert result.award == Award(Action.SIGNIN, 5, "signin:2026-11-29", 5)
    assert (result.day, result.streak, result.bonus) == (date(2026, 11, 29), 1, 0)


@pytest.mark.parametrize(
    ("streak", "new_streak", "points", "bonus"),
    [(5, 6, 5, 0), (6, 7, 25, 20), (29, 30, 105, 100), (30, 31, 5, 0), (36, 37, 25, 20)],
)
def test_streak_bonuses_on_the_7th_and_30th_day_of_each_cycle(
    streak: int, new_streak: int, points: int, bonus: int
) -> None:
    result = sign_in(
        SAMPLE,
        local("2026-11-29T08:00"),
        last_day=date(2026, 11, 28),
        streak=streak,
        earned_this_year=0,
    )
    assert (result.streak, result.award.points, result.bonus) == (new_streak, points, bonus)


def test_without_a_cycle_a_streak_bonus_is_paid_once() -> None:
    prog = variant(earn__signin__cycle_days=None)
    result = sign_in(
        prog, local("2026-11-29T08:00"), last_day=date(2026, 11, 28), streak=36, earned_this_year=0
    )
    assert (result.streak, result.award.points) == (37, 5)


def test_a_second_sign_in_on_the_same_local_day_earns_nothing() -> None:
    result = sign_in(
        SAMPLE,
        local("2026-11-29T23:30"),
        last_day=date(2026, 11, 29),
        streak=6,
        earned_this_year=0,
    )
    assert result.award == Award(Action.SIGNIN, 0, "signin:2026-11-29", 0, Held.SIGNED_IN_TODAY)
    assert result.streak == 6
    # An hour later it is the next local day: the streak goes on.
    result = sign_in(
        SAMPLE,
        local("2026-11-30T00:30"),
        last_day=date(2026, 11, 29),
        streak=6,
        earned_this_year=0,
    )
    assert (result.award.key, result.streak, result.award.points) == ("signin:2026-11-30", 7, 25)


def test_the_local_day_decides_not_the_utc_day() -> None:
    # 2026-11-29 16:30 UTC is 00:30 on 11-30 in Shanghai.
    at = datetime(2026, 11, 29, 16, 30, tzinfo=UTC)
    result = sign_in(SAMPLE, at, last_day=date(2026, 11, 29), streak=2, earned_this_year=0)
    assert (result.day, result.streak) == (date(2026, 11, 30), 3)


def test_a_missed_day_restarts_the_streak() -> None:
    result = sign_in(
        SAMPLE, local("2026-11-29T09:00"), last_day=date(2026, 11, 27), streak=6, earned_this_year=0
    )
    assert (result.streak, result.award.points) == (1, 5)


def test_sign_in_respects_the_yearly_cap_and_a_missing_rule() -> None:
    result = sign_in(
        SAMPLE,
        local("2026-11-29T09:00"),
        last_day=date(2026, 11, 28),
        streak=6,
        earned_this_year=CAP - 10,
    )
    assert result.award == Award(Action.SIGNIN, 10, "signin:2026-11-29", 25, Held.YEARLY_CAP)
    assert result.streak == 7
    result = sign_in(
        variant(earn__signin=None),
        local("2026-11-29T09:00"),
        last_day=None,
        streak=0,
        earned_this_year=0,
    )
    assert (result.award.points, result.award.held) == (0, Held.DISABLED)


# --- reviews, shares, tasks ----------------------------------------------------------------------

LONG_TEXT = "宝宝很喜欢，奶粉溶解快，不上火，会回购"  # 19 characters
SHORT_TEXT = " 很 好 很 好 很 好 很 好 很 好 很 好 很 好 "  # 14 characters besides spaces


def test_a_review_earns_its_points_and_the_photo_bonus() -> None:
    review = review_points(SAMPLE, "R1", LONG_TEXT, False, usage=Usage(), earned_this_year=0)
    assert review == Award(Action.REVIEW, 10, "review:R1", 10)
    with_photo = review_points(SAMPLE, "R2", LONG_TEXT, True, usage=Usage(), earned_this_year=0)
    assert (with_photo.points, with_photo.key) == (20, "review:R2")


def test_a_review_below_the_minimum_length_earns_nothing() -> None:
    review = review_points(SAMPLE, "R3", SHORT_TEXT, True, usage=Usage(), earned_this_year=0)
    assert review == Award(Action.REVIEW, 0, "review:R3", 20, Held.TEXT_TOO_SHORT)
    exact = review_points(SAMPLE, "R4", "一" * 15, False, usage=Usage(), earned_this_year=0)
    assert exact.points == 10


def test_review_caps_refuse_or_trim() -> None:
    # Caps: 5 reviews a day, 300 points a month.
    full_day = review_points(
        SAMPLE, "R5", LONG_TEXT, True, usage=Usage(day_count=5), earned_this_year=0
    )
    assert (full_day.points, full_day.held) == (0, Held.DAY_COUNT)
    trimmed = review_points(
        SAMPLE, "R6", LONG_TEXT, True, usage=Usage(month_points=290), earned_this_year=0
    )
    assert (trimmed.points, trimmed.rule_points, trimmed.held) == (10, 20, Held.MONTH_POINTS)
    spent = review_points(
        SAMPLE, "R7", LONG_TEXT, True, usage=Usage(month_points=300), earned_this_year=0
    )
    assert (spent.points, spent.held) == (0, Held.MONTH_POINTS)


def test_the_tightest_cap_is_the_one_named() -> None:
    prog = variant(
        earn__share__caps={"day_points": 10, "month_points": 50, "month_count": 20},
        earn__share__points=8,
    )
    usage = Usage(day_count=1, day_points=4, month_count=19, month_points=47)
    # Room: day 6, month 3, year 5 → 3, named after the month.
    share = share_points(prog, "S9", usage=usage, earned_this_year=CAP - 5)
    assert (share.points, share.held) == (3, Held.MONTH_POINTS)
    share = share_points(prog, "S9", usage=Usage(month_count=20), earned_this_year=0)
    assert (share.points, share.held) == (0, Held.MONTH_COUNT)


def test_shares_count_against_the_daily_cap() -> None:
    assert share_points(SAMPLE, "S1", usage=Usage(day_count=2), earned_this_year=0) == Award(
        Action.SHARE, 2, "share:S1", 2
    )
    capped = share_points(SAMPLE, "S2", usage=Usage(day_count=3), earned_this_year=0)
    assert (capped.points, capped.held) == (0, Held.DAY_COUNT)
    off = share_points(variant(earn__share=None), "S3", usage=Usage(), earned_this_year=0)
    assert (off.points, off.held) == (0, Held.DISABLED)


def test_tasks_once_repeatable_capped_and_dated() -> None:
    at = local("2026-11-29T12:00")
    once = task_points(SAMPLE, "complete_profile", "E1", at, usage=Usage(), earned_this_year=0)
    assert once == Award(Action.TASK, 50, "task:complete_profile", 50)
    live = task_points(SAMPLE, "watch_live", "E2", at, usage=Usage(), earned_this_year=0)
    assert live == Award(Action.TASK, 5, "task:watch_live:E2", 5)
    second = task_points(SAMPLE, "watch_live", "E3", at, usage=Usage(1, 5), earned_this_year=0)
    assert (second.points, second.held) == (0, Held.DAY_COUNT)
    month = task_points(
        SAMPLE, "watch_live", "E4", at, usage=Usage(month_points=98), earned_this_year=0
    )
    assert (month.points, month.held) == (2, Held.MONTH_POINTS)


@pytest.mark.parametrize(
    ("at", "points"),
    [
        ("2026-10-31T23:30", 0),
        ("2026-11-01T00:30", 11),
        ("2026-11-11T23:30", 11),
        ("2026-11-12T00:30", 0),
    ],
)
def test_a_campaign_task_earns_only_on_its_local_dates(at: str, points: int) -> None:
    award = task_points(
        SAMPLE, "double_11_checkin", "E5", local(at), usage=Usage(), earned_this_year=0
    )
    assert award.points == points
    assert award.held is (None if points else Held.TASK_INACTIVE)


def test_an_unknown_task_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown task 'dance'"):
        task_points(
            SAMPLE, "dance", "E", local("2026-11-29T12:00"), usage=Usage(), earned_this_year=0
        )


# --- birthday ------------------------------------------------------------------------------------


def test_birthday_points_add_the_tier_gift_in_the_birthday_month() -> None:
    born = date(1990, 3, 15)
    gold = birthday_points(SAMPLE, "gold", born, local("2026-03-02T09:00"), earned_this_year=0)
    assert gold == Award(Action.BIRTHDAY, 350, "birthday:2026", 350)  # 50 + 300
    member = birthday_points(SAMPLE, "member", born, local("2026-03-31T23:30"), earned_this_year=0)
    assert member.points == 50
    april = birthday_points(SAMPLE, "gold", born, local("2026-04-01T00:30"), earned_this_year=0)
    assert (april.points, april.held) == (0, Held.NOT_BIRTHDAY)


def test_a_29_february_birthday_is_kept_on_28_february_in_common_years() -> None:
    prog = variant(earn__birthday__window="day")
    born = date(2000, 2, 29)
    assert birthday_points(prog, "silver", born, local("2026-02-28T12:00"), earned_this_year=0) == (
        Award(Action.BIRTHDAY, 150, "birthday:2026", 150)
    )
    assert (
        birthday_points(prog, "silver", born, local("2026-03-01T12:00"), earned_this_year=0).points
        == 0
    )
    assert (
        birthday_points(prog, "silver", born, local("2028-02-29T12:00"), earned_this_year=0).points
        == 150
    )
    assert (
        birthday_points(prog, "silver", born, local("2028-02-28T12:00"), earned_this_year=0).points
        == 0
    )


def test_without_birthday_points_only_a_tier_gift_is_given_on_the_day() -> None:
    prog = variant(earn__birthday=None)
    born = date(1990, 3, 15)
    off = birthday_points(prog, "member", born, local("2026-03-15T12:00"), earned_this_year=0)
    assert (off.points, off.held) == (0, Held.DISABLED)
    diamond = birthday_points(prog, "diamond", born, local("2026-03-15T12:00"), earned_this_year=0)
    assert diamond.points == 1000
    assert birthday_points(
        prog, "diamond", born, local("2026-03-16T12:00"), earned_this_year=0
    ).held is (Held.NOT_BIRTHDAY)


# --- referral ------------------------------------------------------------------------------------


def test_referral_points_wait_for_the_first_orders_return_window() -> None:
    paid = local("2026-11-01T12:00")
    # 15 days: due at the end of 2026-11-16, 2026-11-17 00:00 local.
    before = referral_points(
        SAMPLE,
        "C42",
        paid,
        local("2026-11-16T23:59"),
        referrer_earned_this_year=0,
        referred_earned_this_year=0,
    )
    assert before.due_at == datetime(2026, 11, 16, 16, tzinfo=UTC)
    assert before.referrer == Award(
        Action.REFERRAL, 0, "referral:C42:referrer", 200, Held.RETURN_WINDOW_OPEN
    )
    assert before.referred == Award(
        Action.REFERRAL, 0, "referral:C42:referred", 100, Held.RETURN_WINDOW_OPEN
    )
    after = referral_points(
        SAMPLE,
        "C42",
        paid,
        local("2026-11-17T00:00"),
        referrer_earned_this_year=CAP - 50,
        referred_earned_this_year=0,
    )
    assert after.referrer == Award(
        Action.REFERRAL, 50, "referral:C42:referrer", 200, Held.YEARLY_CAP
    )
    assert after.referred == Award(Action.REFERRAL, 100, "referral:C42:referred", 100)


def test_a_referral_side_without_points_is_disabled() -> None:
    prog = variant(earn__referral={"referrer": 300, "referred": 0})
    result = referral_points(
        prog,
        "C7",
        local("2026-01-01T00:00"),
        local("2026-06-01T00:00"),
        referrer_earned_this_year=0,
        referred_earned_this_year=0,
    )
    assert (result.referrer.points, result.referred.points) == (300, 0)
    assert result.referred.held is Held.DISABLED
