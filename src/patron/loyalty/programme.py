"""A shop's loyalty programme as configuration data: earn rules, pending period, expiry, refund
policy and tiers, validated once when read.

The shipped example lives beside this module (``programmes/sample.toml``); a shop gives its own
TOML or JSON file of the same shape, or the service stores the JSON of :func:`to_dict` in the
database (every change is a new ``version``). Every number the rules use is here, with its
documented default, never a constant in code (DESIGN.md, rule 10).

Validation is strict: unknown keys are refused, integers must be integers (``5``, not ``"5"``
nor ``5.0``), multipliers and rates are :class:`~decimal.Decimal` (``1.5`` in TOML is read as
the decimal 1.5, never as a binary float). A bad file raises :class:`ConfigError` whose message
names the file, the field path (``tiers.levels[2].threshold``; list indexes count from 0) and
what was expected.
"""

from __future__ import annotations

import json
import tomllib
import types
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from patron.errors import ConfigError, InputError
from patron.loyalty.model import RefundPolicy
from patron.money import is_currency_code

Lang = Literal["en", "zh"]

NonNegativeInt = Annotated[int, Strict(), Field(ge=0)]
PositiveInt = Annotated[int, Strict(), Field(gt=0)]
Text = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1)]
Code = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9_]*$", max_length=32)]
"""A code that goes into idempotency keys and database columns: lower-case ASCII, digits, _."""
Multiplier = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
Weight = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]

CATEGORY_SEPARATOR = ">"


def category_levels(path: str) -> tuple[str, ...]:
    """The levels of a category path: ``"母婴 > 奶粉 > 1段"`` → ``("母婴", "奶粉", "1段")``;
    spaces around ``>`` do not matter, empty levels are dropped."""
    return tuple(level.strip() for level in path.split(CATEGORY_SEPARATOR) if level.strip())


class ConfigPathError(ValueError):
    """A cross-field rule broken at ``path`` below the model that checks it."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


def _unique(name: str, field: str | None, values: list[Any]) -> None:
    seen: dict[Any, int] = {}
    for n, value in enumerate(values):
        if value in seen:
            where = f"{name}[{n}]" + (f".{field}" if field else "")
            raise ConfigPathError(where, f"{value!r} is already used by {name}[{seen[value]}]")
        seen[value] = n


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Label(_Model):
    """A text shown to members, in both languages."""

    en: Text
    zh: Text

    def text(self, lang: Lang) -> str:
        return self.zh if lang == "zh" else self.en


# --- earn rules -------------------------------------------------------------------------------


class Caps(_Model):
    """Optional limits on an action's grants in one local day / calendar month of the
    programme's time zone: in grants (``*_count``) or in points (``*_points``)."""

    day_count: PositiveInt | None = None
    day_points: PositiveInt | None = None
    month_count: PositiveInt | None = None
    month_points: PositiveInt | None = None


class CategoryMultiplier(_Model):
    """Lines whose category path starts with ``prefix`` (whole levels) earn × ``multiplier``."""

    prefix: Text
    multiplier: Multiplier

    @field_validator("prefix")
    @classmethod
    def _normal(cls, value: str) -> str:
        levels = category_levels(value)
        if not levels or len(levels) != len(value.split(CATEGORY_SEPARATOR)):
            raise ValueError(
                f"expected levels separated by ' > ', e.g. '母婴 > 奶粉', not {value!r}"
            )
        return f" {CATEGORY_SEPARATOR} ".join(levels)


class BrandMultiplier(_Model):
    """Lines of ``brand`` (compared without regard to case) earn × ``multiplier``."""

    brand: Text
    multiplier: Multiplier


class SkuMultiplier(_Model):
    """Lines of ``sku`` (exact) earn × ``multiplier``."""

    sku: Text
    multiplier: Multiplier


class StreakBonus(_Model):
    day: Annotated[int, Strict(), Field(ge=2)]
    """The consecutive sign-in day that earns the bonus (7: the seventh day in a row)."""
    points: PositiveInt


class SignInRule(_Model):
    """Daily sign-in (签到): ``points`` each local day, plus a bonus on given streak days."""

    points: PositiveInt
    streak_bonus: tuple[StreakBonus, ...] = ()
    cycle_days: PositiveInt | None = None
    """When set, the streak's bonus days repeat every ``cycle_days`` days (day 31 of a streak
    counts as day 1 of a 30-day cycle); otherwise each bonus is paid once per streak."""

    @model_validator(mode="after")
    def _check(self) -> SignInRule:
        days = [b.day for b in self.streak_bonus]
        for n in range(1, len(days)):
            if days[n] <= days[n - 1]:
                raise ConfigPathError(
                    f"streak_bonus[{n}].day",
                    f"must be greater than streak_bonus[{n - 1}].day ({days[n - 1]}), "
                    f"got {days[n]}",
                )
        if self.cycle_days is not None and days and self.cycle_days < days[-1]:
            raise ConfigPathError(
                "cycle_days",
                f"must be at least the last bonus day ({days[-1]}), got {self.cycle_days}",
            )
        return self


class ReviewRule(_Model):
    """A product review (评价) of at least ``min_length`` characters (spaces not counted) earns
    ``points``; with a photo ``photo_bonus`` more."""

    points: PositiveInt
    min_length: NonNegativeInt = 0
    photo_bonus: NonNegativeInt = 0
    caps: Caps = Caps()


class ShareRule(_Model):
    points: PositiveInt
    caps: Caps = Caps()


class ReferralRule(_Model):
    """Points for the referrer and for the referred customer, granted once per referred
    customer, when the referred customer's first order has passed its return window."""

    referrer: NonNegativeInt
    referred: NonNegativeInt

    @model_validator(mode="after")
    def _check(self) -> ReferralRule:
        if self.referrer == 0 and self.referred == 0:
            raise ConfigPathError("referrer", "referrer or referred must be above 0")
        return self


class BirthdayWindow(StrEnum):
    DAY = "day"
    """On the birthday itself (29 February counts as 28 February in other years)."""
    MONTH = "month"
    """Any day of the birthday month."""


class BirthdayRule(_Model):
    """Birthday points for every member, once a year; tiers may add their own gift."""

    points: PositiveInt
    window: BirthdayWindow = BirthdayWindow.DAY


class TaskRule(_Model):
    """A named task or campaign bonus (完善资料, 关注店铺, 双11 打卡…)."""

    code: Code
    label: Label
    points: PositiveInt
    once: bool = Field(default=False, strict=True)
    """Granted once per member ever (the idempotency key is the code alone)."""
    active_from: date | None = None
    """First local date the task earns (inclusive); open when absent."""
    active_until: date | None = None
    """Last local date the task earns (inclusive); open when absent."""
    caps: Caps = Caps()

    @model_validator(mode="after")
    def _check(self) -> TaskRule:
        if self.active_from and self.active_until and self.active_until < self.active_from:
            raise ConfigPathError(
                "active_until", f"must not be before active_from ({self.active_from})"
            )
        return self


class EarnRules(_Model):
    """How points are earned. Orders earn ``points`` per ``per`` major currency units of the
    net paid amount (after discounts, coupons and points used), times the best multiplier of
    the line (SKU over brand over the deepest category prefix), times the tier's multiplier."""

    points: PositiveInt = 1
    per: PositiveInt = 1
    first_order_bonus: NonNegativeInt = 0
    yearly_cap: PositiveInt | None = None
    """At most this many points earned per calendar year (local), bonuses included."""
    categories: tuple[CategoryMultiplier, ...] = ()
    brands: tuple[BrandMultiplier, ...] = ()
    skus: tuple[SkuMultiplier, ...] = ()
    signin: SignInRule | None = None
    review: ReviewRule | None = None
    share: ShareRule | None = None
    referral: ReferralRule | None = None
    birthday: BirthdayRule | None = None
    tasks: tuple[TaskRule, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> EarnRules:
        _unique("categories", "prefix", [c.prefix for c in self.categories])
        _unique("brands", "brand", [b.brand.casefold() for b in self.brands])
        _unique("skus", "sku", [s.sku for s in self.skus])
        _unique("tasks", "code", [t.code for t in self.tasks])
        return self

    def task(self, code: str) -> TaskRule:
        for task in self.tasks:
            if task.code == code:
                return task
        known = ", ".join(t.code for t in self.tasks) or "none"
        raise InputError(f"unknown task {code!r}; the programme's tasks: {known}", field="task")


# --- expiry -----------------------------------------------------------------------------------


class ExpiryPolicy(StrEnum):
    NEVER = "never"
    DAYS_AFTER_EARNING = "days_after_earning"
    """At the end of the local day ``days`` days after the day of earning."""
    END_OF_YEAR_AFTER = "end_of_year_after"
    """At the end of the calendar year after the year of earning (2026 → 2027-12-31 24:00)."""


class Expiry(_Model):
    policy: ExpiryPolicy
    days: PositiveInt | None = None
    """Only with ``days_after_earning``; must exceed ``pending_days``."""

    @model_validator(mode="after")
    def _check(self) -> Expiry:
        if self.policy is ExpiryPolicy.DAYS_AFTER_EARNING and self.days is None:
            raise ConfigPathError("days", "is required when policy is days_after_earning")
        if self.policy is not ExpiryPolicy.DAYS_AFTER_EARNING and self.days is not None:
            raise ConfigPathError(
                "days", f"is only allowed with days_after_earning, not {self.policy}"
            )
        return self


# --- tiers ------------------------------------------------------------------------------------


class TierWindow(StrEnum):
    ROLLING_12_MONTHS = "rolling_12_months"
    """The twelve months of whole local days ending with the day of evaluation."""
    CALENDAR_YEAR = "calendar_year"
    """From 1 January (local) of the current year."""


class Growth(_Model):
    """Growth value (成长值) = net spend in major units × ``per_currency_unit`` + orders ×
    ``per_order``, floored to a whole number, never below 0."""

    per_currency_unit: Weight = Decimal(1)
    per_order: Weight = Decimal(0)

    @model_validator(mode="after")
    def _check(self) -> Growth:
        if self.per_currency_unit == 0 and self.per_order == 0:
            raise ConfigPathError(
                "per_currency_unit", "per_currency_unit or per_order must be above 0"
            )
        return self


class Cadence(StrEnum):
    MONTHLY = "monthly"
    YEARLY = "yearly"


class DowngradeTo(StrEnum):
    QUALIFYING = "qualifying"
    """Straight to the tier the growth value qualifies for."""
    ONE_LEVEL = "one_level"
    """One level down; a member still below is scheduled again at a later evaluation."""


class EvaluationRules(_Model):
    """When tiers are re-evaluated for downgrades (upgrades are immediate): monthly on ``day``
    or yearly on ``month``/``day``. A member found below their tier's threshold keeps it for
    ``grace_days`` and is downgraded at the first evaluation on or after the grace ends, unless
    they recovered; warned ``warning_days`` ahead (0: no warning)."""

    cadence: Cadence
    day: Annotated[int, Strict(), Field(ge=1, le=28)] = 1
    month: Annotated[int, Strict(), Field(ge=1, le=12)] | None = None
    grace_days: NonNegativeInt = 0
    warning_days: NonNegativeInt = 0
    downgrade_to: DowngradeTo = DowngradeTo.QUALIFYING

    @model_validator(mode="after")
    def _check(self) -> EvaluationRules:
        if self.cadence is Cadence.YEARLY and self.month is None:
            raise ConfigPathError("month", "is required when cadence is yearly")
        if self.cadence is Cadence.MONTHLY and self.month is not None:
            raise ConfigPathError("month", "is only allowed when cadence is yearly")
        return self


class BirthdayGift(_Model):
    """A tier's birthday gift: points, a described gift, or both."""

    points: PositiveInt | None = None
    gift: Label | None = None

    @model_validator(mode="after")
    def _check(self) -> BirthdayGift:
        if self.points is None and self.gift is None:
            raise ConfigPathError("points", "give points, a gift description, or both")
        return self


class TierBenefits(_Model):
    """What a tier gives, as data for the checkout, the points engine and the member page."""

    discount: Annotated[Decimal, Field(ge=0, lt=1, allow_inf_nan=False)] = Decimal(0)
    """Share of the price taken off: 0.05 is 5 % off (95 折)."""
    free_shipping: bool = Field(default=False, strict=True)
    birthday_gift: BirthdayGift | None = None
    points_multiplier: Annotated[Decimal, Field(ge=1, allow_inf_nan=False)] = Decimal(1)
    """Applied to order points on top of the line's multiplier."""
    priority_service: bool = Field(default=False, strict=True)
    early_access: bool = Field(default=False, strict=True)
    exclusive_coupons: tuple[Text, ...] = ()
    """Coupon template codes only this tier (and above, if listed there) may claim."""

    @model_validator(mode="after")
    def _check(self) -> TierBenefits:
        _unique("exclusive_coupons", None, list(self.exclusive_coupons))
        return self


class TierLevel(_Model):
    code: Code
    label: Label
    threshold: NonNegativeInt
    """Growth value from which the tier is reached."""
    benefits: TierBenefits = TierBenefits()


class Tiers(_Model):
    window: TierWindow
    growth: Growth = Growth()
    evaluation: EvaluationRules
    levels: tuple[TierLevel, ...] = Field(min_length=1)
    """Lowest first; the first threshold is 0 and each is above the one before."""

    @model_validator(mode="after")
    def _check(self) -> Tiers:
        _unique("levels", "code", [level.code for level in self.levels])
        if self.levels[0].threshold != 0:
            raise ConfigPathError(
                "levels[0].threshold",
                f"the lowest tier must start at 0, got {self.levels[0].threshold}",
            )
        for n in range(1, len(self.levels)):
            before, this = self.levels[n - 1].threshold, self.levels[n].threshold
            if this <= before:
                raise ConfigPathError(
                    f"levels[{n}].threshold",
                    f"must be greater than levels[{n - 1}].threshold ({before}), got {this}",
                )
        return self


# --- the programme ----------------------------------------------------------------------------


class Programme(_Model):
    """A shop's loyalty programme. ``version`` numbers the revisions of one shop's programme
    (1, 2, …; each edit is a new version, the highest in force)."""

    name: Text
    title: Label
    version: PositiveInt
    timezone: str = Field(strict=True)
    """IANA time zone of the shop's days: expiry, pending period, sign-in, caps, tier windows."""
    currency: str = Field(strict=True)
    pending_days: NonNegativeInt
    """Return window: an order's points become spendable at the end of the local day
    ``pending_days`` after payment (0: at once)."""
    refund_policy: RefundPolicy
    expiry: Expiry
    earn: EarnRules = EarnRules()
    tiers: Tiers

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"expected an IANA time zone such as Asia/Shanghai, got {value!r}"
            ) from None
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not is_currency_code(value):
            raise ValueError(f"expected an ISO 4217 currency code such as CNY, got {value!r}")
        return value

    @model_validator(mode="after")
    def _check(self) -> Programme:
        days = self.expiry.days
        if days is not None and days <= self.pending_days:
            raise ConfigPathError(
                "expiry.days",
                f"must be greater than pending_days ({self.pending_days}), or order points "
                f"would expire before they can be spent; got {days}",
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def level(self, code: str) -> TierLevel:
        """The tier level of ``code``."""
        for level in self.tiers.levels:
            if level.code == code:
                return level
        known = ", ".join(level.code for level in self.tiers.levels)
        raise InputError(f"unknown tier {code!r}; the programme's tiers: {known}", field="tier")

    def rank(self, code: str) -> int:
        """Position of the tier, 0 for the lowest."""
        level = self.level(code)
        return next(n for n, each in enumerate(self.tiers.levels) if each is level)


# --- reading and writing ----------------------------------------------------------------------

SAMPLE = "sample.toml"


def load_programme(path: Path | str) -> Programme:
    """Read and validate a programme file (``.toml`` or ``.json``)."""
    path = Path(path)
    if path.suffix not in (".toml", ".json"):
        raise ConfigError(
            f"{path}: expected a .toml or .json programme file", file=str(path), field="path"
        )
    try:
        text = path.read_text("utf-8")
    except OSError as error:
        raise ConfigError(
            f"cannot read {path}: {error.strerror}", file=str(path), field="path"
        ) from error
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path} is not UTF-8 text: {error}", file=str(path), field="path"
        ) from error
    return parse_text(text, str(path), "json" if path.suffix == ".json" else "toml")


def sample_programme() -> Programme:
    """The shipped sample programme (a CNY shop in Asia/Shanghai with four tiers)."""
    text = resources.files("patron.loyalty").joinpath("programmes", SAMPLE).read_text("utf-8")
    return parse_text(text, SAMPLE, "toml")


def parse_text(text: str, source: str, syntax: Literal["toml", "json"]) -> Programme:
    try:
        data = tomllib.loads(text) if syntax == "toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(
            f"{source} is not valid {syntax.upper()}: {error}", file=source, field="path"
        ) from error
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a table at the top level", file=source, field="")
    return parse_programme(data, source)


def parse_programme(data: Mapping[str, Any], source: str) -> Programme:
    """Validate a programme given as data (decoded TOML or JSON, or :func:`to_dict` output);
    ``source`` names it in errors (a file path, ``"programme v3"``…)."""
    try:
        return Programme.model_validate(dict(data))
    except ValidationError as error:
        raise _config_error(error, source) from None


def to_dict(programme: Programme) -> dict[str, Any]:
    """JSON-ready data (decimals as strings, dates ISO) that :func:`parse_programme` reads back
    to an equal programme."""
    return programme.model_dump(mode="json")


def to_json(programme: Programme) -> str:
    return json.dumps(to_dict(programme), ensure_ascii=False)


def _config_error(error: ValidationError, source: str) -> ConfigError:
    problems: list[dict[str, str]] = []
    for item in error.errors(include_url=False):
        loc = item["loc"]
        path = _path(loc)
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, ConfigPathError):
            path = f"{path}.{cause.path}" if path else cause.path
            what = str(cause)
        elif item["type"] == "extra_forbidden":
            what = f"unknown key; expected one of: {', '.join(_keys_at(loc[:-1]))}"
        elif item["type"] == "missing":
            what = "is required"
        elif isinstance(cause, ValueError):
            what = str(cause)
        else:
            what = f"{item['msg'][0].lower()}{item['msg'][1:]}, got {item['input']!r}"
        problems.append({"field": path or "(top level)", "message": what})
    text = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return ConfigError(
        f"{source}: {text}", file=source, field=problems[0]["field"], errors=problems
    )


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _keys_at(loc: tuple[int | str, ...]) -> list[str]:
    """The keys the model at ``loc`` (below :class:`Programme`) accepts."""
    kind: Any = Programme
    for part in loc:
        kind = _unwrap(kind)
        if isinstance(part, int):
            kind = get_args(kind)[0] if get_args(kind) else Any
        elif isinstance(kind, type) and issubclass(kind, BaseModel) and part in kind.model_fields:
            kind = kind.model_fields[part].annotation
        else:
            return []
    kind = _unwrap(kind)
    return list(kind.model_fields) if isinstance(kind, type) and issubclass(kind, BaseModel) else []


def _unwrap(kind: Any) -> Any:
    while True:
        origin = get_origin(kind)
        if origin is Annotated:
            kind = get_args(kind)[0]
        elif origin in (Union, types.UnionType):
            kind = next(arg for arg in get_args(kind) if arg is not type(None))
        else:
            return kind
