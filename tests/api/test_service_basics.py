"""Health, authentication, scopes, the error shape, body size and rate limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.api_fixtures import Api, build_api
from patron.api.app import create_app
from patron.clock import FixedClock
from patron.core import Patron
from patron.settings import Settings


def test_health_and_readiness(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_readiness_fails_on_an_unmigrated_database(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["error"]["code"] == "database_outdated"
    assert "patron db upgrade" in ready.json()["error"]["message"]


def test_openapi_documents_every_route(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    assert schema["info"]["title"] == "Patron"
    assert "/v1/shop" in schema["paths"] and "/v1/audit" in schema["paths"]
    assert api.client.get("/docs").status_code == 200


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "missing API key: send `Authorization: Bearer <key>`"),
        ("Basic abc", "expected `Authorization: Bearer <key>`"),
        ("Bearer nonsense", "malformed API key"),
        ("Bearer ptk_aaaaaaaaaaaa_" + "x" * 43, "invalid or revoked API key"),
    ],
)
def test_requests_without_a_valid_key_are_401(
    api: Api, authorization: str | None, message: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = api.client.get("/v1/shop", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    body = response.json()
    assert body["error"]["code"] == "unauthenticated"
    assert body["error"]["message"].startswith(message)


def test_a_key_sees_its_own_shop_and_scopes(api: Api) -> None:
    assert api.client.get("/v1/shop", headers=api.headers("globex", "write")).json() == {
        "name": "globex",
        "scopes": ["read", "write"],
    }


def test_scopes_gate_admin_routes(api: Api) -> None:
    refused = api.client.get("/v1/audit", headers=api.headers("acme", "write"))
    assert refused.status_code == 403
    assert refused.json() == {
        "error": {
            "code": "forbidden",
            "message": "this API key lacks the 'admin' scope",
            "details": {"required": "admin"},
        }
    }
    assert api.client.get("/v1/audit", headers=api.headers("acme", "admin")).status_code == 200


def test_unknown_routes_and_methods_use_the_error_shape(api: Api) -> None:
    missing = api.client.get("/v1/nowhere", headers=api.headers())
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "route_not_found"
    wrong = api.client.delete("/v1/shop", headers=api.headers())
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"


def test_a_revoked_key_is_refused_once_the_cache_expires(api: Api, clock: FixedClock) -> None:
    access = api.patron.access()
    key_id = access.authenticate(api.tokens["acme", "read"]).key_id
    assert api.client.get("/v1/shop", headers=api.headers("acme", "read")).status_code == 200
    # Revoked by another process (here: another service object, as `patron keys revoke` is).
    access.revoke_key(key_id)
    clock.advance(1.9)
    assert api.client.get("/v1/shop", headers=api.headers("acme", "read")).status_code == 200
    clock.advance(0.2)
    assert api.client.get("/v1/shop", headers=api.headers("acme", "read")).status_code == 401


def test_without_the_cache_a_revoked_key_stops_at_once(patron: Patron, settings: Settings) -> None:
    api = build_api(patron, settings.model_copy(update={"api_key_cache_seconds": 0}))
    with api.client:
        access = api.patron.access()
        key_id = access.authenticate(api.tokens["acme", "read"]).key_id
        assert api.client.get("/v1/shop", headers=api.headers("acme", "read")).status_code == 200
        access.revoke_key(key_id)
        assert api.client.get("/v1/shop", headers=api.headers("acme", "read")).status_code == 401


def test_rate_limit_answers_429_with_retry_after(patron: Patron, settings: Settings) -> None:
    limited = settings.model_copy(update={"api_rate_per_second": 1.0, "api_rate_burst": 2})
    api = build_api(patron, limited)
    with api.client:
        codes = [api.client.get("/v1/shop", headers=api.headers()).status_code for _ in range(3)]
        refused = api.client.get("/v1/shop", headers=api.headers())
        other_key = api.client.get("/v1/shop", headers=api.headers("acme", "read"))
    assert codes == [200, 200, 429]
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["error"]["code"] == "rate_limited"
    assert other_key.status_code == 200


def test_bodies_over_the_limit_are_413(patron: Patron, settings: Settings) -> None:
    small = settings.model_copy(update={"api_max_body_bytes": 100})
    api = build_api(patron, small)
    with api.client:
        response = api.client.post("/v1/events", headers=api.headers(), content=b"x" * 101)
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "payload_too_large",
        "message": "request body larger than 100 bytes",
        "details": {"max_bytes": 100},
    }
