"""The baseline of the analytics benchmark: the same analysis written straightforwardly in
pandas (read the Parquet files whole, group-bys and merges), as an analyst would.

It computes what `patron.analytics.service.compute` does — customer summary, RFM scores and
both segment schemes, lifecycle stages now and 30 days before with their transitions, monthly
retention cohorts and the headline KPIs — with the same rules, so that the timings compare
like with like.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PURCHASES = ("paid", "shipped", "completed", "refunded")
DAY = 86_400


def run(folder: Path, as_of: datetime) -> dict[str, Any]:
    orders = pd.read_parquet(folder / "orders.parquet")
    refunds = pd.read_parquet(folder / "refunds.parquet")
    customers = pd.read_parquet(folder / "customers.parquet", columns=["id"])
    events = pd.read_parquet(folder / "events.parquet", columns=["customer_id", "occurred_at"])
    stamp = pd.Timestamp(as_of)
    bought = orders[orders.status.isin(PURCHASES) & (orders.placed_at < stamp)]

    summary = _summary(bought, refunds, customers, events, stamp)
    buyers = summary[summary.orders > 0].copy()
    n = len(buyers)

    def score(values: pd.Series, ascending: bool) -> pd.Series:
        rank = values.rank(method="min", ascending=ascending)
        return (1 + np.floor(5 * (rank - 1) / n)).astype(int)

    buyers["r"] = score(buyers.days_since_last_order, ascending=False)
    buyers["f"] = score(buyers.orders, ascending=True)
    buyers["m"] = score(buyers.net_minor, ascending=True)
    high = (
        (buyers.days_since_last_order < buyers.days_since_last_order.mean()).astype(int) * 4
        + (buyers.orders > buyers.orders.mean()).astype(int) * 2
        + (buyers.net_minor > buyers.net_minor.mean()).astype(int)
    )
    grid = high.value_counts()

    intervals = bought.sort_values(["customer_id", "placed_at"])
    gaps = intervals.groupby("customer_id").placed_at.diff().dropna().dt.total_seconds() // DAY
    cuts = [max(7, math.ceil(gaps.quantile(q))) for q in (0.5, 0.75, 0.9, 0.95)]
    stages_now = _stages(bought, customers, stamp, cuts)
    before = stamp - pd.Timedelta(days=30)
    stages_before = _stages(bought[bought.placed_at < before], customers, before, cuts)
    moves = pd.crosstab(stages_before, stages_now)

    first = bought.groupby("customer_id").placed_at.min().rename("first")
    cohort = bought.join(first, on="customer_id")
    cohort["cohort"] = cohort["first"].dt.year * 12 + cohort["first"].dt.month
    cohort["k"] = cohort.placed_at.dt.year * 12 + cohort.placed_at.dt.month - cohort.cohort
    retention = cohort.groupby(["cohort", "k"]).customer_id.nunique().unstack(fill_value=0)

    net = buyers.net_minor.sort_values(ascending=False)
    top = math.ceil(0.2 * n)
    return {
        "customers": len(summary),
        "buyers": n,
        "repeat_buyers": int((buyers.orders > 1).sum()),
        "aov_minor": round(buyers.net_minor.sum() / buyers.orders.sum()),
        "revenue_share_top20": float(net.iloc[:top].sum() / net.sum()),
        "grid_cells": int(grid.size),
        "stage_moves": int(moves.to_numpy().sum()),
        "cohorts": int(retention.shape[0]),
        "rfm_cells": int((buyers.r * 100 + buyers.f * 10 + buyers.m).nunique()),
    }


def _summary(
    bought: pd.DataFrame,
    refunds: pd.DataFrame,
    customers: pd.DataFrame,
    events: pd.DataFrame,
    stamp: pd.Timestamp,
) -> pd.DataFrame:
    per = bought.groupby("customer_id").agg(
        orders=("id", "size"),
        first_order_at=("placed_at", "min"),
        last_order_at=("placed_at", "max"),
        gross_minor=("total_minor", "sum"),
    )
    ref = refunds[refunds.refunded_at.isna() | (refunds.refunded_at < stamp)].merge(
        bought[["id", "customer_id"]], left_on="order_id", right_on="id"
    )
    per = per.join(ref.groupby("customer_id").amount_minor.sum().rename("refunded_minor"))
    visits = events[events.occurred_at < stamp].groupby("customer_id").occurred_at.max()
    out = customers.set_index("id").join(per).join(visits.rename("last_visit_at"))
    out["orders"] = out.orders.fillna(0).astype(int)
    out["net_minor"] = out.gross_minor.fillna(0) - out.refunded_minor.fillna(0)
    out["days_since_last_order"] = (stamp - out.last_order_at).dt.total_seconds() // DAY
    out["days_since_first_order"] = (stamp - out.first_order_at).dt.total_seconds() // DAY
    return out


def _stages(
    bought: pd.DataFrame, customers: pd.DataFrame, stamp: pd.Timestamp, cuts: list[int]
) -> pd.Series:
    per = bought.groupby("customer_id").placed_at.agg(["min", "max"])
    since_last = (stamp - per["max"]).dt.total_seconds() // DAY
    since_first = (stamp - per["min"]).dt.total_seconds() // DAY
    stage = pd.Series("dead", index=per.index)
    names = ("active", "silent", "sleeping", "churned")
    for name, cut in reversed(list(zip(names, cuts, strict=True))):
        stage[since_last <= cut] = name
    stage[since_first <= cuts[0]] = "new"
    return stage.reindex(customers.id, fill_value="potential")


def timed(folder: Path, as_of: datetime) -> dict[str, Any]:
    start = datetime.now()
    result = run(folder, as_of)
    result["seconds"] = (datetime.now() - start) / timedelta(seconds=1)
    return result
