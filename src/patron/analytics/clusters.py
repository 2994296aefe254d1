"""Customer clusters: k-means over what buyers do and what they buy.

:func:`features` gives one row per buyer (a customer with a purchase before ``as_of``) of raw,
readable features; :func:`standardise` turns them into what k-means needs; :func:`cluster`
picks k by silhouette, runs k-means and describes each cluster in the raw units.

The features are computed with Ibis (so they run on any backend) and executed once; the
clustering itself runs in memory with scikit-learn on the resulting pandas frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import ibis
import numpy as np
import pandas as pd
from ibis.expr.types import Table
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

from patron.analytics.facts import Facts, top_category
from patron.analytics.summary import customer_summary
from patron.errors import InputError

BEHAVIOUR = (
    "recency_days",
    "purchases",
    "net_spend_minor",
    "aov_minor",
    "mean_interval_days",
    "days_since_first_purchase",
    "refund_share",
    "discount_share",
)
"""The behavioural features, the first columns of :func:`features`."""

LOGGED = ("purchases", "net_spend_minor", "aov_minor")
"""Heavy-tailed money and count features, log1p-transformed (after clipping at 0, since refunds
can bring net spend to 0) before scaling, so that a few whales do not own a dimension."""

CATEGORY_PREFIX = "cat_"
"""Preference columns are ``cat_<top-level category>``: the share of the buyer's net line spend
in that category."""

UNCATEGORISED = "(none)"
"""The top-level category of a product without a category path."""

N_INIT = 10
"""k-means restarts per k (fixed, so that the result does not depend on sklearn's default)."""


def features(facts: Facts, as_of: datetime) -> pd.DataFrame:
    """One row per buyer as of ``as_of``, indexed by customer_id (ascending), unscaled.

    Behaviour (see :data:`BEHAVIOUR`), from :func:`customer_summary`: recency_days (whole days
    since the last purchase), purchases, net_spend_minor (net of refunds), aov_minor (net per
    purchase, rounded), mean_interval_days (mean days between purchases; for a one-time buyer,
    who has no interval, the days since the purchase: the interval is censored and at least
    that long), days_since_first_purchase, refund_share (refunded / gross money, 0 when gross
    is 0) and discount_share (share of purchases with a discount or a coupon code).

    Preference: one ``cat_<category>`` column per top-level category anyone bought in, the
    buyer's share of net line spend there. Net line spend is the line total less the refunds
    made against that line (order-level refunds name no line, so no category); a category whose
    net is negative counts as 0, and a buyer with no positive line spend has all shares 0.
    """
    s = customer_summary(facts, as_of)
    s = s.filter(s.orders > 0)
    p = facts.purchases(as_of)
    discounted = p.group_by(customer_id=p.customer_id).aggregate(
        discounted=p.discounted.cast("int64").sum()
    )
    joined = s.left_join(discounted, "customer_id")
    behaviour = joined.select(
        customer_id=joined.customer_id,
        recency_days=joined.days_since_last_order,
        purchases=joined.orders,
        net_spend_minor=joined.net_minor,
        aov_minor=joined.aov_minor,
        mean_interval_days=ibis.coalesce(
            joined.mean_interval_days, joined.days_since_first_order.cast("float64")
        ),
        days_since_first_purchase=joined.days_since_first_order,
        refund_share=ibis.ifelse(
            joined.gross_minor > 0, joined.refunded_minor / joined.gross_minor, 0
        ).cast("float64"),
        discount_share=(joined.discounted.fill_null(0) / joined.orders).cast("float64"),
    )
    frame = behaviour.to_pandas().set_index("customer_id").sort_index()
    shares = (
        _category_shares(facts, as_of)
        .to_pandas()
        .pivot(index="customer_id", columns="category", values="share")
    )
    shares = shares.reindex(index=frame.index, columns=sorted(shares.columns)).fillna(0.0)
    shares.columns = pd.Index([f"{CATEGORY_PREFIX}{c}" for c in shares.columns])
    result: pd.DataFrame = frame.join(shares)
    result.index = result.index.astype("int64")
    return result


def _category_shares(facts: Facts, as_of: datetime) -> Table:
    """customer_id, category, share: each buyer's share of positive net line spend."""
    p = facts.purchases(as_of)
    lines = facts.order_lines
    r = facts.refunds_until(as_of)
    line_refunds = (
        r.filter(r.order_line_id.notnull())
        .group_by(line_id=r.order_line_id)
        .aggregate(refunded=r.amount_minor.sum())
    )
    products = facts.products
    top = top_category(products.category_path).nullif("")
    categories = products.select(product_id=products.id, category=top.fill_null(UNCATEGORISED))
    bought = (
        lines.join(p, lines.order_id == p.id)
        .select(
            customer_id=p.customer_id,
            line_id=lines.id,
            product_id=lines.product_id,
            line_total=lines.line_total_minor,
        )
        .left_join(line_refunds, "line_id")
        .left_join(categories, "product_id")
    )
    spend = (
        bought.group_by(customer_id=bought.customer_id, category=bought.category)
        .aggregate(net=(bought.line_total - bought.refunded.fill_null(0)).sum())
        .mutate(net=lambda t: ibis.greatest(t.net, 0))
    )
    total = spend.net.sum().over(group_by=spend.customer_id)
    return spend.filter(total > 0).select(
        "customer_id", "category", share=(spend.net / total).cast("float64")
    )


def standardise(features: pd.DataFrame) -> pd.DataFrame:
    """``features`` as k-means sees them: :data:`LOGGED` columns clipped at 0 and log1p'd, then
    every column scaled to mean 0 and unit variance (a constant column becomes all 0)."""
    missing = [c for c in BEHAVIOUR if c not in features.columns]
    if missing:
        raise InputError(f"features lack columns: {', '.join(missing)}", field="features")
    logged = features.astype("float64")
    for column in LOGGED:
        logged[column] = np.log1p(logged[column].clip(lower=0))
    scaled = StandardScaler().fit_transform(logged.to_numpy())
    return pd.DataFrame(scaled, index=features.index, columns=features.columns)


@dataclass(frozen=True)
class Clustering:
    """The chosen clustering. Cluster 0 has the highest mean net spend, then descending."""

    k: int
    silhouettes: Mapping[int, float]
    """Silhouette score of each k tried (only the given k when k was given)."""
    labels: pd.Series
    """customer_id → cluster (0..k−1)."""
    profiles: pd.DataFrame
    """Per cluster (index): size, share of buyers, the mean of every raw feature (columns
    named as in :func:`features`) and top_categories, e.g. "Baby 92%, Home 8%"."""


def cluster(
    features: pd.DataFrame,
    k: int | None = None,
    k_range: tuple[int, int] = (2, 8),
    seed: int = 0,
    sample: int = 20_000,
) -> Clustering:
    """k-means on :func:`standardise` of ``features`` (from :func:`features`).

    Without ``k``, every k of ``k_range`` (both ends included) that the buyers allow is tried
    and the one with the highest silhouette wins (the smaller k on a tie). The silhouette is
    O(n²), so above ``sample`` buyers it is computed on a random sample of that size drawn with
    ``seed``. k-means needs at least k buyers with distinct features, and the silhouette at
    least k + 1 buyers: a shop that cannot allow any k raises :class:`InputError`.

    Rows are sorted by customer_id first and k-means uses ``seed`` with a fixed number of
    restarts, so the same features and seed give the same k, labels and profiles whatever the
    input order; the clusters are then numbered by descending mean net spend (ties: larger
    cluster first) so that the numbers do not depend on k-means' arbitrary ones.
    """
    low, high = k_range
    if k is not None:
        low = high = k
    if low < 2 or high < low or sample <= high:
        raise InputError(
            f"k must be at least 2, k_range ascending and sample above k, not k={k!r},"
            f" k_range={k_range!r}, sample={sample!r}",
            field="k",
        )
    raw = features.sort_index()
    scaled = standardise(raw).to_numpy() if len(raw) else np.empty((0, 0))
    n, distinct = len(scaled), len(np.unique(scaled, axis=0))
    feasible = [c for c in range(low, high + 1) if c <= distinct and c < n]
    if not feasible:
        raise InputError(
            f"clustering into {low} groups needs at least {low + 1} buyers, {low} of them with"
            f" distinct features; there are {n} buyers, {distinct} distinct",
            field="features",
        )
    runs: dict[int, np.ndarray] = {}
    silhouettes: dict[int, float] = {}
    for c in feasible:
        runs[c] = KMeans(n_clusters=c, n_init=N_INIT, random_state=seed).fit_predict(scaled)
        silhouettes[c] = float(
            silhouette_score(
                scaled, runs[c], sample_size=sample if n > sample else None, random_state=seed
            )
        )
    best = max(feasible, key=lambda c: (silhouettes[c], -c))
    labels = pd.Series(runs[best], index=raw.index, name="cluster")
    labels = _relabel(labels, raw)
    return Clustering(best, silhouettes, labels, _profiles(raw, labels))


def _relabel(labels: pd.Series, raw: pd.DataFrame) -> pd.Series:
    stats = raw.groupby(labels).agg(
        spend=("net_spend_minor", "mean"), size=("net_spend_minor", "size")
    )
    order = stats.sort_values(["spend", "size"], ascending=False, kind="stable").index
    mapping = {int(old): new for new, old in enumerate(order)}
    return labels.map(mapping).astype("int64")


def _profiles(raw: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    means = raw.astype("float64").groupby(labels).mean()
    sizes = labels.value_counts().reindex(means.index)
    categories = [c for c in raw.columns if c.startswith(CATEGORY_PREFIX)]
    top = [_top_categories(means.loc[cluster, categories]) for cluster in means.index]
    means.insert(0, "size", sizes.astype("int64"))
    means.insert(1, "share", sizes / len(labels))
    means["top_categories"] = top
    return means.rename_axis("cluster")


def _top_categories(shares: pd.Series, count: int = 3) -> str:
    """The ``count`` categories with the highest mean share (names ascending on a tie),
    leaving out those nobody in the cluster bought in."""
    ranked = sorted(
        ((float(v), str(c)[len(CATEGORY_PREFIX) :]) for c, v in shares.items() if v > 0),
        key=lambda item: (-item[0], item[1]),
    )
    return ", ".join(f"{name} {value:.0%}" for value, name in ranked[:count])
