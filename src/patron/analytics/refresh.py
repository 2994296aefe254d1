"""Incremental refresh: the core results as of a later moment from the kept state and the
facts of the window since, equal to a full analysis as of that moment.

:func:`build` makes the state from all the facts before a moment (a full pass);
:func:`refresh` merges a window into it (:mod:`patron.analytics.merge`) and derives the
results from the merged state through the same steps as a full analysis
(:func:`patron.analytics.analysis.analyse`): customer summary, RFM scores and both segment
schemes, stage thresholds, stages and transitions, retention cohorts and KPIs. Preference tags
and intent read every purchased line: a refresh carries over those of the last full analysis
(``Analysis.tags_as_of`` says when that was).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import ibis
from ibis.expr.types import Table

from patron.analytics.analysis import Analysis, Progress, Schemes, Tagged, analyse
from patron.analytics.delta import Delta, window
from patron.analytics.facts import Facts, days_between, stamp
from patron.analytics.kpis import (
    GATEWAY_COUNTS,
    PURCHASE_WINDOW_DAYS,
    Kpis,
    category_keys,
    gateway_by_key,
    kpis,
    named_gateway,
)
from patron.analytics.merge import merge
from patron.analytics.schemes import Lang
from patron.analytics.stages import StageThresholds, stage
from patron.analytics.state import State, empty, sum_by
from patron.analytics.summary import summarise
from patron.analytics.tags import TAGS
from patron.errors import ConflictError


@dataclass(frozen=True)
class Refreshed:
    state: State
    """The state as of the new moment (its new parts not written yet)."""
    analysis: Analysis


def build(facts: Facts, as_of: datetime) -> State:
    """The state as of ``as_of`` from all ``facts``: the empty state with everything before
    ``as_of`` merged in."""
    return merge(empty(facts.customers), window(facts, None, as_of))


def refresh(
    state: State,
    delta: Delta,
    schemes: Schemes,
    lang: Lang = "en",
    progress: Progress | None = None,
) -> Refreshed:
    """The state and the analysis as of ``delta.until`` from ``state`` and the window since it.
    Raises :class:`~patron.errors.ConflictError` for a moment before the state's and
    :class:`~patron.analytics.merge.Stale` when the window cannot be merged."""
    forwards(state, delta.until)
    if progress is not None:
        progress("summary")
    merged = merge(state, delta)
    source = StateSource(merged, delta.facts)
    return Refreshed(merged, analyse(source, schemes, lang, progress))


def forwards(state: State, until: datetime) -> None:
    """Refuse (:class:`~patron.errors.ConflictError`) to refresh ``state`` to a moment before
    its own: the facts it summed up cannot be taken out again."""
    if state.as_of is None or until < state.as_of:
        kept = "no moment" if state.as_of is None else state.as_of.isoformat()
        raise ConflictError(
            f"the kept state is as of {kept}: a refresh moves forwards, not to {until.isoformat()}",
            state_as_of=None if state.as_of is None else state.as_of.isoformat(),
        )


@dataclass(frozen=True)
class StateSource:
    """An analysis from a merged state (its customers carry the customers fact's columns,
    see :func:`patron.analytics.merge.merge`; see :class:`patron.analytics.analysis.Source`)
    and the products and lines of ``facts`` (a window's)."""

    state: State
    facts: Facts

    @property
    def as_of(self) -> datetime:
        if self.state.as_of is None:
            raise ValueError("the empty state has no moment")
        return self.state.as_of

    def summary(self) -> Table:
        return summarise(self.state.customers, self.as_of)

    def gaps(self) -> Table:
        return self.state.gaps

    def stage_pairs(
        self, summary: Table, staged: Table, limits: StageThresholds, moment: datetime
    ) -> Table:
        # A customer who bought since ``moment`` had, then, the purchases before the first of
        # those (its number) and the last one before it (its previous purchase); one who did
        # not had what the summary holds. Both stages from one row: no join of all customers.
        p = self.state.purchases
        later = p.filter(p.placed_at >= stamp(moment))
        first = later.group_by("customer_id").aggregate(n=later.n.min())
        then = later.join(first, ["customer_id", "n"]).select(
            later_customer=later.customer_id, later_n=later.n, later_previous=later.previous_at
        )
        j = summary.left_join(then, summary.customer_id == then.later_customer)
        orders = ibis.coalesce(j.later_n, j.orders)
        last = ibis.ifelse(j.later_n.isnull(), j.last_order_at, j.later_previous)
        return j.select(
            source=stage(
                orders,
                days_between(j.first_order_at, moment),
                days_between(last, moment),
                limits,
            ),
            target=stage(j.orders, j.days_since_first_order, j.days_since_last_order, limits),
        )

    def monthly_buyers(self) -> Table:
        return self.state.monthly_buyers

    def kpis(self, summary: Table) -> Kpis:
        as_of, p = self.as_of, self.state.purchases
        start = stamp(as_of - timedelta(days=PURCHASE_WINDOW_DAYS))
        recent = replace(
            self.facts,
            orders=p.filter(p.placed_at >= start),
            refunds=self.state.refunds,
            events=self.state.events,
            held_until=as_of,
        )
        c = self.state.customers.filter(self.state.customers.orders > 0)
        firsts = c.select(
            "customer_id",
            first_at=c.first_order_at,
            first_order_id=c.first_order_id,
            second_at=c.second_order_at,
        )
        unsettled = gateway_by_key(firsts, self.state.first_keys, as_of)
        by_key = sum_by(self.state.gateway_settled, unsettled, ["key"], list(GATEWAY_COUNTS))
        gateway = named_gateway(by_key, category_keys(self.facts.products))
        return kpis(recent, as_of, summary, firsts, gateway)

    def tagged(self) -> Tagged | None:
        tags, at = self.state.tags, self.state.tags_as_of
        if tags is None or at is None:
            return None
        return Tagged(
            tags.select("customer_id", *TAGS),
            tags.select("customer_id", "intent_score", "intent_reasons"),
            at,
        )


def with_tags(state: State, analysis: Analysis) -> State:
    """``state`` carrying the tags and intent of ``analysis`` (a full one, at the state's
    moment)."""
    tags = ibis.memtable(
        analysis.profiles.select(["customer_id", *TAGS, "intent_score", "intent_reasons"])
    )
    return replace(state, tags=tags, tags_as_of=analysis.tags_as_of)
