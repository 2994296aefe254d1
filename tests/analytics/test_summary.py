"""The customer summary on the hand-built shop (tests/analytics/shop.py), value by value."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from analytics.shop import AS_OF, at
from patron.analytics.facts import Facts
from patron.analytics.summary import COLUMNS, customer_summary, purchase_recency


def rows(facts: Facts, as_of: datetime = AS_OF) -> dict[str, dict[str, Any]]:
    frame = customer_summary(facts, as_of).to_pandas()
    assert tuple(frame.columns) == COLUMNS
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return {r["external_id"]: r for r in records}


def test_buyers_with_refunds_cancellations_and_late_orders(facts: Facts) -> None:
    s = rows(facts)
    # A: 10,000 + 20,000 + 30,000 gross, 5,000 refunded; 55,000 / 3 = 18,333.3 → 18,333.
    # First 2026-01-10 12:00 is 171.5 days before AS_OF, last 2026-06-20 12:00 10.5 days;
    # 161 days between first and last over 2 intervals: 80.5.
    a = s["A"]
    assert (a["orders"], a["repeat_orders"], a["gross_minor"], a["refunded_minor"]) == (
        3,
        2,
        60000,
        5000,
    )
    assert (a["net_minor"], a["aov_minor"], a["refunds"], a["mean_interval_days"]) == (
        55000,
        18333,
        1,
        80.5,
    )
    assert (a["days_since_first_order"], a["days_since_last_order"]) == (171, 10)
    assert (a["last_visit_at"], a["days_since_last_visit"]) == (
        at(2026, 6, 29).replace(tzinfo=None),
        1,
    )  # UTC, zone-less
    # E: the cancelled and the pending orders are not purchases.
    e = s["E"]
    assert (e["orders"], e["gross_minor"], e["aov_minor"], e["days_since_last_order"]) == (
        1,
        12000,
        12000,
        90,
    )
    assert e["mean_interval_days"] is None
    # C: two purchases a month apart, a year ago.
    c = s["C"]
    assert (c["orders"], c["net_minor"], c["mean_interval_days"], c["days_since_last_order"]) == (
        2,
        16000,
        31.0,
        333,
    )


def test_customers_who_never_bought_are_in_it(facts: Facts) -> None:
    s = rows(facts)
    assert set(s) == {"A", "B", "C", "D", "E", "F"}
    # F's only order is placed after AS_OF; D only visited.
    for key in ("D", "F"):
        assert (s[key]["orders"], s[key]["net_minor"], s[key]["aov_minor"]) == (0, 0, None)
        assert s[key]["first_order_at"] is None
    assert s["D"]["days_since_last_visit"] == 0


def test_as_of_an_earlier_moment(facts: Facts) -> None:
    # As of 2026-03-12: A has bought twice (the refund of 2026-03-15 is still to come).
    s = rows(facts, datetime(2026, 3, 12, tzinfo=UTC))
    a = s["A"]
    assert (a["orders"], a["gross_minor"], a["refunded_minor"], a["days_since_last_order"]) == (
        2,
        30000,
        0,
        1,
    )
    assert (s["B"]["orders"], s["E"]["orders"], s["A"]["last_visit_at"]) == (0, 0, None)


def test_purchase_recency_is_the_summary_s_part(facts: Facts) -> None:
    columns = ["customer_id", "orders", "days_since_first_order", "days_since_last_order"]
    for as_of in (AS_OF, datetime(2026, 3, 12, tzinfo=UTC)):
        full = customer_summary(facts, as_of).select(columns).order_by("customer_id")
        light = purchase_recency(facts, as_of).order_by("customer_id")
        assert light.to_pandas().equals(full.to_pandas())
