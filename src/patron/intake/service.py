"""The intake facade: what the HTTP API calls for customers, products, orders, refunds and events.

Each write runs in one guarded transaction (:func:`patron.access.guard.run_guarded`): its
effect, its idempotency record and its audit entry commit together, and it answers a
:class:`Recorded` — 201 when it created its object, 200 otherwise, with the object's JSON.
A new order on PostgreSQL is first tried as one statement with its audit entry, committed on
its own (:func:`patron.intake.orders.create`). Reads use read-only connections. Every
statement is scoped to the caller's shop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Connection, Engine, Row, Table

from patron.access.guard import Attempt, Recorded, WriteContext, audit_params, run_guarded
from patron.clock import Clock
from patron.db import tables as t
from patron.db.engine import lookup_reader
from patron.db.shops import Shop
from patron.intake import customers, events, orders, products, refunds
from patron.intake.model import (
    CustomerInput,
    EventInput,
    OrderInput,
    Outcome,
    ProductInput,
    RefundInput,
    StatusChange,
)
from patron.intake.sql import get_row, list_table, shop_by_id
from patron.pagination import DEFAULT_LIMIT, Page

Work = Callable[[Connection, Shop, datetime], Outcome]
ToJson = Callable[[Row[Any]], dict[str, Any]]


class IntakeService:
    def __init__(self, engine: Engine, clock: Clock, idempotency_retention: timedelta) -> None:
        self.engine = engine
        self.clock = clock
        self.idempotency_retention = idempotency_retention
        # A shop's id, time zone and currency never change: one lookup per shop and process.
        self._shops: dict[int, Shop] = {}

    # --- customers ------------------------------------------------------------------------

    def upsert_customer(self, ctx: WriteContext, external_id: str, data: CustomerInput) -> Recorded:
        def work(connection: Connection, shop: Shop, now: datetime) -> Outcome:
            return customers.upsert(connection, shop, external_id, data, now)

        return self._write(ctx, work, f"customer:{external_id}")

    def erase_customer(self, ctx: WriteContext, external_id: str) -> Recorded:
        """Erase the customer's personal data (see :func:`patron.intake.customers.erase`); the
        audit entry names the id as called, never the pseudonym, so the log cannot link them."""

        def work(connection: Connection, shop: Shop, now: datetime) -> Outcome:
            return customers.erase(connection, shop, external_id, now)

        return self._write(ctx, work, f"customer:{external_id}")

    def get_customer(self, shop_id: int, external_id: str) -> dict[str, Any]:
        key = t.customers.c.external_id
        return self._get(t.customers, key, "customer", customers.to_json, shop_id, external_id)

    def list_customers(
        self,
        shop_id: int,
        *,
        updated_since: datetime | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Page[dict[str, Any]]:
        return self._list(t.customers, customers.to_json, shop_id, updated_since, cursor, limit)

    # --- products -------------------------------------------------------------------------

    def upsert_product(self, ctx: WriteContext, sku: str, data: ProductInput) -> Recorded:
        def work(connection: Connection, shop: Shop, now: datetime) -> Outcome:
            return products.upsert(connection, shop, sku, data, now)

        return self._write(ctx, work, f"product:{sku}")

    def get_product(self, shop_id: int, sku: str) -> dict[str, Any]:
        return self._get(t.products, t.products.c.sku, "product", products.to_json, shop_id, sku)

    def list_products(
        self,
        shop_id: int,
        *,
        updated_since: datetime | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Page[dict[str, Any]]:
        return self._list(t.products, products.to_json, shop_id, updated_since, cursor, limit)

    # --- orders ---------------------------------------------------------------------------

    def upsert_order(self, ctx: WriteContext, external_id: str, data: OrderInput) -> Recorded:
        target = f"order:{external_id}"
        # After an attempt (see run_guarded) found nothing to insert, the transaction does not
        # try the same insert again.
        tried = False

        def attempt(connection: Connection, now: datetime) -> Recorded | None:
            nonlocal tried
            tried = True
            audit = audit_params(ctx, 201, target, now)
            shop = self._shop(connection, ctx.shop_id)
            outcome = orders.create(connection, shop, external_id, data, now, audit)
            return None if outcome is None else Recorded(201, outcome.body, target)

        def work(connection: Connection, shop: Shop, now: datetime) -> Outcome:
            return orders.upsert(connection, shop, external_id, data, now, new_first=not tried)

        return self._write(ctx, work, target, attempt)

    def change_order_status(
        self, ctx: WriteContext, external_id: str, change: StatusChange
    ) -> Recorded:
        def work(connection: Connection, shop: Shop, now: datetime) -> Outcome:
            return orders.change_status(connection, shop, external_id, change, now)

        return self._write(ctx, work, f"order:{external_id}")

    def refund_order(self, ctx: WriteContext, external_id: str, data: RefundInput) -> Recorded:
        def work(connection: Connection, shop: Shop, now: datetime) -> Outcome:
            return refunds.refund(connection, shop, external_id, data, now)

        return self._write(ctx, work, f"order:{external_id}/refund:{data.refund_id}")

    def get_order(self, shop_id: int, external_id: str) -> dict[str, Any]:
        with lookup_reader(self.engine).connect() as connection:
            return orders.get(connection, shop_id, external_id)

    def list_orders(
        self,
        shop_id: int,
        *,
        customer_id: str | None = None,
        status: str | None = None,
        updated_since: datetime | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Page[dict[str, Any]]:
        with lookup_reader(self.engine).connect() as connection:
            return orders.list_page(
                connection,
                shop_id,
                customer_id=customer_id,
                status=status,
                updated_since=updated_since,
                cursor=cursor,
                limit=limit,
            )

    # --- events ---------------------------------------------------------------------------

    def record_events(self, ctx: WriteContext, batch: Sequence[EventInput]) -> Recorded:
        """Store a batch of 1 to 1000 events; the answer counts those stored and the
        duplicates (201 when at least one was stored)."""

        def work(connection: Connection, shop: Shop, now: datetime) -> Outcome:
            result = events.record(connection, shop, batch, now)
            return Outcome(result.accepted > 0, result.to_json())

        return self._write(ctx, work, "events")

    # --- plumbing -------------------------------------------------------------------------

    def _write(
        self, ctx: WriteContext, work: Work, target: str, attempt: Attempt | None = None
    ) -> Recorded:
        def action(connection: Connection, now: datetime) -> Recorded:
            outcome = work(connection, self._shop(connection, ctx.shop_id), now)
            return Recorded(201 if outcome.created else 200, outcome.body, target)

        return run_guarded(
            self.engine,
            self.clock,
            ctx,
            action,
            retention=self.idempotency_retention,
            attempt=attempt,
        )

    def _shop(self, connection: Connection, shop_id: int) -> Shop:
        shop = self._shops.get(shop_id)
        if shop is None:
            shop = self._shops[shop_id] = shop_by_id(connection, shop_id)
        return shop

    def _get(
        self,
        table: Table,
        key: Column[str],
        kind: str,
        to_json: ToJson,
        shop_id: int,
        value: str,
    ) -> dict[str, Any]:
        with lookup_reader(self.engine).connect() as connection:
            return to_json(get_row(connection, table, key, shop_id, value, kind))

    def _list(
        self,
        table: Table,
        to_json: ToJson,
        shop_id: int,
        updated_since: datetime | None,
        cursor: str | None,
        limit: int,
    ) -> Page[dict[str, Any]]:
        with lookup_reader(self.engine).connect() as connection:
            return list_table(
                connection,
                table,
                shop_id,
                to_json,
                updated_since=updated_since,
                cursor=cursor,
                limit=limit,
            )
