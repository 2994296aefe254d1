"""Lifecycle stages (客户生命周期): thresholds from the shop's own rhythm, each customer's stage,
how customers move between stages, and where the populations head.

The rules are those of ``schemes/lifecycle.toml``. A threshold is fixed days from the config,
else a quantile of the shop's inter-purchase intervals. The quantile is the *inverted CDF*
one: the lowest interval whose cumulative share of all intervals is at least q (numpy's
``method="inverted_cdf"``), so it is always an interval that happened, never an interpolation,
and it is computed exactly in Python from the intervals' day histogram (one row per distinct
whole-day value). Intervals are counted in whole days rounded up, which rounds the quantile up
as the config asks (rounding up commutes with taking an order statistic).

Derived thresholds are then raised to ``min_days``, and, in stage order, any threshold (fixed
ones too, so that the stages stay in order whatever the config says) to one day above the one
before; ``source`` records every raise. A shop without a single repeat purchase has no
intervals: its derived thresholds fall back to :data:`DEFAULT_DAYS`. The new-customer window
defaults to the active threshold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

import ibis
import numpy as np
import pandas as pd
from ibis.expr.types import IntegerValue, StringValue, Table

from patron.analytics.facts import SECONDS_PER_DAY, Facts, stamp
from patron.analytics.schemes import DAY_STAGES, STAGES, Lang, Lifecycle
from patron.analytics.summary import customer_summary

DEFAULT_DAYS: dict[str, int] = {"active": 30, "silent": 60, "sleeping": 90, "churned": 180}
"""Thresholds of a shop without repeat purchases, where the config gives no fixed days."""


@dataclass(frozen=True)
class StageThresholds:
    """Days since purchase that bound each stage (a customer is in the first stage whose
    threshold the days do not exceed), and how each was set."""

    new: int
    active: int
    silent: int
    sleeping: int
    churned: int
    source: dict[str, str] = field(default_factory=dict, hash=False)
    """Per stage: "config", "quantile q of N intervals", "default …" or "active", plus any
    raise applied ("…: 59, raised to min_days", "…: 102, raised above 102")."""

    def day_limits(self) -> tuple[tuple[str, int], ...]:
        """The thresholds of :data:`DAY_STAGES`, in stage order."""
        return (
            ("active", self.active),
            ("silent", self.silent),
            ("sleeping", self.sleeping),
            ("churned", self.churned),
        )


def interpurchase_days(facts: Facts, as_of: datetime) -> Table:
    """Every gap between consecutive purchases of a customer placed before ``as_of``:
    customer_id, placed_at (the later purchase), seconds (between the whole seconds of the
    two) and days (whole, rounded up, exact to the microsecond)."""
    p = facts.purchases(as_of)
    gaps = p.filter(p.previous_at.notnull())
    # Engines disagree on fractions of a second in epoch seconds (DuckDB keeps them, Spark
    # drops them), so count whole seconds, then settle the part of a day left over with one
    # exact comparison of timestamps.
    seconds = (
        gaps.placed_at.epoch_seconds().floor() - gaps.previous_at.epoch_seconds().floor()
    ).cast("int64")
    whole = seconds // SECONDS_PER_DAY
    beyond = gaps.previous_at + whole.as_interval("D") < gaps.placed_at
    return gaps.select(
        customer_id=gaps.customer_id,
        placed_at=gaps.placed_at,
        seconds=seconds,
        days=(whole + ibis.ifelse(beyond, 1, 0)).cast("int64"),
    )


def gap_histogram(facts: Facts, as_of: datetime) -> Table:
    """The :func:`interpurchase_days` as days (whole, rounded up) and n (how many gaps)."""
    gaps = interpurchase_days(facts, as_of)
    return gaps.group_by("days").aggregate(n=gaps.count())


def thresholds(facts: Facts, as_of: datetime, lifecycle: Lifecycle) -> StageThresholds:
    """The stage thresholds of the shop as of ``as_of`` under ``lifecycle`` (see the module
    docstring for the rules)."""
    return thresholds_from(gap_histogram(facts, as_of), lifecycle)


def thresholds_from(histogram: Table, lifecycle: Lifecycle) -> StageThresholds:
    """The stage thresholds from a :func:`gap_histogram` (the gaps an incremental refresh
    keeps counted)."""
    rows = histogram.order_by("days").to_pandas()
    days = [int(d) for d in rows["days"]]
    counts = [int(n) for n in rows["n"]]
    intervals = sum(counts)
    limits: dict[str, int] = {}
    source: dict[str, str] = {}
    previous = 0
    for stage in DAY_STAGES:
        if stage in lifecycle.days:
            value, how = lifecycle.days[stage], "config"
        else:
            if intervals:
                q = lifecycle.quantiles[stage]
                value = _quantile(days, counts, q)
                how = f"quantile {q:g} of {intervals} intervals"
            else:
                value, how = DEFAULT_DAYS[stage], "default (no repeat purchases)"
            if value < lifecycle.min_days:
                value, how = lifecycle.min_days, f"{how}: {value}, raised to min_days"
        if value <= previous:
            value, how = previous + 1, f"{how}: {value}, raised above {previous}"
        limits[stage] = previous = value
        source[stage] = how
    new = lifecycle.days.get("new", limits["active"])
    source["new"] = "config" if "new" in lifecycle.days else "active"
    return StageThresholds(new=new, source=source, **limits)


def _quantile(days: list[int], counts: list[int], q: float) -> int:
    """The lowest of the sorted ``days`` whose cumulative share of ``counts`` is at least q,
    with q read as the decimal it was written as (0.1 is exactly 1/10, not the float nearest it)."""
    need = Fraction(repr(q)) * sum(counts)
    seen = 0
    for value, n in zip(days, counts, strict=True):
        seen += n
        if seen >= need:
            return value
    raise ValueError(f"quantile {q} outside (0, 1]")


def assign(summary: Table, t: StageThresholds) -> Table:
    """customer_id, stage and days_since_last_order of each customer of a
    :func:`~patron.analytics.summary.customer_summary`."""
    s = summary
    return s.select(
        customer_id=s.customer_id,
        stage=stage(s.orders, s.days_since_first_order, s.days_since_last_order, t),
        days_since_last_order=s.days_since_last_order,
    )


def stage(
    orders: IntegerValue,
    days_since_first: IntegerValue,
    days_since_last: IntegerValue,
    t: StageThresholds,
) -> StringValue:
    """The stage of a customer with ``orders`` purchases, the first and last that many whole
    days ago."""
    found: StringValue = ibis.cases(
        (orders == 0, "potential"),
        (days_since_first <= t.new, "new"),
        *((days_since_last <= limit, name) for name, limit in t.day_limits()),
        else_="dead",
    )
    return found


def stage_table(staged: Table, lifecycle: Lifecycle, lang: Lang) -> Table:
    """Customers and share of all customers per stage of an :func:`assign` result, every
    stage in :data:`STAGES` order (zero where empty), with its label in ``lang``."""
    stages = ibis.memtable(
        pd.DataFrame(
            {
                "stage": list(STAGES),
                "label": [lifecycle.labels[s].text(lang) for s in STAGES],
                "position": list(range(len(STAGES))),
            }
        )
    )
    counted = staged.group_by("stage").aggregate(customers=staged.count())
    joined = stages.left_join(counted, "stage").drop("stage_right")
    customers = joined.customers.fill_null(0).cast("int64")
    total = customers.sum().over()
    return (
        joined.select(
            stage=joined.stage,
            label=joined.label,
            customers=customers,
            share=ibis.ifelse(total > 0, customers.cast("float64") / total, 0.0),
            position=joined.position,
        )
        .order_by("position")
        .drop("position")
    )


@dataclass(frozen=True, eq=False)
class Transitions:
    """How the customers of a later snapshot were staged in an earlier one.

    ``counts`` and ``probabilities`` are 7×7 DataFrames indexed by the earlier stage (rows)
    and the later one (columns), both in :data:`STAGES` order. Each probability row is the
    row of counts over its total; a stage without customers earlier has no evidence, so its
    row keeps them where they are (1 on the diagonal) and the matrix stays stochastic.

    ``reactivation`` is, per earlier stage, the share of its customers who are ``active`` in
    the later snapshot (None for a stage without customers). For silent, sleeping, churned
    and dead customers that means they bought again and their latest purchase is within the
    active threshold at the later date (one who bought and lapsed again is not counted); for
    active customers it is the share who stayed active.
    """

    counts: pd.DataFrame
    probabilities: pd.DataFrame
    reactivation: dict[str, float | None]


def transitions(before: Table, after: Table) -> Transitions:
    """Stage moves between two :func:`assign` results of the same facts and thresholds.

    Rows are ``after``'s customers; one absent from ``before`` (not yet known) counts from
    "potential". Only the 7×7 counts leave the backend."""
    return moves(paired(before, after))


def paired(before: Table, after: Table) -> Table:
    """source (stage in ``before``, "potential" for a customer not in it) and target (stage in
    ``after``) of every customer of ``after``, two :func:`assign` results."""
    earlier = before.select(customer_id=before.customer_id, source=before.stage)
    later = after.select(customer_id=after.customer_id, target=after.stage)
    j = later.left_join(earlier, "customer_id")
    return j.select(source=j.source.fill_null("potential"), target=j.target)


def moves(pairs: Table) -> Transitions:
    """:func:`transitions` from each customer's earlier and later stage (``source`` and
    ``target``)."""
    counted = pairs.group_by("source", "target").aggregate(n=pairs.count()).to_pandas()
    counts = (
        counted.pivot_table(index="source", columns="target", values="n", aggfunc="sum")
        .reindex(index=list(STAGES), columns=list(STAGES))
        .fillna(0)
        .astype("int64")
    )
    counts.index.name, counts.columns.name = "before", "after"
    totals = counts.sum(axis=1)
    matrix = counts.to_numpy(dtype="float64")
    rows = totals.to_numpy()
    probabilities = np.where(
        rows[:, None] > 0, matrix / np.maximum(rows, 1)[:, None], np.eye(len(STAGES))
    )
    reactivation = {
        s: (int(counts.loc[s, "active"]) / int(totals[s]) if totals[s] else None) for s in STAGES
    }
    return Transitions(
        counts,
        pd.DataFrame(probabilities, index=counts.index, columns=counts.columns),
        reactivation,
    )


def project(
    populations: Mapping[str, int], probabilities: pd.DataFrame, periods: int
) -> dict[str, float]:
    """Expected population of each state ``periods`` steps ahead under the Markov chain of
    ``probabilities`` (rows: from, columns: to, same labels in the same order); states not in
    ``populations`` start empty. Computed as populations · Pᵏ."""
    states = list(probabilities.index)
    if list(probabilities.columns) != states:
        raise ValueError("probabilities need the same states as rows and columns")
    unknown = set(populations) - set(states)
    if unknown:
        raise ValueError(f"populations of unknown states: {', '.join(sorted(unknown))}")
    if periods < 0:
        raise ValueError(f"periods must be ≥ 0, not {periods}")
    p = probabilities.to_numpy(dtype="float64")
    if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0):
        raise ValueError("each row of probabilities must be non-negative and sum to 1")
    start = np.array([populations.get(s, 0) for s in states], dtype="float64")
    ahead = start @ np.linalg.matrix_power(p, periods)
    return {s: float(x) for s, x in zip(states, ahead, strict=True)}


def stage_history(facts: Facts, as_of_dates: Iterable[datetime], t: StageThresholds) -> Table:
    """as_of, customer_id, stage and days_since_last_order of every customer at each date,
    all under the same thresholds so that stage changes are the customers' and not the
    thresholds'."""
    snapshots = [assign(customer_summary(facts, d), t).mutate(as_of=stamp(d)) for d in as_of_dates]
    if not snapshots:
        raise ValueError("give at least one as_of date")
    return ibis.union(*snapshots).select("as_of", "customer_id", "stage", "days_since_last_order")
