"""Member tiers (会员等级) as pure functions: growth value, the tier it reaches, upgrades at once,
downgrades only at evaluations after a grace period, warnings ahead, and the benefits a member
has and would unlock.

Tiers depend on qualifying facts alone — net spend and orders in the tier window
(:func:`patron.loyalty.calendar.tier_window_start`) — never on the points balance: no function
here takes a balance, a member's points or a ledger entry, so redeeming points cannot lower a
tier. Dates here are local dates of the programme (:func:`patron.loyalty.calendar.local_date`);
the moment a scheduled downgrade happens is the start of its date
(:func:`patron.loyalty.calendar.day_start`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from math import floor

from patron.loyalty.programme import (
    Cadence,
    DowngradeTo,
    Programme,
    TierBenefits,
    TierLevel,
)
from patron.money import exponent


@dataclass(frozen=True, slots=True)
class Facts:
    """A member's qualifying facts in the tier window: net paid amount (after refunds) in minor
    units and the number of orders that count (not returned in full)."""

    net_spend_minor: int
    orders: int


@dataclass(frozen=True, slots=True)
class TierState:
    """A member's tier and, when an evaluation found them below it, the local date of the
    evaluation that will downgrade them unless they recover."""

    tier: str
    downgrade_on: date | None = None


class Outcome(StrEnum):
    KEPT = "kept"
    UPGRADED = "upgraded"
    RECOVERED = "recovered"
    """Back at or above the tier's threshold: the scheduled downgrade is cancelled."""
    DOWNGRADE_SCHEDULED = "downgrade_scheduled"
    DOWNGRADE_PENDING = "downgrade_pending"
    """Still below, the grace period not over yet."""
    DOWNGRADED = "downgraded"


@dataclass(frozen=True, slots=True)
class Evaluation:
    before: TierState
    after: TierState
    outcome: Outcome
    growth: int


@dataclass(frozen=True, slots=True)
class DowngradeWarning:
    tier: str
    downgrade_on: date
    growth_needed: int
    """Growth value still missing to keep the tier."""
    key: str
    """``tier-warning:<tier>:<date>``: the same warning is sent once."""


@dataclass(frozen=True, slots=True)
class NextTier:
    level: TierLevel
    growth_needed: int
    """Growth value still missing to reach it (0 when already reached: the upgrade is due)."""
    progress: Decimal
    """Share of its threshold already reached, 0 to 1, rounded down to 4 places."""


@dataclass(frozen=True, slots=True)
class Benefits:
    """What a member gets now, and what the next tier would unlock and how far it is."""

    level: TierLevel
    growth: int
    benefits: TierBenefits
    keep_needed: int
    """Growth value missing to stay at the tier (0 when at or above its threshold)."""
    next: NextTier | None
    """``None`` at the top tier."""


def growth(programme: Programme, facts: Facts) -> int:
    """Growth value (成长值): spend in major units × ``per_currency_unit`` + orders ×
    ``per_order``, rounded down, never below 0 (refunds can outweigh spend in a window)."""
    rule = programme.tiers.growth
    spend = Fraction(facts.net_spend_minor, 10 ** exponent(programme.currency))
    value = spend * Fraction(rule.per_currency_unit) + facts.orders * Fraction(rule.per_order)
    return max(floor(value), 0)


def tier_for(programme: Programme, growth: int) -> TierLevel:
    """The highest tier whose threshold ``growth`` reaches."""
    reached = programme.tiers.levels[0]
    for level in programme.tiers.levels:
        if growth >= level.threshold:
            reached = level
    return reached


def on_growth_change(programme: Programme, state: TierState, growth: int) -> TierState | None:
    """The new state when growth changed between evaluations (an order paid, a refund): a tier
    reached above the current one is granted at once, and a scheduled downgrade is cancelled
    once the member is back at their tier's threshold. ``None``: nothing changes — a drop in
    growth never lowers a tier here, only :func:`evaluate` does."""
    reached = tier_for(programme, growth)
    if programme.rank(reached.code) > programme.rank(state.tier):
        return TierState(reached.code)
    if state.downgrade_on is not None and reached.code == state.tier:
        return TierState(state.tier)
    return None


def is_evaluation_day(programme: Programme, day: date) -> bool:
    rule = programme.tiers.evaluation
    if rule.cadence is Cadence.MONTHLY:
        return day.day == rule.day
    return (day.month, day.day) == (rule.month, rule.day)


def next_evaluation(programme: Programme, on_or_after: date) -> date:
    """The first evaluation date on or after ``on_or_after``."""
    rule = programme.tiers.evaluation
    if rule.cadence is Cadence.MONTHLY:
        candidate = on_or_after.replace(day=rule.day)
        if candidate < on_or_after:
            year, month = divmod(on_or_after.month, 12)
            candidate = date(on_or_after.year + year, month + 1, rule.day)
        return candidate
    assert rule.month is not None  # validated with the cadence
    candidate = date(on_or_after.year, rule.month, rule.day)
    return candidate if candidate >= on_or_after else candidate.replace(year=candidate.year + 1)


def evaluate(programme: Programme, state: TierState, growth: int, today: date) -> Evaluation:
    """A tier evaluation on local date ``today`` (the caller runs it on evaluation days,
    :func:`is_evaluation_day`):

    - growth reaches a higher tier: upgraded (any scheduled downgrade dropped);
    - growth reaches the current tier: kept, or recovered if a downgrade was scheduled;
    - below, nothing scheduled: the downgrade is scheduled for the first evaluation on or after
      ``today + grace_days`` — with no grace that is today, and the member is downgraded now;
    - below, scheduled, that date reached: downgraded to the tier the growth reaches, or one
      level down (``downgrade_to``); otherwise still pending.
    """
    reached = tier_for(programme, growth)
    current = programme.rank(state.tier)
    rank = programme.rank(reached.code)
    if rank > current:
        return Evaluation(state, TierState(reached.code), Outcome.UPGRADED, growth)
    if rank == current:
        outcome = Outcome.KEPT if state.downgrade_on is None else Outcome.RECOVERED
        return Evaluation(state, TierState(state.tier), outcome, growth)
    due = state.downgrade_on
    if due is None:
        grace = timedelta(days=programme.tiers.evaluation.grace_days)
        due = next_evaluation(programme, today + grace)
        if due > today:
            after = replace(state, downgrade_on=due)
            return Evaluation(state, after, Outcome.DOWNGRADE_SCHEDULED, growth)
    if today < due:
        return Evaluation(state, state, Outcome.DOWNGRADE_PENDING, growth)
    if programme.tiers.evaluation.downgrade_to is DowngradeTo.ONE_LEVEL:
        target = programme.tiers.levels[current - 1]
    else:
        target = reached
    return Evaluation(state, TierState(target.code), Outcome.DOWNGRADED, growth)


def warning_due(
    programme: Programme, state: TierState, growth: int, today: date
) -> DowngradeWarning | None:
    """The warning to send on ``today`` about a scheduled downgrade: due from ``warning_days``
    before its date until the day before, unless the member has recovered. The key lets the
    caller send it once however many days it is asked."""
    days = programme.tiers.evaluation.warning_days
    due = state.downgrade_on
    if days == 0 or due is None or not due - timedelta(days=days) <= today < due:
        return None
    needed = programme.level(state.tier).threshold - growth
    if needed <= 0:
        return None
    return DowngradeWarning(state.tier, due, needed, f"tier-warning:{state.tier}:{due.isoformat()}")


def benefits(programme: Programme, tier: str, growth: int) -> Benefits:
    """What a member of ``tier`` with ``growth`` gets now, and the next tier's benefits with the
    growth needed to reach it and the share of its threshold done."""
    level = programme.level(tier)
    rank = programme.rank(tier)
    upcoming: NextTier | None = None
    if rank + 1 < len(programme.tiers.levels):
        following = programme.tiers.levels[rank + 1]
        share = min(Fraction(max(growth, 0), following.threshold), Fraction(1))
        upcoming = NextTier(
            following,
            max(following.threshold - growth, 0),
            Decimal(floor(share * 10_000)) / 10_000,
        )
    return Benefits(level, growth, level.benefits, max(level.threshold - growth, 0), upcoming)
