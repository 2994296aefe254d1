"""Shops, API keys and the audit log: the transactions of the access domain."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, insert, select, update

from patron.access import keys
from patron.access.guard import WriteContext, record_failure
from patron.access.model import ApiKey, AuditEntry, IssuedKey, Principal, Scope
from patron.clock import Clock
from patron.db.engine import lookup_reader
from patron.db.shops import Shop, ensure_shop, find_shop, get_shop
from patron.db.tables import api_keys, audit_log, shops
from patron.errors import AuthError, ConflictError, ErrorCode, NotFoundError
from patron.pagination import Page, check_limit, decode_cursor, page_of


class AccessService:
    def __init__(self, engine: Engine, clock: Clock, key_cache: timedelta = timedelta(0)) -> None:
        self.engine = engine
        self.clock = clock
        # Verified keys, remembered for ``key_cache`` so that a busy client does not cost a
        # query per request; a revocation made elsewhere is seen once the entry expires.
        self.key_cache = key_cache
        self._verified: dict[str, tuple[Principal, datetime]] = {}

    def create_shop(self, name: str, timezone: str, currency: str) -> tuple[Shop, bool]:
        """The shop and whether it was created. Creating it again with the same settings is a
        no-op; with other settings it is a conflict (a shop's time zone and currency are fixed)."""
        with self.engine.begin() as connection:
            existing = find_shop(connection, name)
            if existing is None:
                return ensure_shop(connection, name, timezone, currency, self.clock), True
        if (existing.timezone, existing.currency) != (timezone, currency):
            raise ConflictError(
                f"shop {name!r} already exists with time zone {existing.timezone} and currency"
                f" {existing.currency}",
                shop=name,
                timezone=existing.timezone,
                currency=existing.currency,
            )
        return existing, False

    def list_shops(self) -> list[Shop]:
        with lookup_reader(self.engine).connect() as connection:
            rows = connection.execute(select(shops).order_by(shops.c.id)).all()
        return [Shop(r.id, r.name, r.timezone, r.currency) for r in rows]

    def create_key(self, shop: str, scopes: frozenset[Scope], label: str | None) -> IssuedKey:
        prefix, secret, salt = keys.new_prefix(), keys.new_secret(), keys.new_salt()
        with self.engine.begin() as connection:
            shop_row = get_shop(connection, shop)
            key_id = connection.execute(
                insert(api_keys)
                .values(
                    shop_id=shop_row.id,
                    prefix=prefix,
                    salt=salt,
                    secret_hash=keys.hash_secret(salt, secret),
                    scopes=keys.format_scopes(scopes),
                    label=label,
                    created_at=self.clock.now(),
                )
                .returning(api_keys.c.id)
            ).scalar_one()
        return IssuedKey(self.get_key(key_id), keys.token_of(prefix, secret))

    def get_key(self, key_id: int) -> ApiKey:
        with lookup_reader(self.engine).connect() as connection:
            row = connection.execute(_keys_query().where(api_keys.c.id == key_id)).first()
        if row is None:
            raise NotFoundError(f"no API key with id {key_id}", key_id=key_id)
        return _key(row)

    def list_keys(self, shop: str | None = None) -> list[ApiKey]:
        with lookup_reader(self.engine).connect() as connection:
            query = _keys_query().order_by(api_keys.c.id)
            if shop is not None:
                query = query.where(api_keys.c.shop_id == get_shop(connection, shop).id)
            return [_key(row) for row in connection.execute(query)]

    def revoke_key(self, key_id: int) -> ApiKey:
        """Revoke a key (again is a no-op: the first revocation time stays)."""
        self._verified.clear()
        with self.engine.begin() as connection:
            connection.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=self.clock.now())
            )
        return self.get_key(key_id)

    def recently_verified(self, token: str) -> Principal | None:
        """The principal of a token verified less than ``key_cache`` ago (no I/O), else None."""
        cached = self._verified.get(token)
        if cached is not None and cached[1] > self.clock.now():
            return cached[0]
        return None

    def authenticate(self, token: str) -> Principal:
        """The principal of a bearer token; AuthError for a malformed, unknown or revoked key.
        The three cases answer alike so that a caller learns nothing about other keys."""
        cached = self.recently_verified(token)
        if cached is not None:
            return cached
        now = self.clock.now()
        prefix, secret = keys.split_token(token)
        k = api_keys.c
        with lookup_reader(self.engine).connect() as connection:
            row = connection.execute(
                select(k.id, k.shop_id, k.salt, k.secret_hash, k.scopes, k.revoked_at, shops.c.name)
                .join(shops, shops.c.id == k.shop_id)
                .where(k.prefix == prefix)
            ).first()
        if row is None or row.revoked_at is not None:
            raise AuthError("invalid or revoked API key")
        if not keys.secret_matches(row.salt, secret, row.secret_hash):
            raise AuthError("invalid or revoked API key")
        principal = Principal(row.id, row.shop_id, row.name, keys.parse_scopes(row.scopes))
        if self.key_cache:
            if len(self._verified) >= _KEY_CACHE_SIZE:
                self._verified.clear()
            self._verified[token] = (principal, now + self.key_cache)
        return principal

    def record_refusal(self, ctx: WriteContext, status: int, error_code: ErrorCode) -> None:
        record_failure(self.engine, self.clock, ctx, status, error_code)

    def audit(self, shop_id: int, *, cursor: str | None, limit: int) -> Page[AuditEntry]:
        """The shop's audit log, oldest first."""
        check_limit(limit)
        a = audit_log.c
        with lookup_reader(self.engine).connect() as connection:
            rows = connection.execute(
                select(audit_log)
                .where(a.shop_id == shop_id, a.id > decode_cursor(cursor))
                .order_by(a.id)
                .limit(limit + 1)
            ).all()
        entries = [
            AuditEntry(
                r.id, r.api_key_id, r.method, r.route, r.target, r.status_code, r.error_code, r.at
            )
            for r in rows
        ]
        return page_of(entries, limit, lambda e: e.id)


_KEY_CACHE_SIZE = 10_000


def _keys_query() -> Any:
    k = api_keys.c
    return select(
        k.id, shops.c.name.label("shop"), k.prefix, k.scopes, k.label, k.created_at, k.revoked_at
    ).join(shops, shops.c.id == k.shop_id)


def _key(row: Row[Any]) -> ApiKey:
    revoked: datetime | None = row.revoked_at
    return ApiKey(
        row.id,
        row.shop,
        row.prefix,
        keys.parse_scopes(row.scopes),
        row.label,
        row.created_at,
        revoked,
    )
