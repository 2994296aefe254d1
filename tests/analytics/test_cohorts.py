"""Cohorts: retention, revenue and the LTV curve of the hand-built shop computed by hand, and a
plain-pandas oracle of the retention and revenue matrices on a random shop."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from ibis import BaseBackend

from analytics.shop import AS_OF, at, write_shop
from analytics.test_kpis import frames, oracle_purchases, random_rows
from patron.analytics.cohorts import ltv_curve, matrix, retention, revenue
from patron.analytics.facts import Facts, read_facts

NAN = math.nan

# Cohorts as of AS_OF (last observed month June 2026):
# 2025-07: C (bought Jul and Aug 2025), k = 0..11.
# 2026-01: A (Jan, Mar, Jun 2026), k = 0..5.
# 2026-04: E (Apr 2026; its cancelled Feb and pending Jun orders are no purchases), k = 0..2.
# 2026-06: B (Jun 2026), k = 0.
# F's purchase is after AS_OF and D never bought: no cohort.


def test_retention_of_the_hand_built_shop(facts: Facts) -> None:
    long = retention(facts, AS_OF).to_pandas()
    assert list(long.columns) == ["cohort", "k", "cohort_size", "customers", "share"]
    assert long.cohort_size.eq(1).all()
    shares = matrix(long, "share")
    assert shares.loc["2026-01"].tolist()[:6] == [1.0, 0.0, 1.0, 0.0, 0.0, 1.0]
    assert shares[0].tolist() == [1.0] * 4  # k = 0 is the whole cohort
    assert shares.loc["2026-06"].isna().sum() == 11  # not observed yet


def test_retention_cells_exactly(facts: Facts) -> None:
    cells = matrix(retention(facts, AS_OF), "customers")
    expected = pd.DataFrame(
        [
            [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            [1, 0, 1, 0, 0, 1, NAN, NAN, NAN, NAN, NAN, NAN],
            [1, 0, 0, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN],
            [1] + [NAN] * 11,
        ],
        index=pd.Index(["2025-07", "2026-01", "2026-04", "2026-06"], name="cohort"),
        columns=pd.Index(range(12), name="k"),
    )
    pd.testing.assert_frame_equal(cells, expected, check_dtype=False)


def test_revenue_and_ltv_of_the_hand_built_shop(facts: Facts) -> None:
    long = revenue(facts, AS_OF)
    # A: Jan 10,000; Mar 20,000 less the 5,000 refunded (netted in March, k = 2); Jun 30,000.
    net = matrix(long, "net_minor")
    assert net.loc["2026-01"].tolist()[:6] == [10_000, 0, 15_000, 0, 0, 30_000]
    assert net.loc["2025-07"].tolist() == [8_000, 8_000] + [0] * 10
    assert net.loc["2026-04"].tolist()[:3] == [12_000, 0, 0]
    assert net.loc["2026-06", 0] == 5_000
    ltv = matrix(long, "ltv_minor")
    assert ltv.loc["2026-01"].tolist()[:6] == [10_000, 10_000, 25_000, 25_000, 25_000, 55_000]
    assert ltv.loc["2025-07"].tolist() == [8_000] + [16_000] * 11
    orders = matrix(long, "orders")
    assert orders.loc["2026-01"].tolist()[:6] == [1, 0, 1, 0, 0, 1]


def test_ltv_curve_of_the_hand_built_shop(facts: Facts) -> None:
    curve = ltv_curve(facts, AS_OF).to_pandas()
    assert curve.k.tolist() == list(range(12))
    # Cohorts observed at k: all four at 0; C, A, E at 1-2; C, A at 3-5; C alone after.
    assert curve.customers.tolist() == [4, 3, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1]
    assert curve.cumulative_net_minor.tolist() == [
        8_000 + 10_000 + 12_000 + 5_000,
        16_000 + 10_000 + 12_000,
        16_000 + 25_000 + 12_000,
        16_000 + 25_000,
        16_000 + 25_000,
        16_000 + 55_000,
        *[16_000] * 6,
    ]
    assert curve.ltv_minor.tolist() == pytest.approx(
        [35_000 / 4, 38_000 / 3, 53_000 / 3, 20_500, 20_500, 35_500, *[16_000] * 6]
    )


def test_a_mid_month_as_of(facts: Facts) -> None:
    # As of Jun 21 00:00: A's Jun 20 purchase counts, B's Jun 25 does not; June is partial.
    cells = matrix(retention(facts, at(2026, 6, 21, 0)), "customers")
    assert cells.index.tolist() == ["2025-07", "2026-01", "2026-04"]
    assert cells.loc["2026-01"].tolist()[:6] == [1, 0, 1, 0, 0, 1]
    assert cells.columns.tolist() == list(range(12))


def oracle_cohorts(rows: dict[str, list[tuple[Any, ...]]], as_of: datetime) -> pd.DataFrame:
    """Per (cohort, k) over every observed month: customers and net_minor, by pandas."""
    p = oracle_purchases(frames(rows), as_of)
    p["month"] = p.placed_at.dt.year * 12 + p.placed_at.dt.month - 1
    first = p.groupby("customer_id").month.min().rename("cohort_month")
    p = p.join(first, on="customer_id")
    p["k"] = p.month - p.cohort_month
    last = as_of - timedelta(microseconds=1)
    grid = [
        (c, k) for c in sorted(set(first)) for k in range(last.year * 12 + last.month - 1 - c + 1)
    ]
    cells = p.groupby(["cohort_month", "k"]).agg(
        customers=("customer_id", "nunique"), net_minor=("net_minor", "sum")
    )
    cells = cells.reindex(pd.MultiIndex.from_tuples(grid, names=["cohort_month", "k"]))
    cells = cells.fillna(0).astype(int).reset_index()
    cells["cohort"] = [f"{c // 12}-{c % 12 + 1:02d}" for c in cells.cohort_month]
    return cells


def test_matrices_match_the_pandas_oracle(duck: BaseBackend, tmp_path: Path) -> None:
    rows = random_rows()
    facts = read_facts(duck, write_shop(tmp_path / "random", rows))
    for as_of in (AS_OF, AS_OF - timedelta(days=200, hours=5)):
        expected = oracle_cohorts(rows, as_of)
        assert len(expected) > 150  # cells
        got = matrix(retention(facts, as_of), "customers")
        pd.testing.assert_frame_equal(got, matrix(expected, "customers"), check_dtype=False)
        got_net = matrix(revenue(facts, as_of), "net_minor")
        pd.testing.assert_frame_equal(got_net, matrix(expected, "net_minor"), check_dtype=False)
