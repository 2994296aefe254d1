"""The programme as configuration: the shipped sample loads as written, survives the JSON round
trip the database relies on, and every kind of bad file is refused with the file, the field path
and what was expected."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from patron.errors import ConfigError, ErrorCode, InputError
from patron.loyalty.model import RefundPolicy
from patron.loyalty.programme import (
    BirthdayWindow,
    Cadence,
    DowngradeTo,
    ExpiryPolicy,
    Programme,
    TierWindow,
    category_levels,
    load_programme,
    parse_programme,
    sample_programme,
    to_dict,
    to_json,
)

MINIMAL = """
name = "tiny"
title = { en = "Tiny", zh = "小店" }
version = 3
timezone = "Europe/Berlin"
currency = "EUR"
pending_days = 0
refund_policy = "write_off"
expiry = { policy = "never" }

[tiers]
window = "calendar_year"
evaluation = { cadence = "yearly", month = 1, day = 1 }

[[tiers.levels]]
code = "member"
label = { en = "Member", zh = "会员" }
threshold = 0
"""


@pytest.fixture(scope="module")
def sample() -> Programme:
    return sample_programme()


def test_the_sample_programme_loads_as_written(sample: Programme) -> None:
    assert (sample.name, sample.title.zh, sample.version) == ("sample", "示例店铺会员计划", 1)
    assert (sample.timezone, sample.currency, sample.pending_days) == ("Asia/Shanghai", "CNY", 15)
    assert sample.refund_policy is RefundPolicy.DEDUCT_FUTURE
    assert sample.expiry.policy is ExpiryPolicy.END_OF_YEAR_AFTER
    earn = sample.earn
    assert (earn.points, earn.per, earn.first_order_bonus, earn.yearly_cap) == (1, 1, 100, 200000)
    assert [(c.prefix, c.multiplier) for c in earn.categories] == [
        ("母婴 > 奶粉", Decimal("0.5")),
        ("美妆", Decimal("2")),
        ("美妆 > 面部护理 > 精华", Decimal("3")),
    ]
    assert [(s.sku, s.multiplier) for s in earn.skus] == [("NEW-SERUM-30ML", Decimal(5))]
    assert earn.signin is not None
    assert [(b.day, b.points) for b in earn.signin.streak_bonus] == [(7, 20), (30, 100)]
    assert (earn.signin.points, earn.signin.cycle_days) == (5, 30)
    assert earn.review is not None
    assert (earn.review.min_length, earn.review.photo_bonus, earn.review.caps.day_count) == (
        15,
        10,
        5,
    )
    assert earn.referral is not None and (earn.referral.referrer, earn.referral.referred) == (
        200,
        100,
    )
    assert earn.birthday is not None and earn.birthday.window is BirthdayWindow.MONTH
    assert [t.code for t in earn.tasks] == [
        "complete_profile",
        "follow_shop",
        "watch_live",
        "double_11_checkin",
    ]
    assert earn.task("complete_profile").once
    tiers = sample.tiers
    assert tiers.window is TierWindow.ROLLING_12_MONTHS
    assert (tiers.growth.per_currency_unit, tiers.growth.per_order) == (Decimal(1), Decimal(10))
    assert tiers.evaluation.cadence is Cadence.MONTHLY
    assert (tiers.evaluation.day, tiers.evaluation.grace_days) == (1, 30)
    assert tiers.evaluation.warning_days == 7
    assert tiers.evaluation.downgrade_to is DowngradeTo.QUALIFYING
    assert [(t.code, t.label.en, t.label.zh, t.threshold) for t in tiers.levels] == [
        ("member", "Member", "普通会员", 0),
        ("silver", "Silver", "银卡会员", 1000),
        ("gold", "Gold", "金卡会员", 5000),
        ("diamond", "Diamond", "钻石会员", 20000),
    ]
    assert [t.benefits.discount for t in tiers.levels] == [
        Decimal(0),
        Decimal("0.02"),
        Decimal("0.05"),
        Decimal("0.1"),
    ]
    assert [t.benefits.points_multiplier for t in tiers.levels] == [
        Decimal(1),
        Decimal("1.2"),
        Decimal("1.5"),
        Decimal(2),
    ]
    diamond = sample.level("diamond").benefits
    assert diamond.birthday_gift is not None and diamond.birthday_gift.points == 1000
    assert diamond.birthday_gift.gift is not None
    assert diamond.birthday_gift.gift.text("zh") == "生日礼盒"
    assert (diamond.free_shipping, diamond.priority_service, diamond.early_access) == (
        True,
        True,
        True,
    )
    assert sample.level("member").benefits.birthday_gift is None
    assert sample.rank("gold") == 2


def test_the_sample_ships_inside_the_package_and_loads_from_its_path() -> None:
    shipped = resources.files("patron.loyalty").joinpath("programmes", "sample.toml")
    assert shipped.is_file()
    with resources.as_file(shipped) as path:
        assert load_programme(path) == sample_programme()


def test_a_minimal_programme_takes_the_documented_defaults(tmp_path: Path) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(MINIMAL, "utf-8")
    tiny = load_programme(path)
    assert (tiny.version, tiny.pending_days, tiny.refund_policy) == (3, 0, RefundPolicy.WRITE_OFF)
    assert (tiny.earn.points, tiny.earn.per, tiny.earn.first_order_bonus) == (1, 1, 0)
    assert tiny.earn.yearly_cap is None and tiny.earn.signin is None and tiny.earn.tasks == ()
    assert (tiny.tiers.growth.per_currency_unit, tiny.tiers.growth.per_order) == (1, 0)
    assert tiny.tiers.evaluation.month == 1 and tiny.tiers.evaluation.grace_days == 0
    member = tiny.level("member").benefits
    assert (member.discount, member.points_multiplier, member.exclusive_coupons) == (0, 1, ())


def test_the_json_round_trip_gives_back_an_equal_programme(sample: Programme) -> None:
    data = to_dict(sample)
    assert data["earn"]["categories"][0] == {"prefix": "母婴 > 奶粉", "multiplier": "0.5"}
    assert data["earn"]["tasks"][3]["active_from"] == "2026-11-01"
    assert parse_programme(data, "db") == sample
    text = to_json(sample)
    assert "钻石会员" in text  # kept readable, not \u-escaped
    assert parse_programme(json.loads(text), "db") == sample


def test_a_json_file_loads_like_the_toml(sample: Programme, tmp_path: Path) -> None:
    path = tmp_path / "programme.json"
    path.write_text(to_json(sample), "utf-8")
    assert load_programme(path) == sample


def test_toml_decimals_are_read_as_written_not_as_binary_floats(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        MINIMAL + "\n[tiers.levels.benefits]\ndiscount = 0.1\npoints_multiplier = 1.1\n",
        "utf-8",
    )
    benefits = load_programme(path).level("member").benefits
    assert benefits.discount == Decimal("0.1")
    assert benefits.points_multiplier == Decimal("1.1")


def test_category_paths_are_split_at_level_boundaries() -> None:
    assert category_levels("母婴 > 奶粉 > 1段") == ("母婴", "奶粉", "1段")
    assert category_levels("母婴>奶粉") == ("母婴", "奶粉")
    assert category_levels("") == ()
    data = to_dict(sample_programme())
    data["earn"]["categories"][0]["prefix"] = "母婴>奶粉"
    assert parse_programme(data, "x").earn.categories[0].prefix == "母婴 > 奶粉"


def test_an_unknown_tier_or_task_is_an_input_error(sample: Programme) -> None:
    with pytest.raises(InputError, match=r"unknown tier 'platinum'.*member, silver, gold"):
        sample.level("platinum")
    with pytest.raises(InputError, match=r"unknown task 'dance'"):
        sample.earn.task("dance")


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = _parts(path)
        node: Any = data
        for part in parents:
            node = node[part]
        node[last] = value

    return mutate


def _drop(path: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = _parts(path)
        node: Any = data
        for part in parents:
            node = node[part]
        del node[last]

    return mutate


def _parts(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in path.replace("[", ".").replace("]", "").split("."):
        parts.append(int(piece) if piece.isdigit() else piece)
    return parts


BAD: list[tuple[str, Mutation, str, str]] = [
    # (case, mutation, field path named, what the message says)
    (
        "unknown top-level key",
        _set("colour", "red"),
        "colour",
        "unknown key; expected one of: name",
    ),
    (
        "unknown benefit",
        _set("tiers.levels[1].benefits.cashback", 1),
        "tiers.levels[1].benefits.cashback",
        "expected one of: discount, free_shipping, birthday_gift",
    ),
    ("missing tiers", _drop("tiers"), "tiers", "is required"),
    ("missing version", _drop("version"), "version", "is required"),
    ("version 0", _set("version", 0), "version", "greater than 0, got 0"),
    ("version as text", _set("version", "2"), "version", "valid integer, got '2'"),
    ("pending days as float", _set("pending_days", 15.0), "pending_days", "valid integer"),
    ("bad time zone", _set("timezone", "Asia/Beijing"), "timezone", "IANA time zone"),
    ("bad currency", _set("currency", "rmb"), "currency", "ISO 4217 currency code"),
    (
        "bad refund policy",
        _set("refund_policy", "forgive"),
        "refund_policy",
        "'negative_balance', 'deduct_future' or 'write_off'",
    ),
    ("bad expiry policy", _set("expiry", {"policy": "sometimes"}), "expiry.policy", "'never'"),
    (
        "expiry days missing",
        _set("expiry", {"policy": "days_after_earning"}),
        "expiry.days",
        "required when policy is days_after_earning",
    ),
    (
        "expiry days with another policy",
        _set("expiry", {"policy": "never", "days": 30}),
        "expiry.days",
        "only allowed with days_after_earning",
    ),
    (
        "points expiring inside the return window",
        _set("expiry", {"policy": "days_after_earning", "days": 15}),
        "expiry.days",
        "greater than pending_days (15)",
    ),
    (
        "zero multiplier",
        _set("earn.categories[1].multiplier", 0),
        "earn.categories[1].multiplier",
        "greater than 0",
    ),
    (
        "negative multiplier",
        _set("earn.skus[0].multiplier", "-2"),
        "earn.skus[0].multiplier",
        "greater than 0",
    ),
    (
        "infinite multiplier",
        _set("earn.brands[0].multiplier", "Infinity"),
        "earn.brands[0].multiplier",
        "finite",
    ),
    (
        "empty category level",
        _set("earn.categories[0].prefix", "母婴 > > 奶粉"),
        "earn.categories[0].prefix",
        "levels separated by ' > '",
    ),
    (
        "repeated category",
        _set("earn.categories[2].prefix", "母婴>奶粉"),
        "earn.categories[2].prefix",
        "'母婴 > 奶粉' is already used by categories[0]",
    ),
    (
        "repeated brand ignoring case",
        _set(
            "earn.brands", [{"brand": "Acme", "multiplier": 2}, {"brand": "ACME", "multiplier": 3}]
        ),
        "earn.brands[1].brand",
        "already used by brands[0]",
    ),
    ("points per 0 units", _set("earn.per", 0), "earn.per", "greater than 0"),
    (
        "zero cap",
        _set("earn.review.caps.day_count", 0),
        "earn.review.caps.day_count",
        "greater than 0",
    ),
    ("zero yearly cap", _set("earn.yearly_cap", 0), "earn.yearly_cap", "greater than 0"),
    (
        "unknown cap",
        _set("earn.share.caps.week_count", 3),
        "earn.share.caps.week_count",
        "expected one of: day_count",
    ),
    (
        "streak bonus days out of order",
        _set("earn.signin.streak_bonus", [{"day": 30, "points": 100}, {"day": 7, "points": 20}]),
        "earn.signin.streak_bonus[1].day",
        "greater than streak_bonus[0].day (30), got 7",
    ),
    (
        "streak bonus on day 1",
        _set("earn.signin.streak_bonus[0].day", 1),
        "earn.signin.streak_bonus[0].day",
        "greater than or equal to 2",
    ),
    (
        "cycle shorter than a bonus",
        _set("earn.signin.cycle_days", 20),
        "earn.signin.cycle_days",
        "at least the last bonus day (30)",
    ),
    (
        "no referral points",
        _set("earn.referral", {"referrer": 0, "referred": 0}),
        "earn.referral.referrer",
        "above 0",
    ),
    (
        "task code with a colon",
        _set("earn.tasks[0].code", "a:b"),
        "earn.tasks[0].code",
        "should match pattern",
    ),
    (
        "repeated task",
        _set("earn.tasks[1].code", "complete_profile"),
        "earn.tasks[1].code",
        "already used by tasks[0]",
    ),
    (
        "task label without zh",
        _drop("earn.tasks[2].label.zh"),
        "earn.tasks[2].label.zh",
        "is required",
    ),
    (
        "task ending before it starts",
        _set("earn.tasks[3].active_until", "2026-10-01"),
        "earn.tasks[3].active_until",
        "not be before active_from (2026-11-01)",
    ),
    ("task once as text", _set("earn.tasks[0].once", "yes"), "earn.tasks[0].once", "valid boolean"),
    (
        "birthday window",
        _set("earn.birthday.window", "week"),
        "earn.birthday.window",
        "'day' or 'month'",
    ),
    ("no tiers", _set("tiers.levels", []), "tiers.levels", "at least 1 item"),
    (
        "lowest tier above 0",
        _set("tiers.levels[0].threshold", 100),
        "tiers.levels[0].threshold",
        "must start at 0, got 100",
    ),
    (
        "thresholds not increasing",
        _set("tiers.levels[2].threshold", 1000),
        "tiers.levels[2].threshold",
        "greater than levels[1].threshold (1000), got 1000",
    ),
    (
        "negative threshold",
        _set("tiers.levels[1].threshold", -1),
        "tiers.levels[1].threshold",
        "greater than or equal to 0",
    ),
    (
        "repeated tier code",
        _set("tiers.levels[3].code", "gold"),
        "tiers.levels[3].code",
        "'gold' is already used by levels[2]",
    ),
    (
        "blank tier label",
        _set("tiers.levels[1].label.zh", "  "),
        "tiers.levels[1].label.zh",
        "at least 1 character",
    ),
    (
        "tier label without en",
        _drop("tiers.levels[2].label.en"),
        "tiers.levels[2].label.en",
        "is required",
    ),
    (
        "discount of 1",
        _set("tiers.levels[1].benefits.discount", 1),
        "tiers.levels[1].benefits.discount",
        "less than 1",
    ),
    (
        "tier multiplier below 1",
        _set("tiers.levels[1].benefits.points_multiplier", "0.9"),
        "tiers.levels[1].benefits.points_multiplier",
        "greater than or equal to 1",
    ),
    (
        "empty birthday gift",
        _set("tiers.levels[1].benefits.birthday_gift", {}),
        "tiers.levels[1].benefits.birthday_gift.points",
        "give points, a gift description, or both",
    ),
    (
        "repeated coupon",
        _set("tiers.levels[2].benefits.exclusive_coupons", ["A", "A"]),
        "tiers.levels[2].benefits.exclusive_coupons[1]",
        "'A' is already used",
    ),
    (
        "free shipping as 1",
        _set("tiers.levels[2].benefits.free_shipping", 1),
        "tiers.levels[2].benefits.free_shipping",
        "valid boolean",
    ),
    (
        "bad tier window",
        _set("tiers.window", "rolling_6_months"),
        "tiers.window",
        "'rolling_12_months' or 'calendar_year'",
    ),
    (
        "growth from nothing",
        _set("tiers.growth", {"per_currency_unit": 0, "per_order": 0}),
        "tiers.growth.per_currency_unit",
        "per_currency_unit or per_order must be above 0",
    ),
    (
        "evaluation day 31",
        _set("tiers.evaluation.day", 31),
        "tiers.evaluation.day",
        "less than or equal to 28",
    ),
    (
        "yearly without a month",
        _set("tiers.evaluation.cadence", "yearly"),
        "tiers.evaluation.month",
        "required when cadence is yearly",
    ),
    (
        "monthly with a month",
        _set("tiers.evaluation.month", 3),
        "tiers.evaluation.month",
        "only allowed when cadence is yearly",
    ),
    (
        "negative grace",
        _set("tiers.evaluation.grace_days", -1),
        "tiers.evaluation.grace_days",
        "greater than or equal to 0",
    ),
]


@pytest.mark.parametrize(("mutate", "field", "what"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_programme_names_the_file_the_field_and_what_was_expected(
    mutate: Mutation, field: str, what: str
) -> None:
    data = copy.deepcopy(to_dict(sample_programme()))
    mutate(data)
    with pytest.raises(ConfigError) as caught:
        parse_programme(data, "shops/acme/loyalty.toml")
    error = caught.value
    assert error.code is ErrorCode.CONFIG_INVALID
    assert error.message.startswith(f"shops/acme/loyalty.toml: {field}: ")
    assert what in error.message
    assert error.details["file"] == "shops/acme/loyalty.toml"
    assert error.details["field"] == field


def test_every_problem_is_listed_not_only_the_first() -> None:
    data = copy.deepcopy(to_dict(sample_programme()))
    data["version"] = 0
    data["currency"] = "yuan"
    with pytest.raises(ConfigError) as caught:
        parse_programme(data, "p.toml")
    assert [e["field"] for e in caught.value.details["errors"]] == ["version", "currency"]
    assert caught.value.message.count("; ") == 1


def test_a_file_that_is_not_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\nversion = = 1\n', "utf-8")
    with pytest.raises(ConfigError, match=r"broken\.toml is not valid TOML: .*line 2"):
        load_programme(path)


def test_a_bad_value_in_a_file_names_the_file_path(tmp_path: Path) -> None:
    path = tmp_path / "shop.toml"
    path.write_text(MINIMAL.replace('currency = "EUR"', 'currency = "EURO"'), "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_programme(path)
    assert caught.value.message == (
        f"{path}: currency: expected an ISO 4217 currency code such as CNY, got 'EURO'"
    )


def test_a_missing_file_or_an_unknown_format_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read .*absent\.toml"):
        load_programme(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match=r"expected a \.toml or \.json programme file"):
        load_programme(tmp_path / "programme.yaml")
    path = tmp_path / "list.json"
    path.write_text("[1, 2]", "utf-8")
    with pytest.raises(ConfigError, match=r"list\.json: expected a table at the top level"):
        load_programme(path)


def test_the_programme_is_immutable(sample: Programme) -> None:
    with pytest.raises(ValueError, match="frozen"):
        sample.pending_days = 3  # type: ignore[misc]
