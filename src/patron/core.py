"""The Patron object: settings, database and clock in one place. The CLI, the API, the dashboard
and the tests all build one and call it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from patron.access.guard import WriteContext
from patron.access.service import AccessService
from patron.analytics.service import AnalyticsService
from patron.clock import Clock, SystemClock
from patron.db import migrate
from patron.db.engine import make_engine, reader
from patron.db.shops import get_shop
from patron.db.tables import shops
from patron.errors import ErrorCode, PatronError
from patron.ingest.model import Entity, IngestReport
from patron.ingest.service import Progress, ingest
from patron.ingest.stats import ShopStats, shop_stats
from patron.intake.service import IntakeService
from patron.loyalty.mall_service import MallService
from patron.loyalty.service import LoyaltyService
from patron.predict.service import PredictService
from patron.settings import Settings


class Patron:
    def __init__(
        self, settings: Settings, clock: Clock | None = None, engine: Engine | None = None
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.engine = engine or make_engine(
            settings.database_url, pool_size=settings.database_pool_size
        )

    def access(self) -> AccessService:
        """Shops and API keys."""
        self.require_schema()
        return AccessService(self.engine, self.clock)

    def analytics(self) -> AnalyticsService:
        """Analyses of a shop: summary, RFM, stages, cohorts, KPIs, written back as profiles."""
        self.require_schema()
        return AnalyticsService(self.engine, self.settings, self.clock)

    def predict(self) -> PredictService:
        """Predictions of a shop's customers (CLV, P(alive), churn risk), written back."""
        self.require_schema()
        return PredictService(self.engine, self.settings, self.clock)

    def loyalty(self) -> LoyaltyService:
        """The loyalty programme: points ledger, tiers and benefits, points mall."""
        self.require_schema()
        return LoyaltyService(self.engine, self.clock)

    def mall(self) -> MallService:
        """The points mall: rewards, reservations of points, confirmations."""
        self.require_schema()
        return MallService(self.engine, self.clock)

    def intake_service(self) -> IntakeService:
        """Customers, products, orders, refunds and events one at a time (the API's writes)."""
        retention = timedelta(hours=self.settings.api_idempotency_hours)
        return IntakeService(self.engine, self.clock, retention)

    def operator_context(self, shop: str, action: str) -> WriteContext:
        """A write made by the operator at the command line: audited, without an API key."""
        self.require_schema()
        with reader(self.engine).connect() as connection:
            shop_id = get_shop(connection, shop).id
        return WriteContext(shop_id=shop_id, api_key_id=None, method="CLI", route=action)

    def upgrade(self) -> str:
        """Bring the database schema to the latest migration; returns its revision."""
        return migrate.upgrade(self.engine)

    def schema_revision(self) -> tuple[str | None, str]:
        return migrate.current_revision(self.engine), migrate.head_revision()

    def require_schema(self) -> None:
        current, head = self.schema_revision()
        if current != head:
            raise PatronError(
                f"the database is at schema revision {current or '(empty)'}, not {head}: "
                "run `patron db upgrade`",
                code=ErrorCode.DATABASE_OUTDATED,
                current=current,
                head=head,
            )

    def ingest(
        self,
        entity: Entity,
        path: Path,
        *,
        shop: str | None = None,
        profile: str | None = None,
        mapping: Path | None = None,
        max_errors: int = 0,
        progress: Progress | None = None,
    ) -> IngestReport:
        self.require_schema()
        return ingest(
            self.engine,
            self.settings,
            self.clock,
            entity=entity,
            path=path,
            shop=shop,
            profile=profile,
            mapping=mapping,
            max_errors=max_errors,
            progress=progress,
        )

    def stats(self, shop: str | None = None) -> list[ShopStats]:
        """Statistics of one shop, or of every shop when none is named."""
        self.require_schema()
        with reader(self.engine).connect() as connection:
            if shop is not None:
                return [shop_stats(connection, get_shop(connection, shop))]
            names = connection.execute(select(shops.c.name).order_by(shops.c.id)).scalars().all()
            return [shop_stats(connection, get_shop(connection, name)) for name in names]

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Patron:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
