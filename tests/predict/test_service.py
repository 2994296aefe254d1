"""`patron predict` scoring end to end on both databases: the facts copied, the models fitted,
every customer's predictions stored and checked against the fitted models, runs replaced or
refused like the profile snapshot, and the CLV report."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from patron.core import Patron
from patron.db import tables as t
from patron.errors import ConflictError, InputError, NotFoundError
from patron.ingest.model import Entity
from patron.intake.model import CustomerInput
from patron.predict.clv.value import customer_value
from patron.predict.service import ScoreRun
from patron.predict.units import TimeUnit
from predict.shop import BUYERS, HEAVY, LAST_DAY, Order, orders, write_orders

AS_OF = datetime(2026, 7, 1, tzinfo=UTC)
"""The end of LAST_DAY in the shop's time zone (UTC)."""
HORIZON_DAYS = 180


@pytest.fixture
def history() -> list[Order]:
    return orders()


@pytest.fixture
def shop(patron: Patron, history: list[Order], tmp_path: Path) -> str:
    patron.access().create_shop("s", "UTC", "CNY")
    patron.ingest(Entity.ORDERS, write_orders(tmp_path / "orders.csv", history), shop="s")
    ctx = patron.operator_context("s", "test")
    patron.intake_service().upsert_customer(ctx, "NEVER", CustomerInput(name="never bought"))
    return "s"


def _stored(patron: Patron) -> dict[str, dict[str, Any]]:
    p, c = t.customer_predictions.c, t.customers.c
    with patron.engine.connect() as connection:
        rows = connection.execute(
            select(c.external_id, t.customer_predictions).join(t.customers, c.id == p.customer_id)
        ).all()
    return {r.external_id: dict(r._mapping) for r in rows}


def _summary_row(history: list[Order], customer: str) -> pd.DataFrame:
    """(x, t_x, T) in weeks and the mean repeat value, by hand from the order list."""
    days = sorted({o.day for o in history if o.customer == customer and o.status == "completed"})
    per_day = {d: 0 for d in days}
    for o in history:
        if o.customer == customer and o.status == "completed":
            per_day[o.day] += o.cents
    repeats = [per_day[d] for d in days[1:]]
    return pd.DataFrame(
        {
            "frequency": [len(days) - 1],
            "recency": [(days[-1] - days[0]).days / 7],
            "T": [(LAST_DAY - days[0]).days / 7],
            "monetary_value": [sum(repeats) / len(repeats) if repeats else 0.0],
        }
    )


def test_score_stores_every_customer_as_the_fitted_models_predict(
    patron: Patron, shop: str, history: list[Order]
) -> None:
    run = patron.predict().score(shop, LAST_DAY, horizon_days=HORIZON_DAYS)
    assert run.as_of == AS_OF
    stored = _stored(patron)
    assert run.written == len(stored) == BUYERS + 2  # and the heavy buyer, a never-buyer
    fitted, spend = run.scores.purchases, run.scores.spend
    assert spend is not None and fitted.converged_
    horizon = HORIZON_DAYS / 7
    for customer in ("C001", "C002", HEAVY):
        row = _summary_row(history, customer)
        mine = stored[customer]
        assert mine["expected_orders"] == pytest.approx(
            fitted.expected_purchases(row, horizon)[0], rel=1e-12
        )
        assert mine["p_alive"] == pytest.approx(fitted.p_alive(row)[0], rel=1e-12)
        assert mine["prob_purchase"] == pytest.approx(fitted.p_purchase(row, horizon)[0])
        assert mine["expected_aov_minor"] == round(spend.expected_spend(row)[0])
        value = customer_value(
            fitted, spend, row, horizon=horizon, unit=TimeUnit.WEEKS, annual_discount_rate=0.10
        )
        assert mine["clv_minor"] == round(value[0])
        wait = fitted.next_purchase_in(row)[0] * 7
        assert mine["next_order_at"] == pytest.approx(
            AS_OF + timedelta(days=wait), abs=timedelta(milliseconds=1)
        )
        assert 0 <= mine["churn_risk"] <= 1
    # C000 bought once: the population's mean order value, and some CLV.
    assert stored["C000"]["expected_aov_minor"] == round(
        spend.params_.gamma * spend.params_.p / (spend.params_.q - 1)
    )
    # Never bought: nothing to predict from.
    never = stored["NEVER"]
    assert [never[k] for k in ("expected_orders", "p_alive", "clv_minor", "churn_risk")] == [
        None
    ] * 4
    with patron.engine.connect() as connection:
        saved = connection.execute(select(t.prediction_runs)).one()
    assert saved.fit["purchases"]["params"] == fitted.params_.as_dict()
    assert saved.fit["purchases"]["customers"] == BUYERS + 1
    assert (saved.model, saved.horizon_days, saved.customers) == ("bgnbd", HORIZON_DAYS, BUYERS + 2)
    assert saved.settings["churn_model"] == "pattern"


def test_heavy_buyers_get_finite_predictions(patron: Patron, shop: str) -> None:
    for model in ("bgnbd", "pnbd", "mbgnbd"):
        patron.predict().score(shop, LAST_DAY, model=model)
        stored = _stored(patron)
        heavy = stored[HEAVY]
        assert heavy["expected_orders"] > 10 and heavy["p_alive"] > 0.9
        for row in stored.values():
            for name in ("expected_orders", "p_alive", "prob_purchase", "churn_risk"):
                assert row[name] is None or math.isfinite(row[name]), (model, name)


def _runs(patron: Patron) -> list[datetime]:
    with patron.engine.connect() as connection:
        return list(
            connection.execute(
                select(t.prediction_runs.c.as_of).order_by(t.prediction_runs.c.as_of)
            ).scalars()
        )


def test_the_same_moment_replaces_an_earlier_one_is_refused(patron: Patron, shop: str) -> None:
    service = patron.predict()
    first = service.score(shop, LAST_DAY)
    before = _stored(patron)
    again = service.score(shop, LAST_DAY)
    assert _stored(patron) == before and again.written == first.written
    assert _runs(patron) == [AS_OF]
    with pytest.raises(ConflictError, match="scored as of 2026-07-01"):
        service.score(shop, LAST_DAY - timedelta(days=1))
    assert _stored(patron) == before
    later = LAST_DAY + timedelta(days=30)
    service.score(shop, later)
    assert _runs(patron) == [AS_OF, AS_OF + timedelta(days=30)]
    with patron.engine.connect() as connection:
        moments = connection.execute(
            select(func.count(), func.min(t.customer_predictions.c.as_of))
        ).one()
    assert tuple(moments) == (BUYERS + 2, AS_OF + timedelta(days=30))


def test_too_little_data_is_refused_naming_the_threshold(
    patron: Patron, history: list[Order], tmp_path: Path
) -> None:
    patron.access().create_shop("small", "UTC", "CNY")
    few = [o for o in history if o.customer < "C050"]
    patron.ingest(Entity.ORDERS, write_orders(tmp_path / "few.csv", few), shop="small")
    with pytest.raises(InputError, match="at least 200 customers"):
        patron.predict().score("small", LAST_DAY)
    assert _runs(patron) == []


def test_clv_report_before_and_after_the_analysis(patron: Patron, shop: str) -> None:
    service = patron.predict()
    with pytest.raises(NotFoundError, match="run `patron predict`"):
        service.clv_report(shop)
    run: ScoreRun = service.score(shop, LAST_DAY)
    report = service.clv_report(shop, "zh")
    clv = run.scores.predictions["clv_minor"].dropna().astype(np.int64)
    assert (report.customers, report.valued, report.total_minor) == (
        BUYERS + 2,
        BUYERS + 1,
        int(clv.sum()),
    )
    assert report.analysed_as_of is None and report.segments == []
    assert sum(b["customers"] for b in report.bands) == BUYERS + 1
    assert report.bands[0]["customers"] == 4 and report.bands[0]["label"] == "前 1 %"
    assert report.top[0]["clv_minor"] == clv.max()
    assert report.quantiles["p50"] == round(float(np.quantile(clv, 0.5)))
    patron.analytics().analyze(shop, LAST_DAY)
    report = service.clv_report(shop, "en")
    assert report.analysed_as_of == AS_OF
    assert sum(r["customers"] for r in report.stages) == BUYERS + 1
    assert sum(r["clv_minor"] for r in report.segments) == report.total_minor
    assert {r["stage"] for r in report.stages} <= {
        "new",
        "active",
        "silent",
        "sleeping",
        "churned",
        "dead",
    }


def test_holdout_check_on_the_shop(patron: Patron, shop: str) -> None:
    check = patron.predict().holdout(shop, date(2026, 1, 31), LAST_DAY)
    assert check.model == "bgnbd" and check.holdout_length == pytest.approx(150 / 7)
