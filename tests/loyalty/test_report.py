"""The loyalty report on a small shop whose history is played through the service, every figure
hand-computed from the sample programme (1 point per yuan, 精华 ×3, first order +100, points
pending for 15 days, earned in a year expiring at the end of the next, refunds of spent points
becoming a debt). The report is as of 2026-11-23 20:00 in Shanghai: its months run from
2025-12 to 2026-11."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from loyalty.support import Shopfront
from patron.clock import FixedClock
from patron.core import Patron
from patron.loyalty.report import loyalty_report

pytestmark = pytest.mark.postgres


def _day(year: int, month: int, day: int) -> datetime:
    """11:00 in Shanghai."""
    return datetime(year, month, day, 3, 0, tzinfo=UTC)


def test_report_figures(patron: Patron, clock: FixedClock) -> None:
    end = clock.now()

    def at(moment: datetime) -> None:
        clock.advance((moment - clock.now()).total_seconds())

    at(_day(2024, 11, 30))
    front = Shopfront(patron)
    shop = front.shop.id
    loyalty = front.loyalty

    def order(external_id: str, customer: str, sku: str, price: int, when: datetime) -> None:
        at(when)
        front.order(external_id, customer, [(sku, 1, price)], at=when)
        loyalty.credit_order(shop, external_id)

    def refund(external_id: str, amount: int, when: datetime) -> None:
        at(when)
        front.refund(external_id, f"R-{external_id}", amount=amount, at=when)
        loyalty.credit_order(shop, external_id)

    # 2024: 200 and 150 points that expire at 2026-01-01 00:00 in Shanghai (month 2026-01).
    order("O-0", "C-3", "BOOK", 10_000, _day(2024, 12, 1))
    order("O-4", "C-4", "BOOK", 5_000, _day(2024, 12, 15))
    # 2026-06: 300 + 100.
    order("O-1", "C-1", "BOOK", 30_000, _day(2026, 6, 1))
    # 2026-07: 600 + 100 earned, then all of it reversed by a full refund.
    order("O-2", "C-2", "SERUM", 20_000, _day(2026, 7, 10))
    refund("O-2", 20_000, _day(2026, 7, 20))
    # 2026-08: 200 earned and spent, then refunded: a debt of 200 (nothing left to reverse).
    order("O-6", "C-6", "BOOK", 10_000, _day(2026, 8, 1))
    at(_day(2026, 8, 5))
    loyalty.redeem(shop, "C-1", 150, "r-1", "coupon")
    at(_day(2026, 8, 20))
    loyalty.redeem(shop, "C-6", 200, "r-2", "coupon")
    refund("O-6", 10_000, _day(2026, 8, 25))
    # 2026-09 and 10: adjustments; C-3's 200 expired points are written off by the first.
    at(_day(2026, 9, 1))
    loyalty.adjust(shop, "C-3", 50, "goodwill", "a-1", "ops")
    at(_day(2026, 10, 1))
    loyalty.adjust(shop, "C-1", 20, "goodwill", "a-2", "ops")
    at(_day(2026, 10, 2))
    loyalty.adjust(shop, "C-1", -10, "typo", "a-3", "ops")
    # 2026-11: 1,000 + 100 (spendable from 17 Nov, not yet written) and 50 still pending.
    order("O-5", "C-5", "BOOK", 100_000, _day(2026, 11, 1))
    order("O-3", "C-1", "BOOK", 5_000, _day(2026, 11, 20))
    at(end)

    report = loyalty_report(patron.engine, shop, loyalty.programme(shop), end)
    figures = report.to_json()
    assert figures["as_of"] == "2026-11-23T12:00:00+00:00"
    assert figures["programme"] == {"name": "sample", "version": 1, "timezone": "Asia/Shanghai"}
    # C-5's 1,010 yuan and one order reach Silver; the other five are Members.
    assert [(t["tier"], t["members"], t["share"]) for t in figures["members_by_tier"]] == [
        ("member", 5, 0.8333),
        ("silver", 1, 0.1667),
        ("gold", 0, 0.0),
        ("diamond", 0, 0.0),
    ]
    assert figures["members_by_tier"][1]["label"] == {"en": "Silver", "zh": "银卡会员"}
    # C-1: 400 − 150 − 10 + 20 + 50 pending; C-3: 50; C-5: 1,100; C-4's 150 expired.
    assert figures["liability"] == {
        "outstanding": 310 + 50 + 1_100,
        "pending": 50,
        "spendable": 260 + 50 + 1_100,
        "debt": 200,
        "members_in_debt": 1,
    }
    months = {m.pop("month"): m for m in figures["monthly"]}
    zero = {"earned": 0, "redeemed": 0, "expired": 0, "reversed": 0, "adjusted": 0}
    expected = {
        "2025-12": zero,
        "2026-01": {**zero, "expired": 200 + 150},
        "2026-02": zero,
        "2026-03": zero,
        "2026-04": zero,
        "2026-05": zero,
        "2026-06": {**zero, "earned": 400},
        "2026-07": {**zero, "earned": 700, "reversed": 700},
        "2026-08": {**zero, "earned": 200, "redeemed": 350},
        "2026-09": {**zero, "adjusted": 50},
        "2026-10": {**zero, "adjusted": 10},
        "2026-11": {**zero, "earned": 1_150},
    }
    assert months == expected and list(months) == list(expected)
    assert figures["redemption_rate"] == {
        "earned": 2_450,
        "redeemed": 350,
        "rate": 0.1429,
        "members": 6,
        "ever_redeemed": 2,
        "member_share": 0.3333,
    }
    assert figures["adjustments"] == [
        {"reason": "goodwill", "count": 2, "points": 70},
        {"reason": "typo", "count": 1, "points": -10},
    ]
    # The figures agree with the members' own: outstanding and spendable points.
    members = [loyalty.member(shop, c) for c in ("C-1", "C-2", "C-3", "C-4", "C-5", "C-6")]
    assert sum(m["balance"] for m in members) == figures["liability"]["outstanding"]
    assert sum(m["available"] for m in members) == figures["liability"]["spendable"]


def test_an_empty_programme_report(patron: Patron, clock: FixedClock) -> None:
    front = Shopfront(patron)
    report = loyalty_report(
        patron.engine, front.shop.id, front.loyalty.programme(front.shop.id), clock.now()
    )
    assert [t.members for t in report.members_by_tier] == [0, 0, 0, 0]
    assert report.redemption_rate.rate is None and report.redemption_rate.member_share is None
    assert report.liability.outstanding == 0 and report.adjustments == ()
    assert len(report.monthly) == 12
