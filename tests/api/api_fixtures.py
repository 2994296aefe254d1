"""An in-process API over the per-test database: two shops, keys of every scope."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from patron.access.keys import parse_scopes
from patron.api.app import create_app
from patron.core import Patron
from patron.settings import Settings


@dataclass
class Api:
    app: FastAPI
    client: TestClient
    patron: Patron
    # Bearer tokens by (shop, scopes): ("acme", "write") …
    tokens: dict[tuple[str, str], str]

    def headers(self, shop: str = "acme", scopes: str = "write", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[shop, scopes]}", **extra}


def build_api(patron: Patron, settings: Settings) -> Api:
    access = patron.access()
    tokens: dict[tuple[str, str], str] = {}
    for shop, timezone, currency in (("acme", "Asia/Shanghai", "CNY"), ("globex", "UTC", "USD")):
        access.create_shop(shop, timezone, currency)
        for scopes in ("read", "write", "admin"):
            tokens[shop, scopes] = access.create_key(shop, parse_scopes(scopes), scopes).token
    app = create_app(settings, patron=patron)
    return Api(app, TestClient(app, raise_server_exceptions=False), patron, tokens)


@pytest.fixture
def api(patron: Patron, settings: Settings) -> Iterator[Api]:
    built = build_api(patron, settings)
    with built.client:
        yield built
