"""The whole analysis of a shop: facts copied to Parquet, the pipelines run on DuckDB, results
written back (see :mod:`patron.analytics.snapshot`), and the reports read from it.

:func:`compute` is the pipeline proper (facts in, results out) on any Ibis backend; the
benchmark times it. :class:`AnalyticsService` adds the operational database on both ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
from ibis import BaseBackend
from sqlalchemy import Engine, select
from threadpoolctl import threadpool_limits

from patron.analytics import cohorts, snapshot
from patron.analytics.clusters import Clustering, cluster, features
from patron.analytics.extract import extract
from patron.analytics.facts import Facts, connect_duckdb, read_facts
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
from patron.analytics.stages import StageThresholds, Transitions, assign, stage_table
from patron.analytics.stages import thresholds as stage_thresholds
from patron.analytics.stages import transitions as stage_transitions
from patron.analytics.summary import customer_summary, purchase_recency
from patron.analytics.tags import TAGS, TagRules, intent, load_tags, preference_tags, tag_table
from patron.clock import Clock
from patron.db import tables as t
from patron.db.engine import reader
from patron.db.shops import Shop, get_shop
from patron.errors import NotFoundError
from patron.settings import Settings

TRANSITION_DAYS = 30
"""Transitions are counted between the analysis and this many days before it."""

SILHOUETTE_SAMPLE = 5_000

Progress = Callable[[str], None]


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
    """Results of :func:`compute`; tables already computed (pandas/Arrow)."""

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
        }


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
    intent, monthly retention cohorts and the KPIs."""

    def step(name: str) -> None:
        if progress is not None:
            progress(name)

    step("summary")
    facts = facts.held(as_of)
    summary = customer_summary(facts, as_of).cache()
    step("rfm")
    scored = score_segments(grid_segments(rfm(summary), schemes.grid), schemes.scores).cache()
    step("stages")
    limits = stage_thresholds(facts, as_of, schemes.lifecycle)
    staged = assign(summary, limits).cache()
    before = assign(purchase_recency(facts, as_of - timedelta(days=TRANSITION_DAYS)), limits)
    moves = stage_transitions(before, staged)
    step("tags")
    tags = preference_tags(facts, as_of, schemes.tags, timezone).cache()
    intents = intent(facts, as_of, schemes.tags).cache()
    step("profiles")
    joined = summary
    for part in (scored, staged, tags, intents):
        joined = joined.left_join(part, "customer_id").drop("customer_id_right")
    profiles = joined.select(*PROFILE_COLUMNS, *TAGS).order_by("customer_id").to_pyarrow()
    step("cohorts")
    retention = cohorts.matrix(cohorts.retention(facts, as_of), "share")
    step("kpis")
    figures = kpis(facts, as_of, summary)
    return Analysis(
        as_of=as_of,
        thresholds=limits,
        kpis=figures,
        profiles=profiles,
        segments=segment_table(scored, "segment", schemes.scores.labels, lang),
        grid=segment_table(scored, "grid_segment", schemes.grid.labels, lang),
        stages=stage_table(staged, schemes.lifecycle, lang).to_pandas(),
        transitions=moves,
        retention=retention,
        tags=tag_table(tags, schemes.tags, lang, intents),
    )


@dataclass(frozen=True)
class AnalysisRun:
    shop: Shop
    analysis: Analysis
    facts: dict[str, int]
    written: snapshot.Written


@dataclass(frozen=True)
class _Latest:
    shop: Shop
    as_of: datetime
    folder: Path


def _moment(as_of: datetime | date, shop: Shop) -> datetime:
    if isinstance(as_of, datetime):
        return as_of
    midnight = datetime.combine(as_of + timedelta(days=1), time(), ZoneInfo(shop.timezone))
    return midnight.astimezone(UTC)


class AnalyticsService:
    def __init__(
        self, engine: Engine, settings: Settings, clock: Clock, schemes: Schemes | None = None
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.schemes = schemes or Schemes.shipped()

    def analyze(
        self,
        shop_name: str,
        as_of: datetime | date | None = None,
        lang: Lang = "en",
        progress: Progress | None = None,
    ) -> AnalysisRun:
        """Copy the shop's facts, analyse them as of ``as_of`` and store the profiles, stage
        changes and KPIs. A date means the end of that day in the shop's time zone (its
        orders included); the default is now."""
        shop = self._shop(shop_name)
        moment = _moment(as_of, shop) if as_of is not None else self.clock.now()
        folder = self._folder(shop)
        if progress is not None:
            progress("copying facts")
        copied = extract(self.engine, shop.id, folder)
        con = self._connect(folder)
        try:
            facts = read_facts(con, folder)
            analysis = compute(facts, moment, self.schemes, shop.timezone, lang, progress)
        finally:
            con.disconnect()
        if progress is not None:
            progress("writing profiles")
        written = snapshot.write(
            self.engine,
            shop.id,
            moment,
            self.clock.now(),
            analysis.profiles,
            analysis.settings_json(self.schemes),
            analysis.kpis.to_json(),
        )
        return AnalysisRun(shop, analysis, copied.rows, written)

    def latest(self, shop_name: str, lang: Lang = "en") -> AnalysisRun:
        """The latest analysis of the shop, recomputed from the facts it copied (reports); when
        that copy is gone, from a new one (only what happened before the analysis counts)."""
        run = self._latest_run(shop_name)
        con = self._connect(run.folder)
        try:
            facts = read_facts(con, run.folder)
            analysis = compute(facts, run.as_of, self.schemes, run.shop.timezone, lang)
        finally:
            con.disconnect()
        return AnalysisRun(run.shop, analysis, {}, snapshot.Written(0, 0))

    def _latest_run(self, shop_name: str) -> _Latest:
        """The shop, the moment of its latest analysis and the folder of its facts (copied
        again when the copy is gone: only what happened before that moment counts)."""
        shop = self._shop(shop_name)
        runs = t.analysis_runs.c
        with reader(self.engine).connect() as connection:
            as_of = connection.execute(
                select(runs.as_of)
                .where(runs.shop_id == shop.id)
                .order_by(runs.as_of.desc())
                .limit(1)
            ).scalar_one_or_none()
        if as_of is None:
            raise NotFoundError(
                f"shop {shop.name!r} has not been analysed yet: run `patron analyze`",
                shop=shop.name,
            )
        folder = self._folder(shop)
        if not (folder / "orders.parquet").exists():
            extract(self.engine, shop.id, folder)
        return _Latest(shop, as_of, folder)

    def clusters(self, shop_name: str, k: int | None = None) -> Clustering:
        """k-means clusters of the shop's buyers as of its latest analysis (k chosen by
        silhouette unless given), with a readable profile of each cluster."""
        run = self._latest_run(shop_name)
        con = self._connect(run.folder)
        try:
            # One thread for BLAS and OpenMP: on two cores k-means ran 10–45× slower with more.
            # The silhouette is quadratic in customers: 5,000 of them rank k well enough.
            with threadpool_limits(1):
                found = features(read_facts(con, run.folder), run.as_of)
                return cluster(found, k=k, sample=SILHOUETTE_SAMPLE)
        finally:
            con.disconnect()

    def _shop(self, name: str) -> Shop:
        with reader(self.engine).connect() as connection:
            return get_shop(connection, name)

    def _folder(self, shop: Shop) -> Path:
        return self.settings.analytics_dir / f"shop-{shop.id}"

    def _connect(self, folder: Path) -> BaseBackend:
        return connect_duckdb(self.settings.analytics_memory_limit, folder / "spill")
