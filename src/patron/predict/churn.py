"""Churn risk: the probability that a customer who has bought makes no purchase in the next h
days, by one of two models the shop chooses between (``churn_model``):

- ``pattern``: 1 − P(at least one purchase in h days) under a buy-till-you-die model (BG/NBD
  by default) fitted on the purchase history; no labels needed.
- ``boosted``: gradient-boosted trees on features as of h days ago, trained on who then made
  no purchase in the h days since, with probabilities calibrated on held-out folds.
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from patron.errors import InputError
from patron.predict.calibration import merge_same_day
from patron.predict.churn_data import FeatureSource, window
from patron.predict.clv.base import Vector
from patron.predict.clv.registry import purchase_model

DEFAULT_HORIZON_DAYS = 90
# One OpenMP thread for the trees: on a small shared machine more threads made the fit 9x slower.
THREADS = 1
# Histogram trees bin a category into one of 255 bins: rarer categories share the missing bin.
MAX_CATEGORIES = 254


class ChurnModel(StrEnum):
    PATTERN = "pattern"
    BOOSTED = "boosted"


def pattern_risk(summary: pd.DataFrame, horizon: float, model: str = "bgnbd") -> Vector:
    """1 − P(at least one purchase within ``horizon``) of each customer of the summary (same
    time unit), under the named purchase model fitted on that summary."""
    fitted = purchase_model(model).fit(summary)
    return np.clip(1.0 - fitted.p_purchase(summary, horizon), 0.0, 1.0)


class BoostedChurn:
    """Histogram gradient boosting on the features of a :class:`~patron.predict.churn_data.
    Window`, text columns as native categories, wrapped in isotonic (or sigmoid) calibration
    fitted on held-out folds: each of ``folds`` models is calibrated on the fold it did not
    see, and the probabilities are their mean."""

    def __init__(
        self,
        *,
        min_customers: int = 200,
        min_churned: int = 50,
        min_retained: int = 50,
        method: str = "isotonic",
        folds: int = 3,
        random_state: int = 0,
    ) -> None:
        self.min_customers = min_customers
        self.min_churned = min_churned
        self.min_retained = min_retained
        self.method = method
        self.folds = folds
        self.random_state = random_state

    def fit(self, features: pd.DataFrame, churned: npt.ArrayLike) -> Self:
        y = np.asarray(churned, dtype=bool)
        self._require_enough(len(y), int(y.sum()))
        self.columns_ = list(features.columns)
        self.categories_ = {
            name: column.value_counts().index[:MAX_CATEGORIES]
            for name, column in features.items()
            if isinstance(column.dtype, pd.CategoricalDtype)
        }
        trees = HistGradientBoostingClassifier(
            categorical_features="from_dtype",
            learning_rate=0.05,
            max_iter=200,
            early_stopping=False,
            random_state=self.random_state,
        )
        folds = StratifiedKFold(self.folds, shuffle=True, random_state=self.random_state)
        self.model_ = CalibratedClassifierCV(trees, method=self.method, cv=folds)
        with threadpool_limits(THREADS, user_api="openmp"):
            self.model_.fit(self._prepare(features), y)
        self.churn_rate_ = float(y.mean())
        return self

    def predict_proba(self, features: pd.DataFrame) -> Vector:
        """Probability of no purchase in the horizon, for each row of ``features``."""
        missing = [c for c in self.columns_ if c not in features.columns]
        if missing:
            raise InputError(
                f"the features lack the column(s) {', '.join(missing)} the model was fitted on",
                columns=missing,
            )
        with threadpool_limits(THREADS, user_api="openmp"):
            risk = self.model_.predict_proba(self._prepare(features))[:, 1]
        return np.clip(np.asarray(risk, dtype=np.float64), 0.0, 1.0)

    def summary(self) -> dict[str, Any]:
        return {
            "model": str(ChurnModel.BOOSTED),
            "features": self.columns_,
            "categorical": sorted(self.categories_),
            "churn_rate": self.churn_rate_,
            "calibration": self.method,
            "folds": self.folds,
        }

    def _prepare(self, features: pd.DataFrame) -> pd.DataFrame:
        """The fitted columns, each category column on the categories seen in training (a new
        one reads as missing)."""
        frame = features[self.columns_].copy()
        for name, categories in self.categories_.items():
            values = frame[name].astype(object)
            known = values.where(values.isin(categories))
            frame[name] = pd.Categorical(known, categories=categories)
        return frame

    def _require_enough(self, customers: int, churned: int) -> None:
        for what, count, least in (
            ("customers", customers, self.min_customers),
            ("churned customers", churned, self.min_churned),
            ("retained customers", customers - churned, self.min_retained),
        ):
            if count < least:
                raise InputError(
                    f"too little data to train the churn model: {count} {what}, "
                    f"at least {least} needed",
                    field=what.replace(" ", "_"),
                    count=count,
                    threshold=least,
                )


def churn_scores(
    transactions: pd.DataFrame,
    as_of: date,
    model: ChurnModel | str = ChurnModel.PATTERN,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    extra: FeatureSource | None = None,
) -> pd.DataFrame:
    """customer_id and churn_risk (no purchase in the ``horizon_days`` days from ``as_of``)
    of every customer who bought before ``as_of``, by the shop's chosen model. ``boosted``
    trains on the window that ends at ``as_of`` (features as of ``as_of`` − h) and scores the
    features as of ``as_of``; transactions from ``as_of`` on are ignored."""
    days = merge_same_day(transactions)
    known = days[days["date"] < pd.Timestamp(as_of)]
    # The window after as_of: its cut is as_of, its (empty) label window is the future.
    scoring = window(known, as_of + timedelta(days=horizon_days), horizon_days, extra)
    if model not in set(ChurnModel):
        raise InputError(
            f"unknown churn model {model!r}; expected one of {', '.join(ChurnModel)}",
            field="churn_model",
        )
    if model == ChurnModel.PATTERN:
        risk = pattern_risk(scoring.data.summary, horizon_days)
    else:
        training = window(known, as_of, horizon_days, extra)
        boosted = BoostedChurn().fit(training.features, training.churned)
        risk = boosted.predict_proba(scoring.features)
    return pd.DataFrame({"customer_id": scoring.data.summary.index, "churn_risk": risk})
