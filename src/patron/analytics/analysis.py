"""The customer analysis of a shop as of a moment, on any Ibis backend: summary, RFM and both
segment schemes, lifecycle stages and their transitions, preference tags and intent, monthly
retention cohorts and the KPIs.

:func:`analyse` derives every result from a :class:`Source`: the facts for a full analysis
(:func:`compute`, which the benchmark times), or the per-customer state an incremental refresh
keeps (:mod:`patron.analytics.refresh`). Both go through the same steps, so a refresh gives
what a full analysis gives by construction wherever the two sources agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import ibis
import pandas as pd
import pyarrow as pa
from ibis.expr.types import Table

from patron.analytics import cohorts
from patron.analytics.facts import Facts
from patron.analytics.kpis import Kpis, kpis
from patron.analytics.rfm import grid_segments, rfm, score_segments, segment_table
from patron.analytics.schemes import (
    GridScheme,
    Lang,
    Lifecycle,
    ScoreScheme,
    load_grid,
    load_lifecycle,
    load_scores,
)
from patron.analytics.snapshot import PROFILE_COLUMNS
from patron.analytics.stages import (
    StageThresholds,
    Transitions,
    assign,
    gap_histogram,
    moves,
    paired,
    stage_table,
    thresholds_from,
)
from patron.analytics.summary import customer_summary, purchase_recency
from patron.analytics.tags import TAGS, TagRules, intent, load_tags, preference_tags, tag_table

TRANSITION_DAYS = 30
"""Transitions are counted between the analysis and this many days before it."""

Progress = Callable[[str], None]

SUMMARY_READ = (
    "customer_id",
    "orders",
    "first_order_at",
    "last_order_at",
    "gross_minor",
    "refunded_minor",
    "net_minor",
    "days_since_first_order",
    "days_since_last_order",
)
"""The columns of the customer summary the results read: an analysis holds only those (the
external ids alone took half the time of holding the whole summary)."""


@dataclass(frozen=True)
class Schemes:
    grid: GridScheme
    scores: ScoreScheme
    lifecycle: Lifecycle
    tags: TagRules

    @classmethod
    def shipped(cls) -> Schemes:
        return cls(load_grid(), load_scores(), load_lifecycle(), load_tags())


@dataclass(frozen=True)
class Analysis:
    """Results of :func:`analyse`; tables already computed (pandas/Arrow).

    ``tags_as_of`` is the moment of the preference tags and intent in ``profiles`` and
    ``tags``: ``as_of`` itself for a full analysis, the last full analysis for a refresh (which
    carries them over), None when there are none."""

    as_of: datetime
    thresholds: StageThresholds
    kpis: Kpis
    profiles: pa.Table
    segments: pd.DataFrame
    grid: pd.DataFrame
    stages: pd.DataFrame
    transitions: Transitions
    retention: pd.DataFrame
    tags: pd.DataFrame
    tags_as_of: datetime | None

    def settings_json(self, schemes: Schemes) -> dict[str, Any]:
        th = self.thresholds
        return {
            "stage_days": {
                "new": th.new,
                "active": th.active,
                "silent": th.silent,
                "sleeping": th.sleeping,
                "churned": th.churned,
            },
            "stage_sources": dict(th.source),
            "grid": {"scheme": schemes.grid.name, "split": schemes.grid.split},
            "segments": schemes.scores.name,
            "transition_days": TRANSITION_DAYS,
            "tags_as_of": None if self.tags_as_of is None else self.tags_as_of.isoformat(),
        }


@dataclass(frozen=True)
class Tagged:
    """Preference tags (customer_id and :data:`TAGS`) and intent (customer_id, intent_score,
    intent_reasons) of the customers, and the moment they are of."""

    tags: Table
    intents: Table
    as_of: datetime


class Source(Protocol):
    """What an analysis as of ``as_of`` derives its results from. The summary the methods are
    given is :meth:`summary` held with the columns of :data:`SUMMARY_READ`."""

    @property
    def as_of(self) -> datetime: ...

    def summary(self) -> Table:
        """:func:`patron.analytics.summary.customer_summary`."""
        ...

    def gaps(self) -> Table:
        """:func:`patron.analytics.stages.gap_histogram`."""
        ...

    def stage_pairs(
        self, summary: Table, staged: Table, limits: StageThresholds, moment: datetime
    ) -> Table:
        """source and target: every customer's stage at ``moment`` (before as_of) and at
        as_of (see :func:`patron.analytics.stages.paired`), under ``limits``, given the summary
        and the stages at as_of (``staged``, :func:`patron.analytics.stages.assign`)."""
        ...

    def monthly_buyers(self) -> Table:
        """:func:`patron.analytics.cohorts.monthly_buyers` of the purchases."""
        ...

    def kpis(self, summary: Table) -> Kpis:
        """:func:`patron.analytics.kpis.kpis`, given the summary."""
        ...

    def tagged(self) -> Tagged | None:
        """Tags and intent, None when the source has none."""
        ...


@dataclass(frozen=True)
class FactsSource:
    """A full analysis: everything from the facts (held as of ``as_of``)."""

    facts: Facts
    as_of: datetime
    rules: TagRules
    timezone: str

    def summary(self) -> Table:
        return customer_summary(self.facts, self.as_of)

    def gaps(self) -> Table:
        return gap_histogram(self.facts, self.as_of)

    def stage_pairs(
        self, summary: Table, staged: Table, limits: StageThresholds, moment: datetime
    ) -> Table:
        return paired(assign(purchase_recency(self.facts, moment), limits), staged)

    def monthly_buyers(self) -> Table:
        return cohorts.monthly_buyers(self.facts.purchases(self.as_of))

    def kpis(self, summary: Table) -> Kpis:
        return kpis(self.facts, self.as_of, summary)

    def tagged(self) -> Tagged:
        tags = preference_tags(self.facts, self.as_of, self.rules, self.timezone).cache()
        return Tagged(tags, intent(self.facts, self.as_of, self.rules).cache(), self.as_of)


def compute(
    facts: Facts,
    as_of: datetime,
    schemes: Schemes,
    timezone: str = "UTC",
    lang: Lang = "en",
    progress: Progress | None = None,
) -> Analysis:
    """Summary, RFM and both segment schemes, lifecycle stages and their transitions over the
    last :data:`TRANSITION_DAYS` days, preference tags (hours in the shop's ``timezone``) and
    intent, monthly retention cohorts and the KPIs, from the facts."""
    if progress is not None:
        progress("summary")
    source = FactsSource(facts.held(as_of), as_of, schemes.tags, timezone)
    return analyse(source, schemes, lang, progress)


def analyse(
    source: Source, schemes: Schemes, lang: Lang = "en", progress: Progress | None = None
) -> Analysis:
    """Every result of :class:`Analysis` from ``source``; ``progress`` hears each step after
    the summary's (the caller announces that one: it may hold facts first)."""

    def step(name: str) -> None:
        if progress is not None:
            progress(name)

    as_of = source.as_of
    summary = source.summary().select(*SUMMARY_READ).cache()
    step("rfm")
    scored = score_segments(grid_segments(rfm(summary), schemes.grid), schemes.scores).cache()
    step("stages")
    limits = thresholds_from(source.gaps(), schemes.lifecycle)
    staged = assign(summary, limits).cache()
    earlier = as_of - timedelta(days=TRANSITION_DAYS)
    moved = moves(source.stage_pairs(summary, staged, limits, earlier))
    step("tags")
    tagged = source.tagged()
    step("profiles")
    parts = [scored, staged]
    if tagged is not None:
        parts += [tagged.tags.select("customer_id", *TAGS), tagged.intents]
    joined = summary
    for part in parts:
        joined = joined.left_join(part, "customer_id").drop("customer_id_right")
    if tagged is None:
        joined = joined.mutate(
            intent_score=ibis.null("float64"), intent_reasons=ibis.null("string")
        )
    columns = (*PROFILE_COLUMNS, *(TAGS if tagged else ()))
    profiles = joined.select(*columns).order_by("customer_id").to_pyarrow()
    step("cohorts")
    retention = cohorts.matrix(cohorts.retention_from(source.monthly_buyers(), as_of), "share")
    step("kpis")
    figures = source.kpis(summary)
    return Analysis(
        as_of=as_of,
        thresholds=limits,
        kpis=figures,
        profiles=profiles,
        segments=segment_table(scored, "segment", schemes.scores.labels, lang),
        grid=segment_table(scored, "grid_segment", schemes.grid.labels, lang),
        stages=stage_table(staged, schemes.lifecycle, lang).to_pandas(),
        transitions=moved,
        retention=retention,
        tags=_tag_table(tagged, schemes.tags, lang),
        tags_as_of=None if tagged is None else tagged.as_of,
    )


def _tag_table(tagged: Tagged | None, rules: TagRules, lang: Lang) -> pd.DataFrame:
    if tagged is None:
        return pd.DataFrame(columns=["tag", "tag_label", "value", "label", "customers", "share"])
    return tag_table(tagged.tags, rules, lang, tagged.intents)
