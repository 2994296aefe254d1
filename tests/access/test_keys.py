import pytest

from patron.access import keys
from patron.access.model import Scope
from patron.access.ratelimit import RateLimiter
from patron.errors import AuthError, InputError


def test_a_token_splits_back_into_its_prefix_and_secret() -> None:
    prefix, secret = keys.new_prefix(), keys.new_secret()
    assert keys.split_token(keys.token_of(prefix, secret)) == (prefix, secret)
    assert len(prefix) == 12 and not set(prefix) & set("0o1l")
    # 32 random bytes, URL-safe base64 without padding.
    assert len(secret) == 43


@pytest.mark.parametrize("token", ["", "ptk", "ptk_abc", "ptk__secret", "xyz_abc_secret"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(AuthError):
        keys.split_token(token)


def test_hashes_are_salted_and_compared_exactly() -> None:
    assert keys.hash_secret("a", "s") != keys.hash_secret("b", "s")
    stored = keys.hash_secret("salt", "secret")
    assert keys.secret_matches("salt", "secret", stored)
    assert not keys.secret_matches("salt", "secreT", stored)


def test_scopes_imply_the_lesser_ones() -> None:
    assert keys.parse_scopes("read") == {Scope.READ}
    assert keys.parse_scopes("write") == {Scope.READ, Scope.WRITE}
    assert keys.parse_scopes(" Admin ") == {Scope.READ, Scope.WRITE, Scope.ADMIN}
    assert keys.format_scopes(keys.parse_scopes("admin,read")) == "read,write,admin"
    with pytest.raises(InputError, match="unknown scope 'owner'"):
        keys.parse_scopes("read,owner")
    with pytest.raises(InputError, match="no scopes"):
        keys.parse_scopes(" , ")


def test_token_bucket_allows_the_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate=2.0, burst=3)
    assert [limiter.take(1, 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take(1, 0.0) == pytest.approx(0.5)
    # Another key has its own bucket.
    assert limiter.take(2, 0.0) == 0.0
    # Half a second later one token is back, and only one.
    assert limiter.take(1, 0.5) == 0.0
    assert limiter.take(1, 0.5) == pytest.approx(0.5)
    # Tokens never accumulate beyond the burst.
    assert [limiter.take(1, 100.0) for _ in range(4)][-1] == pytest.approx(0.5)


def test_rate_zero_turns_limiting_off() -> None:
    limiter = RateLimiter(rate=0.0, burst=1)
    assert all(limiter.take(1, 0.0) == 0.0 for _ in range(1000))
