"""The baseline of the analytics benchmark: the same analysis written straightforwardly in
pandas (read the Parquet files whole, sort, group-bys and merges), as an analyst would.

It computes what `patron.analytics.service.compute` computes apart from preference tags and
intent — the customer summary, RFM scores with both segment schemes and their segment tables,
lifecycle stage thresholds, stages now and 30 days before with their transitions, the monthly
retention matrix and every KPI of `patron.analytics.kpis.Kpis` — by the rules of those
modules' docstrings and the shipped schemes, so that the timings compare like with like.
`compute` does not build the cohort revenue/LTV table (`patron.analytics.cohorts.revenue`), so
neither does :func:`run` unless asked (``cohort_revenue=True``).

:func:`run` returns headline figures, :func:`patron_figures` the same figures of Patron's
``Analysis``, and :func:`disagreements` lists where the two differ.
"""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from patron.analytics.kpis import (
    CART_DAYS,
    CART_HOURS,
    FREQUENCY_DAYS,
    PERIOD_DAYS,
    REPURCHASE_DAYS,
    VISIT_DAYS,
)
from patron.analytics.schemes import (
    DAY_STAGES,
    STAGES,
    GridScheme,
    Lifecycle,
    ScoreScheme,
    load_grid,
    load_lifecycle,
    load_scores,
)
from patron.analytics.service import TRANSITION_DAYS

# The rules of patron.analytics (facts, stages) the baseline restates; its windows are imported.
PURCHASES = ("paid", "shipped", "completed", "refunded")
DAY = pd.Timedelta(days=1)
SCORES = 5
DEFAULT_DAYS = {"active": 30, "silent": 60, "sleeping": 90, "churned": 180}


@dataclass(frozen=True)
class Results:
    """Everything :func:`analyse` computes, as pandas objects and plain values."""

    profiles: pd.DataFrame
    """The customer summary with r/f/m scores, rfm_cell, grid_segment, segment and stage."""
    segments: pd.DataFrame
    grid: pd.DataFrame
    thresholds: dict[str, int]
    stages: pd.DataFrame
    transitions: pd.DataFrame
    probabilities: pd.DataFrame
    reactivation: dict[str, float | None]
    retention: pd.DataFrame
    revenue: pd.DataFrame | None
    kpis: dict[str, Any]


Progress = Callable[[str], None]


def run(
    folder: Path,
    as_of: datetime,
    *,
    cohort_revenue: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The headline figures (see :func:`figures`) of the analysis of the facts in ``folder``."""
    return figures(analyse(folder, as_of, cohort_revenue=cohort_revenue, progress=progress))


def analyse(
    folder: Path,
    as_of: datetime,
    *,
    cohort_revenue: bool = False,
    progress: Progress | None = None,
) -> Results:
    """The analysis of the facts in ``folder`` as of ``as_of``; ``progress`` is told the name
    of each step as it starts (read, summary, rfm, stages, cohorts, kpis)."""

    def step(name: str) -> None:
        if progress is not None:
            progress(name)

    step("read")
    grid_scheme, score_scheme, lifecycle = load_grid(), load_scores(), load_lifecycle()
    stamp = pd.Timestamp(as_of.astimezone(UTC).replace(tzinfo=None))  # zone-less UTC
    orders = pd.read_parquet(
        folder / "orders.parquet",
        columns=["id", "customer_id", "placed_at", "status", "total_minor"],
    )
    refunds = pd.read_parquet(
        folder / "refunds.parquet", columns=["order_id", "amount_minor", "refunded_at"]
    )
    customers = pd.read_parquet(
        folder / "customers.parquet", columns=["id", "external_id", "signup_at"]
    )
    events = pd.read_parquet(
        folder / "events.parquet", columns=["customer_id", "event_type", "occurred_at"]
    )
    events = events[events.customer_id.notna() & (events.occurred_at < stamp)]

    # Purchases before as_of in (customer, time, id) order, their number per customer, the
    # customer's first purchase, and their refunds made before as_of.
    p = orders[orders.status.isin(PURCHASES) & (orders.placed_at < stamp)].drop(columns="status")
    del orders
    p = p.sort_values(["customer_id", "placed_at", "id"], ignore_index=True)
    by_customer = p.groupby("customer_id", sort=False).placed_at
    p["n"] = by_customer.cumcount()
    p["first_at"] = by_customer.transform("first")
    p["previous_at"] = by_customer.shift()
    r = refunds[refunds.refunded_at.isna() | (refunds.refunded_at < stamp)]
    per_order = r.groupby("order_id").amount_minor.agg(refunded_minor="sum", refunds="size")
    p = p.join(per_order, on="id")
    p[["refunded_minor", "refunds"]] = p[["refunded_minor", "refunds"]].fillna(0).astype("int64")
    p["net_minor"] = p.total_minor - p.refunded_minor

    step("summary")
    summary = _summary(p, customers, events, stamp)
    step("rfm")
    scored = _rfm(summary, grid_scheme, score_scheme)
    segments = _segment_table(scored, "segment", score_scheme.labels)
    grid = _segment_table(scored, "grid_segment", grid_scheme.labels)
    step("stages")
    limits = _thresholds(p, lifecycle)
    staged = _assign(summary, limits)
    before = stamp - pd.Timedelta(days=TRANSITION_DAYS)
    earlier = p[p.placed_at < before].groupby("customer_id").placed_at.agg(["min", "max"])
    recency = customers[["id"]].join(earlier, on="id")
    staged_before = _assign(
        pd.DataFrame(
            {
                "customer_id": recency.id,
                "orders": recency["min"].notna().astype("int64"),
                "days_since_first_order": (before - recency["min"]) // DAY,
                "days_since_last_order": (before - recency["max"]) // DAY,
            }
        ),
        limits,
    )
    profiles = summary.join(scored, on="customer_id").join(
        staged.set_index("customer_id").stage, on="customer_id"
    )
    counts = (
        pd.crosstab(
            staged_before.set_index("customer_id").stage.rename("before"),
            staged.set_index("customer_id").stage.rename("after"),
        )
        .reindex(index=list(STAGES), columns=list(STAGES), fill_value=0)
        .astype("int64")
    )
    totals = counts.sum(axis=1)
    probabilities = counts.div(totals.where(totals > 0), axis=0)
    probabilities = probabilities.fillna(pd.DataFrame(np.eye(len(STAGES)), counts.index, STAGES))
    reactivation = {
        s: (int(counts.loc[s, "active"]) / int(totals[s]) if totals[s] else None) for s in STAGES
    }
    stage_counts = staged.stage.value_counts().reindex(list(STAGES), fill_value=0)
    stages = pd.DataFrame(
        {
            "stage": list(STAGES),
            "label": [lifecycle.labels[s].en for s in STAGES],
            "customers": stage_counts.to_numpy(),
            "share": stage_counts.to_numpy() / max(int(stage_counts.sum()), 1),
        }
    )

    step("cohorts")
    retention, revenue = _cohorts(p, stamp, cohort_revenue)
    step("kpis")
    kpis = _kpis(p, summary, events, folder, stamp)
    return Results(
        profiles=profiles,
        segments=segments,
        grid=grid,
        thresholds=limits,
        stages=stages,
        transitions=counts,
        probabilities=probabilities,
        reactivation=reactivation,
        retention=retention,
        revenue=revenue,
        kpis=kpis,
    )


def _summary(
    p: pd.DataFrame, customers: pd.DataFrame, events: pd.DataFrame, stamp: pd.Timestamp
) -> pd.DataFrame:
    """One row per customer, the columns of patron.analytics.summary.COLUMNS."""
    per = p.groupby("customer_id").agg(
        orders=("id", "size"),
        first_order_at=("placed_at", "min"),
        last_order_at=("placed_at", "max"),
        gross_minor=("total_minor", "sum"),
        refunded_minor=("refunded_minor", "sum"),
        refunds=("refunds", "sum"),
    )
    visits = events.groupby("customer_id").occurred_at.max().rename("last_visit_at")
    s = customers.rename(columns={"id": "customer_id"}).join(per, on="customer_id")
    s = s.join(visits, on="customer_id")
    for column in ("orders", "gross_minor", "refunded_minor", "refunds"):
        s[column] = s[column].fillna(0).astype("int64")
    s["repeat_orders"] = (s.orders - 1).clip(lower=0)
    s["net_minor"] = s.gross_minor - s.refunded_minor
    mean = s.net_minor / s.orders.where(s.orders > 0)
    s["aov_minor"] = np.sign(mean) * np.floor(mean.abs() + 0.5)  # SQL ROUND: half away from 0
    span = (s.last_order_at - s.first_order_at).dt.total_seconds()
    s["mean_interval_days"] = span / 86_400 / (s.orders - 1).where(s.orders > 1)
    s["days_since_first_order"] = (stamp - s.first_order_at) // DAY
    s["days_since_last_order"] = (stamp - s.last_order_at) // DAY
    s["days_since_last_visit"] = (stamp - s.last_visit_at) // DAY
    return s


def _rfm(summary: pd.DataFrame, grid: GridScheme, scores: ScoreScheme) -> pd.DataFrame:
    """Per buyer (index customer_id): recency_days, frequency, monetary_minor, r/f/m scores,
    rfm_cell, grid_segment and segment."""
    buyers = summary[summary.orders > 0].set_index("customer_id")
    b = pd.DataFrame(
        {
            "recency_days": buyers.days_since_last_order.astype("int64"),
            "frequency": buyers.orders,
            "monetary_minor": buyers.net_minor,
        }
    )
    n = len(b)

    def score(worst_first: pd.Series) -> pd.Series:
        # 1 + floor(5 (rank - 1) / n), rank as SQL RANK: ties share the lowest rank.
        rank = worst_first.rank(method="min").astype("int64")
        return 1 + SCORES * (rank - 1) // n

    b["r_score"] = score(-b.recency_days)
    b["f_score"] = score(b.frequency)
    b["m_score"] = score(b.monetary_minor)
    b["rfm_cell"] = (b.r_score * 100 + b.f_score * 10 + b.m_score).astype(str)

    split = "median" if grid.split == "median" else "mean"
    r_high = b.recency_days < b.recency_days.agg(split)
    f_high = b.frequency > b.frequency.agg(split)
    m_high = b.monetary_minor > b.monetary_minor.agg(split)
    cells = {(c.r, c.f, c.m): c.key for c in grid.cells}
    code = r_high.astype(int) * 4 + f_high.astype(int) * 2 + m_high.astype(int)
    keys = [cells[(bool(i & 4), bool(i & 2), bool(i & 1))] for i in range(8)]
    b["grid_segment"] = np.array(keys, dtype=object)[code.to_numpy()]

    lookup = np.empty((SCORES + 1, SCORES + 1), dtype=object)
    for r in range(1, SCORES + 1):
        for f in range(1, SCORES + 1):
            lookup[r, f] = scores.segment(r, f)
    b["segment"] = lookup[b.r_score.to_numpy(), b.f_score.to_numpy()]
    return b


def _segment_table(scored: pd.DataFrame, column: str, labels: dict[str, Any]) -> pd.DataFrame:
    """Per segment in the scheme's order: customers, shares and means, as segment_table."""
    table = (
        scored.groupby(column)
        .agg(
            customers=("frequency", "size"),
            mean_recency_days=("recency_days", "mean"),
            mean_frequency=("frequency", "mean"),
            mean_monetary_minor=("monetary_minor", "mean"),
            net_minor=("monetary_minor", "sum"),
        )
        .reindex(list(labels))
    )
    table[["customers", "net_minor"]] = table[["customers", "net_minor"]].fillna(0).astype("int64")
    buyers, revenue = int(table.customers.sum()), int(table.net_minor.sum())
    table["customer_share"] = table.customers / buyers if buyers else math.nan
    table["revenue_share"] = table.net_minor / revenue if revenue else math.nan
    table.insert(0, "label", [labels[k].en for k in table.index])
    means = ["mean_recency_days", "mean_frequency", "mean_monetary_minor"]
    table = table[["label", "customers", "customer_share", *means, "net_minor", "revenue_share"]]
    return table.rename_axis("segment").reset_index()


def _thresholds(p: pd.DataFrame, lifecycle: Lifecycle) -> dict[str, int]:
    """Stage thresholds: config days, else the inverted-CDF quantile of the whole-day
    (rounded up) intervals between consecutive purchases, raised to min_days and each above
    the one before (patron.analytics.stages)."""
    gaps = p.placed_at - p.previous_at
    days = np.sort(np.ceil(gaps.dropna() / DAY).astype("int64").to_numpy())
    limits: dict[str, int] = {}
    previous = 0
    for stage in DAY_STAGES:
        if stage in lifecycle.days:
            value = lifecycle.days[stage]
        else:
            if len(days):
                # The lowest interval with at least a share q of all intervals at or below it.
                q = Fraction(repr(lifecycle.quantiles[stage]))
                value = int(days[math.ceil(q * len(days)) - 1])
            else:
                value = DEFAULT_DAYS[stage]
            value = max(value, lifecycle.min_days)
        value = max(value, previous + 1)
        limits[stage] = previous = value
    limits["new"] = lifecycle.days.get("new", limits["active"])
    return limits


def _assign(s: pd.DataFrame, limits: dict[str, int]) -> pd.DataFrame:
    """customer_id and stage of every customer of a summary."""
    conditions = [s.orders == 0, s.days_since_first_order <= limits["new"]]
    conditions += [s.days_since_last_order <= limits[name] for name in DAY_STAGES]
    stage = np.select(conditions, ["potential", "new", *DAY_STAGES], default="dead")
    return pd.DataFrame({"customer_id": s.customer_id.to_numpy(), "stage": stage})


def _month(t: pd.Series) -> pd.Series:
    return t.dt.year * 12 + t.dt.month - 1


def _cohorts(
    p: pd.DataFrame, stamp: pd.Timestamp, with_revenue: bool
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The retention matrix (share of the cohort buying in month k; cohorts 'YYYY-MM' as
    rows, k as columns, NaN beyond the last month) and, if asked, the long revenue/LTV table
    of patron.analytics.cohorts.revenue."""
    cohort = _month(p.first_at)
    k = _month(p.placed_at) - cohort
    months = pd.DataFrame({"customer_id": p.customer_id, "cohort": cohort, "k": k})
    sizes = cohort[p.n == 0].value_counts().sort_index()
    last = stamp - pd.Timedelta(microseconds=1)
    last_month = last.year * 12 + last.month - 1
    ks = range(last_month - int(sizes.index.min()) + 1) if len(sizes) else range(0)
    seen = pd.DataFrame(
        np.arange(len(ks))[None, :] <= (last_month - sizes.index.to_numpy())[:, None],
        index=sizes.index,
        columns=ks,
    )
    buying = (
        months.drop_duplicates()
        .groupby(["cohort", "k"])
        .size()
        .unstack(fill_value=0)
        .reindex(index=sizes.index, columns=ks, fill_value=0)
    )
    labels = [f"{m // 12}-{m % 12 + 1:02d}" for m in sizes.index]
    retention = buying.div(sizes, axis=0).where(seen)
    retention.index, retention.columns.name = pd.Index(labels, name="cohort"), "k"
    if not with_revenue:
        return retention, None
    monthly = (
        pd.DataFrame({"cohort": cohort, "k": k, "net_minor": p.net_minor})
        .groupby(["cohort", "k"])
        .net_minor.agg(orders="size", net_minor="sum")
    )
    cells = seen.stack()
    cells = cells[cells].index.to_frame(index=False, name=["cohort", "k"])
    revenue = cells.join(monthly, on=["cohort", "k"])
    revenue[["orders", "net_minor"]] = revenue[["orders", "net_minor"]].fillna(0).astype("int64")
    revenue["cohort_size"] = revenue.cohort.map(sizes)
    revenue["cumulative_net_minor"] = revenue.groupby("cohort").net_minor.cumsum()
    revenue["ltv_minor"] = revenue.cumulative_net_minor / revenue.cohort_size
    revenue["cohort"] = revenue.cohort.map(dict(zip(sizes.index, labels, strict=True)))
    columns = ["cohort", "k", "cohort_size", "orders", "net_minor", "cumulative_net_minor"]
    return retention, revenue[[*columns, "ltv_minor"]]


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _rounded(numerator: int, denominator: int) -> int | None:
    """Rounded half up, in integers."""
    return (2 * numerator + denominator) // (2 * denominator) if denominator else None


def _kpis(
    p: pd.DataFrame,
    summary: pd.DataFrame,
    events: pd.DataFrame,
    folder: Path,
    stamp: pd.Timestamp,
) -> dict[str, Any]:
    """The figures of patron.analytics.kpis.Kpis (nested ones as dicts)."""
    customers = len(summary)
    buyers = int((summary.orders > 0).sum())
    repeat_buyers = int((summary.orders > 1).sum())
    purchases = int(summary.orders.sum())
    gross = int(summary.gross_minor.sum())
    refunded = int(summary.refunded_minor.sum())
    net = gross - refunded

    leaders = summary[summary.orders > 0].sort_values(
        ["net_minor", "customer_id"], ascending=[False, True]
    )
    top_net = int(leaders.net_minor.iloc[: -(-buyers // 5)].sum())

    # First and second purchase of every buyer.
    firsts = p.loc[p.n == 0, ["customer_id", "id", "placed_at"]].set_axis(
        ["customer_id", "first_order_id", "first_at"], axis=1
    )
    seconds = p.loc[p.n == 1].set_index("customer_id").placed_at.rename("second_at")
    firsts = firsts.join(seconds, on="customer_id")
    repurchase = []
    for days in REPURCHASE_DAYS:
        flags = _repurchased(firsts, stamp, days)
        eligible, done = int(flags.eligible.sum()), int(flags.repurchased.sum())
        repurchase.append(
            {
                "days": days,
                "eligible": eligible,
                "repurchased": done,
                "rate": _ratio(done, eligible),
            }
        )

    start = stamp - pd.Timedelta(days=2 * PERIOD_DAYS)
    middle = stamp - pd.Timedelta(days=PERIOD_DAYS)
    recent = p[p.placed_at >= start]
    earlier = (recent.placed_at < middle).groupby(recent.customer_id).agg(["any", "all"])
    churn_base, churned = int(earlier["any"].sum()), int(earlier["all"].sum())

    year = p[p.placed_at >= stamp - pd.Timedelta(days=FREQUENCY_DAYS)]
    frequency = _ratio(len(year), year.customer_id.nunique())
    new, returning = _new_and_returning(p[p.placed_at >= middle], summary, middle)

    return {
        "customers": customers,
        "buyers": buyers,
        "repeat_buyers": repeat_buyers,
        "repurchase_rate": _ratio(repeat_buyers, buyers),
        "repurchase": repurchase,
        "purchases": purchases,
        "gross_revenue_minor": gross,
        "refunded_minor": refunded,
        "net_revenue_minor": net,
        "refund_rate": _ratio(refunded, gross),
        "aov_minor": _rounded(net, purchases),
        "orders_per_buyer": _ratio(purchases, buyers),
        "revenue_share_top20": _ratio(top_net, net),
        "churn_base": churn_base,
        "churned": churned,
        "churn_rate": _ratio(churned, churn_base),
        "purchase_frequency": frequency,
        "new": new,
        "returning": returning,
        "cart_abandonment_rate": _cart_abandonment(p, events, stamp),
        "visits_per_active_customer": _visits(events, stamp),
        "gateway": _gateway(firsts, folder, stamp),
    }


def _repurchased(firsts: pd.DataFrame, stamp: pd.Timestamp, days: int) -> pd.DataFrame:
    """Per row of ``firsts`` (first_at, second_at): eligible (first purchase at least ``days``
    before as_of) and repurchased (eligible, second purchase within ``days``)."""
    window = pd.Timedelta(days=days)
    eligible = firsts.first_at <= stamp - window
    within = firsts.second_at <= firsts.first_at + window  # no second purchase (NaT): False
    return pd.DataFrame({"eligible": eligible, "repurchased": eligible & within})


def _new_and_returning(
    window: pd.DataFrame, summary: pd.DataFrame, start: pd.Timestamp
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The new and returning groups of the purchases of the window from ``start``."""
    per = window.groupby("customer_id").agg(
        purchases=("id", "size"), net_minor=("net_minor", "sum"), first_at=("first_at", "max")
    )
    per = per.join(summary.set_index("customer_id").net_minor.rename("ltv_minor"))
    groups = per.groupby(per.first_at >= start).agg(
        customers=("purchases", "size"),
        purchases=("purchases", "sum"),
        net_minor=("net_minor", "sum"),
        ltv_minor=("ltv_minor", "sum"),
    )
    total = int(per.net_minor.sum())

    def group(new: bool) -> dict[str, Any]:
        row = groups.loc[new] if new in groups.index else pd.Series(0, index=groups.columns)
        members, bought = int(row.customers), int(row.purchases)
        net_minor, ltv = int(row.net_minor), int(row.ltv_minor)
        return {
            "customers": members,
            "purchases": bought,
            "net_minor": net_minor,
            "aov_minor": _rounded(net_minor, bought),
            "revenue_share": _ratio(net_minor, total),
            "mean_ltv_minor": _ratio(ltv, members),
        }

    return group(True), group(False)


def _cart_abandonment(p: pd.DataFrame, events: pd.DataFrame, stamp: pd.Timestamp) -> float | None:
    """Share of the customers carting in [as_of - 30 d, as_of - 24 h) with no purchase within
    24 h after any of their cart_add events."""
    hours = pd.Timedelta(hours=CART_HOURS)
    carts = events[
        (events.event_type == "cart_add")
        & (events.occurred_at >= stamp - pd.Timedelta(days=CART_DAYS))
        & (events.occurred_at < stamp - hours)
    ]
    pairs = carts[["customer_id", "occurred_at"]].merge(
        p[["customer_id", "placed_at"]], on="customer_id"
    )
    bought = pairs[
        (pairs.placed_at >= pairs.occurred_at) & (pairs.placed_at <= pairs.occurred_at + hours)
    ]
    carting = carts.customer_id.nunique()
    return _ratio(carting - bought.customer_id.nunique(), carting)


def _visits(events: pd.DataFrame, stamp: pd.Timestamp) -> float | None:
    """Distinct (customer, UTC day) pairs with an event over the last 30 days per customer."""
    month = events[events.occurred_at >= stamp - pd.Timedelta(days=VISIT_DAYS)]
    days = pd.DataFrame({"customer_id": month.customer_id, "day": month.occurred_at.dt.floor("D")})
    return _ratio(len(days.drop_duplicates()), month.customer_id.nunique())


def _gateway(firsts: pd.DataFrame, folder: Path, stamp: pd.Timestamp) -> list[dict[str, Any]]:
    """Per top-level category of the buyers' first orders (no category last): customers and
    their 90-day repurchase."""
    lines = pd.read_parquet(folder / "order_lines.parquet", columns=["order_id", "product_id"])
    products = pd.read_parquet(folder / "products.parquet", columns=["id", "category_path"])
    products = pd.DataFrame(
        {
            "product_id": products.id,
            "category": products.category_path.str.split(">").str[0].str.strip(),
        }
    )
    first_lines = firsts.merge(lines, left_on="first_order_id", right_on="order_id").merge(
        products, on="product_id", how="left"
    )
    categories = first_lines.drop_duplicates(["customer_id", "category"])
    flags = _repurchased(categories, stamp, PERIOD_DAYS)
    table = (
        categories[["customer_id", "category"]]
        .join(flags)
        .groupby("category", dropna=False)  # sorted, NaN last
        .agg(
            customers=("customer_id", "size"),
            eligible=("eligible", "sum"),
            repurchased=("repurchased", "sum"),
        )
    )
    return [
        {
            "category": None if pd.isna(category) else str(category),
            "customers": int(row.customers),
            "eligible": int(row.eligible),
            "repurchased": int(row.repurchased),
            "rate": _ratio(int(row.repurchased), int(row.eligible)),
        }
        for category, row in table.iterrows()
    ]


# The figures both sides report, flat: name -> number (or None).
_KPI_FIGURES = (
    "customers",
    "buyers",
    "repeat_buyers",
    "repurchase_rate",
    "purchases",
    "gross_revenue_minor",
    "refunded_minor",
    "net_revenue_minor",
    "refund_rate",
    "aov_minor",
    "orders_per_buyer",
    "revenue_share_top20",
    "churn_base",
    "churned",
    "churn_rate",
    "purchase_frequency",
    "cart_abandonment_rate",
    "visits_per_active_customer",
)
_GROUP_FIGURES = (
    "customers",
    "purchases",
    "net_minor",
    "aov_minor",
    "revenue_share",
    "mean_ltv_minor",
)


def _flat(
    kpis: dict[str, Any],
    thresholds: dict[str, int],
    stages: pd.DataFrame,
    segments: pd.DataFrame,
    grid: pd.DataFrame,
    transitions: pd.DataFrame,
    retention: pd.DataFrame,
    profiles: int,
    rfm_cells: int,
) -> dict[str, Any]:
    out: dict[str, Any] = {name: kpis[name] for name in _KPI_FIGURES}
    for row in kpis["repurchase"]:
        for field in ("eligible", "repurchased", "rate"):
            out[f"repurchase_{row['days']}.{field}"] = row[field]
    for name in ("new", "returning"):
        for field in _GROUP_FIGURES:
            out[f"{name}.{field}"] = kpis[name][field]
    out["gateway_rows"] = len(kpis["gateway"])
    for row in kpis["gateway"]:
        for field in ("customers", "eligible", "repurchased"):
            out[f"gateway.{row['category']}.{field}"] = row[field]
    for stage in ("new", *DAY_STAGES):
        out[f"threshold.{stage}"] = thresholds[stage]
    for table, prefix in ((stages, "stage"), (segments, "segment"), (grid, "grid")):
        key = "stage" if prefix == "stage" else "segment"
        for row in table.itertuples(index=False):
            out[f"{prefix}.{getattr(row, key)}"] = int(row.customers)
    for table, prefix in ((segments, "segment_net"), (grid, "grid_net")):
        for row in table.itertuples(index=False):
            out[f"{prefix}.{row.segment}"] = int(row.net_minor)
    counts = transitions.to_numpy()
    out["transitions.total"] = int(counts.sum())
    out["transitions.stayed"] = int(np.trace(counts))
    for stage, n in zip(STAGES, counts.sum(axis=1), strict=True):
        out[f"stage_before.{stage}"] = int(n)
    out["retention.cohorts"] = int(retention.shape[0])
    out["retention.cells"] = int(retention.notna().to_numpy().sum())
    out["retention.share_sum"] = float(np.nansum(retention.to_numpy(dtype="float64")))
    out["profiles"] = profiles
    out["rfm_cells"] = rfm_cells
    return out


def figures(results: Results) -> dict[str, Any]:
    """The headline figures of :func:`analyse`'s results, flat (name → number)."""
    return _flat(
        results.kpis,
        results.thresholds,
        results.stages,
        results.segments,
        results.grid,
        results.transitions,
        results.retention,
        len(results.profiles),
        int(results.profiles.rfm_cell.nunique()),
    )


def patron_figures(analysis: Any) -> dict[str, Any]:
    """The same figures from Patron's ``patron.analytics.service.Analysis``."""
    k = analysis.kpis
    kpis: dict[str, Any] = {name: getattr(k, name) for name in _KPI_FIGURES}
    kpis["repurchase"] = [
        {"days": r.days, "eligible": r.eligible, "repurchased": r.repurchased, "rate": r.rate}
        for r in k.repurchase
    ]
    for name in ("new", "returning"):
        kpis[name] = {field: getattr(getattr(k, name), field) for field in _GROUP_FIGURES}
    kpis["gateway"] = [
        {
            "category": g.category,
            "customers": g.customers,
            "eligible": g.eligible,
            "repurchased": g.repurchased,
        }
        for g in k.gateway
    ]
    th = analysis.thresholds
    thresholds = {s: getattr(th, s) for s in ("new", *DAY_STAGES)}
    cells = analysis.profiles.column("rfm_cell").drop_null()
    return _flat(
        kpis,
        thresholds,
        analysis.stages,
        analysis.segments,
        analysis.grid,
        analysis.transitions.counts,
        analysis.retention,
        analysis.profiles.num_rows,
        len(set(cells.to_pylist())),
    )


MEASUREMENTS = frozenset({"seconds", "core_seconds", "cpu_seconds", "steps", "peak_rss_mib"})
"""Keys of a timed result that are measurements, not figures: :func:`disagreements` skips them."""


def disagreements(ours: dict[str, Any], theirs: dict[str, Any], rel: float = 1e-9) -> list[str]:
    """The figures that differ (floats beyond ``rel`` relative), as readable lines."""
    out = []
    for name in sorted((set(ours) | set(theirs)) - MEASUREMENTS):
        a, b = ours.get(name, "missing"), theirs.get(name, "missing")
        numbers = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b))
        if not (math.isclose(a, b, rel_tol=rel, abs_tol=1e-12) if numbers else a == b):
            out.append(f"{name}: pandas {a!r} != patron {b!r}")
    return out


def timed(folder: Path, as_of: datetime) -> dict[str, Any]:
    """:func:`run` with its wall seconds (total and per step) and CPU seconds (this process,
    user + system)."""
    steps: dict[str, float] = {}
    last: list[Any] = [0.0, ""]

    def progress(name: str) -> None:
        now = time.perf_counter()
        if last[1]:
            steps[last[1]] = round(now - last[0], 2)
        last[0], last[1] = now, name

    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = run(folder, as_of, progress=progress)
    progress("")
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    result["seconds"] = round(seconds, 2)
    result["cpu_seconds"] = round(cpu, 2)
    result["steps"] = steps
    return result
