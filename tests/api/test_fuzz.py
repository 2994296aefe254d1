"""Property-based fuzzing of the API against its own OpenAPI schema: no 5xx, and every response
conforms to the schema (status, content type, body, headers)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from api.api_fixtures import Api


def test_the_api_conforms_to_its_schema(api: Api) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    headers = api.headers("acme", "admin")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 17

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: schemathesis.Case) -> None:
            # Not "schema-valid data is accepted": the service also refuses what a schema cannot
            # say (NUL characters, paid before placed, refunds beyond the line), with a 422.
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        conforms()
