"""Out-of-time evaluation of the churn models. The boosted model is trained on the window that
ends at the test cut (features as of end − 2h, labels in [end − 2h, end − h)), so it never sees
the test labels; both models then score the customers who bought before the test cut
(features as of end − h) against who made no purchase in [end − h, end). The pattern baseline
is fitted on the same history, up to the test cut."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from patron.predict.churn import BoostedChurn, pattern_risk
from patron.predict.churn_data import FeatureSource, window
from patron.predict.clv.base import Vector

BINS = 10


@dataclass(frozen=True)
class CalibrationRow:
    """Customers in one bin of predicted risk (bin 1 the lowest): mean predicted risk and the
    share of them who did churn."""

    bin: int
    customers: int
    predicted: float
    observed: float


@dataclass(frozen=True)
class Scores:
    auc: float
    pr_auc: float
    brier: float
    calibration: list[CalibrationRow]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "calibration": [asdict(row) for row in self.calibration]}


def scores(churned: npt.ArrayLike, risk: Vector, bins: int = BINS) -> Scores:
    """ROC AUC, PR-AUC (average precision, churn the positive class), Brier score, and the
    calibration table over ``bins`` equal-count bins of customers ranked by risk."""
    y = np.asarray(churned, dtype=bool)
    order = np.argsort(risk, kind="stable")
    table = [
        CalibrationRow(
            bin=k + 1,
            customers=len(part),
            predicted=float(risk[part].mean()),
            observed=float(y[part].mean()),
        )
        for k, part in enumerate(np.array_split(order, bins))
        if len(part)
    ]
    return Scores(
        auc=float(roc_auc_score(y, risk)),
        pr_auc=float(average_precision_score(y, risk)),
        brier=float(brier_score_loss(y, risk)),
        calibration=table,
    )


@dataclass(frozen=True)
class ChurnEvaluation:
    horizon_days: int
    train_cut: date
    test_cut: date
    end: date
    training_customers: int
    customers: int
    churn_rate: float
    boosted: Scores
    baseline: Scores
    features: list[str]

    def to_json(self) -> dict[str, Any]:
        """The boosted model's scores at the top level, the baseline's under ``baseline``."""
        return {
            "model": "boosted",
            "baseline_model": "pattern",
            "horizon_days": self.horizon_days,
            "train_cut": str(self.train_cut),
            "test_cut": str(self.test_cut),
            "end": str(self.end),
            "training_customers": self.training_customers,
            "customers": self.customers,
            "churn_rate": self.churn_rate,
            **self.boosted.to_json(),
            "baseline": self.baseline.to_json(),
            "features": self.features,
        }


def last_day_after(transactions: pd.DataFrame) -> date:
    """The day after the last transaction: the default end of the evaluation."""
    last = pd.to_datetime(transactions["date"], format="ISO8601").max()
    return (last.normalize() + pd.Timedelta(days=1)).date()


def evaluate_churn(
    transactions: pd.DataFrame,
    end: date,
    horizon_days: int,
    extra: FeatureSource | None = None,
) -> ChurnEvaluation:
    """Train on one window, test both models on the next (see the module docstring)."""
    test_cut = end - timedelta(days=horizon_days)
    training = window(transactions, test_cut, horizon_days, extra)
    test = window(transactions, end, horizon_days, extra)
    boosted = BoostedChurn().fit(training.features, training.churned)
    churned = test.churned
    return ChurnEvaluation(
        horizon_days=horizon_days,
        train_cut=training.cut,
        test_cut=test.cut,
        end=end,
        training_customers=len(training.features),
        customers=len(churned),
        churn_rate=float(churned.mean()),
        boosted=scores(churned, boosted.predict_proba(test.features)),
        baseline=scores(churned, pattern_risk(test.data.summary, horizon_days)),
        features=boosted.columns_,
    )
