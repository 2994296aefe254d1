"""Helpers of the prediction tests: models with given parameters, summaries from columns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from patron.predict.clv.base import Model, Params

M = TypeVar("M", bound=Model[Any])


def with_params(model: M, params: Params) -> M:
    """A model that predicts with ``params`` as if it had been fitted to them."""
    model.params_ = params
    return model


def summary(
    x: Sequence[float], t_x: Sequence[float], age: Sequence[float], **more: Sequence[float]
) -> pd.DataFrame:
    columns = {"frequency": x, "recency": t_x, "T": age, **more}
    return pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in columns.items()})
