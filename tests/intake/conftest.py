"""Fixtures of the intake tests: an IntakeService on the migrated test database (SQLite, and
PostgreSQL when configured), the shop it writes to, and a write context as the API makes one.

tests/intake is a package, so that this conftest does not shadow the top-level one."""

from __future__ import annotations

import pytest

from intake.support import make_service, make_shop, write_ctx
from patron.access.guard import WriteContext
from patron.core import Patron
from patron.db.shops import Shop
from patron.intake.service import IntakeService


@pytest.fixture
def service(patron: Patron) -> IntakeService:
    return make_service(patron)


@pytest.fixture
def shop(patron: Patron) -> Shop:
    return make_shop(patron)


@pytest.fixture
def ctx(shop: Shop) -> WriteContext:
    return write_ctx(shop)
