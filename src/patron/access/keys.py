"""API key tokens: generation, parsing and hashing (pure).

A token is ``ptk_<prefix>_<secret>``. The prefix is public and finds the stored row; the secret
is 256 random bits stored only as a salted SHA-256. A slow password hash is not needed: the
secret is random, not chosen by a person, so it cannot be guessed from its hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from patron.access.model import Scope
from patron.errors import AuthError, InputError

TOKEN_PREFIX = "ptk"
_PREFIX_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


def new_prefix() -> str:
    return "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(12))


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_salt() -> str:
    return secrets.token_hex(16)


def token_of(prefix: str, secret: str) -> str:
    return f"{TOKEN_PREFIX}_{prefix}_{secret}"


def split_token(token: str) -> tuple[str, str]:
    """The (prefix, secret) of a token; AuthError when it is not shaped like one."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        raise AuthError("malformed API key: expected `Authorization: Bearer ptk_<id>_<secret>`")
    return parts[1], parts[2]


def hash_secret(salt: str, secret: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def secret_matches(salt: str, secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(salt, secret), stored_hash)


def parse_scopes(text: str) -> frozenset[Scope]:
    """Scopes from ``read,write[,admin]``; write implies read and admin implies both."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise InputError("no scopes given: expected read, write or admin", field="scopes")
    known = {s.value for s in Scope}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(
            f"unknown scope {unknown[0]!r}: expected read, write or admin",
            field="scopes",
            value=unknown[0],
        )
    scopes = {Scope(n) for n in names}
    if Scope.ADMIN in scopes:
        scopes |= {Scope.WRITE, Scope.READ}
    if Scope.WRITE in scopes:
        scopes.add(Scope.READ)
    return frozenset(scopes)


def format_scopes(scopes: frozenset[Scope]) -> str:
    return ",".join(s.value for s in Scope if s in scopes)
