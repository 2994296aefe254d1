"""RFM scores and segments: exact values on the hand-built shop, and a plain-pandas oracle on a
large random shop full of ties.

The shop's buyers as of AS_OF (2026-07-01 00:00 UTC), from tests/analytics/shop.py; D never
bought and F's only purchase is after AS_OF, so neither is a buyer (n = 4):

    buyer  last purchase     recency_days  orders  net_minor
    A (1)  2026-06-20 12:00  10.5 → 10     3       10,000 + 20,000 − 5,000 + 30,000 = 55,000
    B (2)  2026-06-25 12:00  5.5 → 5       1       5,000
    C (3)  2025-08-01 12:00  333.5 → 333   2       16,000
    E (5)  2026-04-01 12:00  90.5 → 90     1       12,000 (cancelled, pending orders do not count)

Quantile scores, score = 1 + floor(5·(rank − 1) / 4), rank 1 = worst; ranks 1, 2, 3, 4 give
scores 1, 2, 3, 4 (with four buyers nobody reaches 5):
    R (most days worst): C 333 → 1, E 90 → 2, A 10 → 3, B 5 → 4
    F (fewest orders worst): B and E tie on 1 order → both rank 1 → 1; C → rank 3 → 3; A → 4
    M (least money worst): B 5,000 → 1, E 12,000 → 2, C 16,000 → 3, A 55,000 → 4
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest
from ibis import BaseBackend
from ibis.expr.types import Table

from analytics.shop import AS_OF
from patron.analytics.facts import Facts
from patron.analytics.rfm import (
    RfmThresholds,
    grid_segments,
    rfm,
    score_segments,
    segment_table,
)
from patron.analytics.schemes import GridScheme, ScoreScheme, load_grid, load_scores
from patron.analytics.summary import customer_summary
from patron.errors import InputError

GRID = load_grid()
GRID_MEDIAN = dataclasses.replace(GRID, split="median")
GROUPS = load_scores()


def run(duck: BaseBackend, table: Table) -> pd.DataFrame:
    return duck.execute(table.order_by("customer_id")).set_index("customer_id")


def summary_of(rows: list[tuple[int, int, int, int]]) -> Table:
    """A minimal customer summary: customer_id, orders, net_minor, days_since_last_order."""
    frame = pd.DataFrame(
        rows, columns=["customer_id", "orders", "net_minor", "days_since_last_order"]
    ).astype("int64")
    return ibis.memtable(frame)


def segmented(summary: Table, grid: GridScheme = GRID) -> Table:
    return score_segments(grid_segments(rfm(summary), grid), GROUPS)


def test_every_buyer_of_the_shop_is_scored(duck: BaseBackend, facts: Facts) -> None:
    got = run(duck, rfm(customer_summary(facts, AS_OF)))
    assert got.to_dict("index") == {
        1: row(10, 3, 55000, 3, 4, 4),
        2: row(5, 1, 5000, 4, 1, 1),
        3: row(333, 2, 16000, 1, 3, 3),
        5: row(90, 1, 12000, 2, 1, 2),
    }


def row(recency: int, orders: int, money: int, r: int, f: int, m: int) -> dict[str, Any]:
    return {
        "recency_days": recency,
        "frequency": orders,
        "monetary_minor": money,
        "r_score": r,
        "f_score": f,
        "m_score": m,
        "rfm_cell": f"{r}{f}{m}",
    }


def test_the_shop_buyers_segments(duck: BaseBackend, facts: Facts) -> None:
    summary = customer_summary(facts, AS_OF)
    columns = ["r_high", "f_high", "m_high", "grid_segment", "segment"]
    # Means: recency 438 / 4 = 109.5, orders 7 / 4 = 1.75, money 88,000 / 4 = 22,000.
    # Groups on (R, F): A (3, 4) loyal; B (4, 1) promising; C (1, 3) at_risk;
    # E (2, 1) hibernating (lost holds only (1, 1)).
    by_mean = run(duck, segmented(summary))[columns]
    assert by_mean.to_dict("index") == {
        1: flags(True, True, True, "important_value", "loyal"),
        2: flags(True, False, False, "general_development", "promising"),
        3: flags(False, True, False, "general_retention", "at_risk"),
        5: flags(True, False, False, "general_development", "hibernating"),
    }
    # Medians: recency (10 + 90) / 2 = 50, orders (1 + 2) / 2 = 1.5, money
    # (12,000 + 16,000) / 2 = 14,000: E is now low on R, C high on M.
    by_median = run(duck, segmented(summary, GRID_MEDIAN))[columns]
    assert by_median.to_dict("index") == {
        1: flags(True, True, True, "important_value", "loyal"),
        2: flags(True, False, False, "general_development", "promising"),
        3: flags(False, True, True, "important_retention", "at_risk"),
        5: flags(False, False, False, "general_winback", "hibernating"),
    }


def flags(r: bool, f: bool, m: bool, grid: str, group: str) -> dict[str, Any]:
    return {"r_high": r, "f_high": f, "m_high": m, "grid_segment": grid, "segment": group}


def test_a_value_on_the_mean_or_median_is_low(duck: BaseBackend) -> None:
    # Recency 10, 20, 30; orders 1, 2, 3; money 100, 200, 300: mean = median = the middle
    # buyer's values, which are therefore low on all three.
    summary = summary_of([(1, 1, 100, 30), (2, 2, 200, 20), (3, 3, 300, 10)])
    for grid in (GRID, GRID_MEDIAN):
        got = run(duck, grid_segments(rfm(summary), grid))
        assert got[["r_high", "f_high", "m_high"]].to_dict("index") == {
            1: {"r_high": False, "f_high": False, "m_high": False},
            2: {"r_high": False, "f_high": False, "m_high": False},
            3: {"r_high": True, "f_high": True, "m_high": True},
        }


def test_fixed_thresholds_put_a_value_on_a_cut_in_the_better_score(
    duck: BaseBackend, facts: Facts
) -> None:
    cuts = RfmThresholds(
        recency_days=(7, 30, 90, 180),
        orders=(2, 3, 5, 8),
        monetary_minor=(5000, 10000, 20000, 50000),
    )
    got = run(duck, rfm(customer_summary(facts, AS_OF), cuts))
    # A: 10 days ≤ 30 → R 4; 3 orders ≥ 3 (on a cut) → F 3; 55,000 ≥ 50,000 → M 5.
    # B: 5 days ≤ 7 → R 5; 1 order < 2 → F 1; 5,000 ≥ 5,000 (on a cut) → M 2.
    # C: 333 days > 180 → R 1; 2 orders ≥ 2 (on a cut) → F 2; 16,000 ≥ 10,000 → M 3.
    # E: 90 days ≤ 90 (on a cut) → R 3; 1 order → F 1; 12,000 ≥ 10,000 → M 3.
    assert got["rfm_cell"].to_dict() == {1: "435", 2: "512", 3: "123", 5: "313"}


@pytest.mark.parametrize(
    ("field", "cuts"),
    [
        ("recency_days", (30, 7, 90, 180)),
        ("recency_days", (-1, 7, 30, 90)),
        ("orders", (2, 2, 3, 4)),
        ("orders", (0, 1, 2, 3)),
        ("orders", (1, 2, 3)),
        ("monetary_minor", (1, 2, 3, 4.5)),
        ("monetary_minor", (False, True, 2, 3)),
        ("monetary_minor", [1, 2, 3, 4]),
    ],
)
def test_bad_thresholds_are_refused_naming_the_field(field: str, cuts: Any) -> None:
    good: dict[str, Any] = {
        "recency_days": (7, 30, 90, 180),
        "orders": (2, 3, 5, 8),
        "monetary_minor": (-100, 0, 100, 1000),
    }
    with pytest.raises(InputError, match=f"^RfmThresholds.{field} must be 4 strictly") as caught:
        RfmThresholds(**(good | {field: cuts}))
    assert caught.value.details == {"field": field}


# The 25 cells of rfm_groups.toml, first match wins (lost takes (1, 1) before hibernating).
GROUP_MAP = {
    # R:    F = 1             F = 2                  F = 3                  F = 4        F = 5
    5: ("new", "potential_loyalists", "potential_loyalists", "champions", "champions"),
    4: ("promising", "potential_loyalists", "potential_loyalists", "loyal", "loyal"),
    3: ("about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"),
    2: ("hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"),
    1: ("lost", "hibernating", "at_risk", "at_risk", "cant_lose"),
}


def test_the_groups_cover_the_25_cells_as_the_toml_says(duck: BaseBackend) -> None:
    cells = pd.DataFrame(
        [(r, f) for r in range(1, 6) for f in range(1, 6)], columns=["r_score", "f_score"]
    )
    got = duck.execute(score_segments(ibis.memtable(cells), GROUPS))
    expected = {(r, f): GROUP_MAP[r][f - 1] for r in range(1, 6) for f in range(1, 6)}
    assert dict(zip(zip(got.r_score, got.f_score, strict=True), got.segment, strict=True)) == (
        expected
    )
    assert {(r, f): GROUPS.segment(r, f) for (r, f) in expected} == expected


def test_the_segment_table_of_the_shop(duck: BaseBackend, facts: Facts) -> None:
    table = segment_table(
        segmented(customer_summary(facts, AS_OF)), "grid_segment", GRID.labels, "zh"
    )
    assert list(table.segment) == list(GRID.labels)
    got = table[table.customers > 0].set_index("segment").to_dict("index")
    # Total net revenue 88,000: A 55,000; B + E 17,000; C 16,000.
    assert got == {
        "important_value": stats("重要价值客户", 1, 10, 3, 55000, 55000, 88000),
        "general_development": stats("一般发展客户", 2, 47.5, 1, 8500, 17000, 88000),
        "general_retention": stats("一般保持客户", 1, 333, 2, 16000, 16000, 88000),
    }
    empty = table[table.customers == 0]
    assert len(empty) == 5
    assert (empty.net_minor == 0).all() and (empty.revenue_share == 0).all()
    assert empty.mean_recency_days.isna().all()
    english = segment_table(segmented(customer_summary(facts, AS_OF)), "segment", GROUPS.labels)
    assert list(english.label) == [c.label.en for c in GROUPS.cells]
    assert dict(zip(english.segment, english.customers, strict=True)) == {
        c.key: int(c.key in {"loyal", "promising", "at_risk", "hibernating"}) for c in GROUPS.cells
    }


def stats(
    label: str, n: int, recency: float, orders: float, money: float, net: int, total: int
) -> dict[str, Any]:
    return {
        "label": label,
        "customers": n,
        "customer_share": n / 4,
        "mean_recency_days": recency,
        "mean_frequency": orders,
        "mean_monetary_minor": money,
        "net_minor": net,
        "revenue_share": net / total,
    }


def test_the_segment_table_refuses_labels_of_another_scheme(
    duck: BaseBackend, facts: Facts
) -> None:
    scored = segmented(customer_summary(facts, AS_OF))
    with pytest.raises(InputError, match="segment holds segments the labels lack: at_risk, hib"):
        segment_table(scored, "segment", GRID.labels)
    with pytest.raises(InputError, match="no column 'segments'"):
        segment_table(scored, "segments", GROUPS.labels)


def test_a_shop_without_buyers_has_an_empty_table(duck: BaseBackend) -> None:
    table = segment_table(segmented(summary_of([(1, 0, 0, 0)])), "segment", GROUPS.labels)
    assert (table.customers == 0).all()
    assert table.customer_share.isna().all() and table.revenue_share.isna().all()


# The oracle: the same rules in plain pandas and Python integers, on ~2,000 random buyers.


def random_shop(seed: int) -> pd.DataFrame:
    """2,000 buyers and 200 who never bought, drawn from narrow ranges so that ties are heavy
    (about 30 buyers a recency day, half of them on one order, few distinct amounts)."""
    rng = np.random.default_rng(seed)
    buyers = 2000
    orders = np.concatenate([rng.geometric(0.5, buyers), np.zeros(200, dtype=np.int64)])
    money = rng.integers(-2, 40, buyers + 200) * 500
    return pd.DataFrame(
        {
            "customer_id": rng.permutation(buyers + 200) + 1,
            "orders": orders,
            "net_minor": np.where(orders > 0, money, 0),
            "days_since_last_order": rng.integers(0, 70, buyers + 200),
        }
    ).astype("int64")


def oracle(shop: pd.DataFrame, grid: GridScheme, groups: ScoreScheme) -> pd.DataFrame:
    buyers = shop[shop.orders > 0].set_index("customer_id").sort_index()
    n = len(buyers)

    def score(values: pd.Series, best_high: bool) -> pd.Series:
        # method="min" is SQL RANK; ascending puts the worst first.
        rank = values.rank(method="min", ascending=best_high).astype("int64")
        return 1 + (5 * (rank - 1)) // n

    def split(values: pd.Series) -> Fraction:
        ordered = sorted(int(v) for v in values)
        if grid.split == "mean":
            return Fraction(sum(ordered), n)
        return Fraction(ordered[(n - 1) // 2] + ordered[n // 2], 2)

    out = pd.DataFrame(index=buyers.index)
    out["r_score"] = score(buyers.days_since_last_order, best_high=False)
    out["f_score"] = score(buyers.orders, best_high=True)
    out["m_score"] = score(buyers.net_minor, best_high=True)
    out["rfm_cell"] = [f"{r}{f}{m}" for r, f, m in out[["r_score", "f_score", "m_score"]].values]
    out["r_high"] = buyers.days_since_last_order < split(buyers.days_since_last_order)
    out["f_high"] = buyers.orders > split(buyers.orders)
    out["m_high"] = buyers.net_minor > split(buyers.net_minor)
    keys = {(c.r, c.f, c.m): c.key for c in grid.cells}
    out["grid_segment"] = [keys[tuple(x)] for x in out[["r_high", "f_high", "m_high"]].values]
    out["segment"] = [groups.segment(r, f) for r, f in out[["r_score", "f_score"]].values]
    return out


@pytest.mark.parametrize("grid", [GRID, GRID_MEDIAN], ids=["mean", "median"])
def test_the_scores_match_a_pandas_oracle_on_a_large_shop(
    duck: BaseBackend, grid: GridScheme
) -> None:
    shop = random_shop(seed=20260701)
    expected = oracle(shop, grid, GROUPS)
    got = run(duck, segmented(ibis.memtable(shop), grid))[list(expected.columns)]
    assert len(got) == 2000
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    # The data really is tie-heavy and the scores spread over all five values.
    assert shop[shop.orders > 0].days_since_last_order.value_counts().min() > 10
    assert set(got.r_score) == set(got.m_score) == {1, 2, 3, 4, 5}
    # Half the buyers tie on one order: all take rank 1 (score 1), and the first two-order
    # buyer's rank is past 2n/5, so no buyer scores F 2.
    assert set(got.f_score) == {1, 3, 4, 5}
    assert got.grid_segment.nunique() == 8


def test_one_or_all_tied_buyers_score_1(duck: BaseBackend) -> None:
    tied = run(duck, rfm(summary_of([(1, 2, 900, 4), (2, 2, 900, 4), (3, 2, 900, 4)])))
    assert set(tied.rfm_cell) == {"111"}
    single = run(duck, rfm(summary_of([(7, 1, 100, 0)])))
    assert list(single.rfm_cell) == ["111"]
