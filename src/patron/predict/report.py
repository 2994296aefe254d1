"""`patron report clv`: the stored predictions of a shop read back: how CLV is distributed, who
the most valuable customers are, and CLV by segment and lifecycle stage of the latest analysis."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from patron.analytics.schemes import Lang, load_lifecycle, load_scores
from patron.db import tables as t
from patron.db.engine import reader
from patron.db.shops import get_shop
from patron.errors import NotFoundError

TOP = 20
QUANTILES = (0.10, 0.25, 0.50, 0.75, 0.90, 0.99)
# Customers ranked by CLV, highest first: each band's upper and lower rank as a share.
BANDS = (
    (0.0, 0.01, {"en": "top 1 %", "zh": "前 1 %"}),
    (0.01, 0.10, {"en": "1–10 %", "zh": "1–10 %"}),
    (0.10, 0.50, {"en": "10–50 %", "zh": "10–50 %"}),
    (0.50, 1.0, {"en": "bottom 50 %", "zh": "后 50 %"}),
)
NONE_LABEL = {"en": "(none)", "zh": "（无）"}


@dataclass(frozen=True)
class ClvReport:
    shop: str
    currency: str
    as_of: datetime
    model: str
    horizon_days: int
    analysed_as_of: datetime | None
    """The latest analysis the segments and stages come from (None: never analysed)."""
    customers: int
    valued: int
    """Customers with a predicted CLV (buyers, when the spend model was fitted)."""
    total_minor: int
    quantiles: dict[str, int]
    bands: list[dict[str, Any]]
    top: list[dict[str, Any]]
    segments: list[dict[str, Any]]
    stages: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "shop": self.shop,
            "currency": self.currency,
            "as_of": self.as_of.isoformat(),
            "model": self.model,
            "horizon_days": self.horizon_days,
            "analysed_as_of": self.analysed_as_of.isoformat() if self.analysed_as_of else None,
            "customers": self.customers,
            "valued": self.valued,
            "total_clv_minor": self.total_minor,
            "quantiles": self.quantiles,
            "bands": self.bands,
            "top": self.top,
            "segments": self.segments,
            "stages": self.stages,
        }


def clv_report(engine: Engine, shop_name: str, lang: Lang = "en") -> ClvReport:
    with reader(engine).connect() as connection:
        shop = get_shop(connection, shop_name)
        runs = t.prediction_runs.c
        run = connection.execute(
            select(runs.as_of, runs.model, runs.horizon_days)
            .where(runs.shop_id == shop.id)
            .order_by(runs.as_of.desc())
            .limit(1)
        ).one_or_none()
        if run is None:
            raise NotFoundError(
                f"shop {shop.name!r} has no predictions yet: run `patron predict`", shop=shop.name
            )
        analysed = connection.execute(
            select(func.max(t.analysis_runs.c.as_of)).where(t.analysis_runs.c.shop_id == shop.id)
        ).scalar_one()
        frame = _predictions(connection, shop.id)
    valued = frame[frame["clv_minor"].notna()].sort_values(
        ["clv_minor", "external_id"], ascending=[False, True]
    )
    clv = valued["clv_minor"].to_numpy(np.float64)
    return ClvReport(
        shop=shop.name,
        currency=shop.currency,
        as_of=run.as_of,
        model=run.model,
        horizon_days=run.horizon_days,
        analysed_as_of=analysed,
        customers=len(frame),
        valued=len(valued),
        total_minor=int(clv.sum()),
        quantiles={
            f"p{round(q * 100)}": round(float(np.quantile(clv, q))) for q in QUANTILES if len(clv)
        },
        bands=_bands(clv, lang),
        top=_top(valued),
        segments=_groups(valued, "segment", _segment_labels(lang), lang) if analysed else [],
        stages=_groups(valued, "stage", _stage_labels(lang), lang) if analysed else [],
    )


def _predictions(connection: Any, shop_id: int) -> pd.DataFrame:
    p, c, f = t.customer_predictions.c, t.customers.c, t.customer_profiles.c
    query = (
        select(
            c.external_id,
            p.clv_minor,
            p.expected_orders,
            p.p_alive,
            p.churn_risk,
            p.next_order_at,
            f.segment,
            f.stage,
        )
        .join(t.customers, c.id == p.customer_id)
        .outerjoin(t.customer_profiles, f.customer_id == p.customer_id)
        .where(p.shop_id == shop_id)
    )
    rows = connection.execute(query).all()
    return pd.DataFrame(rows, columns=list(query.selected_columns.keys()))


def _bands(clv: np.ndarray[Any, Any], lang: Lang) -> list[dict[str, Any]]:
    """Customers ranked by CLV (``clv`` sorted, highest first), cut into :data:`BANDS`."""
    total = float(clv.sum())
    rows = []
    for high, low, label in BANDS:
        part = clv[round(high * len(clv)) : round(low * len(clv))]
        rows.append(
            {
                "band": label["en"],
                "label": label[lang],
                "customers": len(part),
                "clv_minor": int(part.sum()),
                "share": float(part.sum() / total) if total else None,
            }
        )
    return rows


def _top(valued: pd.DataFrame) -> list[dict[str, Any]]:
    top = valued.head(TOP).astype(object)
    return [
        {
            "customer": row["external_id"],
            "clv_minor": int(row["clv_minor"]),
            "expected_orders": float(row["expected_orders"]),
            "p_alive": float(row["p_alive"]),
            "churn_risk": float(row["churn_risk"]),
            "next_order_at": None
            if pd.isna(row["next_order_at"])
            else row["next_order_at"].isoformat(),
            "segment": row["segment"],
            "stage": row["stage"],
        }
        for row in top.to_dict("records")
    ]


def _groups(
    valued: pd.DataFrame, column: str, labels: dict[str, str], lang: Lang
) -> list[dict[str, Any]]:
    """Customers, total and mean CLV, mean P(alive) and share of the total CLV per value of
    ``column``, in the order of ``labels`` (the scheme's), customers without one last."""
    total = float(valued["clv_minor"].sum())
    keys = valued[column].fillna("")
    rows = []
    others = sorted(set(keys) - set(labels) - {""})
    for key in [*labels, *others, ""]:
        part = valued[keys == key]
        if part.empty:
            continue
        clv = float(part["clv_minor"].sum())
        rows.append(
            {
                column: key or None,
                "label": labels.get(key, NONE_LABEL[lang]),
                "customers": len(part),
                "clv_minor": int(clv),
                "mean_clv_minor": round(clv / len(part)),
                "mean_p_alive": float(part["p_alive"].mean()),
                "share": clv / total if total else None,
            }
        )
    return rows


def _segment_labels(lang: Lang) -> dict[str, str]:
    return {key: label.text(lang) for key, label in load_scores().labels.items()}


def _stage_labels(lang: Lang) -> dict[str, str]:
    return {key: label.text(lang) for key, label in load_lifecycle().labels.items()}
