"""`patron analyze` end to end on both databases: facts copied from the operational store,
the analysis written back (profiles, stage changes, the run with its KPIs), idempotent
re-runs, history built forwards, and the reports."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from patron.access.guard import WriteContext
from patron.core import Patron
from patron.db import tables as t
from patron.errors import ConflictError, NotFoundError
from patron.intake.model import CustomerInput, OrderInput, OrderLineInput


def _order(customer: str, day: date, cents: int, status: str = "completed") -> OrderInput:
    placed = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return OrderInput(
        customer_id=customer,
        placed_at=placed,
        paid_at=placed,
        status=status,
        lines=[OrderLineInput("PEN", 1, cents)],
    )


ORDERS = [
    ("O1", "A", date(2026, 1, 10), 10000, "completed"),
    ("O2", "A", date(2026, 3, 10), 20000, "completed"),
    ("O3", "A", date(2026, 6, 20), 30000, "paid"),
    ("O4", "B", date(2026, 6, 25), 5000, "shipped"),
    ("O5", "C", date(2025, 7, 1), 8000, "completed"),
    ("O6", "C", date(2025, 8, 1), 8000, "completed"),
    ("O7", "E", date(2026, 2, 1), 15000, "cancelled"),
    ("O8", "E", date(2026, 4, 1), 12000, "completed"),
]


@pytest.fixture
def shop(patron: Patron) -> str:
    patron.access().create_shop("s", "UTC", "CNY")
    ctx: WriteContext = patron.operator_context("s", "test")
    intake = patron.intake_service()
    intake.upsert_customer(ctx, "D", CustomerInput(name="never bought"))
    for order_id, customer, day, cents, status in ORDERS:
        intake.upsert_order(ctx, order_id, _order(customer, day, cents, status))
    return "s"


def _profiles(patron: Patron) -> dict[str, dict[str, Any]]:
    p, c = t.customer_profiles.c, t.customers.c
    with patron.engine.connect() as connection:
        rows = connection.execute(
            select(
                c.external_id,
                p.orders,
                p.net_minor,
                p.stage,
                p.segment,
                p.rfm_cell,
                p.tags,
                p.intent_score,
            ).join(t.customers, c.id == p.customer_id)
        ).all()
    return {r.external_id: dict(r._mapping) for r in rows}


def _changes(patron: Patron) -> list[tuple[str, str, str, str | None]]:
    s, c = t.customer_stage_changes.c, t.customers.c
    with patron.engine.connect() as connection:
        rows = connection.execute(
            select(c.external_id, s.stage, s.previous_stage, s.as_of)
            .join(t.customers, c.id == s.customer_id)
            .order_by(s.as_of, c.external_id)
        ).all()
    return [(f"{r.as_of:%m-%d}", r.external_id, r.stage, r.previous_stage) for r in rows]


def test_analyze_writes_profiles_stage_changes_and_the_run(patron: Patron, shop: str) -> None:
    run = patron.analytics().analyze(shop, date(2026, 6, 30))
    # The end of 2026-06-30 in the shop's time zone (UTC).
    assert run.analysis.as_of == datetime(2026, 7, 1, tzinfo=UTC)
    assert run.facts["orders"] == 8 and run.facts["customers"] == 5
    assert (run.written.profiles, run.written.stage_changes) == (5, 5)
    profiles = _profiles(patron)
    assert {k: (v["orders"], v["net_minor"], v["stage"]) for k, v in profiles.items()} == {
        "A": (3, 60000, "active"),
        "B": (1, 5000, "new"),
        "C": (2, 16000, "dead"),
        "D": (0, 0, "potential"),
        "E": (1, 12000, "silent"),
    }
    assert profiles["D"]["segment"] is None and profiles["A"]["segment"] == "loyal"
    # A bought at 12:00 UTC (the shop's zone) on two Saturdays and a Tuesday, never with a
    # discount; D never bought and has no attributes. Nobody sent events: no intent.
    a_tags = profiles["A"]["tags"]
    assert (a_tags["hour_band"], a_tags["day_band"], a_tags["discount_band"]) == (
        "afternoon",
        "weekend",
        "insensitive",
    )
    assert profiles["D"]["tags"] == {}
    assert {v["intent_score"] for v in profiles.values()} == {0.0}
    with patron.engine.connect() as connection:
        kpis = connection.execute(select(t.analysis_runs.c.kpis)).scalar_one()
    assert (kpis["buyers"], kpis["repeat_buyers"], kpis["net_revenue_minor"]) == (4, 2, 93000)


def test_the_same_moment_again_replaces_it_and_history_moves_forwards(
    patron: Patron, shop: str
) -> None:
    service = patron.analytics()
    service.analyze(shop, date(2026, 4, 14))
    first = _changes(patron)
    again = service.analyze(shop, date(2026, 4, 14))
    assert _changes(patron) == first and again.written.stage_changes == len(first)
    later = service.analyze(shop, date(2026, 6, 30))
    # Only customers whose stage moved get a change row as of the later analysis.
    moved = [c for c in _changes(patron) if c[0] == "07-01"]
    assert later.written.stage_changes == len(moved)
    assert ("07-01", "B", "new", "potential") in moved
    assert all(previous != stage for _, _, stage, previous in moved)
    with pytest.raises(ConflictError, match="analysed as of 2026-07-01"):
        service.analyze(shop, date(2026, 5, 1))
    with patron.engine.connect() as connection:
        runs = connection.execute(select(t.analysis_runs.c.as_of)).scalars().all()
    assert sorted(runs) == [datetime(2026, 4, 15, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)]


def test_reports_read_the_latest_analysis(patron: Patron, shop: str) -> None:
    service = patron.analytics()
    with pytest.raises(NotFoundError, match="has not been analysed yet"):
        service.latest(shop)
    service.analyze(shop, date(2026, 6, 30))
    latest = service.latest(shop, "zh")
    assert latest.analysis.as_of == datetime(2026, 7, 1, tzinfo=UTC)
    stages = dict(
        zip(latest.analysis.stages["stage"], latest.analysis.stages["customers"], strict=True)
    )
    assert stages == {
        "potential": 1,
        "new": 1,
        "active": 1,
        "silent": 1,
        "sleeping": 0,
        "churned": 0,
        "dead": 1,
    }
    assert "冠军客户" in list(latest.analysis.segments["label"])


def test_clusters_of_the_latest_analysis(patron: Patron, shop: str) -> None:
    service = patron.analytics()
    service.analyze(shop, date(2026, 6, 30))
    found = service.clusters(shop, k=2)
    assert found.k == 2 and sorted(found.silhouettes) == [2]
    assert int(found.profiles["size"].sum()) == 4  # the four buyers; D never bought
    assert sorted(found.labels.index) == sorted(found.labels.index.unique())


def _stored(patron: Patron) -> tuple[dict[str, tuple[Any, ...]], dict[str, Any]]:
    """The stored profiles (without tags and intent) and the latest run's KPIs."""
    profiles = {
        k: (v["orders"], v["net_minor"], v["stage"], v["segment"], v["rfm_cell"])
        for k, v in _profiles(patron).items()
    }
    runs = t.analysis_runs.c
    with patron.engine.connect() as connection:
        kpis = connection.execute(
            select(runs.kpis).order_by(runs.as_of.desc()).limit(1)
        ).scalar_one()
    return profiles, kpis


def test_refresh_keeps_a_state_then_refreshes_from_it(patron: Patron, shop: str) -> None:
    service = patron.analytics()
    first = service.refresh(shop, date(2026, 6, 30))
    assert (first.refreshed_from, first.full_because) == (None, "no state kept yet")
    assert first.analysis.tags_as_of == datetime(2026, 7, 1, tzinfo=UTC)
    state = patron.settings.analytics_dir / "shop-1" / "state"
    assert (state / "state.json").exists()
    ctx: WriteContext = patron.operator_context(shop, "test")
    intake = patron.intake_service()
    intake.upsert_order(ctx, "O9", _order("D", date(2026, 7, 2), 4000))
    intake.upsert_order(ctx, "O10", _order("C", date(2026, 7, 3), 2500))
    second = service.refresh(shop, date(2026, 7, 3))
    assert (second.refreshed_from, second.full_because) == (datetime(2026, 7, 1, tzinfo=UTC), None)
    # Tags and intent carried over from the full analysis of the first refresh.
    assert second.analysis.tags_as_of == datetime(2026, 7, 1, tzinfo=UTC)
    refreshed = _stored(patron)
    assert refreshed[0]["D"][:3] == (1, 4000, "new") and refreshed[0]["C"][2] == "active"
    with patron.engine.connect() as connection:
        settings = connection.execute(
            select(t.analysis_runs.c.settings).order_by(t.analysis_runs.c.as_of.desc()).limit(1)
        ).scalar_one()
    assert settings["tags_as_of"] == "2026-07-01T00:00:00+00:00"
    # What a full analysis of the same moment stores (it replaces the refreshed one).
    full = service.analyze(shop, date(2026, 7, 3))
    assert _stored(patron) == refreshed
    assert full.written.stage_changes == second.written.stage_changes


def test_refresh_falls_back_on_a_late_order_and_refuses_an_earlier_moment(
    patron: Patron, shop: str
) -> None:
    service = patron.analytics()
    service.refresh(shop, date(2026, 6, 30))
    # An order placed before the kept state's moment, arrived since.
    ctx: WriteContext = patron.operator_context(shop, "test")
    patron.intake_service().upsert_order(ctx, "O9", _order("D", date(2026, 6, 29), 4000))
    late = service.refresh(shop, date(2026, 7, 2))
    assert late.refreshed_from is None and late.full_because is not None
    assert late.full_because.startswith(
        "the facts before 2026-07-01T00:00:00+00:00 changed since the state was kept"
    )
    assert "purchases: 7 kept, 8 now" in late.full_because
    assert _stored(patron)[0]["D"][:2] == (1, 4000)
    # The full analysis kept a new state: the next refresh starts from it.
    again = service.refresh(shop, date(2026, 7, 3))
    assert again.refreshed_from == datetime(2026, 7, 3, tzinfo=UTC)  # the end of Jul 2
    with pytest.raises(ConflictError, match="a refresh moves forwards"):
        service.refresh(shop, date(2026, 7, 1))
