"""The intake routes end to end: exact bodies, status codes, idempotency, validation."""

from __future__ import annotations

from api.api_fixtures import Api

ORDER = {
    "customer_id": "C-7",
    "placed_at": "2026-11-11T00:05:00+08:00",
    "status": "paid",
    "discount_minor": 500,
    "coupon_codes": ["DOUBLE11"],
    "lines": [
        {"sku": "TEA-1", "quantity": 3, "unit_price_minor": 3333, "title": "Oolong"},
        {"sku": "CUP-2", "quantity": 1, "unit_price_minor": 4500},
    ],
}


def test_an_order_is_created_then_unchanged_then_updated(api: Api) -> None:
    h = api.headers()
    created = api.client.put("/v1/orders/SO-1", json=ORDER, headers=h)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"] == "SO-1"
    assert body["customer_id"] == "C-7"
    assert body["placed_at"] == "2026-11-10T16:05:00Z"
    assert body["status"] == "paid"
    assert body["currency"] == "CNY"
    assert (body["subtotal_minor"], body["discount_minor"], body["total_minor"]) == (
        14499,
        500,
        13999,
    )
    assert body["item_count"] == 4
    assert body["coupon_codes"] == ["DOUBLE11"]
    assert [(ln["line_no"], ln["sku"], ln["line_total_minor"]) for ln in body["lines"]] == [
        (1, "TEA-1", 9999),
        (2, "CUP-2", 4500),
    ]
    again = api.client.put("/v1/orders/SO-1", json=ORDER, headers=h)
    assert again.status_code == 200
    assert again.json() == body
    changed = api.client.put("/v1/orders/SO-1", json={**ORDER, "shipping_minor": 800}, headers=h)
    assert changed.status_code == 200
    assert changed.json()["total_minor"] == 14799
    # The customer and the products were created as stubs.
    customer = api.client.get("/v1/customers/C-7", headers=h).json()
    assert customer["is_stub"] is True
    product = api.client.get("/v1/products/TEA-1", headers=h).json()
    assert (product["title"], product["is_stub"]) == ("Oolong", True)


def test_status_changes_and_partial_refunds(api: Api) -> None:
    h = api.headers()
    api.client.put("/v1/orders/SO-2", json=ORDER, headers=h)
    shipped = api.client.post("/v1/orders/SO-2/status", json={"status": "shipped"}, headers=h)
    assert shipped.status_code == 200 and shipped.json()["status"] == "shipped"
    back = api.client.post("/v1/orders/SO-2/status", json={"status": "pending"}, headers=h)
    assert back.status_code == 409
    assert back.json()["error"]["code"] == "conflict"
    assert back.json()["error"]["details"]["allowed"] == ["completed", "refunded"]

    refund = {"refund_id": "RF-1", "lines": [{"line_no": 1, "quantity": 1}], "reason": "broken"}
    first = api.client.post("/v1/orders/SO-2/refunds", json=refund, headers=h)
    assert first.status_code == 201, first.text
    line = first.json()["lines"][0]
    # 1 of 3 units of a 99.99 line: 33.33.
    assert (line["refunded_quantity"], line["refunded_minor"]) == (1, 3333)
    replay = api.client.post("/v1/orders/SO-2/refunds", json=refund, headers=h)
    assert replay.status_code == 200 and replay.json() == first.json()
    too_much = api.client.post(
        "/v1/orders/SO-2/refunds",
        json={"refund_id": "RF-2", "lines": [{"line_no": 1, "quantity": 3}]},
        headers=h,
    )
    assert too_much.status_code in (409, 422)
    assert api.client.get("/v1/orders/SO-2", headers=h).json()["lines"][0]["refunded_minor"] == 3333


def test_idempotency_key_replays_and_refuses_reuse(api: Api) -> None:
    h = api.headers(**{"Idempotency-Key": "k-1"})
    first = api.client.put("/v1/orders/SO-3", json=ORDER, headers=h)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    replay = api.client.put("/v1/orders/SO-3", json=ORDER, headers=h)
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    reused = api.client.put("/v1/orders/SO-4", json=ORDER, headers=h)
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert api.client.get("/v1/orders/SO-4", headers=h).status_code == 404


def test_erasure_keeps_no_idempotency_key(api: Api) -> None:
    """A kept answer would link the old id to the pseudonym: the retry is a 404, not a replay."""
    h = api.headers(**{"Idempotency-Key": "k-erase"})
    assert api.client.put("/v1/customers/C-1", json={"name": "Ann"}, headers=h).status_code == 201
    first = api.client.post("/v1/customers/C-1/erasure", headers=h)
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    assert api.client.post("/v1/customers/C-1/erasure", headers=h).status_code == 404


def test_an_idempotency_key_too_long_is_refused_and_audited(api: Api) -> None:
    h = api.headers(**{"Idempotency-Key": "k" * 256})
    refused = api.client.put("/v1/orders/SO-9", json=ORDER, headers=h)
    assert refused.status_code == 422
    fields = refused.json()["error"]["details"]["fields"]
    assert [f["field"] for f in fields] == ["header.Idempotency-Key"]
    audit = api.client.get("/v1/audit", headers=api.headers(scopes="admin")).json()["items"]
    assert [(x["route"], x["status_code"], x["error_code"]) for x in audit] == [
        ("/v1/orders/SO-9", 422, "input_invalid")
    ]


def test_events_batches_count_duplicates(api: Api) -> None:
    h = api.headers()
    events = [
        {
            "event_id": f"E-{i}",
            "type": "view",
            "customer_id": "C-1",
            "sku": "TEA-1",
            "occurred_at": "2026-11-20T09:00:00Z",
        }
        for i in range(3)
    ]
    first = api.client.post("/v1/events", json={"events": events}, headers=h)
    assert first.json() == {"accepted": 3, "duplicates": 0}
    again = api.client.post("/v1/events", json={"events": [*events, events[0]]}, headers=h)
    assert again.json() == {"accepted": 0, "duplicates": 4}
    too_many = api.client.post("/v1/events", json={"events": events * 334}, headers=h)
    assert too_many.status_code == 422
    assert too_many.json()["error"]["details"]["fields"][0]["field"] == "body.events"


def test_validation_errors_name_each_field(api: Api) -> None:
    bad = {**ORDER, "placed_at": "2026-11-11T00:05:00", "lines": [{"sku": "X", "quantity": 0}]}
    response = api.client.put("/v1/orders/SO-5", json=bad, headers=api.headers())
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "input_invalid"
    fields = {f["field"] for f in error["details"]["fields"]}
    assert fields == {
        "body.placed_at",
        "body.lines.0.quantity",
        "body.lines.0.unit_price_minor",
    }
    not_json = api.client.put(
        "/v1/orders/SO-5",
        content=b"{not json",
        headers={**api.headers(), "Content-Type": "application/json"},
    )
    assert not_json.status_code == 422
    assert not_json.json()["error"]["code"] == "input_invalid"


def test_read_keys_cannot_write(api: Api) -> None:
    response = api.client.put("/v1/orders/SO-6", json=ORDER, headers=api.headers("acme", "read"))
    assert response.status_code == 403
    assert response.json()["error"]["details"] == {"required": "write"}


def test_customers_upsert_erase_and_page(api: Api) -> None:
    h = api.headers()
    for i in range(5):
        response = api.client.put(
            f"/v1/customers/C-{i}", json={"name": f"Name {i}", "city_tier": 2}, headers=h
        )
        assert response.status_code == 201
    erased = api.client.post("/v1/customers/C-0/erasure", headers=h)
    assert erased.status_code == 200
    pseudonym = erased.json()["id"]
    assert pseudonym.startswith("anon-") and erased.json()["name"] is None
    assert api.client.get("/v1/customers/C-0", headers=h).status_code == 404
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.client.get("/v1/customers", params=params, headers=h).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [pseudonym, "C-1", "C-2", "C-3", "C-4"]
    bad = api.client.get("/v1/customers", params={"cursor": "zzz"}, headers=h)
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "cursor"


def test_timestamps_out_of_range_are_422_not_500(api: Api) -> None:
    for placed_at in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"):
        response = api.client.put(
            "/v1/orders/SO-9", json={**ORDER, "placed_at": placed_at}, headers=api.headers()
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["details"]["field"] == "placed_at"


def test_lookups_with_a_nul_character_are_422_not_500(api: Api) -> None:
    h = api.headers()
    for path in ("/v1/orders?customer_id=%00", "/v1/orders/%00", "/v1/customers/a%00b"):
        response = api.client.get(path, headers=h)
        assert response.status_code == 422, (path, response.text)
        assert "NUL" in response.json()["error"]["message"]
