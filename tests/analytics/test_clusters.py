"""Customer clusters: exact features on the hand-built shop, and recovery of three planted groups
on a synthetic shop.

The hand-built shop's buyers as of AS_OF (2026-07-01 00:00 UTC), from tests/analytics/shop.py
(D never bought, F's purchase is after AS_OF; E's cancelled and pending orders do not count):

    A (1)  purchases 2026-01-10, 03-10, 06-20 (all 12:00): 10,000, 20,000 (5,000 refunded,
           discount 1,000 with coupon SPRING), 30,000
    B (2)  2026-06-25 12:00: 5,000
    C (3)  2025-07-01 and 2025-08-01 12:00: 8,000 each
    E (5)  2026-04-01 12:00: 12,000

The synthetic shop plants three groups of 200 buyers each, built to be far apart: frequent big
spenders in Baby, mid customers in Home, one-time cheap buyers in Books (plus 20 customers who
never bought).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from ibis import BaseBackend
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from analytics.shop import AS_OF, at, write_shop
from patron.analytics.clusters import BEHAVIOUR, LOGGED, cluster, features, standardise
from patron.analytics.facts import Facts, connect_duckdb, read_facts
from patron.errors import InputError

GROUP = 200
GROUPS = ("Baby", "Home", "Books")


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """k-means and the silhouette on a few hundred rows run some 10-40x slower with two
    OpenMP/BLAS threads than with one on a 2-core machine (threads spin waiting for work)."""
    with threadpool_limits(limits=1):
        yield


def test_features_of_the_hand_built_shop(facts: Facts) -> None:
    got = features(facts, AS_OF)
    assert list(got.columns) == [*BEHAVIOUR, "cat_Baby", "cat_Stationery"]
    assert list(got.index) == [1, 2, 3, 5]
    expected = pd.DataFrame(
        {
            # A: last purchase 10.5 days before AS_OF; B 5.5; C 333.5; E 90.5 (rounded down).
            "recency_days": [10, 5, 333, 90],
            "purchases": [3, 1, 2, 1],
            # A: 10,000 + 20,000 + 30,000 − 5,000 refunded.
            "net_spend_minor": [55_000, 5_000, 16_000, 12_000],
            # A: 55,000 / 3 = 18,333.3 → 18,333; C: 16,000 / 2.
            "aov_minor": [18_333, 5_000, 8_000, 12_000],
            # A: 2026-01-10 → 06-20 is 161 days over 2 gaps; C: 31 days over 1 gap. B and E
            # bought once: their interval is filled with the days since that purchase.
            "mean_interval_days": [80.5, 5.0, 31.0, 90.0],
            # A: 171.5 days since 2026-01-10 12:00; C: 364.5 since 2025-07-01 12:00.
            "days_since_first_purchase": [171, 5, 364, 90],
            # A: 5,000 refunded of 60,000 gross.
            "refund_share": [5_000 / 60_000, 0.0, 0.0, 0.0],
            # A: 1 of 3 purchases had a discount.
            "discount_share": [1 / 3, 0.0, 0.0, 0.0],
            # A's net line spend: Baby 20,000 − 5,000 (line 2 refunded) + 20,000 = 35,000;
            # Stationery 10,000 + 1,000 + 10,000 = 21,000; 35,000 / 56,000 = 0.625.
            # B and E bought Stationery only, C Baby only.
            "cat_Baby": [0.625, 0.0, 1.0, 0.0],
            "cat_Stationery": [0.375, 1.0, 0.0, 1.0],
        },
        index=pd.Index([1, 2, 3, 5], name="customer_id", dtype="int64"),
    )
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)


def test_standardise_logs_money_and_counts_then_scales(facts: Facts) -> None:
    raw = features(facts, AS_OF)
    scaled = standardise(raw)
    assert scaled.index.equals(raw.index)
    assert list(scaled.columns) == list(raw.columns)
    np.testing.assert_allclose(scaled.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(scaled.std(ddof=0), 1, rtol=1e-12)
    for column in raw.columns:
        values = raw[column].to_numpy(dtype="float64")
        if column in LOGGED:
            values = np.log1p(values)
        expected = (values - values.mean()) / values.std()
        np.testing.assert_allclose(scaled[column], expected, rtol=1e-12, err_msg=column)
    assert set(LOGGED) == {"purchases", "net_spend_minor", "aov_minor"}


def synthetic_rows(seed: int = 7) -> dict[str, list[tuple[Any, ...]]]:
    """Customers 1–200 Baby, 201–400 Home, 401–600 Books, 601–620 never bought."""
    rng = np.random.default_rng(seed)
    paths = {
        "Baby": "Baby > Formula > Stage 1",
        "Home": "Home > Kitchen",
        "Books": "Books > Fiction",
    }
    products = [(n, g.upper(), paths[g], "Brand", 1000) for n, g in enumerate(GROUPS, 1)]
    # group: purchases, days between purchases, days since the last one, order total minor
    # (ranges, upper end excluded), chance of a discount and of a refund per purchase
    plans = {
        "Baby": ((8, 13), (20, 31), (1, 11), (30_000, 60_000), 0.3, 0.3),
        "Home": ((3, 6), (50, 71), (20, 61), (8_000, 15_000), 0.3, 0.1),
        "Books": ((1, 2), (1, 2), (150, 351), (1_000, 3_000), 0.0, 0.0),
    }
    customers: list[tuple[Any, ...]] = []
    orders: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    refunds: list[tuple[Any, ...]] = []
    start = at(2024, 1, 1)
    for customer in range(1, 3 * GROUP + 21):
        customers.append((customer, f"S{customer}", None, None, None, None, start))
        if customer > 3 * GROUP:
            continue
        group = GROUPS[(customer - 1) // GROUP]
        product = GROUPS.index(group) + 1
        count, gap, last, total, discounted, refunded = plans[group]
        placed = AS_OF - timedelta(days=int(rng.integers(*last)), hours=12)
        for _ in range(int(rng.integers(*count))):
            amount = int(rng.integers(*total))
            discount = 500 if rng.random() < discounted else 0
            coupon = "SAVE" if discount else None
            order = len(orders) + 1
            subtotal = amount + discount
            orders.append(
                (order, customer, placed, "completed", subtotal, discount, amount, 1, coupon)
            )
            lines.append((order, order, product, 1, subtotal, subtotal))
            if rng.random() < refunded:
                refunds.append((len(refunds) + 1, order, order, amount // 4, placed))
            placed -= timedelta(days=int(rng.integers(*gap)))
    return {
        "customers": customers,
        "products": products,
        "orders": orders,
        "order_lines": lines,
        "refunds": refunds,
        "events": [],
    }


PLANTED = pd.Series(
    [g for g in range(3) for _ in range(GROUP)],
    index=pd.Index(range(1, 3 * GROUP + 1), name="customer_id"),
)
"""The planted group of each buyer: 0 Baby, 1 Home, 2 Books (also the order of their spend)."""


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pd.DataFrame]:
    folder: Path = tmp_path_factory.mktemp("synthetic")
    con: BaseBackend = connect_duckdb(memory_limit="1GB", temp_directory=folder / "duck", threads=1)
    yield features(read_facts(con, write_shop(folder / "facts", synthetic_rows())), AS_OF)
    con.disconnect()


def test_three_planted_groups_are_found(synthetic: pd.DataFrame) -> None:
    assert list(synthetic.index) == list(PLANTED.index)  # the 20 non-buyers are left out
    result = cluster(synthetic, seed=0)
    assert result.k == 3
    assert sorted(result.silhouettes) == list(range(2, 9))
    assert all(-1 <= s <= 1 for s in result.silhouettes.values())
    assert max(result.silhouettes, key=lambda k: result.silhouettes[k]) == 3
    assert result.silhouettes[3] > 0.5
    assert adjusted_rand_score(PLANTED, result.labels.loc[PLANTED.index]) == 1.0
    # Numbered by descending mean spend, the clusters are exactly the planted groups.
    pd.testing.assert_series_equal(
        result.labels, PLANTED.rename("cluster").astype("int64"), check_index_type=False
    )
    profiles = result.profiles
    assert list(profiles.index) == [0, 1, 2]
    assert list(profiles["size"]) == [GROUP] * 3
    np.testing.assert_allclose(profiles["share"], 1 / 3)
    assert list(profiles["top_categories"]) == ["Baby 100%", "Home 100%", "Books 100%"]
    assert profiles["net_spend_minor"].is_monotonic_decreasing
    assert list(profiles["purchases"].round()) == [10, 4, 1]
    # One-time buyers: the interval is filled with the days since their purchase.
    assert profiles.loc[2, "mean_interval_days"] == profiles.loc[2, "days_since_first_purchase"]
    pd.testing.assert_series_equal(
        profiles["net_spend_minor"],
        synthetic["net_spend_minor"].groupby(PLANTED.to_numpy()).mean().rename_axis("cluster"),
        check_names=False,
    )


def test_given_k_is_the_only_one_tried(synthetic: pd.DataFrame) -> None:
    result = cluster(synthetic, k=2)
    assert result.k == 2
    assert list(result.silhouettes) == [2]
    assert sorted(result.labels.unique()) == [0, 1]


def test_same_data_and_seed_give_the_same_clustering(synthetic: pd.DataFrame) -> None:
    first = cluster(synthetic, seed=3)
    shuffled = synthetic.sample(frac=1.0, random_state=1)
    for again in (cluster(synthetic, seed=3), cluster(shuffled, seed=3)):
        assert again.k == first.k
        assert again.silhouettes == first.silhouettes
        pd.testing.assert_series_equal(again.labels, first.labels)
        pd.testing.assert_frame_equal(again.profiles, first.profiles)


def test_silhouette_on_a_sample_is_repeatable(synthetic: pd.DataFrame) -> None:
    first = cluster(synthetic, sample=150, seed=5)
    again = cluster(synthetic, sample=150, seed=5)
    assert first.k == again.k == 3
    assert first.silhouettes == again.silhouettes
    assert first.silhouettes != cluster(synthetic, seed=5).silhouettes  # it did sample
    pd.testing.assert_series_equal(first.labels, again.labels)


def test_too_few_buyers(facts: Facts) -> None:
    raw = features(facts, AS_OF)  # 4 buyers
    assert sorted(cluster(raw).silhouettes) == [2, 3]  # k = 4 would leave no silhouette
    with pytest.raises(InputError, match=r"needs at least 5 buyers.*there are 4 buyers"):
        cluster(raw, k=4)
    with pytest.raises(InputError, match="needs at least 6 buyers"):
        cluster(raw, k_range=(5, 8))
    with pytest.raises(InputError, match=r"needs at least 3 buyers.*there are 0 buyers"):
        cluster(raw.iloc[:0])
    twins = pd.concat([raw.iloc[[0]]] * 3).set_axis([1, 2, 3])
    with pytest.raises(InputError, match=r"2 of them with distinct features.*1 distinct"):
        cluster(twins)


def test_bad_k(facts: Facts) -> None:
    raw = features(facts, AS_OF)
    with pytest.raises(InputError, match="at least 2"):
        cluster(raw, k=1)
    with pytest.raises(InputError, match="ascending"):
        cluster(raw, k_range=(4, 3))
    with pytest.raises(InputError, match="sample above k"):
        cluster(raw, k=3, sample=3)
