"""Lifecycle stages on the hand-built shop (figures worked out by hand in the comments) and
on a random shop against a plain-pandas oracle.

Purchases are placed at 12:00 UTC and AS_OF is midnight, so whole days since a purchase are
the calendar days minus one (the half day rounds down)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from ibis import BaseBackend
from ibis.expr.types import Table

from analytics.shop import AS_OF, PRODUCTS, ROWS, at, write_shop
from patron.analytics.facts import PURCHASE_STATUSES, SECONDS_PER_DAY, Facts, read_facts
from patron.analytics.schemes import DAY_STAGES, STAGES, Lifecycle, load_lifecycle
from patron.analytics.stages import (
    StageThresholds,
    assign,
    interpurchase_days,
    project,
    stage_history,
    stage_table,
    thresholds,
    transitions,
)
from patron.analytics.summary import customer_summary

EARLIER = datetime(2026, 4, 15, tzinfo=UTC)

# Purchases before AS_OF, per customer, and the gaps between them:
#   A: 2026-01-10 → 2026-03-10 = 21 (rest of Jan) + 28 (Feb) + 10 = 59 days
#      2026-03-10 → 2026-06-20 = 21 (rest of Mar) + 30 + 31 + 20 = 102 days
#   C: 2025-07-01 → 2025-08-01 = 31 days
#   B and E bought once (E's cancelled and pending orders are no purchases), D never,
#   F only after AS_OF.
# The shipped quantiles over the 3 intervals 31 < 59 < 102 (cumulative shares 1/3, 2/3, 1):
#   active 0.5 → 59 (2/3 ≥ 0.5); silent 0.75 → 102; sleeping 0.9 → 102, raised to 103;
#   churned 0.95 → 102, raised to 104; new = active = 59; min_days 7 changes nothing.
SHIPPED = (59, 59, 102, 103, 104)

# Stages as of AS_OF under SHIPPED:
#   A: first 2026-01-10 (171 days: not new), last 2026-06-20 (10 days ≤ 59) → active
#   B: first 2026-06-25, 5 days ≤ 59 → new
#   C: last 2025-08-01, 334 - 1 = 333 days > 104 → dead
#   D: never bought → potential; F: bought only after AS_OF → potential
#   E: first = last 2026-04-01, 91 - 1 = 90 days: not new (> 59), ≤ 102 → silent
AT_AS_OF = {1: "active", 2: "new", 3: "dead", 4: "potential", 5: "silent", 6: "potential"}
# As of EARLIER (2026-04-15) under the same thresholds:
#   A: first 2026-01-10 (95 - 1 = 94 days: not new), last 2026-03-10 (36 - 1 = 35) → active
#   B: not bought yet → potential
#   C: last 2025-08-01, 243 (Aug–Mar) + 14 - 1 = 256 days → dead
#   E: first 2026-04-01, 14 - 1 = 13 days ≤ 59 → new
AT_EARLIER = {1: "active", 2: "potential", 3: "dead", 4: "potential", 5: "new", 6: "potential"}


def limits(t: StageThresholds) -> tuple[int, ...]:
    return t.new, t.active, t.silent, t.sleeping, t.churned


def stages_of(staged: Table) -> dict[int, str]:
    frame = staged.to_pandas()
    return dict(zip(frame["customer_id"].astype(int), frame["stage"], strict=True))


@pytest.fixture
def shipped(facts: Facts) -> StageThresholds:
    return thresholds(facts, AS_OF, load_lifecycle())


def test_interpurchase_days(facts: Facts) -> None:
    gaps = interpurchase_days(facts, AS_OF).to_pandas().sort_values("placed_at")
    assert list(gaps["customer_id"]) == [3, 1, 1]
    assert list(gaps["days"]) == [31, 59, 102]
    assert list(gaps["seconds"]) == [d * SECONDS_PER_DAY for d in (31, 59, 102)]


def test_interpurchase_days_round_up(duck: BaseBackend, tmp_path: Path) -> None:
    # One second over a day is two days; exactly one day is one.
    orders = [
        (1, 1, at(2026, 1, 1), "paid", 1, 0, 1, 1, None),
        (2, 1, at(2026, 1, 2), "paid", 1, 0, 1, 1, None),
        (3, 1, at(2026, 1, 3) + timedelta(seconds=1), "paid", 1, 0, 1, 1, None),
    ]
    facts = read_facts(duck, write_shop(tmp_path / "f", {**ROWS, "orders": orders}))
    gaps = interpurchase_days(facts, AS_OF).to_pandas().sort_values("placed_at")
    assert list(gaps["seconds"]) == [86_400, 86_401]
    assert list(gaps["days"]) == [1, 2]


def test_interpurchase_days_round_up_fractions_of_a_second(
    duck: BaseBackend, tmp_path: Path
) -> None:
    # 13 days and 5 µs is 14 days; 13 days less 0.2 s is 13; 0.3 s is 1 day.
    start = at(2026, 1, 1) + timedelta(microseconds=100_000)
    moments = [
        start,
        start + timedelta(days=13, microseconds=5),
        start + timedelta(days=26, microseconds=-199_995),
        start + timedelta(days=26, microseconds=100_005),
    ]
    orders = [(n + 1, 1, m, "paid", 1, 0, 1, 1, None) for n, m in enumerate(moments)]
    facts = read_facts(duck, write_shop(tmp_path / "f", {**ROWS, "orders": orders}))
    gaps = interpurchase_days(facts, AS_OF).to_pandas().sort_values("placed_at")
    assert list(gaps["days"]) == [14, 13, 1]


def test_thresholds_from_quantiles(shipped: StageThresholds) -> None:
    assert limits(shipped) == SHIPPED
    assert shipped.source == {
        "active": "quantile 0.5 of 3 intervals",
        "silent": "quantile 0.75 of 3 intervals",
        "sleeping": "quantile 0.9 of 3 intervals: 102, raised above 102",
        "churned": "quantile 0.95 of 3 intervals: 102, raised above 103",
        "new": "active",
    }


def test_thresholds_min_days(facts: Facts) -> None:
    # 59 < 60 is raised to min_days; 102 and the ordering raises stay.
    t = thresholds(facts, AS_OF, replace(load_lifecycle(), min_days=60))
    assert limits(t) == (60, 60, 102, 103, 104)
    assert t.source["active"] == "quantile 0.5 of 3 intervals: 59, raised to min_days"
    # Every quantile is below 150: active 150, then one day above each.
    t = thresholds(facts, AS_OF, replace(load_lifecycle(), min_days=150))
    assert limits(t) == (150, 150, 151, 152, 153)
    assert t.source["silent"] == (
        "quantile 0.75 of 3 intervals: 102, raised to min_days: 150, raised above 150"
    )


def test_thresholds_config_override(facts: Facts) -> None:
    # active and silent fixed; sleeping 0.9 → 102 (> 60); churned 0.95 → 102, raised to 103.
    lifecycle = replace(load_lifecycle(), days={"active": 30, "silent": 60, "new": 14})
    t = thresholds(facts, AS_OF, lifecycle)
    assert limits(t) == (14, 30, 60, 102, 103)
    assert t.source["active"] == t.source["silent"] == t.source["new"] == "config"
    # Fixed days that do not exceed the threshold before are raised too, and say so.
    t = thresholds(facts, AS_OF, replace(load_lifecycle(), days={"silent": 40, "active": 3}))
    assert limits(t) == (3, 3, 40, 102, 103)
    t = thresholds(facts, AS_OF, replace(load_lifecycle(), days={"silent": 40}))
    assert limits(t) == (59, 59, 60, 102, 103)
    assert t.source["silent"] == "config: 40, raised above 59"


def test_thresholds_without_repeat_buyers(facts: Facts) -> None:
    # Before C's second purchase (2025-08-01 12:00) nobody has bought twice.
    t = thresholds(facts, datetime(2025, 8, 1, tzinfo=UTC), load_lifecycle())
    assert limits(t) == (30, 30, 60, 90, 180)
    assert t.source["churned"] == "default (no repeat purchases)"
    t = thresholds(facts, datetime(2025, 8, 1, tzinfo=UTC), replace(load_lifecycle(), min_days=45))
    assert limits(t) == (45, 45, 60, 90, 180)


def test_quantile_is_lowest_value_reaching_the_share(duck: BaseBackend, tmp_path: Path) -> None:
    # One customer with gaps of 1, 2, …, 10 days. q = 0.1 is reached exactly by the first
    # (1/10 ≥ 0.1 read as a decimal, not as the float just above 1/10); 0.3 by the third …
    start = at(2025, 1, 1)
    offsets = [sum(range(n + 1)) for n in range(11)]
    orders = [
        (n + 1, 1, start + timedelta(days=d), "completed", 1, 0, 1, 1, None)
        for n, d in enumerate(offsets)
    ]
    facts = read_facts(duck, write_shop(tmp_path / "f", {**ROWS, "orders": orders}))
    lifecycle = Lifecycle(
        load_lifecycle().labels,
        {"active": 0.1, "silent": 0.3, "sleeping": 0.71, "churned": 0.9},
        {},
        1,
    )
    t = thresholds(facts, AS_OF, lifecycle)
    # 0.71 → 8: 7/10 < 0.71 ≤ 8/10.
    assert limits(t) == (1, 1, 3, 8, 9)


def test_stages_as_of(facts: Facts, shipped: StageThresholds) -> None:
    assert stages_of(assign(customer_summary(facts, AS_OF), shipped)) == AT_AS_OF
    assert stages_of(assign(customer_summary(facts, EARLIER), shipped)) == AT_EARLIER


def test_stage_table(facts: Facts, shipped: StageThresholds) -> None:
    staged = assign(customer_summary(facts, AS_OF), shipped)
    table = stage_table(staged, load_lifecycle(), "en").to_pandas()
    assert list(table["stage"]) == list(STAGES)
    assert list(table["label"]) == [
        "Potential",
        "New",
        "Active",
        "Silent",
        "Sleeping",
        "Churned",
        "Dead",
    ]
    assert list(table["customers"]) == [2, 1, 1, 1, 0, 0, 1]
    assert list(table["share"]) == pytest.approx([2 / 6, 1 / 6, 1 / 6, 1 / 6, 0, 0, 1 / 6])
    zh = stage_table(staged, load_lifecycle(), "zh").to_pandas()
    assert list(zh["label"])[:3] == ["潜在客户", "新客", "活跃客户"]


def test_transitions(facts: Facts, shipped: StageThresholds) -> None:
    before = assign(customer_summary(facts, EARLIER), shipped)
    after = assign(customer_summary(facts, AS_OF), shipped)
    moves = transitions(before, after)
    # A active → active; B potential → new; C dead → dead; D, F potential → potential;
    # E new → silent.
    expected = pd.DataFrame(0, index=list(STAGES), columns=list(STAGES))
    expected.loc["potential", "potential"] = 2
    expected.loc["potential", "new"] = 1
    expected.loc["new", "silent"] = 1
    expected.loc["active", "active"] = 1
    expected.loc["dead", "dead"] = 1
    assert (moves.counts.to_numpy() == expected.to_numpy()).all()
    assert list(moves.counts.index) == list(moves.counts.columns) == list(STAGES)
    p = moves.probabilities
    assert p.loc["potential", "potential"] == pytest.approx(2 / 3)
    assert p.loc["potential", "new"] == pytest.approx(1 / 3)
    assert p.loc["new", "silent"] == 1
    assert p.loc["active", "active"] == p.loc["dead", "dead"] == 1
    # Silent, sleeping and churned had nobody on 2026-04-15: they stay put.
    for stage in ("silent", "sleeping", "churned"):
        assert p.loc[stage, stage] == 1
    assert p.sum(axis=1).to_numpy() == pytest.approx(np.ones(7))
    assert moves.reactivation == {
        "potential": 0.0,
        "new": 0.0,
        "active": 1.0,
        "silent": None,
        "sleeping": None,
        "churned": None,
        "dead": 0.0,
    }


def test_transitions_count_unknown_customers_as_potential(
    facts: Facts, shipped: StageThresholds
) -> None:
    before = assign(customer_summary(facts, EARLIER), shipped)
    after = assign(customer_summary(facts, AS_OF), shipped)
    moves = transitions(before.filter(before.customer_id != 1), after)
    # A (active at both dates) is now counted potential → active.
    assert moves.counts.loc["potential", "active"] == 1
    assert moves.counts.loc["active"].sum() == 0
    assert moves.reactivation["active"] is None
    assert moves.reactivation["potential"] == pytest.approx(1 / 4)


def test_sleeping_customer_who_buys_again_is_active(facts: Facts) -> None:
    t = StageThresholds(new=30, active=30, silent=60, sleeping=90, churned=180)
    # A as of 2026-06-01: last purchase 2026-03-10, 21 + 30 + 31 + 1 - 1 = 82 days → sleeping;
    # buys on 2026-06-20, so as of AS_OF 10 days → active.
    before = assign(customer_summary(facts, datetime(2026, 6, 1, tzinfo=UTC)), t)
    after = assign(customer_summary(facts, AS_OF), t)
    assert stages_of(before)[1] == "sleeping"
    assert stages_of(after)[1] == "active"
    moves = transitions(before, after)
    assert moves.counts.loc["sleeping", "active"] == 1
    assert moves.reactivation["sleeping"] == 1.0
    # E: 2026-04-01 → 2026-06-01 is 61 - 1 = 60 days, not new (> 30), silent (≤ 60); at
    # AS_OF 90 days → sleeping: lapsing further is no reactivation.
    assert stages_of(before)[5] == "silent"
    assert stages_of(after)[5] == "sleeping"
    assert moves.reactivation["silent"] == 0.0


def test_project_two_state_chain() -> None:
    p = pd.DataFrame([[0.5, 0.5], [0.25, 0.75]], index=["a", "b"], columns=["a", "b"])
    # (400, 0) → (200, 200) → (200·½ + 200·¼, 200·½ + 200·¾) = (150, 250)
    assert project({"a": 400}, p, 0) == {"a": 400.0, "b": 0.0}
    assert project({"a": 400}, p, 1) == {"a": 200.0, "b": 200.0}
    assert project({"a": 400}, p, 2) == {"a": 150.0, "b": 250.0}
    # The stationary distribution is (⅓, ⅔).
    far = project({"a": 400}, p, 200)
    assert far == pytest.approx({"a": 400 / 3, "b": 800 / 3})
    with pytest.raises(ValueError, match="unknown states"):
        project({"c": 1}, p, 1)
    with pytest.raises(ValueError, match="sum to 1"):
        project({"a": 1}, p * 2, 1)
    with pytest.raises(ValueError, match="periods"):
        project({"a": 1}, p, -1)


def test_project_fixture(facts: Facts, shipped: StageThresholds) -> None:
    before = assign(customer_summary(facts, EARLIER), shipped)
    after = assign(customer_summary(facts, AS_OF), shipped)
    p = transitions(before, after).probabilities
    now = {"potential": 2, "new": 1, "active": 1, "silent": 1, "dead": 1}
    # One period: potential 2·⅔ = 4/3, new 2·⅓ = 2/3, silent 1 (from new) + 1 (stays) = 2.
    one = {"potential": 4 / 3, "new": 2 / 3, "active": 1, "silent": 2, "dead": 1}
    # Two: potential 4/3·⅔ = 8/9, new 4/3·⅓ = 4/9, silent 2/3 + 2 = 8/3.
    two = {"potential": 8 / 9, "new": 4 / 9, "active": 1, "silent": 8 / 3, "dead": 1}
    for periods, expected in ((1, one), (2, two)):
        projected = project(now, p, periods)
        assert projected == pytest.approx({s: expected.get(s, 0) for s in STAGES})
        assert sum(projected.values()) == pytest.approx(6)


def test_stage_history(facts: Facts, shipped: StageThresholds) -> None:
    history = stage_history(facts, [EARLIER, AS_OF], shipped).to_pandas()
    assert list(history.columns) == ["as_of", "customer_id", "stage", "days_since_last_order"]
    for when, expected in ((EARLIER, AT_EARLIER), (AS_OF, AT_AS_OF)):
        rows = history[history["as_of"] == pd.Timestamp(when).tz_localize(None)]
        assert dict(zip(rows["customer_id"], rows["stage"], strict=True)) == expected


# A random shop and a plain-pandas oracle of the same rules.

SEED = 20260701
START = datetime(2024, 7, 1, tzinfo=UTC)
STATUSES = ("paid", "shipped", "completed", "refunded", "pending", "cancelled")


def random_rows(customers: int) -> dict[str, list[tuple[Any, ...]]]:
    rng = np.random.default_rng(SEED)
    orders: list[tuple[Any, ...]] = []
    span = int((AS_OF + timedelta(days=10) - START).total_seconds())
    for customer in range(1, customers + 1):
        for _ in range(int(rng.choice([0, 1, 1, 2, 3, 5, 8]))):
            placed = START + timedelta(seconds=int(rng.integers(span)))
            status = str(rng.choice(STATUSES, p=[0.3, 0.2, 0.3, 0.05, 0.1, 0.05]))
            orders.append((len(orders) + 1, customer, placed, status, 100, 0, 100, 1, None))
    return {
        "customers": [(c, f"X{c}", None, None, None, None, None) for c in range(1, customers + 1)],
        "products": PRODUCTS,
        "orders": orders,
        "order_lines": [],
        "refunds": [],
        "events": [],
    }


def oracle_thresholds(orders: pd.DataFrame, as_of: datetime, lifecycle: Lifecycle) -> list[int]:
    bought = orders[orders["status"].isin(PURCHASE_STATUSES) & (orders["placed_at"] < as_of)]
    bought = bought.sort_values(["customer_id", "placed_at"])
    seconds = bought.groupby("customer_id")["placed_at"].diff().dropna().dt.total_seconds()
    days = sorted(-(-int(s) // SECONDS_PER_DAY) for s in seconds)
    out: list[int] = []
    for stage in DAY_STAGES:
        rank = math.ceil(Decimal(repr(lifecycle.quantiles[stage])) * len(days))
        value = max(days[rank - 1], lifecycle.min_days)
        out.append(max(value, out[-1] + 1) if out else value)
    return out


def oracle_stages(
    orders: pd.DataFrame, customers: int, as_of: datetime, t: StageThresholds
) -> dict[int, str]:
    bought = orders[orders["status"].isin(PURCHASE_STATUSES) & (orders["placed_at"] < as_of)]
    spans = bought.groupby("customer_id")["placed_at"].agg(["min", "max"])
    days = {
        c: ((as_of - first).total_seconds(), (as_of - last).total_seconds())
        for c, first, last in spans.itertuples()
    }
    stages = {}
    for c in range(1, customers + 1):
        if c not in days:
            stages[c] = "potential"
            continue
        since_first, since_last = (int(s) // SECONDS_PER_DAY for s in days[c])
        if since_first <= t.new:
            stages[c] = "new"
        else:
            bounds = ((s, getattr(t, s)) for s in DAY_STAGES)
            stages[c] = next((s for s, d in bounds if since_last <= d), "dead")
    return stages


def test_random_shop_matches_pandas_oracle(duck: BaseBackend, tmp_path: Path) -> None:
    customers = 2_000
    rows = random_rows(customers)
    facts = read_facts(duck, write_shop(tmp_path / "random", rows))
    orders = pd.DataFrame(
        [(o[1], pd.Timestamp(o[2]), o[3]) for o in rows["orders"]],
        columns=["customer_id", "placed_at", "status"],
    )
    lifecycle = load_lifecycle()
    t = thresholds(facts, AS_OF, lifecycle)
    assert [t.active, t.silent, t.sleeping, t.churned] == oracle_thresholds(
        orders, AS_OF, lifecycle
    )
    assert t.new == t.active
    snapshots = {}
    for when in (EARLIER, AS_OF):
        staged = assign(customer_summary(facts, when), t)
        snapshots[when] = staged
        expected = oracle_stages(orders, customers, when, t)
        assert stages_of(staged) == expected
        assert len(set(expected.values())) == len(STAGES)  # every stage is exercised
    moves = transitions(snapshots[EARLIER], snapshots[AS_OF])
    a = oracle_stages(orders, customers, EARLIER, t)
    b = oracle_stages(orders, customers, AS_OF, t)
    crosstab = (
        pd.crosstab(pd.Series(a), pd.Series(b))
        .reindex(index=list(STAGES), columns=list(STAGES))
        .fillna(0)
    )
    assert (moves.counts.to_numpy() == crosstab.to_numpy()).all()
    assert moves.counts.to_numpy().sum() == customers
