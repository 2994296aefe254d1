"""The FastAPI application, built by `create_app(settings)`; nothing is created at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from importlib.metadata import version

from anyio import to_thread
from fastapi import FastAPI

from patron.access.ratelimit import RateLimiter
from patron.access.service import AccessService
from patron.api import errors
from patron.api.context import ProgrammeShops, Services
from patron.api.limits import BodySizeLimit
from patron.api.routes import audit, customers, events, health, loyalty, orders, products, shop
from patron.clock import Clock
from patron.core import Patron
from patron.loyalty.service import LoyaltyService
from patron.settings import Settings

DESCRIPTION = """Patron's HTTP API: customers, products, orders, refunds and behaviour events of
one shop, and its loyalty programme (points, tiers, benefits), with API keys, idempotent writes
and one error shape. See docs/api.md and docs/loyalty.md."""


def create_app(
    settings: Settings, *, clock: Clock | None = None, patron: Patron | None = None
) -> FastAPI:
    """The app; ``patron`` shares an existing core object (tests), else one is built and closed
    with the app."""
    core = patron or Patron(settings, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # As many requests at once as there are pooled connections: more would only queue on
        # the pool inside threads.
        to_thread.current_default_thread_limiter().total_tokens = settings.database_pool_size
        yield
        if patron is None:
            core.close()

    app = FastAPI(
        title="Patron",
        version=version("patron"),
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    # Not core.loyalty(): that checks the schema, which /readyz reports instead.
    loyalty_service = LoyaltyService(core.engine, core.clock)
    app.state.services = Services(
        patron=core,
        access=AccessService(
            core.engine, core.clock, timedelta(seconds=settings.api_key_cache_seconds)
        ),
        intake=core.intake_service(),
        loyalty=loyalty_service,
        programmes=ProgrammeShops(loyalty_service),
        limiter=RateLimiter(settings.api_rate_per_second, settings.api_rate_burst),
    )
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.api_max_body_bytes)
    app.include_router(health.router)
    for module in (shop, customers, products, orders, events, loyalty, audit):
        app.include_router(module.router, prefix="/v1")
    return app


def app_from_environment() -> FastAPI:
    """The factory `patron serve` hands to uvicorn: settings from the environment."""
    return create_app(Settings())
