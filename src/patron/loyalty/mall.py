"""The points mall (积分商城) as values: rewards, the validation of their definitions, who may
redeem them, and the pay-with-points rate. No I/O, no clock: the caller passes the moment, the
member's tier rank and what the member already holds.

A reward is a coupon of the promotions catalogue (kept as its template code until that catalogue
exists), a product (its SKU), or a pay-with-points discount: ``points_per_unit`` points buy
``unit_minor`` minor units off, in whole units only. A reward's ``points`` are the price of one
unit; ``stock`` counts the units still free to reserve (``None``: unlimited). Reservations take
units and points at once and hold them until confirmed (kept), or cancelled or expired (both
given back).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from patron.errors import ConflictError, InputError
from patron.intake.rules import MAX_AMOUNT, MAX_QUANTITY
from patron.loyalty.programme import Programme

MAX_POINTS = 10**9
"""Points of one unit: with :data:`MAX_QUANTITY` units a reservation stays within 10**15."""
MAX_COUNT = 2**31 - 1
"""Stock and per-member limits are 32-bit columns."""
MAX_TTL_SECONDS = 30 * 86_400
"""A reservation holds stock and points for at most 30 days."""
MAX_KEY_LENGTH = 200
"""Room for the entry keys derived from a caller's key (``mall:<key>:cancel…``)."""


class RewardKind(StrEnum):
    COUPON = "coupon"
    PRODUCT = "product"
    DISCOUNT = "discount"


@dataclass(frozen=True, slots=True)
class Coupon:
    template: str
    """Code of the coupon template in the promotions catalogue."""


@dataclass(frozen=True, slots=True)
class Product:
    sku: str


@dataclass(frozen=True, slots=True)
class Rate:
    """Pay with points: ``points_per_unit`` points take ``unit_minor`` minor units off."""

    points_per_unit: int
    unit_minor: int


Detail = Coupon | Product | Rate


@dataclass(frozen=True, slots=True)
class Reward:
    code: str
    kind: RewardKind
    title_en: str
    title_zh: str
    points: int
    """Price of one unit."""
    detail: Detail
    stock: int | None = None
    """Units free to reserve; ``None``: unlimited."""
    per_member_limit: int | None = None
    """Units one member may hold (reserved and not lapsed, or confirmed); ``None``: no limit."""
    min_tier: str | None = None
    """Code of the lowest tier that sees the reward; ``None``: every member."""
    visible_from: datetime | None = None
    """First moment the reward is offered (inclusive)."""
    visible_until: datetime | None = None
    """End of the offer (exclusive)."""
    active: bool = True


class State(StrEnum):
    RESERVED = "reserved"
    """Units and points held until ``expires_at``."""
    CONFIRMED = "confirmed"
    """Redeemed for good: the points stay spent."""
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Reservation:
    key: str
    """The caller's idempotency key (unique per shop)."""
    reward: Reward
    quantity: int
    points: int
    state: State
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None

    @property
    def discount_minor(self) -> int | None:
        """What a discount reservation takes off the order; ``None`` for other rewards."""
        rate = self.reward.detail
        return self.quantity * rate.unit_minor if isinstance(rate, Rate) else None


# --- definitions ------------------------------------------------------------------------------

_FIELDS = (
    "code",
    "kind",
    "title",
    "points",
    "stock",
    "per_member_limit",
    "min_tier",
    "visible_from",
    "visible_until",
    "detail",
    "active",
)
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_TEXT_LENGTH = 200
_DETAIL_FIELDS: dict[RewardKind, tuple[str, ...]] = {
    RewardKind.COUPON: ("template",),
    RewardKind.PRODUCT: ("sku",),
    RewardKind.DISCOUNT: ("points_per_unit", "unit_minor"),
}


def _bad(field: str, message: str) -> InputError:
    return InputError(f"{field}: {message}", field=field)


def whole(value: object, field: str, minimum: int, maximum: int) -> int:
    """``value`` if it is an integer within [minimum, maximum] (not a bool, not ``"5"``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(
            f"{field}: expected a whole number, got {value!r}", field=field, value=repr(value)
        )
    if not minimum <= value <= maximum:
        raise InputError(
            f"{field}: expected {minimum} to {maximum}, got {value}", field=field, value=value
        )
    return value


def _text(value: object, field: str, length: int = _TEXT_LENGTH) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(field, f"expected a non-empty text, got {value!r}")
    if len(value) > length or "\x00" in value:
        raise _bad(field, f"expected at most {length} characters and no NUL character")
    return value.strip()


def _fields(data: object, field: str, expected: tuple[str, ...]) -> Mapping[str, Any]:
    """``data`` as an object holding exactly the ``expected`` keys."""
    if not isinstance(data, Mapping):
        raise _bad(field, f"expected an object with {', '.join(expected)}, got {data!r}")
    for name in data:
        if name not in expected:
            raise _bad(f"{field}.{name}", f"unknown key; expected one of: {', '.join(expected)}")
    for name in expected:
        if name not in data:
            raise _bad(f"{field}.{name}", "is required")
    return data


def _moment(value: object, field: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise _bad(field, f"expected an ISO 8601 time, got {value!r}") from None
    if not isinstance(value, datetime) or value.utcoffset() is None:
        example = "2026-11-11T00:00:00+08:00"
        raise _bad(field, f"expected a time with a UTC offset ({example}), got {value!r}")
    return value.astimezone(UTC)


def parse_detail(kind: RewardKind, data: object, field: str = "detail") -> Detail:
    """The detail of a reward of ``kind``: ``{"template": code}`` for a coupon, ``{"sku": sku}``
    for a product, ``{"points_per_unit": N, "unit_minor": M}`` for a discount."""
    given = _fields(data, field, _DETAIL_FIELDS[kind])
    if kind is RewardKind.COUPON:
        return Coupon(_text(given["template"], f"{field}.template", 64))
    if kind is RewardKind.PRODUCT:
        return Product(_text(given["sku"], f"{field}.sku", 128))
    return Rate(
        whole(given["points_per_unit"], f"{field}.points_per_unit", 1, MAX_POINTS),
        whole(given["unit_minor"], f"{field}.unit_minor", 1, MAX_AMOUNT),
    )


def parse_reward(data: Mapping[str, Any], tiers: Collection[str]) -> Reward:
    """A reward from its definition (decoded JSON, or :func:`reward_dict` output); ``tiers``
    are the programme's tier codes. The first wrong field raises an :class:`InputError` that
    names it. A discount's ``points`` may be left out: they are its ``points_per_unit``."""
    for name in data:
        if name not in _FIELDS:
            raise _bad(name, f"unknown field; expected one of: {', '.join(_FIELDS)}")
    code = _text(data.get("code"), "code", 64)
    if not _CODE.fullmatch(code):
        raise _bad("code", f"expected letters, digits, '_', '-' or '.' (not first), got {code!r}")
    kinds = [str(kind) for kind in RewardKind]
    kind_value = data.get("kind")
    if kind_value not in kinds:
        raise _bad("kind", f"expected one of: {', '.join(kinds)}; got {kind_value!r}")
    kind = RewardKind(kind_value)
    title = _fields(data.get("title"), "title", ("en", "zh"))
    detail = parse_detail(kind, data.get("detail"))
    points = data.get("points")
    if isinstance(detail, Rate):
        if points is None:
            points = detail.points_per_unit
        elif points != detail.points_per_unit:
            raise _bad(
                "points",
                f"a discount's unit costs detail.points_per_unit ({detail.points_per_unit}), "
                f"got {points!r}",
            )
    stock, limit = data.get("stock"), data.get("per_member_limit")
    min_tier = data.get("min_tier")
    if min_tier is not None and (not isinstance(min_tier, str) or min_tier not in tiers):
        known = ", ".join(tiers)
        raise _bad("min_tier", f"unknown tier {min_tier!r}; the programme's tiers: {known}")
    visible_from = _moment(data.get("visible_from"), "visible_from")
    visible_until = _moment(data.get("visible_until"), "visible_until")
    if visible_from and visible_until and visible_until <= visible_from:
        raise _bad("visible_until", f"must be after visible_from ({visible_from.isoformat()})")
    active = data.get("active", True)
    if not isinstance(active, bool):
        raise _bad("active", f"expected true or false, got {active!r}")
    return Reward(
        code=code,
        kind=kind,
        title_en=_text(title["en"], "title.en"),
        title_zh=_text(title["zh"], "title.zh"),
        points=whole(points, "points", 1, MAX_POINTS),
        detail=detail,
        stock=None if stock is None else whole(stock, "stock", 0, MAX_COUNT),
        per_member_limit=(
            None if limit is None else whole(limit, "per_member_limit", 1, MAX_COUNT)
        ),
        min_tier=min_tier,
        visible_from=visible_from,
        visible_until=visible_until,
        active=active,
    )


def detail_dict(detail: Detail) -> dict[str, Any]:
    if isinstance(detail, Coupon):
        return {"template": detail.template}
    if isinstance(detail, Product):
        return {"sku": detail.sku}
    return {"points_per_unit": detail.points_per_unit, "unit_minor": detail.unit_minor}


def reward_dict(reward: Reward) -> dict[str, Any]:
    """JSON-ready data that :func:`parse_reward` reads back to an equal reward."""
    return {
        "code": reward.code,
        "kind": str(reward.kind),
        "title": {"en": reward.title_en, "zh": reward.title_zh},
        "points": reward.points,
        "stock": reward.stock,
        "per_member_limit": reward.per_member_limit,
        "min_tier": reward.min_tier,
        "visible_from": _iso(reward.visible_from),
        "visible_until": _iso(reward.visible_until),
        "detail": detail_dict(reward.detail),
        "active": reward.active,
    }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


# --- requests ---------------------------------------------------------------------------------


def reservation_key(key: str) -> str:
    """The caller's key, trimmed: 1 to 200 characters, and no ``cancel`` part after a colon,
    since ``mall:<key>:cancel`` is the key of the entry that gives a reservation's points back
    (a reservation keyed ``k:cancel`` would take that entry's key from reservation ``k``)."""
    trimmed = key.strip()
    if not 1 <= len(trimmed) <= MAX_KEY_LENGTH:
        raise InputError(f"key: expected 1 to {MAX_KEY_LENGTH} characters", field="key")
    if "cancel" in trimmed.split(":")[1:]:
        raise InputError("key: ':cancel' is reserved for the mall's own entries", field="key")
    return trimmed


def reservation_ttl(seconds: int) -> timedelta:
    """How long a reservation holds its units and points."""
    return timedelta(seconds=whole(seconds, "ttl_seconds", 1, MAX_TTL_SECONDS))


# --- who may redeem ---------------------------------------------------------------------------


class Reason(StrEnum):
    """Why a member cannot redeem a reward."""

    INACTIVE = "inactive"
    TIER = "tier"
    WINDOW = "window"
    OUT_OF_STOCK = "out_of_stock"
    LIMIT_REACHED = "limit_reached"


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: Reason
    message: str
    details: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"reason": str(self.reason), "message": self.message, "details": dict(self.details)}

    def error(self) -> ConflictError:
        return ConflictError(self.message, reason=str(self.reason), **self.details)


def min_tier_rank(programme: Programme, reward: Reward) -> int | None:
    """Rank of the reward's lowest tier; a tier the programme no longer has ranks above every
    tier, so such a reward is shown to nobody until its definition is corrected."""
    if reward.min_tier is None:
        return None
    codes = [level.code for level in programme.tiers.levels]
    return codes.index(reward.min_tier) if reward.min_tier in codes else len(codes)


def _hidden(reward: Reward, tier_rank: int, min_rank: int | None, at: datetime) -> Refusal | None:
    code = reward.code
    if not reward.active:
        return Refusal(Reason.INACTIVE, f"reward {code!r} is not offered now", {"reward": code})
    if min_rank is not None and tier_rank < min_rank:
        return Refusal(
            Reason.TIER,
            f"reward {code!r} is for tier {reward.min_tier!r} and above",
            {"reward": code, "min_tier": reward.min_tier},
        )
    window = {
        "reward": code,
        "visible_from": _iso(reward.visible_from),
        "visible_until": _iso(reward.visible_until),
    }
    if reward.visible_from is not None and at < reward.visible_from:
        return Refusal(
            Reason.WINDOW, f"reward {code!r} is offered from {_iso(reward.visible_from)}", window
        )
    if reward.visible_until is not None and at >= reward.visible_until:
        return Refusal(
            Reason.WINDOW, f"reward {code!r} was offered until {_iso(reward.visible_until)}", window
        )
    return None


def visible(reward: Reward, tier_rank: int, min_rank: int | None, at: datetime) -> bool:
    """Whether a member of ``tier_rank`` sees the reward at ``at``: active, their tier at least
    ``min_rank`` (:func:`min_tier_rank`), ``at`` inside the window."""
    return _hidden(reward, tier_rank, min_rank, at) is None


def refusal(
    reward: Reward,
    tier_rank: int,
    min_rank: int | None,
    at: datetime,
    held: int,
    quantity: int = 1,
) -> Refusal | None:
    """Why a member of ``tier_rank`` holding ``held`` units of the reward cannot reserve
    ``quantity`` more at ``at``; ``None`` when they can (points are the ledger's to refuse)."""
    hidden = _hidden(reward, tier_rank, min_rank, at)
    if hidden is not None:
        return hidden
    code = reward.code
    if reward.stock is not None and reward.stock < quantity:
        return Refusal(
            Reason.OUT_OF_STOCK,
            f"reward {code!r} is out of stock: {reward.stock} left, {quantity} wanted",
            {"reward": code, "left": reward.stock, "wanted": quantity},
        )
    limit = reward.per_member_limit
    if limit is not None and held + quantity > limit:
        return Refusal(
            Reason.LIMIT_REACHED,
            f"reward {code!r} allows {limit} per member: {held} of {limit} held, {quantity} wanted",
            {"reward": code, "held": held, "limit": limit, "wanted": quantity},
        )
    return None


# --- pay with points --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Quote:
    """Whole units of a discount: ``units × points_per_unit`` points for ``units × unit_minor``
    minor units off (reserve ``units`` of the reward)."""

    units: int
    points: int
    discount_minor: int


def _quote(rate: Rate, units: int) -> Quote:
    return Quote(units, units * rate.points_per_unit, units * rate.unit_minor)


def points_for_discount(rate: Rate, wanted_minor: int) -> Quote:
    """The points for a wanted discount, rounded DOWN to whole units: the discount never
    exceeds what was asked (the amount due at checkout caps it); 0 units below one unit."""
    return _quote(rate, whole(wanted_minor, "discount_minor", 0, MAX_AMOUNT) // rate.unit_minor)


def discount_for_points(rate: Rate, points: int) -> Quote:
    """The discount given points buy, rounded DOWN to whole units: the points of a part unit
    are not spent (the quote's ``points`` may be fewer than given)."""
    given = whole(points, "points", 0, MAX_POINTS * MAX_QUANTITY)
    return _quote(rate, given // rate.points_per_unit)
