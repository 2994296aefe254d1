"""Incremental refresh: the state built as of T and refreshed by the facts of [T, T') gives
exactly what a full analysis as of T' gives — summary, profiles, RFM and segments, stage
thresholds and stages, transitions, retention and every KPI — on the hand-built shop with a
window of new facts, through chained refreshes and the kept files, and on random small shops;
what a window cannot bring in is refused with the reason."""

from __future__ import annotations

import gc
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ibis import BaseBackend

from analytics.shop import AS_OF, ROWS, at, write_shop
from analytics.test_kpis import random_rows
from patron.analytics import state
from patron.analytics.analysis import Analysis, Schemes, compute
from patron.analytics.delta import Delta, window
from patron.analytics.facts import Facts, connect_duckdb, read_facts
from patron.analytics.merge import Stale
from patron.analytics.refresh import StateSource, build, refresh
from patron.analytics.snapshot import PROFILE_COLUMNS
from patron.analytics.summary import customer_summary
from patron.errors import ConflictError

SCHEMES = Schemes.shipped()
LATER = AS_OF + timedelta(days=2)

# The window [AS_OF, LATER) of the hand-built shop (F's purchase of Jul 2 is already there):
# C, dead since Aug 2025, buys again; E buys a second time 91 days after the first; G, a new
# customer, buys with a coupon and gets an undated refund; A cancels an order and gets a
# refund of her June order (placed before AS_OF); D visits and G carts before buying.
WINDOW = {
    "customers": [(7, "G", None, None, None, None, at(2026, 7, 1))],
    "orders": [
        (11, 3, at(2026, 7, 2), "completed", 6000, 0, 6000, 1, None),
        (12, 5, at(2026, 7, 1), "completed", 4000, 0, 4000, 1, None),
        (13, 7, at(2026, 7, 2, 10), "shipped", 3500, 500, 3000, 1, "WELCOME"),
        (14, 1, at(2026, 7, 2), "cancelled", 2000, 0, 2000, 1, None),
    ],
    "order_lines": [
        (13, 11, 3, 1, 6000, 6000),
        (14, 12, 2, 2, 2000, 4000),
        (15, 13, 1, 1, 3500, 3500),
        (16, 14, 1, 1, 2000, 2000),
    ],
    "refunds": [(2, 3, None, 10000, at(2026, 7, 2)), (3, 13, None, 1000, None)],
    "events": [(5, 4, None, "visit", at(2026, 7, 1, 15)), (6, 7, 1, "cart_add", at(2026, 7, 2, 9))],
}


def rows_with(*extra: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    rows = {name: list(values) for name, values in ROWS.items()}
    for more in extra:
        for name, values in more.items():
            rows[name] += values
    return rows


def _facts(duck: BaseBackend, folder: Path, *extra: dict[str, list[tuple[Any, ...]]]) -> Facts:
    return read_facts(duck, write_shop(folder, rows_with(*extra)))


def assert_same(full: Analysis, refreshed: Analysis) -> None:
    """Every core result equal; the profiles without intent (a state built here has no tags)."""
    assert refreshed.as_of == full.as_of
    assert refreshed.thresholds == full.thresholds
    assert refreshed.kpis == full.kpis
    core = [c for c in PROFILE_COLUMNS if not c.startswith("intent")]
    assert refreshed.profiles.select(core).equals(full.profiles.select(core))
    for name in ("segments", "grid", "stages", "retention"):
        pd.testing.assert_frame_equal(getattr(refreshed, name), getattr(full, name), obj=name)
    pd.testing.assert_frame_equal(refreshed.transitions.counts, full.transitions.counts)
    pd.testing.assert_frame_equal(
        refreshed.transitions.probabilities, full.transitions.probabilities
    )
    assert refreshed.transitions.reactivation == full.transitions.reactivation


def _summary(facts: Facts, as_of: datetime) -> pd.DataFrame:
    return customer_summary(facts, as_of).order_by("customer_id").to_pandas()


def test_a_refresh_gives_the_full_analysis(duck: BaseBackend, tmp_path: Path) -> None:
    facts = _facts(duck, tmp_path / "facts", WINDOW)
    done = refresh(build(facts, AS_OF), window(facts, AS_OF, LATER), SCHEMES)
    full = compute(facts, LATER, SCHEMES)
    assert_same(full, done.analysis)
    source = StateSource(done.state, facts)
    pd.testing.assert_frame_equal(
        source.summary().order_by("customer_id").to_pandas(), _summary(facts, LATER)
    )
    # By hand: gaps 31 (C), 59, 102 (A), 91 (E) and 335 (C, Aug 2025 → Jul 2026); quantiles
    # 0.5 → 91, 0.75 → 102, 0.9 and 0.95 → 335 (the last raised to 336).
    th = done.analysis.thresholds
    assert (th.new, th.active, th.silent, th.sleeping, th.churned) == (91, 91, 102, 335, 336)
    stages = done.analysis.profiles.select(["customer_id", "stage"]).to_pylist()
    assert {r["customer_id"]: r["stage"] for r in stages} == {
        1: "active",
        2: "new",
        3: "active",  # C came back
        4: "potential",
        5: "active",  # E's second purchase, 92 days after the first: no longer new
        6: "new",  # F's first purchase, in the window
        7: "new",  # G, a customer since the state was kept
    }
    counts = done.analysis.transitions.counts
    # 30 days before LATER (Jun 3): C sleeping (306 days), E new (62 days), B, F, G potential.
    assert counts.loc["sleeping", "active"] == 1 and counts.loc["new", "active"] == 1
    assert counts.loc["potential", "new"] == 3
    summary = source.summary().to_pandas().set_index("customer_id")
    # A's refunds: 5,000 in March and 10,000 in the window, on her June order.
    assert summary.loc[1, ["refunds", "refunded_minor", "net_minor"]].tolist() == [2, 15000, 45000]
    # G: 3,000 less the undated 1,000 refund of the window's order; D's visit of Jul 1.
    assert summary.loc[7, ["orders", "net_minor"]].tolist() == [1, 2000]
    assert summary.loc[4, "last_visit_at"] == pd.Timestamp(2026, 7, 1, 15)
    assert done.analysis.kpis.repurchase[1].repurchased == 2  # E's 91 days are not within 90


def test_chained_refreshes_through_the_kept_files(duck: BaseBackend, tmp_path: Path) -> None:
    facts = _facts(duck, tmp_path / "facts", WINDOW)
    kept = tmp_path / "state"
    state.write(build(facts, AS_OF), kept)
    for until in (AS_OF + timedelta(days=1, hours=12), LATER, LATER + timedelta(days=40)):
        start = state.read(duck, kept)
        assert start is not None
        done = refresh(start, window(facts, start.as_of, until), SCHEMES)
        state.write(done.state, kept)
        assert_same(compute(facts, until, SCHEMES), done.analysis)
    files = json.loads((kept / "state.json").read_text())["files"]
    assert files["purchases"] == [f"purchases-{g}.parquet" for g in (1, 2, 3, 4)]
    # Files of earlier states are removed.
    assert sorted(p.name for p in kept.glob("*.parquet")) == sorted(
        f for n in files.values() for f in n
    )


def test_a_refresh_without_new_facts_changes_nothing_but_the_moment(
    duck: BaseBackend, tmp_path: Path
) -> None:
    facts = _facts(duck, tmp_path / "facts")
    start = build(facts, AS_OF)
    same = refresh(start, window(facts, AS_OF, AS_OF), SCHEMES)
    assert_same(compute(facts, AS_OF, SCHEMES), same.analysis)
    later = AS_OF + timedelta(hours=30)  # F's order of Jul 2, 12:00 is still ahead
    assert_same(
        compute(facts, later, SCHEMES),
        refresh(start, window(facts, AS_OF, later), SCHEMES).analysis,
    )


def test_a_refresh_to_an_earlier_moment_is_refused(duck: BaseBackend, tmp_path: Path) -> None:
    facts = _facts(duck, tmp_path / "facts")
    start = build(facts, AS_OF)
    earlier = AS_OF - timedelta(days=1)
    with pytest.raises(ConflictError, match="a refresh moves forwards"):
        refresh(start, Delta(earlier, earlier, facts), SCHEMES)
    with pytest.raises(ValueError, match="to the earlier"):
        window(facts, AS_OF, earlier)


def _stale(start: state.State, delta: Delta) -> str:
    with pytest.raises(Stale) as refused:
        refresh(start, delta, SCHEMES)
    return str(refused.value)


def test_late_and_changed_history_falls_back(duck: BaseBackend, tmp_path: Path) -> None:
    start = build(_facts(duck, tmp_path / "kept"), AS_OF)
    # An order placed Jun 28 that arrived after the state was kept.
    late = {"orders": [(15, 4, at(2026, 6, 28), "paid", 1000, 0, 1000, 1, None)]}
    facts = _facts(duck, tmp_path / "late", late)
    why = _stale(start, window(facts, AS_OF, LATER))
    assert "facts before 2026-07-01T00:00:00+00:00 changed" in why
    assert "purchases: 7 kept, 8 now" in why and "gross_minor: 93000 kept, 94000 now" in why
    # A refund dated before the state's moment, arrived since.
    refund = {"refunds": [(2, 8, None, 500, at(2026, 6, 1))]}
    why = _stale(start, window(_facts(duck, tmp_path / "refund", refund), AS_OF, LATER))
    assert "refunds: 1 kept, 2 now" in why


def test_orders_a_window_names_are_checked_against_the_kept_ones(
    duck: BaseBackend, tmp_path: Path
) -> None:
    facts = _facts(duck, tmp_path / "kept")
    start = build(facts, AS_OF)
    o = facts.orders
    # As a delta extraction would bring them, without the history's figures: A's March
    # order (kept, unchanged) and E's cancelled February one (no purchase) are fine...
    named = o.filter(o.id.isin([2, 7]))
    fine = window(facts, AS_OF, LATER)
    ok = replace(fine, facts=replace(fine.facts, orders=fine.facts.orders.union(named)))
    assert_same(compute(facts, LATER, SCHEMES), refresh(start, ok, SCHEMES).analysis)
    # ... but A's March order cancelled since, or moved to another customer, is not.
    moved = named.mutate(customer_id=ibis.literal(4, "int64"))
    for changed in (named.mutate(status=ibis.literal("cancelled")), moved):
        delta = replace(fine, facts=replace(fine.facts, orders=fine.facts.orders.union(changed)))
        assert _stale(start, delta) == (
            "orders placed before 2026-07-01T00:00:00+00:00 arrived or changed since: 2"
        )
    # A late order placed before the state's moment, named by a window's refund.
    late = {
        "orders": [(15, 4, at(2026, 6, 28), "paid", 1000, 0, 1000, 1, None)],
        "refunds": [(2, 15, None, 100, at(2026, 7, 1, 8))],
    }
    later = _facts(duck, tmp_path / "late", late)
    delta = replace(window(later, AS_OF, LATER), history=None)
    assert "arrived or changed since: 15" in _stale(start, delta)


def test_changed_product_categories_fall_back(duck: BaseBackend, tmp_path: Path) -> None:
    start = build(_facts(duck, tmp_path / "kept"), AS_OF)
    rows = rows_with()
    rows["products"] = [(1, "PEN", "Office > Pens", "Hero", 1000), *rows["products"][1:]]
    moved = read_facts(duck, write_shop(tmp_path / "moved", rows))
    why = _stale(start, window(moved, AS_OF, LATER))
    # The pen left Stationery, whose key (its smallest product id) moves from the pen to the
    # ink: the kept first orders' keys would read the ink as the pen's new category.
    assert why == "product categories changed since the state was kept, for products: 2"


# Random small shops: orders, refunds (some undated) and events over three months, a state
# kept at a random moment and refreshed to a later one.

START = datetime(2026, 3, 1, tzinfo=UTC)
STATUSES = ("completed", "paid", "refunded", "pending", "cancelled")
moments = st.integers(0, 100 * 86_400).map(lambda s: START + timedelta(seconds=s))


@st.composite
def shops(draw: st.DrawFn) -> dict[str, list[tuple[Any, ...]]]:
    customers = draw(st.integers(1, 6))
    who = st.integers(1, customers)
    orders = draw(
        st.lists(st.tuples(who, moments, st.sampled_from(STATUSES), st.integers(1, 9)), max_size=25)
    )
    order_rows = [
        (n, c, when, status, 1000 * total, 0, 1000 * total, 1, None)
        for n, (c, when, status, total) in enumerate(orders, start=1)
    ]
    lines = [(o[0], o[0], 1 + o[0] % 3, 1, o[6], o[6]) for o in order_rows]
    refunds = []
    for order in draw(st.lists(st.sampled_from(order_rows), max_size=6)) if order_rows else []:
        late = draw(st.none() | st.integers(0, 40 * 86_400))
        when = None if late is None else order[2] + timedelta(seconds=late)
        refunds.append((len(refunds) + 1, order[0], None, 100, when))
    events = [
        (n, c, None, kind, when)
        for n, (c, kind, when) in enumerate(
            draw(
                st.lists(
                    st.tuples(st.none() | who, st.sampled_from(("visit", "cart_add")), moments),
                    max_size=10,
                )
            ),
            start=1,
        )
    ]
    return {
        "customers": [(n, f"C{n}", None, None, None, None, START) for n in range(1, customers + 1)],
        "products": [
            (1, "P1", "Baby > Formula", None, 1000),
            (2, "P2", "Books", None, 1000),
            (3, "P3", None, None, 1000),
        ],
        "orders": order_rows,
        "order_lines": lines,
        "refunds": refunds,
        "events": events,
    }


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shops(), moments, st.integers(0, 35 * 86_400), st.integers(0, 35 * 86_400))
def test_chained_refreshes_of_random_shops(
    tmp_path_factory: pytest.TempPathFactory,
    rows: dict[str, list[tuple[Any, ...]]],
    kept_at: datetime,
    step: int,
    step_again: int,
) -> None:
    folder = tmp_path_factory.mktemp("shop")
    duck = connect_duckdb("1GB", folder / "spill", threads=1)
    try:
        facts = read_facts(duck, write_shop(folder / "facts", rows))
        _refresh_and_compare(facts, kept_at, [step, step_again])
    finally:
        gc.collect()  # the cached tables, while the connection is open
        duck.disconnect()


def _refresh_and_compare(facts: Facts, kept_at: datetime, steps: list[int]) -> None:
    current = build(facts, kept_at)
    for seconds in steps:
        assert current.as_of is not None
        until = current.as_of + timedelta(seconds=seconds)
        done = refresh(current, window(facts, current.as_of, until), SCHEMES)
        assert_same(compute(facts, until, SCHEMES), done.analysis)
        current = done.state


def test_the_customers_a_refresh_changes_are_kept_in_parts(
    duck: BaseBackend, tmp_path: Path
) -> None:
    facts = read_facts(duck, write_shop(tmp_path / "facts", random_rows(600, 2_400)))
    kept = tmp_path / "state"
    start = datetime(2026, 5, 1, tzinfo=UTC)
    state.write(build(facts, start), kept)
    # Three hours change a few customers each: parts after the whole table; then two months
    # change more than a quarter of them: the table is written whole again.
    for hours, parts in ((3, 2), (6, 3), (9, 4), (1500, 1)):
        current = state.read(duck, kept)
        assert current is not None and current.as_of is not None
        until = start + timedelta(hours=hours)
        done = refresh(current, window(facts, current.as_of, until), SCHEMES)
        state.write(done.state, kept)
        files = json.loads((kept / "state.json").read_text())["files"]["customers"]
        assert len(files) == parts
        again = state.read(duck, kept)
        assert again is not None
        kept_columns = again.customers.columns
        pd.testing.assert_frame_equal(
            again.customers.order_by("customer_id").to_pandas(),
            done.state.customers.select(*kept_columns).order_by("customer_id").to_pandas(),
        )
        assert_same(compute(facts, until, SCHEMES), done.analysis)
