"""The loyalty routes end to end: the programme, members, actions, redemptions, adjustments,
referrals and credits, with idempotency, scopes and the order writes that credit points on
their own. Figures from the sample programme (1 point per yuan; 奶粉 ×0.5, 精华 ×3, the own
brand ×2; first order +100; growth = yuan + 10 per order)."""

from __future__ import annotations

from typing import Any

import pytest

from api.api_fixtures import Api
from loyalty.support import sample_document
from patron.clock import FixedClock

PRODUCTS = {
    "MILK": {"category_path": "母婴 > 奶粉 > 1段", "brand": "Feihe"},
    "SERUM": {"category_path": "美妆 > 面部护理 > 精华", "brand": "Lancome"},
    "TEE": {"category_path": "服饰 > 上衣", "brand": "Patron Select"},
    "BOOK": {"category_path": "图书"},
}
ORDER = {
    "customer_id": "C-1",
    "placed_at": "2026-11-11T10:00:00+08:00",
    "status": "paid",
    "lines": [
        {"sku": "MILK", "quantity": 2, "unit_price_minor": 10_000},
        {"sku": "SERUM", "quantity": 1, "unit_price_minor": 30_000},
        {"sku": "TEE", "quantity": 1, "unit_price_minor": 5_000},
        {"sku": "BOOK", "quantity": 1, "unit_price_minor": 2_000},
    ],
}
"""200 yuan of formula (100 points), 300 of serum (900), 50 of the own brand (100), 20 of
books (20), and the first-order bonus: 1,220 points; 570 yuan and one order: growth 580."""


def _programme(api: Api, **changes: Any) -> dict[str, Any]:
    response = api.client.put(
        "/v1/loyalty/programme",
        json=sample_document(**changes),
        headers=api.headers(scopes="admin"),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _shop(api: Api) -> None:
    """acme with the sample programme and the products of ORDER."""
    _programme(api)
    for sku, fields in PRODUCTS.items():
        assert api.client.put(f"/v1/products/{sku}", json=fields, headers=api.headers()).is_success


def _member(api: Api, customer: str = "C-1") -> dict[str, Any]:
    response = api.client.get(
        f"/v1/loyalty/members/{customer}", headers=api.headers("acme", "read")
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _adjust(api: Api, points: int, key: str, customer: str = "C-1") -> dict[str, Any]:
    response = api.client.post(
        f"/v1/loyalty/members/{customer}/adjust",
        json={"points": points, "reason": "goodwill", "key": key},
        headers=api.headers(scopes="admin"),
    )
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_programme_is_set_by_admins_versioned_and_validated(api: Api) -> None:
    admin = api.headers(scopes="admin")
    missing = api.client.get("/v1/loyalty/programme", headers=api.headers("acme", "read"))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    writer = api.client.put("/v1/loyalty/programme", json=sample_document(), headers=api.headers())
    assert writer.status_code == 403
    first = _programme(api)
    assert first == {**sample_document(), "version": 1}
    assert _programme(api)["version"] == 1
    assert _programme(api, pending_days=7)["version"] == 2
    document = sample_document()
    document["tiers"]["levels"][2]["threshold"] = 500
    bad = api.client.put("/v1/loyalty/programme", json=document, headers=admin)
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["code"] == "config_invalid"
    assert error["details"]["field"] == "tiers.levels[2].threshold"
    # globex trades in USD: the sample (CNY) is refused there, naming the currency.
    usd = api.client.put(
        "/v1/loyalty/programme", json=sample_document(), headers=api.headers("globex", "admin")
    )
    assert usd.status_code == 422 and usd.json()["error"]["details"]["field"] == "currency"
    shown = api.client.get("/v1/loyalty/programme", headers=api.headers("acme", "read")).json()
    assert (shown["version"], shown["pending_days"]) == (2, 7)


def test_order_writes_credit_points_once_the_shop_has_a_programme(api: Api) -> None:
    h = api.headers()
    for sku, fields in PRODUCTS.items():
        api.client.put(f"/v1/products/{sku}", json=fields, headers=h)
    # No programme yet: the order is stored, nothing is credited.
    assert api.client.put("/v1/orders/O-0", json=ORDER, headers=h).status_code == 201
    _programme(api)
    # Set later, the programme counts from the next order write.
    assert api.client.put("/v1/orders/O-1", json=ORDER, headers=h).status_code == 201
    member = _member(api)
    # O-0 came first (the same moment, the lower id): O-1 earns no first-order bonus. Growth
    # counts both orders: 1,140 yuan and 2 orders, Silver.
    member = _member(api)
    assert (member["balance"], member["pending"], member["available"]) == (1_120, 1_120, 0)
    assert (member["growth"], member["tier"]["code"]) == (1_160, "silver")
    assert member["tier"]["label"] == {"en": "Silver", "zh": "银卡会员"}
    assert member["next_expiry"] == {"at": "2027-12-31T16:00:00Z", "points": 1_120}
    assert member["next_tier"]["code"] == "gold"
    assert member["next_tier"]["growth_needed"] == 5_000 - 1_160
    # The earlier order is credited on demand, at Silver's × 1.2 (120 + 1,080 + 120 + 24),
    # with the first-order bonus.
    credit = api.client.post("/v1/loyalty/orders/O-0/credit", headers=h)
    assert credit.status_code == 200, credit.text
    assert (credit.json()["earned"], credit.json()["reversed"]) == (1_344 + 100, 0)
    again = api.client.post("/v1/loyalty/orders/O-0/credit", headers=h).json()
    assert (again["earned"], again["member"]["balance"]) == (0, 1_120 + 1_444)
    # A refund of half the serum takes back half its 900 points…
    refund = {"refund_id": "R-1", "lines": [{"line_no": 2, "amount_minor": 15_000}]}
    assert api.client.post("/v1/orders/O-1/refunds", json=refund, headers=h).status_code == 201
    assert _member(api)["balance"] == 1_120 + 1_444 - 450
    # …and refunding the rest takes back the other 100 + 450 + 100 + 20.
    rest = {
        "refund_id": "R-2",
        "lines": [
            {"line_no": 1, "amount_minor": 20_000},
            {"line_no": 2, "amount_minor": 15_000},
            {"line_no": 3, "amount_minor": 5_000},
            {"line_no": 4, "amount_minor": 2_000},
        ],
    }
    refunded = api.client.post("/v1/orders/O-1/refunds", json=rest, headers=h)
    assert refunded.status_code == 201 and refunded.json()["status"] == "refunded"
    assert _member(api)["balance"] == 1_444
    ledger = api.client.get("/v1/loyalty/members/C-1/ledger", headers=h).json()["items"]
    assert [(e["kind"], e["points"], e["source"]) for e in ledger] == [
        ("earn", 1_120, "order:O-1"),
        ("earn", 1_444, "order:O-0"),
        ("reverse", -450, "order:O-1"),
        # One entry per refunded line.
        ("reverse", -100, "order:O-1"),
        ("reverse", -450, "order:O-1"),
        ("reverse", -100, "order:O-1"),
        ("reverse", -20, "order:O-1"),
    ]


def test_a_pending_order_earns_when_paid(api: Api) -> None:
    _shop(api)
    h = api.headers()
    pending = {**ORDER, "status": "pending"}
    assert api.client.put("/v1/orders/O-1", json=pending, headers=h).status_code == 201
    not_member = api.client.get("/v1/loyalty/members/C-1", headers=h)
    assert not_member.status_code == 404
    assert not_member.json()["error"]["details"] == {"object": "member", "id": "C-1"}
    paid = api.client.post("/v1/orders/O-1/status", json={"status": "paid"}, headers=h)
    assert paid.status_code == 200
    assert _member(api)["balance"] == 1_220


def test_actions_grant_within_the_rules(api: Api, clock: FixedClock) -> None:
    _shop(api)
    h = api.headers()
    path = "/v1/loyalty/members/C-1/actions"
    # A customer the shop does not know is not found; a known one is enrolled.
    assert api.client.post(path, json={"action": "signin"}, headers=h).status_code == 404
    api.client.put("/v1/customers/C-1", json={"name": "Ann"}, headers=h)
    signed = api.client.post(path, json={"action": "signin"}, headers=h)
    assert signed.status_code == 201, signed.text
    body = signed.json()
    assert body["award"] == {"action": "signin", "rule_points": 5, "points": 5, "held": None}
    assert (body["entry"]["kind"], body["entry"]["points"]) == ("earn", 5)
    assert (body["member"]["balance"], body["member"]["available"]) == (5, 5)
    again = api.client.post(path, json={"action": "signin"}, headers=h)
    assert again.status_code == 200
    assert again.json()["award"]["held"] == "signed_in_today"
    assert again.json()["member"]["balance"] == 5
    short = api.client.post(
        path, json={"action": "review", "ref": "RV-1", "text": "good"}, headers=h
    )
    assert short.status_code == 200
    assert short.json()["award"]["held"] == "text_too_short" and short.json()["entry"] is None
    review = {
        "action": "review",
        "ref": "RV-2",
        "text": "很好用，包装也很仔细，下次还会再来买的",
        "has_photo": True,
    }
    keyed = api.headers(**{"Idempotency-Key": "rv-2"})
    first = api.client.post(path, json=review, headers=keyed)
    assert first.status_code == 201 and first.json()["award"]["points"] == 20
    replay = api.client.post(path, json=review, headers=keyed)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    # The next day (02:00 in Shanghai) the same key answers as before and grants nothing again.
    clock.advance(6 * 3_600)
    assert api.client.post(path, json=review, headers=keyed).json() == first.json()
    task = api.client.post(path, json={"action": "task", "task": "nope", "ref": "1"}, headers=h)
    assert task.status_code == 422 and task.json()["error"]["details"]["field"] == "task"
    no_ref = api.client.post(path, json={"action": "share"}, headers=h)
    assert no_ref.status_code == 422 and no_ref.json()["error"]["details"]["field"] == "ref"
    assert _member(api)["balance"] == 25


def test_redemptions_spend_available_points_once(api: Api) -> None:
    _shop(api)
    api.client.put("/v1/orders/O-1", json=ORDER, headers=api.headers())
    granted = _adjust(api, 500, "a-1")
    assert (granted["entry"]["kind"], granted["entry"]["points"]) == ("adjust", 500)
    # Only the adjustment is spendable: the order's 1,220 points are pending.
    assert (granted["member"]["balance"], granted["member"]["available"]) == (1_720, 500)
    path = "/v1/loyalty/members/C-1/redeem"
    redeem = {"points": 200, "key": "r-1", "reason": "coupon"}
    spent = api.client.post(path, json=redeem, headers=api.headers())
    assert spent.status_code == 201, spent.text
    assert spent.json()["entry"]["points"] == -200
    assert spent.json()["member"]["available"] == 300
    # The same key again is a replay of the redemption, even without an Idempotency-Key.
    same = api.client.post(path, json=redeem, headers=api.headers())
    assert same.status_code == 200 and same.json()["entry"] == spent.json()["entry"]
    assert same.json()["member"]["available"] == 300
    reused = api.client.post(path, json={**redeem, "points": 100}, headers=api.headers())
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    short = api.client.post(path, json={"points": 301, "key": "r-2"}, headers=api.headers())
    assert short.status_code == 409
    error = short.json()["error"]
    assert error["code"] == "points_insufficient"
    assert error["details"] == {"wanted": 301, "available": 300}
    assert _member(api)["available"] == 300


def test_adjustments_are_for_admins_and_name_the_key(api: Api) -> None:
    _shop(api)
    api.client.put("/v1/customers/C-1", json={"name": "Ann"}, headers=api.headers())
    body = {"points": 50, "reason": "goodwill", "key": "a-1"}
    path = "/v1/loyalty/members/C-1/adjust"
    writer = api.client.post(path, json=body, headers=api.headers())
    assert writer.status_code == 403 and writer.json()["error"]["details"] == {"required": "admin"}
    assert _adjust(api, 50, "a-1")["member"]["balance"] == 50
    assert _adjust(api, -20, "a-2")["member"]["balance"] == 30
    beyond = api.client.post(
        path, json={**body, "points": -31, "key": "a-3"}, headers=api.headers(scopes="admin")
    )
    assert beyond.status_code == 409
    assert beyond.json()["error"]["details"] == {"wanted": 31, "available": 30}
    zero = api.client.post(
        path, json={**body, "points": 0, "key": "a-4"}, headers=api.headers(scopes="admin")
    )
    assert zero.status_code == 422 and zero.json()["error"]["details"]["field"] == "points"
    audit = api.client.get("/v1/audit", headers=api.headers(scopes="admin")).json()["items"]
    adjusted = [
        (e["route"], e["target"], e["status_code"]) for e in audit if "adjust" in e["route"]
    ]
    assert adjusted == [
        (path, None, 403),
        (path, "member:C-1", 201),
        (path, "member:C-1", 201),
        (path, None, 409),
        (path, None, 422),
    ]
    key_ids = {e["api_key_id"] for e in audit if e["target"] == "member:C-1"}
    assert len(key_ids) == 1 and None not in key_ids


def test_the_ledger_pages_with_a_cursor(api: Api) -> None:
    _shop(api)
    api.client.put("/v1/customers/C-1", json={"name": "Ann"}, headers=api.headers())
    for n in range(3):
        _adjust(api, 10 + n, f"a-{n}")
    h = api.headers("acme", "read")
    first = api.client.get("/v1/loyalty/members/C-1/ledger?limit=2", headers=h).json()
    assert [e["points"] for e in first["items"]] == [10, 11]
    rest = api.client.get(
        "/v1/loyalty/members/C-1/ledger",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=h,
    ).json()
    assert ([e["points"] for e in rest["items"]], rest["next_cursor"]) == ([12], None)
    assert all(e["reason"] == "goodwill" and e["source"] == "adjust" for e in first["items"])
    bad = api.client.get("/v1/loyalty/members/C-1/ledger?cursor=zzz", headers=h)
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "cursor"
    unknown = api.client.get("/v1/loyalty/members/C-9/ledger", headers=h)
    assert unknown.status_code == 404


def test_a_customer_is_referred_once(api: Api) -> None:
    _shop(api)
    h = api.headers()
    for customer in ("C-1", "C-2", "C-3"):
        api.client.put(f"/v1/customers/{customer}", json={}, headers=h)
    referral = {"referrer": "C-1", "referred": "C-2"}
    first = api.client.post("/v1/loyalty/referrals", json=referral, headers=h)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "referrer": "C-1",
        "referred": "C-2",
        "created_at": "2026-11-23T12:00:00Z",
        "granted_at": None,
    }
    assert api.client.post("/v1/loyalty/referrals", json=referral, headers=h).json() == first.json()
    other = api.client.post(
        "/v1/loyalty/referrals", json={"referrer": "C-3", "referred": "C-2"}, headers=h
    )
    assert other.status_code == 409 and other.json()["error"]["details"]["field"] == "referred"
    itself = api.client.post(
        "/v1/loyalty/referrals", json={"referrer": "C-1", "referred": "C-1"}, headers=h
    )
    assert itself.status_code == 422


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/loyalty/members/C-1/actions", {"action": "signin"}),
        ("POST", "/v1/loyalty/members/C-1/redeem", {"points": 1, "key": "r"}),
        ("POST", "/v1/loyalty/referrals", {"referrer": "C-1", "referred": "C-2"}),
        ("POST", "/v1/loyalty/orders/O-1/credit", None),
    ],
)
def test_read_keys_cannot_write(
    api: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = api.client.request(method, path, json=body, headers=api.headers("acme", "read"))
    assert response.status_code == 403
    assert response.json()["error"]["details"] == {"required": "write"}


def test_ids_with_a_nul_character_are_422(api: Api) -> None:
    _shop(api)
    h = api.headers()
    for method, path, body in (
        ("GET", "/v1/loyalty/members/a%00b", None),
        ("POST", "/v1/loyalty/members/C-1/redeem", {"points": 1, "key": "a\x00"}),
        ("POST", "/v1/loyalty/referrals", {"referrer": "C-1", "referred": "\x00"}),
    ):
        response = api.client.request(method, path, json=body, headers=h)
        assert response.status_code == 422, (path, response.text)
        assert "NUL" in response.json()["error"]["message"]
