"""The predictions written back to the operational database, beside the profile snapshot.

One transaction per scoring run: the run (model, settings and fitted parameters) and every
customer's latest predictions. Scoring the same moment again replaces it; a moment before the
latest run is refused, as for the profiles (see :mod:`patron.analytics.snapshot`): the stored
predictions are always the newest.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, delete, insert

from patron.db import tables as t
from patron.db.snapshots import refuse_earlier
from patron.predict.scoring import PREDICTION_COLUMNS

_CHUNK = 20_000


def write(
    engine: Engine,
    shop_id: int,
    as_of: datetime,
    now: datetime,
    run: dict[str, Any],
    predictions: pd.DataFrame,
) -> int:
    """Store the run (model, horizon_days, settings, fit) and ``predictions`` (index
    customer_id, :data:`~patron.predict.scoring.PREDICTION_COLUMNS`); rows written."""
    with engine.begin() as connection:
        runs = t.prediction_runs.c
        refuse_earlier(
            connection,
            t.prediction_runs,
            shop_id,
            as_of,
            "scored",
            "predictions",
            "replace newer ones",
        )
        connection.execute(
            delete(t.customer_predictions).where(t.customer_predictions.c.shop_id == shop_id)
        )
        connection.execute(
            delete(t.prediction_runs).where(runs.shop_id == shop_id, runs.as_of == as_of)
        )
        connection.execute(
            insert(t.prediction_runs).values(
                shop_id=shop_id,
                as_of=as_of,
                created_at=now,
                customers=len(predictions),
                **run,
            )
        )
        for chunk in _chunks(predictions):
            connection.execute(
                insert(t.customer_predictions),
                [{**row, "shop_id": shop_id, "as_of": as_of} for row in chunk],
            )
    return len(predictions)


def _chunks(predictions: pd.DataFrame) -> Iterator[list[dict[str, Any]]]:
    """Rows with plain Python values: None for a missing value, ints and floats as such."""
    frame = predictions[list(PREDICTION_COLUMNS)].astype(object)
    frame = frame.where(predictions.notna(), None)
    frame.insert(0, "customer_id", predictions.index.astype("int64"))
    for start in range(0, len(frame), _CHUNK):
        part = frame.iloc[start : start + _CHUNK]
        yield [
            {str(name): _plain(value) for name, value in row.items()}
            for row in part.to_dict("records")
        ]


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones (drivers bind those), pandas timestamps as datetimes."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value
