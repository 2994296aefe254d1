"""Property-based fuzzing of the API against its own OpenAPI schema: no 5xx, and every response
conforms to the schema (status, content type, body, headers)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from api_fixtures import Api
from hypothesis import HealthCheck, settings


@pytest.fixture
def api_schema(api: Api) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", api.client.app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_conforms_to_its_schema(case: schemathesis.Case, api: Api) -> None:
    case.call_and_validate(headers=api.headers("acme", "admin"))
