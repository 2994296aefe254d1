import pytest

from patron.access.keys import parse_scopes, split_token
from patron.clock import FixedClock
from patron.core import Patron
from patron.errors import AuthError, ConflictError, NotFoundError


def test_shop_creation_is_idempotent_and_refuses_other_settings(patron: Patron) -> None:
    access = patron.access()
    shop, created = access.create_shop("acme", "Europe/Paris", "EUR")
    assert created and (shop.name, shop.timezone, shop.currency) == ("acme", "Europe/Paris", "EUR")
    again, created = access.create_shop("acme", "Europe/Paris", "EUR")
    assert not created and again == shop
    with pytest.raises(ConflictError, match="already exists with time zone Europe/Paris"):
        access.create_shop("acme", "UTC", "EUR")
    assert [s.name for s in access.list_shops()] == ["acme"]


def test_a_key_authenticates_until_revoked(patron: Patron, clock: FixedClock) -> None:
    access = patron.access()
    access.create_shop("acme", "UTC", "USD")
    issued = access.create_key("acme", parse_scopes("write"), "checkout")
    caller = access.authenticate(issued.token)
    assert (caller.key_id, caller.shop, caller.scopes) == (
        issued.key.id,
        "acme",
        parse_scopes("write"),
    )
    # The secret is not stored: the listing and the row carry the prefix only.
    listed = access.list_keys("acme")
    assert [(k.id, k.label, k.active) for k in listed] == [(issued.key.id, "checkout", True)]
    assert split_token(issued.token)[1] not in repr(listed)

    clock.advance(60)
    revoked = access.revoke_key(issued.key.id)
    assert revoked.revoked_at == clock.now()
    clock.advance(60)
    assert access.revoke_key(issued.key.id).revoked_at == revoked.revoked_at
    with pytest.raises(AuthError, match="invalid or revoked"):
        access.authenticate(issued.token)


def test_a_wrong_secret_or_unknown_prefix_is_refused_alike(patron: Patron) -> None:
    access = patron.access()
    access.create_shop("acme", "UTC", "USD")
    token = access.create_key("acme", parse_scopes("read"), None).token
    prefix = token.split("_")[1]
    for forged in (f"ptk_{prefix}_{'x' * 43}", f"ptk_zzzzzzzzzzzz_{'x' * 43}"):
        with pytest.raises(AuthError, match=r"^invalid or revoked API key$"):
            access.authenticate(forged)


def test_keys_of_unknown_shops_and_ids(patron: Patron) -> None:
    access = patron.access()
    with pytest.raises(NotFoundError, match="no shop named 'nope'"):
        access.create_key("nope", parse_scopes("read"), None)
    with pytest.raises(NotFoundError, match="no API key with id 42"):
        access.revoke_key(42)
