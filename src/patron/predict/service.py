"""Scoring a shop: its facts copied to Parquet (as the analyses copy them), its purchases read
on DuckDB, the models fitted and every customer's predictions stored
(:mod:`patron.predict.snapshot`); and the holdout check of a purchase model on the shop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Engine

from patron.analytics.extract import extract
from patron.analytics.facts import PURCHASE_STATUSES, Facts, connect_duckdb, read_facts, stamp
from patron.analytics.schemes import Lang
from patron.analytics.service import Schemes, compute
from patron.clock import Clock
from patron.db.engine import reader
from patron.db.shops import Shop, get_shop
from patron.predict import snapshot
from patron.predict.calibration import Evaluation, holdout_check
from patron.predict.churn import ChurnModel
from patron.predict.churn_data import FeatureSource
from patron.predict.report import ClvReport, clv_report
from patron.predict.scoring import ScoreOptions, Scores, score
from patron.predict.units import TimeUnit
from patron.settings import Settings

Progress = Callable[[str], None]

MODEL_ALIASES = {"pnbd": "pareto_nbd"}
"""Short names the command line accepts besides the registry's."""


@dataclass(frozen=True)
class ScoreRun:
    shop: Shop
    as_of: datetime
    options: ScoreOptions
    scores: Scores
    written: int


@dataclass(frozen=True)
class _ShopData:
    transactions: pd.DataFrame
    customers: pd.Index
    facts: Facts


class PredictService:
    def __init__(self, engine: Engine, settings: Settings, clock: Clock) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock

    def score(
        self,
        shop_name: str,
        as_of: datetime | date | None = None,
        model: str | None = None,
        horizon_days: int = 365,
        progress: Progress | None = None,
    ) -> ScoreRun:
        """Fit the purchase model (default: the ``predict_model`` setting) and the spend model
        on the shop's purchases before ``as_of`` and store every customer's predictions over
        the next ``horizon_days``. A date means the end of that day in the shop's time zone;
        the default is now."""
        shop = self._shop(shop_name)
        moment = _moment(as_of, shop) if as_of is not None else self.clock.now()
        s = self.settings
        options = ScoreOptions(
            model=MODEL_ALIASES.get(model, model) if model else s.predict_model,
            horizon_days=horizon_days,
            unit=TimeUnit(s.predict_time_unit),
            annual_discount_rate=s.predict_discount_rate,
            margin=s.predict_margin,
            churn_model=s.predict_churn_model,
            churn_horizon_days=s.predict_churn_horizon_days,
        )
        step = progress or (lambda _name: None)
        step("copying facts")
        extract(self.engine, shop.id, self._folder(shop))
        con = connect_duckdb(s.analytics_memory_limit, self._folder(shop) / "spill")
        try:
            step("reading purchases")
            data = _read(read_facts(con, self._folder(shop)), moment, shop.timezone)
            extra = (
                _profiles(data.facts, shop.timezone)
                if options.churn_model == ChurnModel.BOOSTED
                else None
            )
            step(f"fitting {options.model}")
            scores = score(
                data.transactions,
                data.customers,
                _last_day(moment, shop),
                moment,
                options,
                extra,
            )
        finally:
            con.disconnect()
        step("writing predictions")
        run = {
            "model": options.model,
            "horizon_days": horizon_days,
            "settings": options.to_json(),
            "fit": scores.fit_json(),
        }
        written = snapshot.write(
            self.engine, shop.id, moment, self.clock.now(), run, scores.predictions
        )
        return ScoreRun(shop, moment, options, scores, written)

    def holdout(
        self, shop_name: str, calibration_end: date, holdout_end: date, model: str = "bgnbd"
    ) -> Evaluation:
        """Fit the purchase model on the shop's purchases up to ``calibration_end`` and check
        its forecast up to ``holdout_end`` (days of the shop's time zone, both inclusive), on
        the copy of the facts the last scoring or analysis made (copied when there is none)."""
        shop = self._shop(shop_name)
        folder = self._folder(shop)
        if not (folder / "orders.parquet").exists():
            extract(self.engine, shop.id, folder)
        con = connect_duckdb(self.settings.analytics_memory_limit, folder / "spill")
        try:
            end = _moment(holdout_end, shop)
            data = _read(read_facts(con, folder), end, shop.timezone)
        finally:
            con.disconnect()
        name = MODEL_ALIASES.get(model, model)
        unit = TimeUnit(self.settings.predict_time_unit)
        return holdout_check(data.transactions, calibration_end, holdout_end, name, unit)

    def clv_report(self, shop_name: str, lang: Lang = "en") -> ClvReport:
        """The shop's latest predictions: CLV distribution, top customers, by segment and
        stage of its latest analysis."""
        return clv_report(self.engine, shop_name, lang)

    def _shop(self, name: str) -> Shop:
        with reader(self.engine).connect() as connection:
            return get_shop(connection, name)

    def _folder(self, shop: Shop) -> Path:
        # The folder the analyses copy the same facts to: one copy per shop.
        return self.settings.analytics_dir / f"shop-{shop.id}"


def _moment(as_of: datetime | date, shop: Shop) -> datetime:
    if isinstance(as_of, datetime):
        return as_of
    midnight = datetime.combine(
        as_of + timedelta(days=1), datetime.min.time(), ZoneInfo(shop.timezone)
    )
    return midnight.astimezone(UTC)


def _last_day(moment: datetime, shop: Shop) -> date:
    """The last day (shop's time zone) with purchases before ``moment``."""
    return (moment - timedelta(microseconds=1)).astimezone(ZoneInfo(shop.timezone)).date()


def _read(facts: Facts, moment: datetime, timezone: str) -> _ShopData:
    """The purchases before ``moment`` (customer_id, date as the local day, amount as the
    order total less what was refunded before ``moment``) and every customer's id."""
    o = facts.orders
    orders = o.filter(o.status.isin(PURCHASE_STATUSES), o.placed_at < stamp(moment))
    r = facts.refunds_until(moment)
    refunded = r.group_by(order_id=r.order_id).aggregate(refunded=r.amount_minor.sum())
    joined = orders.left_join(refunded, orders.id == refunded.order_id)
    frame = joined.select(
        "customer_id",
        date=joined.placed_at,
        amount=joined.total_minor - joined.refunded.fill_null(0),
    ).to_pandas()
    local = pd.to_datetime(frame["date"]).dt.tz_localize(UTC).dt.tz_convert(timezone)
    frame["date"] = local.dt.tz_localize(None).dt.normalize()
    customers = pd.Index(facts.customers.select("id").to_pandas()["id"], name="customer_id")
    return _ShopData(frame, customers.sort_values(), facts)


def _profiles(facts: Facts, timezone: str) -> FeatureSource:
    """The analytics profiles as of the start of a day (shop's time zone): the boosted churn
    model's features beyond the purchases."""
    schemes = Schemes.shipped()

    def profiles(day: date) -> pd.DataFrame:
        moment = datetime.combine(day, datetime.min.time(), ZoneInfo(timezone)).astimezone(UTC)
        table: pd.DataFrame = compute(facts, moment, schemes, timezone).profiles.to_pandas()
        return table.set_index("customer_id")

    return profiles
