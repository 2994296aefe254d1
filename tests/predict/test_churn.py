"""Churn risk: the time split, the metrics, the guard rails and both models, on hand-built
transactions, on a seeded synthetic shop and on CDNOW."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from conftest import shared_file
from patron.errors import InputError
from patron.predict.churn import BoostedChurn, ChurnModel, churn_scores
from patron.predict.churn_data import categorical, window
from patron.predict.churn_eval import evaluate_churn, last_day_after, scores
from patron.predict.transactions import read_transactions

END = date(2026, 7, 1)
CUT = date(2026, 6, 1)  # END − 30 days


def tx(*rows: tuple[str, date, float]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "date", "amount"])


def test_window_boundaries() -> None:
    frame = tx(
        ("on-cut", date(2026, 1, 1), 10),
        ("on-cut", CUT, 20),  # on the cut day: in the label window, not a feature
        ("new-on-cut", CUT, 5),  # first purchase on the cut: not a churn candidate
        ("after-end", date(2026, 5, 1), 10),
        ("after-end", END, 10),  # on the end day: outside the window
        ("last-day", date(2026, 3, 1), 10),
        ("last-day", date(2026, 5, 31), 30),
        ("last-day", END - timedelta(days=1), 30),
    )
    w = window(frame, END, 30)
    assert (w.cut, w.horizon_days) == (CUT, 30)
    assert list(w.features.index) == ["after-end", "last-day", "on-cut"]
    assert w.churned.tolist() == [True, False, False]
    f = w.features
    assert f.loc[
        "on-cut", ["purchases", "spend", "days_since_last", "days_since_first"]
    ].tolist() == [
        1,
        10,
        151,
        151,
    ]
    last = f.loc["last-day"]
    assert (last["purchases"], last["days_since_last"], last["days_since_first"]) == (2, 1, 92)
    assert (last["mean_gap_days"], last["overdue"], last["mean_repeat_spend"]) == (91, 1 / 91, 30)
    assert (last["purchases_30d"], last["purchases_90d"], last["purchases_180d"]) == (1, 1, 2)
    assert np.isnan(f.loc["on-cut", "mean_gap_days"])


def test_window_refuses_a_horizon_below_one_day() -> None:
    with pytest.raises(InputError, match="at least 1 day"):
        window(tx(("a", CUT, 1)), END, 0)


def test_categorical_features() -> None:
    frame = pd.DataFrame(
        {
            "stage": ["active", None, "sleeping"],
            "orders": [3, 0, 1],
            "vip": [True, False, True],
            "reasons": [["viewed"], [], None],
        },
        index=[1, 2, 3],
    )
    encoded = categorical(frame)
    assert list(encoded.columns) == ["stage", "orders", "vip"]
    assert isinstance(encoded["stage"].dtype, pd.CategoricalDtype)
    assert encoded["vip"].tolist() == [1.0, 0.0, 1.0]


def test_scores_on_known_arrays() -> None:
    # Positives 0.9, 0.8, 0.4 above negatives 0.1, 0.5 in 5 of 6 pairs; ranked 1 1 0 1 0, the
    # precisions at each positive are 1, 1, 3/4; squared errors .01 .01 .04 .36 .25.
    s = scores([1, 0, 1, 1, 0], np.array([0.9, 0.1, 0.8, 0.4, 0.5]), bins=5)
    assert s.auc == pytest.approx(5 / 6)
    assert s.pr_auc == pytest.approx(2.75 / 3)
    assert s.brier == pytest.approx(0.134)
    assert [(r.predicted, r.observed) for r in s.calibration] == [
        (0.1, 0.0),
        (0.4, 1.0),
        (0.5, 0.0),
        (0.8, 1.0),
        (0.9, 1.0),
    ]


def shop(customers: int = 600, seed: int = 3) -> pd.DataFrame:
    """Purchases over a year at customer-specific rates, some customers stopping part-way, and
    a heavy buyer who buys every day."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2025-07-01")
    rows = []
    for c in range(customers):
        rate = rng.gamma(0.8, 1 / 20)
        stop = rng.integers(30, 366) if rng.random() < 0.5 else 366
        first = rng.integers(0, 200)
        day = first
        while day < min(stop, 365):
            rows.append((f"c{c}", start + pd.Timedelta(days=int(day)), float(rng.integers(5, 80))))
            day += 1 + int(rng.exponential(1 / max(rate, 1e-3)))
    rows += [("heavy", start + pd.Timedelta(days=d), 50.0) for d in range(365)]
    return pd.DataFrame(rows, columns=["customer_id", "date", "amount"])


@pytest.mark.parametrize("model", list(ChurnModel))
def test_churn_scores_are_probabilities_for_every_buyer(model: ChurnModel) -> None:
    frame = shop()
    as_of = date(2026, 5, 1)
    result = churn_scores(frame, as_of, model, horizon_days=60)
    buyers = set(frame.loc[frame["date"] < pd.Timestamp(as_of), "customer_id"])
    assert set(result["customer_id"]) == buyers
    risk = result["churn_risk"].to_numpy()
    assert np.isfinite(risk).all()
    assert ((risk >= 0) & (risk <= 1)).all()
    heavy = result.set_index("customer_id").loc["heavy", "churn_risk"]
    assert heavy < 0.2


def test_boosted_is_deterministic() -> None:
    frame = shop()
    first = churn_scores(frame, date(2026, 5, 1), "boosted", horizon_days=60)
    again = churn_scores(frame, date(2026, 5, 1), "boosted", horizon_days=60)
    pd.testing.assert_frame_equal(first, again)


def test_unknown_model_is_refused() -> None:
    with pytest.raises(InputError, match="unknown churn model 'forest'"):
        churn_scores(shop(50), date(2026, 5, 1), "forest")


@pytest.mark.parametrize(
    ("customers", "churned", "what"),
    [(150, 75, "customers"), (300, 40, "churned customers"), (300, 270, "retained customers")],
)
def test_too_little_data_is_refused(customers: int, churned: int, what: str) -> None:
    features = pd.DataFrame({"x": np.arange(customers, dtype=float)})
    labels = np.arange(customers) < churned
    with pytest.raises(InputError, match=f"too little data.*{what}, at least") as caught:
        BoostedChurn().fit(features, labels)
    assert caught.value.details["threshold"] in (200, 50)


def test_unseen_categories_read_as_missing() -> None:
    rng = np.random.default_rng(0)
    stage = pd.Series(rng.choice(["active", "sleeping"], 400)).astype("category")
    features = pd.DataFrame({"stage": stage, "orders": rng.integers(1, 9, 400).astype(float)})
    churned = (stage == "sleeping").to_numpy() ^ (rng.random(400) < 0.1)
    model = BoostedChurn().fit(features, churned)
    new = pd.DataFrame({"stage": pd.Categorical(["active", "sleeping", "lost"]), "orders": 3.0})
    risk = model.predict_proba(new)
    assert risk[0] < 0.5 < risk[1]
    assert 0 <= risk[2] <= 1


@pytest.mark.shared_data
def test_cdnow_master_both_models() -> None:
    """90-day churn from 1998-04-02 on the 23,570 customers of the CDNOW master file; the
    boosted model trained on the 90 days from 1998-01-02."""
    transactions = read_transactions(shared_file("CDNOW_master.txt"), cdnow=True)
    end = last_day_after(transactions)
    report = evaluate_churn(transactions, end, 90)
    assert (end, report.test_cut, report.train_cut) == (
        date(1998, 7, 1),
        date(1998, 4, 2),
        date(1998, 1, 2),
    )
    assert (report.customers, round(report.churn_rate, 3)) == (23570, 0.860)
    boosted, baseline = report.boosted, report.baseline
    assert (round(boosted.auc, 3), round(boosted.pr_auc, 3)) == (0.829, 0.957)
    assert (round(baseline.auc, 3), round(baseline.pr_auc, 3)) == (0.831, 0.953)
    assert (round(boosted.brier, 4), round(baseline.brier, 4)) == (0.0913, 0.0894)
