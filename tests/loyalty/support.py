"""Helpers of the loyalty tests: a shop with the sample programme, customers, products and
orders written through the intake service, and the ledger's invariants read from the tables."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from patron.access.guard import WriteContext
from patron.core import Patron
from patron.db import tables as t
from patron.db.shops import Shop, ensure_shop
from patron.intake.model import (
    OrderInput,
    OrderLineInput,
    ProductInput,
    RefundInput,
    RefundLineInput,
    StatusChange,
)
from patron.intake.service import IntakeService
from patron.loyalty.programme import sample_programme, to_dict
from patron.loyalty.service import LoyaltyService


def sample_document(**changes: Any) -> dict[str, Any]:
    """The shipped sample programme as a document, with top-level ``changes``."""
    return {**to_dict(sample_programme()), **changes}


class Shopfront:
    """A shop with products and a loyalty programme; writes orders as the API does."""

    def __init__(
        self, patron: Patron, document: dict[str, Any] | None = None, name: str = "default"
    ) -> None:
        self.patron = patron
        with patron.engine.begin() as connection:
            self.shop: Shop = ensure_shop(connection, name, "Asia/Shanghai", "CNY", patron.clock)
        self.intake = IntakeService(patron.engine, patron.clock, timedelta(hours=24))
        self.ctx = WriteContext(self.shop.id, None, "PUT", "/v1/test")
        self.loyalty: LoyaltyService = patron.loyalty()
        self.loyalty.set_programme(self.shop.id, document or sample_document())
        for sku, category, brand in (
            ("MILK", "母婴 > 奶粉 > 1段", "Feihe"),
            ("SERUM", "美妆 > 面部护理 > 精华", "Lancome"),
            ("TEE", "服饰 > 上衣", "Patron Select"),
            ("BOOK", "图书", None),
        ):
            self.intake.upsert_product(
                self.ctx, sku, ProductInput(category_path=category, brand=brand)
            )

    def order(
        self,
        external_id: str,
        customer: str,
        lines: list[tuple[str, int, int]],
        *,
        at: datetime,
        discount: int = 0,
        status: str = "paid",
    ) -> None:
        """An order of (SKU, quantity, unit price in fen) lines, paid at ``at``."""
        self.intake.upsert_order(
            self.ctx,
            external_id,
            OrderInput(
                customer_id=customer,
                placed_at=at,
                paid_at=at if status != "pending" else None,
                status=status,
                lines=[OrderLineInput(sku, q, price) for sku, q, price in lines],
                discount_minor=discount,
            ),
        )

    def refund(
        self, order: str, refund_id: str, *, line: int | None = None, amount: int, at: datetime
    ) -> None:
        lines = [RefundLineInput(line, amount_minor=amount)] if line is not None else []
        self.intake.refund_order(
            self.ctx,
            order,
            RefundInput(
                refund_id,
                lines=lines,
                amount_minor=None if lines else amount,
                refunded_at=at,
            ),
        )

    def cancel(self, order: str, at: datetime) -> None:
        self.intake.change_order_status(self.ctx, order, StatusChange("cancelled", at))


def invariants(connection: Connection) -> None:
    """balance = Σ entries, max(balance, 0) = Σ lot remaining, pending and debt likewise; every
    lot within 0..amount (a CHECK of the table)."""
    e, lot = t.loyalty_entries.c, t.loyalty_lots.c
    for member in connection.execute(select(t.loyalty_members)):
        sums = connection.execute(
            select(
                func.coalesce(func.sum(e.points), 0),
                func.coalesce(func.sum(e.pending), 0),
                func.coalesce(func.sum(e.debt), 0),
            ).where(e.member_id == member.id)
        ).one()
        remaining, pending = connection.execute(
            select(
                func.coalesce(func.sum(lot.remaining), 0),
                func.coalesce(func.sum(lot.remaining).filter(lot.pending), 0),
            ).where(lot.member_id == member.id)
        ).one()
        assert (member.balance, member.pending, member.debt) == tuple(sums), member
        assert max(member.balance, 0) == remaining, member
        assert member.pending == pending, member
