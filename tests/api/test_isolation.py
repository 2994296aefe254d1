"""A key of one shop can never read, list, change or learn of another shop's data: every route
is walked with the other shop's key."""

from __future__ import annotations

from typing import Any

from api.api_fixtures import Api
from loyalty.support import sample_document

ORDER = {
    "customer_id": "C-1",
    "placed_at": "2026-11-20T10:00:00Z",
    "status": "paid",
    "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price_minor": 1999}],
}
CUSTOMER = {"name": "Li Lei", "email": "lilei@example.com"}
PRODUCT = {"title": "Oolong tea", "list_price_minor": 6800}
EVENTS = {
    "events": [
        {
            "event_id": "E-1",
            "type": "view",
            "customer_id": "C-1",
            "sku": "SKU-1",
            "occurred_at": "2026-11-20T09:00:00Z",
        }
    ]
}


def _seed(api: Api) -> dict[str, Any]:
    h = api.headers("acme", "write")
    c = api.client
    programme = c.put("/v1/loyalty/programme", json=sample_document(), headers=_admin(api))
    assert programme.status_code == 200
    assert c.put("/v1/customers/C-1", json=CUSTOMER, headers=h).status_code == 201
    assert c.put("/v1/products/SKU-1", json=PRODUCT, headers=h).status_code == 201
    # Orders credit their points: C-1 and C-2 become members.
    assert c.put("/v1/orders/O-1", json=ORDER, headers=h).status_code == 201
    assert c.put("/v1/orders/O-2", json={**ORDER, "customer_id": "C-2"}, headers=h).is_success
    assert c.post("/v1/events", json=EVENTS, headers=h).status_code in (200, 201)
    return _snapshot(api)


def _admin(api: Api) -> dict[str, str]:
    return api.headers("acme", "admin")


def _snapshot(api: Api) -> dict[str, Any]:
    h = api.headers("acme", "admin")
    c = api.client
    return {
        "customer": c.get("/v1/customers/C-1", headers=h).json(),
        "product": c.get("/v1/products/SKU-1", headers=h).json(),
        "order": c.get("/v1/orders/O-1", headers=h).json(),
        "customers": c.get("/v1/customers", headers=h).json(),
        "orders": c.get("/v1/orders", headers=h).json(),
        "products": c.get("/v1/products", headers=h).json(),
        "programme": c.get("/v1/loyalty/programme", headers=h).json(),
        "members": [c.get(f"/v1/loyalty/members/{m}", headers=h).json() for m in ("C-1", "C-2")],
        "ledger": c.get("/v1/loyalty/members/C-2/ledger", headers=h).json(),
    }


def test_every_route_is_walked_here(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    routes = {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/v1")
        for method in operations
    }
    assert routes == set(WALK)


WALK: dict[tuple[str, str], tuple[str, dict[str, Any] | None]] = {
    ("GET", "/v1/shop"): ("/v1/shop", None),
    ("GET", "/v1/audit"): ("/v1/audit", None),
    ("GET", "/v1/customers"): ("/v1/customers", None),
    ("GET", "/v1/customers/{external_id}"): ("/v1/customers/C-1", None),
    ("PUT", "/v1/customers/{external_id}"): ("/v1/customers/C-1", {"name": "Intruder"}),
    ("POST", "/v1/customers/{external_id}/erasure"): ("/v1/customers/C-1/erasure", None),
    ("GET", "/v1/products"): ("/v1/products", None),
    ("GET", "/v1/products/{sku}"): ("/v1/products/SKU-1", None),
    ("PUT", "/v1/products/{sku}"): ("/v1/products/SKU-1", {"title": "Fake"}),
    ("GET", "/v1/orders"): ("/v1/orders", None),
    ("GET", "/v1/orders/{external_id}"): ("/v1/orders/O-1", None),
    ("PUT", "/v1/orders/{external_id}"): ("/v1/orders/O-1", {**ORDER, "status": "pending"}),
    ("POST", "/v1/orders/{external_id}/status"): ("/v1/orders/O-1/status", {"status": "cancelled"}),
    ("POST", "/v1/orders/{external_id}/refunds"): (
        "/v1/orders/O-1/refunds",
        {"refund_id": "R-1", "lines": [{"line_no": 1}]},
    ),
    ("POST", "/v1/events"): ("/v1/events", EVENTS),
    # The intruder's own programme first: the member routes then reach its own shop's rules.
    ("GET", "/v1/loyalty/programme"): ("/v1/loyalty/programme", None),
    ("PUT", "/v1/loyalty/programme"): (
        "/v1/loyalty/programme",
        sample_document(currency="USD", timezone="UTC"),
    ),
    # C-2 is acme's alone (the intruder wrote a C-1 of its own above).
    ("GET", "/v1/loyalty/members/{customer_id}"): ("/v1/loyalty/members/C-2", None),
    ("GET", "/v1/loyalty/members/{customer_id}/ledger"): ("/v1/loyalty/members/C-2/ledger", None),
    ("POST", "/v1/loyalty/members/{customer_id}/actions"): (
        "/v1/loyalty/members/C-2/actions",
        {"action": "signin"},
    ),
    ("POST", "/v1/loyalty/members/{customer_id}/redeem"): (
        "/v1/loyalty/members/C-2/redeem",
        {"points": 1, "key": "r-1"},
    ),
    ("POST", "/v1/loyalty/members/{customer_id}/adjust"): (
        "/v1/loyalty/members/C-2/adjust",
        {"points": 1_000, "reason": "theft", "key": "a-1"},
    ),
    ("POST", "/v1/loyalty/referrals"): (
        "/v1/loyalty/referrals",
        {"referrer": "C-1", "referred": "C-2"},
    ),
    ("POST", "/v1/loyalty/orders/{order_id}/credit"): ("/v1/loyalty/orders/O-2/credit", None),
}


LISTS = ("/v1/customers", "/v1/products", "/v1/orders")


def test_a_foreign_key_never_reaches_another_shop(api: Api) -> None:
    before = _seed(api)
    intruder = api.headers("globex", "admin")
    for (method, _template), (path, body) in WALK.items():
        response = api.client.request(method, path, json=body, headers=intruder)
        assert response.status_code < 500, (method, path, response.text)
        text = response.text
        # Nothing of acme's leaks into globex's answers.
        for secret in ("Li Lei", "lilei@example.com", "Oolong", "acme"):
            assert secret not in text, (method, path, text)
        if method == "GET" and "{" in _template:
            assert response.status_code == 404, (method, path)
            assert response.json()["error"]["code"] == "not_found"
        if method == "GET" and "{" not in _template and path in LISTS:
            # Lists show only globex's own rows: those its own writes above created.
            for item in response.json()["items"]:
                assert item.get("name") != "Li Lei"
    # Foreign writes with acme's natural keys created globex's own objects, and acme's data
    # is exactly as it was.
    assert _snapshot(api) == before
    missing = api.client.post("/v1/orders/NOPE/status", json={"status": "paid"}, headers=intruder)
    foreign = api.client.post("/v1/customers/C-404/erasure", headers=api.headers("globex", "write"))
    assert missing.json()["error"]["code"] == foreign.json()["error"]["code"] == "not_found"


def test_the_audit_log_is_per_shop(api: Api) -> None:
    _seed(api)
    entries = api.client.get("/v1/audit", headers=api.headers("acme", "admin")).json()["items"]
    assert [(e["method"], e["route"], e["status_code"]) for e in entries] == [
        ("PUT", "/v1/loyalty/programme", 200),
        ("PUT", "/v1/customers/C-1", 201),
        ("PUT", "/v1/products/SKU-1", 201),
        ("PUT", "/v1/orders/O-1", 201),
        ("PUT", "/v1/orders/O-2", 201),
        ("POST", "/v1/events", entries[5]["status_code"]),
    ]
    assert api.client.get("/v1/audit", headers=api.headers("globex", "admin")).json() == {
        "items": [],
        "next_cursor": None,
    }
