"""Profile tags: what a customer prefers and is (the Y axis) and how ready to buy they are now
(the Z axis). Lifecycle stages and RFM segments, the X axis, are elsewhere.

Every threshold, window, band, map and weight is configuration (``schemes/tags.toml``, or a
shop's file of the same shape) so that a shop tunes its tags without a code change. Loading
validates everything and names the file and the entry at fault.

The pipelines are portable Ibis (DuckDB here, PySpark on a cluster): no raw SQL, integer
arithmetic with explicit casts, percentages as whole numbers. Ibis has no portable time-zone
conversion, so local times add the zone's UTC offset in force at each moment, read from the
zone's rules in Python (see :func:`preference_tags`). Purchases are those of
:meth:`Facts.purchases` (paid, shipped, completed or refunded orders placed before ``as_of``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ibis
import pandas as pd
from ibis.expr.types import BooleanValue, IntegerValue, StringValue, Table

from patron.analytics.facts import (
    CATEGORY_SEPARATOR,
    SECONDS_PER_DAY,
    Facts,
    category_path,
    days_between,
    stamp,
    top_category,
)
from patron.analytics.schemes import Label, Lang, _key, _label, _read, _text
from patron.errors import InputError
from patron.ingest.model import EventType

EVENT_TYPES = tuple(t.value for t in EventType)
TAGS = (
    "category",
    "brand",
    "price_band",
    "discount_band",
    "hour_band",
    "day_band",
    "region",
    "city_tier",
    "age_band",
    "gender",
    "child_stage",
)
"""The tag columns of :func:`preference_tags`, in report order."""
SECONDS_PER_HOUR = 3600
DAYS_PER_WEEK = 7
_EPOCH_ISO_WEEKDAY = 4
"""1970-01-01 was a Thursday."""


@dataclass(frozen=True, slots=True)
class Band:
    """A value of a banded tag, holding the measures from ``start`` up to the next band's."""

    key: str
    label: Label
    start: int


@dataclass(frozen=True, slots=True)
class ShareRule:
    """Affinity to a category or brand: tagged when its share of net line spend is at least
    ``min_share_percent``."""

    label: Label
    min_share_percent: int


@dataclass(frozen=True, slots=True)
class BandRule:
    """A measure cut into ``bands`` (starts strictly ascending); measures at ``until`` and above
    are left untagged when it is set."""

    label: Label
    bands: tuple[Band, ...]
    until: int | None = None

    @property
    def values(self) -> dict[str, Label]:
        return {b.key: b.label for b in self.bands}


@dataclass(frozen=True, slots=True)
class DayRule:
    label: Label
    weekend_days: tuple[int, ...]
    """ISO weekdays, Monday = 1."""
    weekday: Label
    weekend: Label

    @property
    def values(self) -> dict[str, Label]:
        return {"weekday": self.weekday, "weekend": self.weekend}


@dataclass(frozen=True, slots=True)
class ValueRule:
    """A tag taken as stored; ``values`` labels the known ones (none: the value is its label)."""

    label: Label
    values: dict[str, Label]


@dataclass(frozen=True, slots=True)
class ChildPath:
    path: str
    months: int


@dataclass(frozen=True, slots=True)
class ChildRule:
    """Stages of a child inferred from baby products: ``paths`` says the child's age in months
    at a purchase under each category path."""

    stages: BandRule
    paths: tuple[ChildPath, ...]


@dataclass(frozen=True, slots=True)
class Signal:
    key: str
    label: Label
    event_types: tuple[str, ...]
    unbought: bool
    weight: int
    """Whole percent of a full score."""


@dataclass(frozen=True, slots=True)
class IntentRule:
    label: Label
    window_days: int
    signals: tuple[Signal, ...]


@dataclass(frozen=True, slots=True)
class TagRules:
    category: ShareRule
    brand: ShareRule
    price_band: BandRule
    discount_band: BandRule
    hour_band: BandRule
    day_band: DayRule
    region: ValueRule
    city_tier: ValueRule
    age_band: BandRule
    gender: ValueRule
    child_stage: ChildRule
    intent: IntentRule

    def labels(self) -> dict[str, tuple[Label, dict[str, Label]]]:
        """Per tag of :data:`TAGS`, its label and the labels of its fixed values (none for
        tags whose values are data: category, brand, region)."""
        return {
            "category": (self.category.label, {}),
            "brand": (self.brand.label, {}),
            "price_band": (self.price_band.label, self.price_band.values),
            "discount_band": (self.discount_band.label, self.discount_band.values),
            "hour_band": (self.hour_band.label, self.hour_band.values),
            "day_band": (self.day_band.label, self.day_band.values),
            "region": (self.region.label, self.region.values),
            "city_tier": (self.city_tier.label, self.city_tier.values),
            "age_band": (self.age_band.label, self.age_band.values),
            "gender": (self.gender.label, self.gender.values),
            "child_stage": (self.child_stage.stages.label, self.child_stage.stages.values),
        }


def load_tags(path: Path | None = None) -> TagRules:
    """The tag rules: the shipped ones, or the file at ``path``."""
    raw, where = _read(path, "tags.toml")
    return TagRules(
        category=_share_rule(raw, "category", where),
        brand=_share_rule(raw, "brand", where),
        price_band=_band_rule(raw, "price_band", where, (0, 99), first=0),
        discount_band=_band_rule(raw, "discount_band", where, (0, 100), first=0),
        hour_band=_band_rule(raw, "hour_band", where, (0, 23)),
        day_band=_day_rule(raw, where),
        region=_value_rule(raw, "region", where),
        city_tier=_value_rule(raw, "city_tier", where, digits=True),
        age_band=_band_rule(raw, "age_band", where, (0, 150), until=True),
        gender=_value_rule(raw, "gender", where),
        child_stage=ChildRule(
            _band_rule(raw, "child_stage", where, (0, 240), until=True),
            _child_paths(_section(raw, "child_stage", where), where),
        ),
        intent=_intent_rule(raw, where),
    )


def _section(raw: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = raw.get(name)
    if not isinstance(value, dict):
        raise InputError(f"{where}: expected a [{name}] table", field=name)
    return value


def _entries(section: dict[str, Any], tag: str, name: str, where: str) -> list[dict[str, Any]]:
    value = section.get(name)
    if not isinstance(value, list) or not value or not all(isinstance(x, dict) for x in value):
        raise InputError(
            f"{where}: expected one or more [[{tag}.{name}]] entries", field=f"{tag}.{name}"
        )
    return value


def _whole(entry: dict[str, Any], name: str, at: str, low: int, high: int) -> int:
    value = entry.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InputError(f"{at}: {name} must be a whole number from {low} to {high}", field=name)
    return value


def _share_rule(raw: dict[str, Any], tag: str, where: str) -> ShareRule:
    section, at = _section(raw, tag, where), f"{where}: [{tag}]"
    return ShareRule(_label(section, "label", at), _whole(section, "min_share_percent", at, 1, 100))


def _band_rule(
    raw: dict[str, Any],
    tag: str,
    where: str,
    limits: tuple[int, int],
    first: int | None = None,
    until: bool = False,
) -> BandRule:
    section, at = _section(raw, tag, where), f"{where}: [{tag}]"
    label = _label(section, "label", at)
    bands: list[Band] = []
    for n, entry in enumerate(_entries(section, tag, "bands", where)):
        entry_at = f"{where}: {tag}.bands[{n}]"
        low = limits[0] if not bands else bands[-1].start + 1
        band = Band(
            _key(entry, entry_at),
            _label(entry, "label", entry_at),
            _whole(entry, "from", entry_at, low, limits[1]),
        )
        if any(b.key == band.key for b in bands):
            raise InputError(f"{entry_at}: key {band.key!r} is used twice", field="key")
        if first is not None and not bands and band.start != first:
            raise InputError(f"{entry_at}: the first band must start from {first}", field="from")
        bands.append(band)
    end = _whole(section, "until", at, bands[-1].start + 1, limits[1]) if until else None
    return BandRule(label, tuple(bands), end)


def _day_rule(raw: dict[str, Any], where: str) -> DayRule:
    section, at = _section(raw, "day_band", where), f"{where}: [day_band]"
    days = section.get("weekend_days")
    if (
        not isinstance(days, list)
        or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7 for d in days)
        or not 0 < len(set(days)) == len(days) < DAYS_PER_WEEK
    ):
        raise InputError(
            f"{at}: weekend_days must be distinct ISO weekdays (1–7), some but not all",
            field="weekend_days",
        )
    return DayRule(
        _label(section, "label", at),
        tuple(sorted(days)),
        _label(section, "weekday", at),
        _label(section, "weekend", at),
    )


def _value_rule(raw: dict[str, Any], tag: str, where: str, digits: bool = False) -> ValueRule:
    section, at = _section(raw, tag, where), f"{where}: [{tag}]"
    entries = section.get("values", [])
    if not isinstance(entries, list) or not all(isinstance(x, dict) for x in entries):
        raise InputError(f"{at}: values must be [[{tag}.values]] entries", field=f"{tag}.values")
    values: dict[str, Label] = {}
    for n, entry in enumerate(entries):
        entry_at = f"{where}: {tag}.values[{n}]"
        key = _key(entry, entry_at)
        if digits and not key.isdigit():
            raise InputError(f"{entry_at}: key {key!r} must be a whole number", field="key")
        if key in values:
            raise InputError(f"{entry_at}: key {key!r} is used twice", field="key")
        values[key] = _label(entry, "label", entry_at)
    return ValueRule(_label(section, "label", at), values)


def _child_paths(section: dict[str, Any], where: str) -> tuple[ChildPath, ...]:
    paths: list[ChildPath] = []
    for n, entry in enumerate(_entries(section, "child_stage", "paths", where)):
        at = f"{where}: child_stage.paths[{n}]"
        path = CATEGORY_SEPARATOR.join(
            level.strip() for level in _text(entry, "path", at).split(">")
        )
        if any(p.path == path for p in paths):
            raise InputError(f"{at}: path {path!r} is given twice", field="path")
        paths.append(ChildPath(path, _whole(entry, "months", at, 0, 240)))
    return tuple(paths)


def _intent_rule(raw: dict[str, Any], where: str) -> IntentRule:
    section, at = _section(raw, "intent", where), f"{where}: [intent]"
    signals: list[Signal] = []
    for n, entry in enumerate(_entries(section, "intent", "signals", where)):
        entry_at = f"{where}: intent.signals[{n}]"
        key = _key(entry, entry_at)
        if any(s.key == key for s in signals):
            raise InputError(f"{entry_at}: key {key!r} is used twice", field="key")
        types = entry.get("event_types")
        if not isinstance(types, list) or not types or not all(t in EVENT_TYPES for t in types):
            raise InputError(
                f"{entry_at}: event_types must list one or more of {', '.join(EVENT_TYPES)}",
                field="event_types",
            )
        unbought = entry.get("unbought")
        if not isinstance(unbought, bool):
            raise InputError(f"{entry_at}: unbought must be true or false", field="unbought")
        weight = _whole(entry, "weight", entry_at, 1, 100)
        signals.append(
            Signal(key, _label(entry, "label", entry_at), tuple(types), unbought, weight)
        )
    return IntentRule(
        _label(section, "label", at), _whole(section, "window_days", at, 1, 366), tuple(signals)
    )


def preference_tags(facts: Facts, as_of: datetime, rules: TagRules, timezone: str) -> Table:
    """One row per customer: customer_id, then the tags of :data:`TAGS` (null when untagged)
    and category_share, brand_share (float, with their tag).

    - category, brand: the top-level category (first segment of category_path) or brand with
      the largest net line spend; ties go to the alphabetically first. Net line spend is the
      line total less refunds made before ``as_of`` that name the line (refunds of a whole order
      cannot be put on a category and are not netted). Tagged when its spend is > 0 and at least
      ``min_share_percent`` of the customer's net line spend over all lines.
    - price_band: the customer's mean unit price, Σ unit_price × quantity ÷ Σ quantity over
      purchased lines, against P(k), the nearest-rank k-th percentile of all buyers' mean unit
      prices (the value at 1-based position ⌈k·n/100⌉ in ascending order): the last band whose
      ``from`` is 0 or whose P(from) the mean exceeds.
    - discount_band: the percentage of purchases with discount_minor > 0 or a non-blank
      coupon_codes: the last band whose ``from`` it reaches.
    - hour_band: the band of local hours (in ``timezone``) holding most of the customer's
      purchases; ties go to the band first in the configuration.
    - day_band: "weekend" when purchases per weekend day exceed purchases per weekday
      (weekend·(7 − w) > weekday·w for w weekend days), else "weekday".
    - region, city_tier: as stored. gender: as stored when it has a configured label.
    - age_band: whole years from birth_date to the local date of ``as_of`` (a 29 February
      birthday counts from 1 March in other years); ages below the first band or at ``until``
      and above are untagged.
    - child_stage: the latest purchase of a product under a configured path (the path or below
      it; the longest matching path counts; at equal times the older child) gives the child's
      age in months at that purchase; it is advanced by ⌊days since × 12 ÷ 365⌋ months and
      banded like ages.

    The price percentiles are a statistic over all buyers, so on Spark they gather the buyers
    into one partition.

    ``timezone`` is an IANA name ("Asia/Shanghai"). Local times add to the UTC time the
    offset in force at that moment, from the zone's rules between 1970 and ``as_of`` (a moment
    before 1970 takes the offset of 1970), so summer time is followed on every backend.
    """
    zone = _zone(timezone)
    purchases = facts.purchases(as_of)
    # Four tags read the purchased lines: held once (numbers only; the few products' words
    # are joined where needed), they cost a fraction of reading them four times.
    lines = _lines(facts, as_of).cache()
    products = _products(facts)
    c = facts.customers
    people = c.select(
        customer_id=c.id,
        region=c.region,
        city_tier=c.city_tier.cast("int64"),
        age_band=_age_band(c.birth_date, as_of.astimezone(zone), rules.age_band),
        gender=ibis.ifelse(c.gender.isin(list(rules.gender.values)), c.gender, ibis.null("string")),
    )
    parts = [
        _affinity(lines, products, "category", rules.category),
        _affinity(lines, products, "brand", rules.brand),
        _price_band(lines, rules.price_band),
        _discount_band(purchases, rules.discount_band),
        _timing(purchases, rules, zone, as_of),
        _child_stage(lines, products, as_of, rules.child_stage),
    ]
    joined = people
    for part in parts:
        joined = joined.left_join(part, "customer_id").drop("customer_id_right")
    return joined.select(
        "customer_id",
        "category",
        "category_share",
        "brand",
        "brand_share",
        *TAGS[2:],
    )


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InputError(f"unknown time zone {timezone!r}", field="timezone") from error


def _lines(facts: Facts, as_of: datetime) -> Table:
    """Purchased lines: customer_id, placed_at, product_id, quantity, unit_price_minor and
    net_minor (the line total less its refunds)."""
    p = facts.purchases(as_of)
    r = facts.refunds_until(as_of)
    refunded = (
        r.filter(r.order_line_id.notnull())
        .group_by(line_id=r.order_line_id)
        .aggregate(refunded_minor=r.amount_minor.sum())
    )
    ol = facts.order_lines
    bought = ol.join(p, ol.order_id == p.id).select(
        line_id=ol.id,
        customer_id=p.customer_id,
        placed_at=p.placed_at,
        product_id=ol.product_id,
        quantity=ol.quantity.cast("int64"),
        unit_price_minor=ol.unit_price_minor.cast("int64"),
        line_total_minor=ol.line_total_minor.cast("int64"),
    )
    netted = bought.left_join(refunded, "line_id")
    return netted.select(
        "customer_id",
        "placed_at",
        "product_id",
        "quantity",
        "unit_price_minor",
        net_minor=netted.line_total_minor - netted.refunded_minor.fill_null(0),
    )


def _products(facts: Facts) -> Table:
    """product_id, category_path (canonical separators), category (top level) and brand of
    every product; blank words are null."""
    pr = facts.products
    path = category_path(pr.category_path)
    top = top_category(path)
    return pr.select(
        product_id=pr.id,
        category_path=path,
        category=ibis.ifelse(top == "", ibis.null("string"), top),
        brand=ibis.ifelse(pr.brand.strip() == "", ibis.null("string"), pr.brand.strip()),
    )


def _affinity(lines: Table, products: Table, tag: str, rule: ShareRule) -> Table:
    total = lines.group_by("customer_id").aggregate(total_minor=lines.net_minor.sum())
    tagged = products.filter(products[tag].notnull()).select("product_id", tag)
    named = lines.join(tagged, "product_id")
    spend = named.group_by("customer_id", tag).aggregate(spend_minor=named.net_minor.sum())
    both = _leader(spend, "spend_minor", tag).join(total, "customer_id")
    kept = both.filter(
        both.spend_minor > 0,
        both.spend_minor * 100 >= both.total_minor * rule.min_share_percent,
    )
    return kept.select(
        "customer_id",
        tag,
        **{f"{tag}_share": kept.spend_minor.cast("float64") / kept.total_minor.cast("float64")},
    )


def _leader(table: Table, measure: str, key: str) -> Table:
    """Per customer_id of ``table``, the row with the largest ``measure``, ties going to the
    smallest ``key``: customer_id, key, measure. Two hash aggregates and a join, where ranking
    every row in a window sorted them all."""
    most = table.group_by("customer_id").aggregate(top=table[measure].max())
    leaders = table.join(
        most, [table.customer_id == most.customer_id, table[measure] == most.top]
    ).select("customer_id", key, measure)
    return leaders.group_by("customer_id").aggregate(
        **{key: leaders[key].min(), measure: leaders[measure].max()}
    )


def _price_band(lines: Table, rule: BandRule) -> Table:
    per = (
        lines.group_by("customer_id")
        .aggregate(
            units=lines.quantity.sum(),
            paid_minor=(lines.unit_price_minor * lines.quantity).sum(),
        )
        .filter(ibis._.units > 0)
    )
    buyers = per.select(
        "customer_id", mean=per.paid_minor.cast("float64") / per.units.cast("float64")
    )
    ranked = buyers.mutate(
        position=ibis.row_number().over(order_by=buyers.mean) + 1,
        n=buyers.customer_id.count().over(ibis.window()),
    )
    cuts = ranked.aggregate(
        **{
            f"cut_{b.start}": ibis.ifelse(
                ranked.position == (ranked.n * b.start + 99) // 100, ranked.mean, ibis.null()
            ).max()
            for b in rule.bands[1:]
        }
    )
    placed = buyers.cross_join(cuts)
    band: StringValue = (
        ibis.cases(
            *[(placed.mean > placed[f"cut_{b.start}"], b.key) for b in reversed(rule.bands[1:])],
            else_=rule.bands[0].key,
        )
        if len(rule.bands) > 1
        else ibis.literal(rule.bands[0].key)
    )
    return placed.select("customer_id", price_band=band)


def _discount_band(purchases: Table, rule: BandRule) -> Table:
    o = purchases
    per = o.group_by(customer_id=o.customer_id).aggregate(
        orders=o.count(), discounted=o.discounted.cast("int64").sum()
    )
    return per.select(
        "customer_id", discount_band=_band(per.discounted * 100, rule, scale=per.orders)
    )


def _band(value: IntegerValue, rule: BandRule, scale: IntegerValue | None = None) -> StringValue:
    """The last band of ``rule`` whose start ``value`` reaches (``value ≥ start × scale``);
    null below the first band and, with ``until``, at or above it."""
    times = scale if scale is not None else ibis.literal(1)
    band: StringValue = ibis.cases(
        *[(value >= times * b.start, b.key) for b in reversed(rule.bands)],
        else_=ibis.null("string"),
    )
    if rule.until is None:
        return band
    beyond: BooleanValue = value >= times * rule.until
    return ibis.ifelse(beyond, ibis.null("string"), band)


def _timing(purchases: Table, rules: TagRules, zone: ZoneInfo, as_of: datetime) -> Table:
    o = purchases
    local = _local_seconds(o.placed_at.epoch_seconds().cast("int64"), zone, as_of)
    hour = (local % SECONDS_PER_DAY) // SECONDS_PER_HOUR
    weekday = (local // SECONDS_PER_DAY + (_EPOCH_ISO_WEEKDAY - 1)) % DAYS_PER_WEEK + 1
    bands = rules.hour_band.bands
    # The last band also holds the hours before the first band's start (past midnight).
    slot: IntegerValue = ibis.cases(
        *[(hour >= b.start, n) for n, b in reversed(list(enumerate(bands)))],
        else_=len(bands) - 1,
    )
    timed = o.select(
        customer_id=o.customer_id,
        slot=slot,
        weekend=weekday.isin(list(rules.day_band.weekend_days)).cast("int64"),
    )
    per_slot = timed.group_by("customer_id", "slot").aggregate(orders=timed.count())
    top = _leader(per_slot, "orders", "slot")
    hours = top.select(
        "customer_id",
        hour_band=ibis.cases(*[(top.slot == n, b.key) for n, b in enumerate(bands)]),
    )
    days = timed.group_by("customer_id").aggregate(
        orders=timed.count(), weekend=timed.weekend.sum()
    )
    w = len(rules.day_band.weekend_days)
    on_weekends = days.weekend * (DAYS_PER_WEEK - w) > (days.orders - days.weekend) * w
    day_band = days.select("customer_id", day_band=ibis.ifelse(on_weekends, "weekend", "weekday"))
    return hours.join(day_band, "customer_id")


def _local_seconds(epoch: IntegerValue, zone: ZoneInfo, until: datetime) -> IntegerValue:
    """Seconds since 1970 on the local clock of ``zone``, from seconds since 1970 in UTC."""
    base, *changes = _utc_offsets(zone, int(until.timestamp()))
    if not changes:
        return epoch + base[1]
    offset: IntegerValue = ibis.cases(
        *[(epoch >= start, seconds) for start, seconds in reversed(changes)], else_=base[1]
    )
    return epoch + offset


@cache
def _utc_offsets(zone: ZoneInfo, until: int) -> tuple[tuple[int, int], ...]:
    """(epoch second, UTC offset in seconds from then) for 1970 and each change up to ``until``:
    the zone is sampled daily, and each change found is narrowed to the second."""

    def offset(second: int) -> int:
        moment = datetime.fromtimestamp(second, tz=UTC).astimezone(zone)
        delta = moment.utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    changes = [(0, offset(0))]
    for day in range(0, until, SECONDS_PER_DAY):
        if offset(day + SECONDS_PER_DAY) != changes[-1][1]:
            low, high = day, day + SECONDS_PER_DAY  # offset(low) is the old, offset(high) new
            while high - low > 1:
                middle = (low + high) // 2
                if offset(middle) == changes[-1][1]:
                    low = middle
                else:
                    high = middle
            changes.append((high, offset(high)))
    return tuple(changes)


def _age_band(birth: ibis.Value, today: datetime, rule: BandRule) -> StringValue:
    not_yet = (birth.month() > today.month) | (
        (birth.month() == today.month) & (birth.day() > today.day)
    )
    age = today.year - birth.year().cast("int64") - not_yet.cast("int64")
    return _band(age, rule)


def _child_stage(lines: Table, products: Table, as_of: datetime, rule: ChildRule) -> Table:
    path = products.category_path
    # Longest path first, so a purchase below two configured paths takes the closer one.
    ordered = sorted(rule.paths, key=lambda p: len(p.path), reverse=True)
    months: IntegerValue = ibis.cases(
        *[
            ((path == p.path) | path.startswith(f"{p.path}{CATEGORY_SEPARATOR}"), p.months)
            for p in ordered
        ],
        else_=ibis.null("int64"),
    )
    staged = products.select("product_id", months=months).filter(ibis._.months.notnull())
    baby = lines.join(staged, "product_id").select("customer_id", "placed_at", "months")
    latest = ibis.row_number().over(
        group_by=baby.customer_id, order_by=[ibis.desc(baby.placed_at), ibis.desc(baby.months)]
    )
    top = baby.mutate(place=latest).filter(ibis._.place == 0)
    age = top.months + days_between(top.placed_at, as_of) * 12 // 365
    return top.select("customer_id", child_stage=_band(age, rule.stages))


def intent(facts: Facts, as_of: datetime, rules: TagRules) -> Table:
    """One row per customer: customer_id, intent_score (float in [0, 1]) and intent_reasons
    (the keys of the signals that fired, comma-separated in configuration order; "" for none).

    The window is ``[as_of − window_days, as_of)``; anonymous events are left out. A signal
    fires when the customer has an event of one of its types in the window; an ``unbought``
    signal only when no purchase placed after the event (and before ``as_of``) holds the
    event's product, or, for an event without a product, when no purchase follows at all.
    intent_score = min(100, Σ weights of the signals fired) / 100. Review events carry no
    rating, so low ratings are not a signal.
    """
    spec = rules.intent
    e = facts.events
    types = sorted({t for s in spec.signals for t in s.event_types})
    start = stamp(as_of - timedelta(days=spec.window_days))
    recent = e.filter(
        e.customer_id.notnull(),
        e.occurred_at >= start,
        e.occurred_at < stamp(as_of),
        e.event_type.isin(types),
    )
    # An event is unbought when the customer's latest purchase of its product (of anything,
    # for an event without a product) is not after it: equi-joins on aggregates, where an
    # anti-join on "a later purchase exists" compared every event with every purchase line.
    # Only purchases within the window can follow an event in it, so only their lines count.
    p = facts.purchases(as_of)
    p = p.filter(p.placed_at >= start)
    ol = facts.order_lines
    last_of_product = (
        ol.join(p, ol.order_id == p.id)
        .group_by(buyer_id=p.customer_id, bought_id=ol.product_id)
        .aggregate(last_at=p.placed_at.max())
    )
    last_of_any = p.group_by(buyer_id=p.customer_id).aggregate(last_at=p.placed_at.max())
    with_product = recent.filter(recent.product_id.notnull())
    without_product = recent.filter(recent.product_id.isnull())
    parts = [
        with_product.left_join(
            last_of_product,
            [
                with_product.customer_id == last_of_product.buyer_id,
                with_product.product_id == last_of_product.bought_id,
            ],
        ),
        without_product.left_join(last_of_any, without_product.customer_id == last_of_any.buyer_id),
    ]
    unbought = ibis.union(
        *[
            part.filter(part.last_at.isnull() | (part.last_at <= part.occurred_at)).select(
                "customer_id", "event_type"
            )
            for part in parts
        ]
    )
    c = facts.customers
    flags = c.select(customer_id=c.id)
    for events, want in ((recent, False), (unbought, True)):
        chosen = [s for s in spec.signals if s.unbought == want]
        if chosen:
            fired = events.group_by(customer_id=events.customer_id).aggregate(
                **{s.key: events.event_type.isin(list(s.event_types)).any() for s in chosen}
            )
            flags = flags.left_join(fired, "customer_id").drop("customer_id_right")
    on = {s.key: flags[s.key].fill_null(False) for s in spec.signals}
    points = sum((ibis.ifelse(on[s.key], s.weight, 0) for s in spec.signals), ibis.literal(0))
    reasons = ibis.literal("")
    for s in spec.signals:
        reasons = reasons.concat(ibis.ifelse(on[s.key], f",{s.key}", ""))
    return flags.select(
        "customer_id",
        intent_score=ibis.least(points, 100).cast("float64") / 100,
        intent_reasons=reasons.substr(1),
    )


def tag_table(
    tags: Table, rules: TagRules, lang: Lang = "en", intents: Table | None = None
) -> pd.DataFrame:
    """Customers per tag value, for a report, as a pandas DataFrame (a few rows, so executed
    here): tag, tag_label, value, label, customers, share (of all rows of ``tags``; NaN when
    there are none).

    ``tags`` is :func:`preference_tags`. Tags follow :data:`TAGS`; the configured values of a
    tag come in configuration order, zero counts kept, then values found in the data (category,
    brand, region: their own label) by customers, most first, ties by value. Untagged customers
    are not counted. With ``intents`` (:func:`intent`) one row follows per intent signal: the
    customers for whom it fired.
    """
    long = tags.select("customer_id", *[tags[t].cast("string").name(t) for t in TAGS]).pivot_longer(
        list(TAGS), names_to="tag", values_to="value"
    )
    counts = long.group_by("tag", "value").aggregate(customers=long.count()).execute()
    # Every customer has one row per tag, tagged or not.
    total = int(counts.loc[counts["tag"] == TAGS[0], "customers"].sum())
    rows: list[dict[str, Any]] = []
    for tag, (tag_label, values) in rules.labels().items():
        found = counts[(counts["tag"] == tag) & counts["value"].notna()]
        seen = dict(zip(found["value"], found["customers"].astype("int64"), strict=True))
        extra = sorted((v for v in seen if v not in values), key=lambda v: (-seen[v], v))
        for value in [*values, *extra]:
            text = values[value].text(lang) if value in values else value
            rows.append(_row(tag, tag_label.text(lang), value, text, seen.get(value, 0)))
    if intents is not None:
        wrapped = ibis.literal(",").concat(intents.intent_reasons).concat(",")
        fired = intents.aggregate(
            **{
                s.key: wrapped.contains(f",{s.key},").cast("int64").sum()
                for s in rules.intent.signals
            }
        ).execute()
        heading = rules.intent.label.text(lang)
        for s in rules.intent.signals:
            count = fired[s.key].fillna(0).iloc[0]
            rows.append(_row("intent", heading, s.key, s.label.text(lang), count))
    table = pd.DataFrame(rows, columns=["tag", "tag_label", "value", "label", "customers"])
    table["share"] = table["customers"] / total if total else float("nan")
    return table


def _row(tag: str, tag_label: str, value: str, label: str, customers: int) -> dict[str, Any]:
    return {
        "tag": tag,
        "tag_label": tag_label,
        "value": value,
        "label": label,
        "customers": int(customers),
    }
