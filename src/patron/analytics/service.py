"""The whole analysis of a shop: facts copied to Parquet, the pipelines run on DuckDB, results
written back (see :mod:`patron.analytics.snapshot`), and the reports read from it.

:func:`~patron.analytics.analysis.compute` is the pipeline proper (facts in, results out) on
any Ibis backend, and :mod:`patron.analytics.refresh` its incremental form; the benchmarks time
them. :class:`AnalyticsService` adds the operational database on both ends and keeps the state
a refresh starts from.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ibis import BaseBackend
from sqlalchemy import Engine, select
from threadpoolctl import threadpool_limits

from patron.analytics import refresh as incremental
from patron.analytics import snapshot, state
from patron.analytics.analysis import TRANSITION_DAYS, Analysis, Progress, Schemes, compute
from patron.analytics.clusters import Clustering, cluster, features
from patron.analytics.delta import window
from patron.analytics.extract import extract
from patron.analytics.facts import connect_duckdb, read_facts
from patron.analytics.merge import Stale
from patron.analytics.schemes import Lang
from patron.clock import Clock
from patron.db import tables as t
from patron.db.engine import reader
from patron.db.shops import Shop, get_shop
from patron.errors import NotFoundError
from patron.settings import Settings

__all__ = [
    "TRANSITION_DAYS",
    "Analysis",
    "AnalysisRun",
    "AnalyticsService",
    "Progress",
    "Schemes",
    "compute",
]

SILHOUETTE_SAMPLE = 5_000
STATE_FOLDER = "state"
"""Where a shop's analytics folder keeps the state of :meth:`AnalyticsService.refresh`."""


@dataclass(frozen=True)
class AnalysisRun:
    shop: Shop
    analysis: Analysis
    facts: dict[str, int]
    written: snapshot.Written
    refreshed_from: datetime | None = None
    """For :meth:`AnalyticsService.refresh`: the moment of the state it refreshed, None when
    it ran a full analysis (``full_because`` says why)."""
    full_because: str | None = None


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
        return AnalysisRun(shop, analysis, copied.rows, self._write(shop, analysis, progress))

    def refresh(
        self,
        shop_name: str,
        as_of: datetime | date | None = None,
        lang: Lang = "en",
        progress: Progress | None = None,
    ) -> AnalysisRun:
        """:meth:`analyze`, incrementally: from the state kept by the last refresh and the
        facts since it, when it can (see :mod:`patron.analytics.refresh`; the run's
        ``refreshed_from`` says from when); otherwise, or the first time, a full analysis,
        which then keeps the state for the next refresh (``full_because`` says why). The
        profiles, stage changes and KPIs are stored as :meth:`analyze` stores them; the
        preference tags and intent of a refresh are those of the last full analysis."""
        shop = self._shop(shop_name)
        moment = _moment(as_of, shop) if as_of is not None else self.clock.now()
        folder = self._folder(shop)
        with _locked(folder / STATE_FOLDER):
            if progress is not None:
                progress("copying facts")
            copied = extract(self.engine, shop.id, folder)
            con = self._connect(folder)
            try:
                done = self._refresh_on(con, shop, moment, lang, progress)
            finally:
                con.disconnect()
        return replace(done, facts=copied.rows)

    def _refresh_on(
        self,
        con: BaseBackend,
        shop: Shop,
        moment: datetime,
        lang: Lang,
        progress: Progress | None,
    ) -> AnalysisRun:
        """:meth:`refresh` once the facts are copied. Every table it holds in ``con`` is
        dropped when it returns, before the connection closes."""
        folder = self._folder(shop)
        kept = folder / STATE_FOLDER
        facts = read_facts(con, folder)
        start = state.read(con, kept)
        because = "no state kept yet" if start is None else None
        if start is not None:
            incremental.forwards(start, moment)
            try:
                delta = window(facts, start.as_of, moment)
                done = incremental.refresh(start, delta, self.schemes, lang, progress)
                analysis, end = done.analysis, done.state
            except Stale as stale:
                because = str(stale)
        if because is not None:
            analysis = compute(facts, moment, self.schemes, shop.timezone, lang, progress)
            if progress is not None:
                progress("keeping the state")
            end = incremental.with_tags(incremental.build(facts, moment), analysis)
        written = self._write(shop, analysis, progress)
        # After the profiles: a refused write leaves the state where it was.
        state.write(end, kept)
        refreshed_from = None if start is None or because else start.as_of
        return AnalysisRun(shop, analysis, {}, written, refreshed_from, because)

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

    def _write(self, shop: Shop, analysis: Analysis, progress: Progress | None) -> snapshot.Written:
        if progress is not None:
            progress("writing profiles")
        return snapshot.write(
            self.engine,
            shop.id,
            analysis.as_of,
            self.clock.now(),
            analysis.profiles,
            analysis.settings_json(self.schemes),
            analysis.kpis.to_json(),
        )

    def _shop(self, name: str) -> Shop:
        with reader(self.engine).connect() as connection:
            return get_shop(connection, name)

    def _folder(self, shop: Shop) -> Path:
        return self.settings.analytics_dir / f"shop-{shop.id}"

    def _connect(self, folder: Path) -> BaseBackend:
        return connect_duckdb(self.settings.analytics_memory_limit, folder / "spill")


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One refresh of a shop at a time: its kept state is read, then replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
