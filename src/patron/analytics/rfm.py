"""RFM scores and segments of the buyers, from the customer summary.

Recency is the days since the last purchase, frequency the number of purchases, monetary the
net spend in minor units. Each is scored 1–5 with 5 best (most recent, most orders, most money),
either by the buyers' own quantiles or by fixed cut points. Two segment schemes read the result:
the eight-cell grid (R, F, M high or low against the buyers' mean or median) and named groups on
the R and F scores; both come from configuration (:mod:`patron.analytics.schemes`).

Everything here stays portable Ibis (DuckDB locally, PySpark on a cluster): integer arithmetic
with explicit casts, no raw SQL and no float literals. The quantile scores and the grid split are
statistics over all buyers, so on Spark they gather the buyers (the quantile scores: their
distinct values) into one partition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from itertools import pairwise
from typing import Literal

import ibis
import pandas as pd
from ibis.expr.types import BooleanValue, IntegerColumn, IntegerValue, StringValue, Table

from patron.analytics.schemes import GridScheme, Label, Lang, ScoreScheme
from patron.errors import InputError

SCORES = 5
"""Scores run 1..SCORES."""

Cuts = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class RfmThresholds:
    """Fixed cut points, each four strictly ascending whole numbers.

    A value on a cut point takes the better score. Recency (fewer days is better):
    days ≤ c1 → 5, ≤ c2 → 4, ≤ c3 → 3, ≤ c4 → 2, else 1. Orders and money (more is better):
    value ≥ c4 → 5, ≥ c3 → 4, ≥ c2 → 3, ≥ c1 → 2, else 1. Recency cuts must be ≥ 0 and order
    cuts ≥ 1 (every buyer has an order); money cuts may be any whole number of minor units,
    since refunds can bring net spend to zero or below.
    """

    recency_days: Cuts
    orders: Cuts
    monetary_minor: Cuts

    def __post_init__(self) -> None:
        least = {"recency_days": 0, "orders": 1, "monetary_minor": None}
        for field in fields(self):
            cuts: object = getattr(self, field.name)
            floor = least[field.name]
            if (
                not isinstance(cuts, tuple)
                or len(cuts) != SCORES - 1
                or not all(isinstance(c, int) and not isinstance(c, bool) for c in cuts)
                or any(a >= b for a, b in pairwise(cuts))
                or (floor is not None and cuts[0] < floor)
            ):
                bound = "" if floor is None else f" ≥ {floor}"
                raise InputError(
                    f"RfmThresholds.{field.name} must be {SCORES - 1} strictly ascending whole"
                    f" numbers{bound}, not {cuts!r}",
                    field=field.name,
                )


def rfm(summary: Table, thresholds: RfmThresholds | None = None) -> Table:
    """R, F and M scores (1–5, 5 best) and the cell ("545") of every buyer of ``summary``.

    ``summary`` is :func:`patron.analytics.summary.customer_summary` (or any table with
    customer_id, orders, net_minor and days_since_last_order). Customers who never bought are
    left out: they have no recency and would pile up at the bottom of every quantile.

    Without ``thresholds`` the scores are quantiles among the n buyers:
    ``score = 1 + floor(5·(rank − 1) / n)`` where rank is the SQL RANK (1-based, tied values
    share the lowest rank of their group) ordering worst to best, so ties always get the same,
    lower score and the result does not depend on row order. With ``thresholds`` the scores come
    from the fixed cut points (see :class:`RfmThresholds`).
    """
    s = summary.filter(summary.orders > 0)
    buyers = s.select(
        customer_id=s.customer_id,
        recency_days=s.days_since_last_order.cast("int64"),
        frequency=s.orders.cast("int64"),
        monetary_minor=s.net_minor.cast("int64"),
    )
    recency: Sequence[int]
    frequency: Sequence[int]
    monetary: Sequence[int]
    if thresholds is None:
        recency = _quantile_cuts(buyers, "recency_days", ibis.desc, "max")
        frequency = _quantile_cuts(buyers, "frequency", ibis.asc, "min")
        monetary = _quantile_cuts(buyers, "monetary_minor", ibis.asc, "min")
    else:
        recency, frequency, monetary = (
            thresholds.recency_days,
            thresholds.orders,
            thresholds.monetary_minor,
        )
    scored = buyers.mutate(
        r_score=_lower_is_better(buyers.recency_days, recency),
        f_score=_higher_is_better(buyers.frequency, frequency),
        m_score=_higher_is_better(buyers.monetary_minor, monetary),
    )
    # Scores are single digits: the cell is their number in base ten, one cast per buyer.
    cell = scored.r_score * 100 + scored.f_score * 10 + scored.m_score
    return scored.mutate(rfm_cell=cell.cast("string"))


def _quantile_cuts(
    buyers: Table,
    column: str,
    worst_first: Callable[[ibis.Value], ibis.Value],
    least_good: Literal["min", "max"],
) -> list[int]:
    """Cut points giving each buyer the quantile score of ``column``: for each score from 2 to
    5 that some buyer gets, the least good value that gets it (several scores may share one;
    one nobody gets has none). The scores are 1 + ⌊5·w / n⌋ per distinct value, w the buyers
    with a worse value (SQL RANK − 1), counted per value and summed in order: a window over
    the distinct values (a few hundred days, a few dozen order counts) instead of a rank over
    every buyer, which runs on one thread; the buyers are then scored by comparisons."""
    counts = buyers.group_by(column).aggregate(k=buyers.count())
    seen = counts.k.sum().over(ibis.cumulative_window(order_by=worst_first(counts[column])))
    n = counts.k.sum().over(ibis.window())
    scored = counts.select(column, score=1 + (SCORES * (seen - counts.k)) // n)
    value = scored[column]
    reduce = value.min if least_good == "min" else value.max
    cuts = scored.aggregate(
        **{f"s{s}": reduce(where=scored.score >= s) for s in range(2, SCORES + 1)}
    )
    found = cuts.to_pyarrow().to_pylist()[0]
    return [int(found[f"s{s}"]) for s in range(2, SCORES + 1) if found[f"s{s}"] is not None]


def _lower_is_better(value: IntegerColumn, cuts: Sequence[int]) -> IntegerValue:
    """1 + how many of the ``cuts`` the value is at or below."""
    score: IntegerValue = 1 + sum(((value <= c).cast("int64") for c in cuts), ibis.literal(0))
    return score


def _higher_is_better(value: IntegerColumn, cuts: Sequence[int]) -> IntegerValue:
    """1 + how many of the ``cuts`` the value reaches."""
    score: IntegerValue = 1 + sum(((value >= c).cast("int64") for c in cuts), ibis.literal(0))
    return score


def grid_segments(scored: Table, scheme: GridScheme) -> Table:
    """Adds r_high, f_high, m_high and ``grid_segment`` (the key of the scheme's cell).

    The split is the buyers' mean, or their median when ``scheme.split == "median"`` (the
    interpolated median: the mean of the two middle values for an even count). The comparisons
    are strict, so a value exactly on the split is low: R is high when the recency days are
    below it, F and M are high when frequency and monetary are above it.
    """
    if scheme.split == "median":
        stats = scored.aggregate(
            recency_split=scored.recency_days.median(),
            frequency_split=scored.frequency.median(),
            monetary_split=scored.monetary_minor.median(),
        )
    else:
        stats = scored.aggregate(
            recency_split=scored.recency_days.mean(),
            frequency_split=scored.frequency.mean(),
            monetary_split=scored.monetary_minor.mean(),
        )
    joined = scored.cross_join(stats)
    flagged = joined.select(
        *scored.columns,
        r_high=joined.recency_days < joined.recency_split,
        f_high=joined.frequency > joined.frequency_split,
        m_high=joined.monetary_minor > joined.monetary_split,
    )
    branches = [
        (
            _is(flagged.r_high, cell.r) & _is(flagged.f_high, cell.f) & _is(flagged.m_high, cell.m),
            cell.key,
        )
        for cell in scheme.cells
    ]
    return flagged.mutate(grid_segment=ibis.cases(*branches))


def _is(flag: BooleanValue, wanted: bool) -> BooleanValue:
    return flag if wanted else ~flag


def score_segments(scored: Table, scheme: ScoreScheme) -> Table:
    """Adds ``segment``: the key of the first segment of ``scheme`` whose R and F ranges hold
    the buyer's r_score and f_score (a loaded scheme covers all 25 cells, so none is null)."""
    branches = [
        (
            scored.r_score.between(cell.r[0], cell.r[1])
            & scored.f_score.between(cell.f[0], cell.f[1]),
            cell.key,
        )
        for cell in scheme.cells
    ]
    segment: StringValue = ibis.cases(*branches)
    return scored.mutate(segment=segment)


def segment_table(
    segmented: Table, column: str, labels: Mapping[str, Label], lang: Lang = "en"
) -> pd.DataFrame:
    """Per segment of ``column`` (``grid_segment`` or ``segment``), one row in the order of
    ``labels`` (a scheme's ``labels``), as a pandas DataFrame: the table is a handful of rows
    meant for a report, so it is executed here and shares are computed on the small result.

    Columns: segment (key), label (in ``lang``), customers, customer_share, mean_recency_days,
    mean_frequency, mean_monetary_minor, net_minor (total net revenue, minor units) and
    revenue_share. Segments without buyers are kept with zero counts and empty (NaN) means;
    the shares are NaN when there are no buyers or the total net revenue is zero.
    """
    if column not in segmented.columns:
        raise InputError(f"segment_table: no column {column!r}", field="column")
    key = segmented[column]
    stats = (
        segmented.group_by(segment=key)
        .aggregate(
            customers=segmented.count(),
            mean_recency_days=segmented.recency_days.mean(),
            mean_frequency=segmented.frequency.mean(),
            mean_monetary_minor=segmented.monetary_minor.mean(),
            net_minor=segmented.monetary_minor.sum(),
        )
        .execute()
        .set_index("segment")
    )
    unknown = sorted(str(k) for k in set(stats.index) - set(labels))
    if unknown:
        raise InputError(
            f"segment_table: {column} holds segments the labels lack: {', '.join(unknown)}",
            field="labels",
        )
    table = stats.reindex(list(labels))
    table["customers"] = table["customers"].fillna(0).astype("int64")
    table["net_minor"] = table["net_minor"].fillna(0).astype("int64")
    buyers, revenue = int(table["customers"].sum()), int(table["net_minor"].sum())
    table["customer_share"] = table["customers"] / buyers if buyers else float("nan")
    table["revenue_share"] = table["net_minor"] / revenue if revenue else float("nan")
    table.insert(0, "label", [labels[k].text(lang) for k in table.index])
    columns = [
        "label",
        "customers",
        "customer_share",
        "mean_recency_days",
        "mean_frequency",
        "mean_monetary_minor",
        "net_minor",
        "revenue_share",
    ]
    result: pd.DataFrame = table[columns].rename_axis("segment").reset_index()
    return result
