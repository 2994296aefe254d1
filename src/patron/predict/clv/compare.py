"""Model comparison: fit candidate purchase models on one calibration summary and report
log-likelihood, BIC and, when the summary carries holdout purchases, the holdout error."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from patron.predict.clv.base import Vector, as_frame
from patron.predict.clv.purchases import PurchaseModel
from patron.predict.clv.registry import PURCHASE_MODELS, purchase_model


@dataclass(frozen=True)
class HoldoutErrors:
    """Individual forecasts of holdout purchases against what each customer did."""

    actual: float
    predicted: float
    # Relative error of the total: predicted / actual − 1.
    error: float
    mae: float
    rmse: float
    # Pearson correlation of the individual forecasts with the actual counts.
    correlation: float


def holdout_errors(predicted: Vector, actual: Vector) -> HoldoutErrors:
    diff = predicted - actual
    total_actual, total_predicted = float(actual.sum()), float(predicted.sum())
    spread = predicted.std() * actual.std()
    return HoldoutErrors(
        actual=total_actual,
        predicted=total_predicted,
        error=total_predicted / total_actual - 1 if total_actual else math.nan,
        mae=float(np.abs(diff).mean()),
        rmse=float(np.sqrt((diff**2).mean())),
        correlation=float(np.corrcoef(predicted, actual)[0, 1]) if spread > 0 else math.nan,
    )


@dataclass(frozen=True)
class Comparison:
    model: str
    params: dict[str, float]
    log_likelihood: float
    bic: float
    converged: bool
    holdout: HoldoutErrors | None


def compare(
    summary: object,
    candidates: Sequence[str] = tuple(PURCHASE_MODELS),
    holdout_length: float | None = None,
) -> list[Comparison]:
    """Each candidate fitted on ``summary``, best BIC first. With ``holdout_length`` the summary
    must also have ``frequency_holdout`` (purchases in that many time units after T)."""
    frame = as_frame(summary)
    actual = None
    if holdout_length is not None:
        actual = frame["frequency_holdout"].to_numpy(np.float64)
    results = []
    for name in candidates:
        model: PurchaseModel[Any] = purchase_model(name).fit(frame)
        errors = None
        if holdout_length is not None and actual is not None:
            errors = holdout_errors(model.expected_purchases(frame, holdout_length), actual)
        results.append(
            Comparison(
                model.name,
                model.params_.as_dict(),
                model.log_likelihood_,
                model.bic,
                model.converged_,
                errors,
            )
        )
    return sorted(results, key=lambda c: c.bic)
