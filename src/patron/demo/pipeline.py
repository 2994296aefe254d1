"""The main job: generate the demo shop and load it through the same ingestion path as any shop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from patron.analytics.service import AnalysisRun
from patron.core import Patron
from patron.demo.generator import generate_shop
from patron.errors import InputError
from patron.ingest.model import Entity, IngestReport
from patron.ingest.stats import ShopStats
from patron.loyalty.backfill import Backfilled
from patron.loyalty.calendar import day_start
from patron.loyalty.programme import sample_programme, to_dict
from patron.loyalty.report import LoyaltyReport
from patron.predict.calibration import Evaluation
from patron.predict.service import ScoreRun

DEMO_SHOP = "demo"
# Products and customers first, so that orders, events and reviews find them.
LOAD_ORDER = (
    Entity.PRODUCTS,
    Entity.CUSTOMERS,
    Entity.ORDERS,
    Entity.REFUNDS,
    Entity.EVENTS,
    Entity.REVIEWS,
)
HOLDOUT_DAYS = 182
"""The purchase model is fitted up to this many days before the end and checked on them."""


@dataclass(frozen=True, slots=True)
class DemoResult:
    out: Path
    database_url: str
    reports: tuple[IngestReport, ...]
    stats: ShopStats
    last_day: date
    """The history's last day: analyses, predictions and loyalty figures are as of its end."""
    analysis: AnalysisRun
    holdout: Evaluation | None
    predictions: ScoreRun | None
    skipped: str | None
    """Why there are no holdout check and predictions (a shop too small for the models)."""
    backfilled: Backfilled
    loyalty: LoyaltyReport


def run_demo(
    patron: Patron,
    out: Path,
    *,
    customers: int,
    seed: int,
    on_step: Callable[[str], None] | None = None,
) -> DemoResult:
    say = on_step or (lambda _message: None)
    say(f"generating {customers:,} customers (seed {seed}) in {out / 'data'}")
    files = generate_shop(out / "data", customers=customers, seed=seed)
    patron.upgrade()
    reports = []
    for entity in LOAD_ORDER:
        path = getattr(files, str(entity))
        say(f"ingesting {entity} from {path.name}")
        reports.append(patron.ingest(entity, path, shop=DEMO_SHOP))
    (stats,) = patron.stats(DEMO_SHOP)
    # As of the end of the day of the last order: the generated history ends there.
    assert stats.last_order_at is not None, "the demo shop has orders"
    last_day = stats.last_order_at.astimezone(ZoneInfo(stats.timezone)).date()
    analysis = patron.analytics().analyze(
        DEMO_SHOP, last_day, progress=lambda step: say(f"analysing: {step}")
    )
    predict = patron.predict()
    holdout: Evaluation | None = None
    predictions: ScoreRun | None = None
    skipped: str | None = None
    try:
        say("checking the purchase model on the last months")
        holdout = predict.holdout(DEMO_SHOP, last_day - timedelta(days=HOLDOUT_DAYS), last_day)
        predictions = predict.score(
            DEMO_SHOP, last_day, progress=lambda step: say(f"predicting: {step}")
        )
    except InputError as error:  # a shop too small for the models
        skipped = error.message
    backfilled, report = _loyalty(patron, stats, last_day, say)
    return DemoResult(
        out,
        patron.settings.database_url,
        tuple(reports),
        stats,
        last_day,
        analysis,
        holdout,
        predictions,
        skipped,
        backfilled,
        report,
    )


def _loyalty(
    patron: Patron, stats: ShopStats, last_day: date, say: Callable[[str], None]
) -> tuple[Backfilled, LoyaltyReport]:
    """The sample loyalty programme, in the shop's currency and time zone, run over the whole
    history: every buyer enrolled with the points and tier they would have by the end of
    ``last_day``, and the programme's figures then."""
    shop_id = patron.operator_context(DEMO_SHOP, "patron demo").shop_id
    loyalty = patron.loyalty()
    document = to_dict(sample_programme()) | {
        "currency": stats.currency,
        "timezone": stats.timezone,
    }
    programme = loyalty.set_programme(shop_id, document)
    as_of = day_start(programme, last_day + timedelta(days=1))
    backfilled = loyalty.backfill(
        shop_id, as_of, lambda done, total: say(f"loyalty: enrolling buyers {done:,}/{total:,}")
    )
    return backfilled, loyalty.report(shop_id, as_of)
