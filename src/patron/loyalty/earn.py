"""How many points an order or an action earns, as pure functions of the programme and plain
values. Nothing here reads a clock, a database or a balance: what was already granted today,
this month or this year is passed in, and the caller writes the result to the ledger.

**One rounding rule**: every computed amount of points is rounded *down* to a whole point
(floor), as shops do — 9.99 CNY at 1 point per CNY earns 9. The arithmetic before the floor is
exact (fractions), never floating point.

Order points, line by line::

    points = floor(net_minor / (per × 10^exponent) × points_per × rule multiplier × tier multiplier)

where the *rule multiplier* of a line is the first that applies of: its SKU's, its brand's
(compared without regard to case), its deepest matching category prefix's (whole levels:
``母婴 > 奶粉`` matches ``母婴 > 奶粉 > 1段``, not ``母婴 > 奶粉粉``), else 1; and the *tier
multiplier* is the member's tier's ``points_multiplier``. Each line floors on its own, so the
points of a refunded line are exactly what it earned. Action points do not take the tier
multiplier.

Each result carries the idempotency key *part* that makes a retry grant once:
``signin:<local date>``, ``review:<review id>``, ``share:<share id>``,
``task:<code>:<occurrence>`` (``task:<code>`` for once-only tasks), ``birthday:<local year>``,
``referral:<referred customer id>:referrer`` and ``…:referred``.
All but the referral ones are per member: the caller prefixes them with the member. The referral
ones name the referred customer, who can be referred once per shop, so they are unique in the
shop as they are.

A result with 0 points (a second sign-in on one day, a cap reached…) says why in ``held`` and
should write nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from math import floor

from patron.errors import InputError
from patron.loyalty.calendar import available_from, local_date
from patron.loyalty.programme import BirthdayWindow, Caps, Programme, category_levels
from patron.money import exponent


class Action(StrEnum):
    """What earned the points; the lot's source is ``action:<value>``."""

    SIGNIN = "signin"
    REVIEW = "review"
    SHARE = "share"
    REFERRAL = "referral"
    BIRTHDAY = "birthday"
    TASK = "task"


class Held(StrEnum):
    """Why an award gives fewer points than its rule (or none)."""

    DISABLED = "disabled"
    """The programme has no such rule (or it gives no points)."""
    SIGNED_IN_TODAY = "signed_in_today"
    TEXT_TOO_SHORT = "text_too_short"
    NOT_BIRTHDAY = "not_birthday"
    TASK_INACTIVE = "task_inactive"
    """Outside the task's active dates."""
    RETURN_WINDOW_OPEN = "return_window_open"
    """The referred customer's first order is still inside its return window."""
    DAY_COUNT = "day_count"
    DAY_POINTS = "day_points"
    MONTH_COUNT = "month_count"
    MONTH_POINTS = "month_points"
    YEARLY_CAP = "yearly_cap"


# --- orders -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderLine:
    """A line as paid: ``net_minor`` is what the customer paid for it after every discount,
    coupon and points deduction, in minor units of the programme's currency."""

    sku: str
    net_minor: int
    category: str | None = None
    """Category path, levels separated by ``>``: ``"母婴 > 奶粉 > 1段"``."""
    brand: str | None = None


@dataclass(frozen=True, slots=True)
class LinePoints:
    sku: str
    net_minor: int
    rule: str
    """What set the multiplier: ``sku:<sku>``, ``brand:<brand>``, ``category:<prefix>`` or
    ``base``."""
    multiplier: Decimal
    """Rule multiplier × tier multiplier."""
    points: int
    """Granted for this line (after the yearly cap, if it cut the order)."""


@dataclass(frozen=True, slots=True)
class OrderPoints:
    lines: tuple[LinePoints, ...]
    subtotal: int
    """Sum of the lines' points."""
    bonus: int
    """First-order bonus."""
    total: int
    """``subtotal + bonus``: what to grant for the order."""
    tier: str
    cut: int = 0
    """Points the yearly cap removed (``held`` is ``YEARLY_CAP`` when above 0)."""

    @property
    def held(self) -> Held | None:
        return Held.YEARLY_CAP if self.cut else None


def order_points(
    programme: Programme,
    lines: Sequence[OrderLine],
    tier: str,
    is_first_order: bool,
    *,
    earned_this_year: int,
) -> OrderPoints:
    """Points of a paid order for a member of ``tier``.

    ``earned_this_year``: points the member already earned in the local calendar year of the
    order (for the yearly cap). When the cap cuts the order the bonus goes first; if the lines
    alone exceed what is left, they share it in proportion to their points (largest
    remainders first, ties to the earlier line), so the lines still add up to what is granted
    and a refund can take back a line's own points. A total of 0 should write nothing.
    """
    level = programme.level(tier)
    tier_multiplier = level.benefits.points_multiplier
    unit = Fraction(programme.earn.points, programme.earn.per * 10 ** exponent(programme.currency))
    result: list[LinePoints] = []
    for n, line in enumerate(lines):
        if line.net_minor < 0:
            raise InputError(
                f"lines[{n}].net_minor must be 0 or more, got {line.net_minor}",
                field=f"lines[{n}].net_minor",
            )
        rule, rule_multiplier = line_rule(programme, line)
        multiplier = rule_multiplier * tier_multiplier
        points = floor(line.net_minor * unit * Fraction(multiplier))
        result.append(LinePoints(line.sku, line.net_minor, rule, multiplier, points))
    subtotal = sum(p.points for p in result)
    bonus = programme.earn.first_order_bonus if is_first_order else 0
    room = _year_room(programme, earned_this_year)
    if room is None or subtotal + bonus <= room:
        return OrderPoints(tuple(result), subtotal, bonus, subtotal + bonus, tier)
    if subtotal <= room:
        return OrderPoints(
            tuple(result), subtotal, room - subtotal, room, tier, bonus - room + subtotal
        )
    shares = _shrink([p.points for p in result], room)
    kept = tuple(
        LinePoints(p.sku, p.net_minor, p.rule, p.multiplier, share)
        for p, share in zip(result, shares, strict=True)
    )
    return OrderPoints(kept, room, 0, room, tier, subtotal + bonus - room)


def line_rule(programme: Programme, line: OrderLine) -> tuple[str, Decimal]:
    """The rule that sets the line's multiplier (see :class:`LinePoints.rule`) and its value,
    before the tier's."""
    earn = programme.earn
    for sku in earn.skus:
        if sku.sku == line.sku:
            return f"sku:{sku.sku}", sku.multiplier
    if line.brand is not None:
        brand = line.brand.strip().casefold()
        for rule in earn.brands:
            if rule.brand.casefold() == brand:
                return f"brand:{rule.brand}", rule.multiplier
    if line.category is not None:
        levels = category_levels(line.category)
        best: tuple[int, str, Decimal] | None = None
        for category in earn.categories:
            prefix = category_levels(category.prefix)
            if levels[: len(prefix)] == prefix and (best is None or len(prefix) > best[0]):
                best = (len(prefix), category.prefix, category.multiplier)
        if best is not None:
            return f"category:{best[1]}", best[2]
    return "base", Decimal(1)


def _shrink(points: list[int], room: int) -> list[int]:
    """Scale ``points`` down to sum to ``room``: floors of the proportional shares, the rest one
    by one to the largest remainders (the earlier line on ties)."""
    total = sum(points)
    exact = [Fraction(p * room, total) for p in points]
    shares = [floor(x) for x in exact]
    order = sorted(range(len(points)), key=lambda n: (-(exact[n] - shares[n]), n))
    for n in order[: room - sum(shares)]:
        shares[n] += 1
    return shares


# --- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Award:
    """Points an action earns now."""

    action: Action
    points: int
    """What to grant (0: write nothing)."""
    key: str
    """Idempotency key part (see the module docstring)."""
    rule_points: int
    """What the rule gives before caps."""
    held: Held | None = None
    """Why ``points`` is below ``rule_points``, or 0."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Grants of one action (or one task code) already written for the member in the local
    day and the local calendar month of the new one (see :func:`calendar.day_bounds` and
    :func:`calendar.month_bounds`): how many, and how many points."""

    day_count: int = 0
    day_points: int = 0
    month_count: int = 0
    month_points: int = 0


NO_USAGE = Usage()


@dataclass(frozen=True, slots=True)
class SignIn:
    award: Award
    day: date
    """The local date signed in for."""
    streak: int
    """Consecutive days signed in, this one included (unchanged on a second sign-in)."""
    bonus: int
    """The streak bonus inside ``award.rule_points``."""


def sign_in(
    programme: Programme,
    at: datetime,
    *,
    last_day: date | None,
    streak: int,
    earned_this_year: int,
) -> SignIn:
    """A sign-in at ``at``, after the last one on local date ``last_day`` that ended a streak
    of ``streak`` days. The local day after ``last_day`` continues the streak, a later one
    restarts it at 1; a second sign-in on the same local day earns nothing and keeps the
    streak. A streak bonus is paid on its exact day (with ``cycle_days``, on that day of every
    cycle)."""
    today = local_date(programme, at)
    key = f"signin:{today.isoformat()}"
    rule = programme.earn.signin
    if last_day is not None and last_day >= today:
        return SignIn(Award(Action.SIGNIN, 0, key, 0, Held.SIGNED_IN_TODAY), today, streak, 0)
    continued = last_day is not None and last_day == today - timedelta(days=1) and streak > 0
    new_streak = streak + 1 if continued else 1
    if rule is None:
        return SignIn(Award(Action.SIGNIN, 0, key, 0, Held.DISABLED), today, new_streak, 0)
    day = (new_streak - 1) % rule.cycle_days + 1 if rule.cycle_days else new_streak
    bonus = sum(b.points for b in rule.streak_bonus if b.day == day)
    award = _award(
        programme, Action.SIGNIN, key, rule.points + bonus, None, NO_USAGE, earned_this_year
    )
    return SignIn(award, today, new_streak, bonus)


def review_points(
    programme: Programme,
    review_id: str,
    text: str,
    has_photo: bool,
    *,
    usage: Usage,
    earned_this_year: int,
) -> Award:
    """A product review: ``points`` if the text has at least ``min_length`` characters other
    than white space, plus ``photo_bonus`` with a photo."""
    key = f"review:{review_id}"
    rule = programme.earn.review
    if rule is None:
        return Award(Action.REVIEW, 0, key, 0, Held.DISABLED)
    full = rule.points + (rule.photo_bonus if has_photo else 0)
    if sum(1 for ch in text if not ch.isspace()) < rule.min_length:
        return Award(Action.REVIEW, 0, key, full, Held.TEXT_TOO_SHORT)
    return _award(programme, Action.REVIEW, key, full, rule.caps, usage, earned_this_year)


def share_points(
    programme: Programme, share_id: str, *, usage: Usage, earned_this_year: int
) -> Award:
    """A share (of a product, a campaign…) identified by the caller's ``share_id``."""
    key = f"share:{share_id}"
    rule = programme.earn.share
    if rule is None:
        return Award(Action.SHARE, 0, key, 0, Held.DISABLED)
    return _award(programme, Action.SHARE, key, rule.points, rule.caps, usage, earned_this_year)


def task_points(
    programme: Programme,
    code: str,
    occurrence: str,
    at: datetime,
    *,
    usage: Usage,
    earned_this_year: int,
) -> Award:
    """A named task done at ``at``; ``occurrence`` identifies this completion (ignored for
    once-only tasks). ``usage`` counts grants of this task code. Unknown codes raise
    :class:`InputError`."""
    rule = programme.earn.task(code)
    key = f"task:{code}" if rule.once else f"task:{code}:{occurrence}"
    today = local_date(programme, at)
    if (rule.active_from and today < rule.active_from) or (
        rule.active_until and today > rule.active_until
    ):
        return Award(Action.TASK, 0, key, rule.points, Held.TASK_INACTIVE)
    return _award(programme, Action.TASK, key, rule.points, rule.caps, usage, earned_this_year)


def birthday_points(
    programme: Programme,
    tier: str,
    birthday: date,
    at: datetime,
    *,
    earned_this_year: int,
) -> Award:
    """Birthday points at ``at``: the programme's birthday points plus the tier's birthday gift
    points, on the birthday (29 February: 28 February in other years) or in its month, per
    ``earn.birthday.window`` (the day when the programme gives no birthday points of its own).
    Once a year: the key is ``birthday:<local year>``. A described (non-points) gift is in
    :func:`patron.loyalty.tiers.benefits`."""
    today = local_date(programme, at)
    key = f"birthday:{today.year}"
    rule = programme.earn.birthday
    gift = programme.level(tier).benefits.birthday_gift
    full = (rule.points if rule else 0) + ((gift.points or 0) if gift else 0)
    if full == 0:
        return Award(Action.BIRTHDAY, 0, key, 0, Held.DISABLED)
    if rule is not None and rule.window is BirthdayWindow.MONTH:
        due = today.month == birthday.month
    else:
        due = today == _birthday_in(birthday, today.year)
    if not due:
        return Award(Action.BIRTHDAY, 0, key, full, Held.NOT_BIRTHDAY)
    return _award(programme, Action.BIRTHDAY, key, full, None, NO_USAGE, earned_this_year)


@dataclass(frozen=True, slots=True)
class Referral:
    referrer: Award
    referred: Award
    due_at: datetime
    """When the grants become due: the end of the first order's return window."""


def referral_points(
    programme: Programme,
    referred_customer: str,
    first_order_paid_at: datetime,
    at: datetime,
    *,
    referrer_earned_this_year: int,
    referred_earned_this_year: int,
) -> Referral:
    """The two referral grants, due once the referred customer's first order (paid at
    ``first_order_paid_at``) has passed its return window (:func:`calendar.available_from`).
    The caller checks that the order was not returned in full, and grants each side once: the
    keys name the referred customer."""
    due_at = available_from(programme, first_order_paid_at)
    base = f"referral:{referred_customer}"
    rule = programme.earn.referral
    sides: list[Award] = []
    for side, points, earned in (
        ("referrer", rule.referrer if rule else 0, referrer_earned_this_year),
        ("referred", rule.referred if rule else 0, referred_earned_this_year),
    ):
        key = f"{base}:{side}"
        if points == 0:
            sides.append(Award(Action.REFERRAL, 0, key, 0, Held.DISABLED))
        elif at < due_at:
            sides.append(Award(Action.REFERRAL, 0, key, points, Held.RETURN_WINDOW_OPEN))
        else:
            sides.append(_award(programme, Action.REFERRAL, key, points, None, NO_USAGE, earned))
    return Referral(sides[0], sides[1], due_at)


def _birthday_in(birthday: date, year: int) -> date:
    try:
        return birthday.replace(year=year)
    except ValueError:  # 29 February in a common year
        return date(year, 2, 28)


def _year_room(programme: Programme, earned_this_year: int) -> int | None:
    cap = programme.earn.yearly_cap
    return None if cap is None else max(cap - earned_this_year, 0)


def _award(
    programme: Programme,
    action: Action,
    key: str,
    full: int,
    caps: Caps | None,
    usage: Usage,
    earned_this_year: int,
) -> Award:
    """``full`` points limited by the caps: a count cap reached refuses, a points cap or the
    yearly cap trims to what is left (the tightest limit is named, the first of equal ones)."""
    if caps is not None:
        if caps.day_count is not None and usage.day_count >= caps.day_count:
            return Award(action, 0, key, full, Held.DAY_COUNT)
        if caps.month_count is not None and usage.month_count >= caps.month_count:
            return Award(action, 0, key, full, Held.MONTH_COUNT)
    rooms: list[tuple[int, Held]] = []
    if caps is not None and caps.day_points is not None:
        rooms.append((caps.day_points - usage.day_points, Held.DAY_POINTS))
    if caps is not None and caps.month_points is not None:
        rooms.append((caps.month_points - usage.month_points, Held.MONTH_POINTS))
    year_room = _year_room(programme, earned_this_year)
    if year_room is not None:
        rooms.append((year_room, Held.YEARLY_CAP))
    points, held = full, None
    for room, why in rooms:
        if max(room, 0) < points:
            points, held = max(room, 0), why
    return Award(action, points, key, full, held)
