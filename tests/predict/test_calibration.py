"""Calibration and holdout summaries from raw transactions, and the holdout report, on a
hand-built cohort whose every figure is worked out in the comments."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from patron.errors import ErrorCode, InputError
from patron.predict.calibration import evaluate, merge_same_day, split
from patron.predict.clv import BGNBD, BGNBDParams
from patron.predict.units import TimeUnit

from .models import with_params

ROWS = [
    # a: two purchases on 1 January are one transaction of 15; repeats on 15 Jan and 5 Feb.
    ("a", "1997-01-01 09:00", 10.0),
    ("a", "1997-01-01 17:30", 5.0),
    ("a", "1997-01-15", 20.0),
    ("a", "1997-02-05", 30.0),
    ("a", "1997-03-10", 7.0),  # holdout, one transaction of 10
    ("a", "1997-03-10", 3.0),
    # b: a single calibration purchase, then two in the holdout period.
    ("b", "1997-02-01", 12.0),
    ("b", "1997-03-01", 8.0),
    ("b", "1997-04-01", 9.0),
    # c: first purchase after the calibration end, not in the cohort.
    ("c", "1997-03-05", 50.0),
    # d: a repeat purchase on the calibration end itself; one after the holdout end.
    ("d", "1997-01-10", 4.0),
    ("d", "1997-02-28", 6.0),
    ("d", "1997-05-01", 5.0),
]
CUT, END = date(1997, 2, 28), date(1997, 4, 30)


def transactions() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=["customer_id", "date", "amount"])


def test_purchases_of_a_day_are_one_transaction() -> None:
    merged = merge_same_day(transactions())
    first = merged[merged["customer_id"] == "a"].iloc[0]
    assert (first["date"], first["amount"]) == (pd.Timestamp("1997-01-01"), 15.0)
    assert len(merged) == len(ROWS) - 2


def test_summary_in_weeks() -> None:
    summary = split(transactions(), CUT, END).summary
    assert list(summary.index) == ["a", "b", "d"]
    assert summary["frequency"].tolist() == [2, 0, 1]
    # a: 35 days from the first to the last purchase, 58 to the calibration end.
    assert summary["recency"].tolist() == pytest.approx([35 / 7, 0.0, 49 / 7])
    assert summary["T"].tolist() == pytest.approx([58 / 7, 27 / 7, 49 / 7])
    # Mean value of the repeat transactions only: a (20 + 30)/2, d 6.
    assert summary["monetary_value"].tolist() == [25.0, 0.0, 6.0]
    assert summary["frequency_holdout"].tolist() == [1, 2, 0]
    assert summary["monetary_value_holdout"].tolist() == [10.0, 8.5, 0.0]


def test_summary_in_days() -> None:
    data = split(transactions(), CUT, END, TimeUnit.DAYS)
    assert data.summary["recency"].tolist() == [35.0, 0.0, 49.0]
    assert data.summary["T"].tolist() == [58.0, 27.0, 49.0]
    assert data.holdout_length == 61.0


@pytest.mark.parametrize(
    ("rows", "message", "field"),
    [
        ([("a", "1997-13-01", 1.0)], "transaction 1: date '1997-13-01' is not a date", "date"),
        ([("a", "1997-01-01", "ten")], "transaction 1: amount 'ten' is not a number", "amount"),
        ([("a", "1997-03-01", 1.0)], "no customer made a first purchase", "calibration_end"),
    ],
)
def test_bad_transactions_are_refused(
    rows: list[tuple[object, ...]], message: str, field: str
) -> None:
    frame = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    with pytest.raises(InputError, match=message) as raised:
        split(frame, CUT, END)
    assert raised.value.details["field"] == field


def test_missing_columns_and_reversed_dates_are_refused() -> None:
    with pytest.raises(InputError, match="lack the column") as raised:
        split(transactions().drop(columns="amount"), CUT, END)
    assert raised.value.code is ErrorCode.COLUMNS_MISSING
    with pytest.raises(InputError, match="must come after the calibration end"):
        split(transactions(), END, CUT)


def test_holdout_report() -> None:
    data = split(transactions(), CUT, END)
    model = with_params(BGNBD(), BGNBDParams(r=0.5, alpha=5.0, a=1.2, b=3.0))
    model.log_likelihood_ = -1.0
    report = evaluate(model, data)
    # 120 days from 1 January to 30 April: 17 full weeks and a partial 18th.
    assert len(report.week_ends) == 18
    assert (report.week_ends[0], report.week_ends[-1]) == (date(1997, 1, 7), END)
    # Repeat transactions: weeks 3 and 6 (a), 9 (b and d), 10 (a), 13 (b).
    expected = [0, 0, 1, 1, 1, 2, 2, 2, 4, 5, 5, 5, 6, 6, 6, 6, 6, 6]
    assert report.cumulative_actual.tolist() == expected
    first = data.summary["first_purchase"]
    ends = pd.to_datetime(report.week_ends)
    by_hand = [
        sum(model.expected_purchases_new(max((end - f).days, 0) / 7) for f in first) for end in ends
    ]
    np.testing.assert_allclose(report.cumulative_predicted, by_hand, rtol=1e-12)
    assert report.cumulative_error == pytest.approx(by_hand[-1] / 6 - 1)
    individual = model.expected_purchases(data.summary, 61 / 7)
    assert report.holdout.predicted == pytest.approx(individual.sum())
    assert report.holdout.actual == 3
    assert [(r.frequency, r.customers, r.actual) for r in report.by_frequency] == [
        (0, 1, 2.0),
        (1, 1, 0.0),
        (2, 1, 1.0),
    ]
    document = report.to_json()
    assert document["holdout_actual"] == 3
    assert document["weekly"][8] == {
        "week": 9,
        "end": "1997-03-04",
        "actual": 4,
        "predicted": pytest.approx(by_hand[8]),
    }
