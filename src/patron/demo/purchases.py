"""When each customer buys: a heterogeneous buy-till-you-die process (BG/NBD).

While alive a customer buys as a Poisson process with rate λ in operational time (so weekly and
yearly seasonality and the campaign spikes come from the calendar's time warp); after every
purchase the customer drops out for good with probability p. The first purchase in the period
starts the process: soon after registering for new customers; for customers registered before the
period (whose earlier orders are not in the files) either at their own pace from the start or at a
random point. BG/NBD conditions on the first purchase, so the process after it is exactly the
model's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from patron.demo.calendar import DAY, END, Calendar
from patron.demo.customers import Customers
from patron.demo.sampling import (
    BoolArray,
    FloatArray,
    IntArray,
    cumsum_in_groups,
    expand,
    rank_in_group,
)

SAME_SESSION = 0.55
"""Share of new customers whose first order comes within minutes of registering."""
FIRST_ORDER_DELAY_DAYS = 7.0
ACTIVE_AT_START = 0.2
"""Share of customers registered before the period who are active buyers when it starts."""


@dataclass(frozen=True, slots=True)
class Purchases:
    customer: IntArray
    """Buyer of each order, orders sorted by time."""
    placed: IntArray
    """Seconds since the period start."""
    seq: IntArray
    """0 for the customer's first order in the period, then 1, 2…"""
    alive: BoolArray
    """Per customer: still active at the end of the period (the truth churn models estimate)."""
    last_placed: IntArray
    """Per customer: time of the last order, -1 when the customer has none."""

    @property
    def size(self) -> int:
        return int(self.placed.size)


def simulate_purchases(c: Customers, calendar: Calendar, rng: np.random.Generator) -> Purchases:
    first, u_first, buys = _first_purchases(c, calendar, rng)
    horizon = np.where(buys, calendar.operational_end - u_first, 0.0)
    # Purchases until dropout (the first included) and Poisson opportunities left in the period.
    until_dropout = rng.geometric(c.dropout)
    opportunities = rng.poisson(c.rate * horizon)
    repeats = np.where(buys, np.minimum(opportunities, until_dropout - 1), 0)
    alive = buys & (until_dropout - 1 > opportunities)
    parent, u_repeat = _first_order_statistics(u_first, horizon, opportunities, repeats, rng)
    customer = np.concatenate([np.flatnonzero(buys), parent])
    placed = np.concatenate([first[buys], calendar.to_calendar(u_repeat)])
    order = np.lexsort((customer, placed))
    customer, placed = customer[order], placed[order]
    return Purchases(
        customer=customer,
        placed=placed,
        seq=_sequence(customer, placed),
        alive=alive,
        last_placed=_last(customer, placed, c.size),
    )


def _first_purchases(
    c: Customers, calendar: Calendar, rng: np.random.Generator
) -> tuple[IntArray, FloatArray, BoolArray]:
    n = c.size
    before = c.signup < 0
    # Half the earlier customers are active buyers whose next order comes at their own pace
    # (early for fast buyers), half come back at a random time: order volume then neither
    # starts with a spike nor ramps up from nothing.
    u_old = np.where(
        rng.random(n) < ACTIVE_AT_START,
        _truncated_exponential(c.rate, calendar.operational_end, rng),
        rng.random(n) * calendar.operational_end,
    )
    delay = np.where(
        rng.random(n) < SAME_SESSION,
        rng.integers(120, 1_800, size=n),
        np.floor(rng.exponential(FIRST_ORDER_DELAY_DAYS * DAY, size=n)).astype(np.int64),
    )
    first = np.where(before, calendar.to_calendar(u_old), c.signup + delay)
    buys = c.buyer & (first < END)
    u_first = np.where(before, u_old, calendar.to_operational(first))
    return first, u_first, buys


def _truncated_exponential(rate: FloatArray, length: float, rng: np.random.Generator) -> FloatArray:
    """First event of a Poisson process conditioned to fall within ``length`` (inverse CDF)."""
    u = rng.random(rate.size)
    safe = np.maximum(rate, 1e-12)
    return np.asarray(-np.log1p(u * np.expm1(-safe * length)) / safe, dtype=np.float64)


def _first_order_statistics(
    start: FloatArray,
    horizon: FloatArray,
    total: IntArray,
    keep: IntArray,
    rng: np.random.Generator,
) -> tuple[IntArray, FloatArray]:
    """The ``keep`` earliest of ``total`` uniform points in (start, start + horizon).

    Uses the exponential-spacings representation of uniform order statistics, so only the kept
    points are drawn even for fast buyers who dropped out early.
    """
    parent, _ = expand(keep)
    partial = cumsum_in_groups(rng.exponential(size=parent.size), parent)
    last = np.zeros(keep.size)
    np.maximum.at(last, parent, partial)
    rest = rng.gamma(np.maximum(total - keep + 1, 1).astype(np.float64))
    fraction = partial / (last[parent] + rest[parent])
    return parent, start[parent] + fraction * horizon[parent]


def _sequence(customer: IntArray, placed: IntArray) -> IntArray:
    by_customer = np.lexsort((placed, customer))
    seq = np.empty(customer.size, dtype=np.int64)
    seq[by_customer] = rank_in_group(customer[by_customer])
    return seq


def _last(customer: IntArray, placed: IntArray, n: int) -> IntArray:
    last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last, customer, placed)
    return last
