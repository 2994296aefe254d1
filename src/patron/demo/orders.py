"""Order lines, money and statuses for the purchases of ``purchases.py``.

All money is integer fen. Products follow the customer's category affinity and premium taste,
later orders often buy again what was bought before (consumables above all), lines in one order
often share a category, and babies move from 1段 to 2段 to 3段 formula of the same brand line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from patron.demo.calendar import CURRENCY, DAY, END, Calendar
from patron.demo.catalog import Catalog, sku
from patron.demo.customers import Customers, customer_id
from patron.demo.purchases import Purchases
from patron.demo.sampling import (
    BoolArray,
    IntArray,
    choose,
    choose_rows,
    expand,
    group_starts,
    rank_in_group,
    run_start,
    sigmoid,
)
from patron.demo.text import integers, join, local_time, masked, money, numbered, pick
from patron.demo.vocab import (
    CITIES,
    COUPON_ALPHABET,
    COUPONS,
    NEW_CUSTOMER_COUPON,
    ONLINE_CHANNEL_SHARES,
    ORDER_CHANNELS,
    REMOTE_PROVINCES,
)
from patron.ingest.model import OrderStatus

STATUSES: tuple[str, ...] = tuple(s.value for s in OrderStatus)
MAX_LINES = 5
SAME_CATEGORY = 0.45
"""Chance that a further line of an order comes from the first line's category (co-purchase)."""
REBUY = 0.35
"""Chance that a line of a repeat order buys again something the customer bought before."""
CROSS_STORE_STEP, CROSS_STORE_OFF = 30_000, 5_000
"""Campaign discount 每满300减50: 50 yuan off every full 300 yuan."""
FREE_SHIPPING, REMOTE_FREE_SHIPPING = 9_900, 29_900
SHIPPING, REMOTE_SHIPPING = 800, 1_500
PENDING_WINDOW, SHIPPING_WINDOW = 2 * DAY, 6 * DAY
"""Orders this close to the end of the period are still pending/paid, or shipped."""


@dataclass(frozen=True, slots=True)
class Orders:
    customer: IntArray
    placed: IntArray
    paid: IntArray
    """Seconds since the start; -1 when not paid (cancelled or pending)."""
    status: IntArray
    """Index into STATUSES; ``refunds.py`` turns fully refunded orders to refunded."""
    channel: IntArray
    discount: IntArray
    shipping: IntArray
    total: IntArray
    coupon: pa.Array
    first_line: IntArray
    line_order: IntArray
    product: IntArray
    quantity: IntArray
    unit_price: IntArray
    line_total: IntArray
    line_no: IntArray
    """1-based position of the line inside its order (file order)."""
    line_paid: IntArray
    """Line total less its pro-rata share of the order discount: what a full return refunds."""

    @property
    def size(self) -> int:
        return int(self.placed.size)

    @property
    def line_count(self) -> IntArray:
        return np.diff(np.append(self.first_line, self.line_order.size))


def order_id(index: IntArray) -> pa.Array:
    return numbered("O", index + 1, 8)


def build_orders(
    p: Purchases, c: Customers, cat: Catalog, calendar: Calendar, rng: np.random.Generator
) -> Orders:
    day = calendar.day_of(p.placed)
    promo = calendar.promo_day[day]
    n_lines = 1 + rng.binomial(MAX_LINES - 1, sigmoid(c.basket[p.customer] + 0.8 * promo))
    line_order, rank = expand(n_lines)
    product = _choose_products(line_order, rank, p.customer[line_order], c=c, cat=cat, rng=rng)
    product = _rebuy(product, line_order, p.customer[line_order], cat, rng)
    product = _formula_stage(product, p.placed[line_order], p.customer[line_order], c, cat)
    line_order, product = _distinct_lines(line_order, product, cat.size)
    starts = group_starts(line_order)
    quantity = _quantities(cat.consumable[product], rng)
    line_total = cat.price[product] * quantity
    subtotal = np.add.reduceat(line_total, starts) if starts.size else np.zeros(0, np.int64)
    discount, coupon = _discounts(subtotal, promo, p.seq, rng)
    channel = np.where(
        rng.random(p.size) < 0.8, c.channel[p.customer], _online_channel(p.size, rng)
    )
    shipping = _shipping(subtotal - discount, channel, c.city[p.customer])
    status, paid = _statuses(p.placed, channel, calendar.peak_day[day], rng)
    return Orders(
        customer=p.customer,
        placed=p.placed,
        paid=paid,
        status=status,
        channel=channel,
        discount=discount,
        shipping=shipping,
        total=subtotal - discount + shipping,
        coupon=coupon,
        first_line=starts,
        line_order=line_order,
        product=product,
        quantity=quantity,
        unit_price=cat.price[product],
        line_total=line_total,
        line_no=rank_in_group(line_order) + 1,
        line_paid=line_total - _discount_shares(line_total, line_order, starts, discount),
    )


def _choose_products(
    line_order: IntArray,
    rank: IntArray,
    line_customer: IntArray,
    *,
    c: Customers,
    cat: Catalog,
    rng: np.random.Generator,
) -> IntArray:
    """Category by personal affinity (or the first line's category), product by taste."""
    top = choose_rows(c.affinity_cum, line_customer, rng)
    leaf = cat.top_leaves[top, choose_rows(cat.top_leaf_cum, top, rng)]
    first_mid = cat.leaf_mid[leaf[rank == 0]][line_order]
    same = cat.mid_leaves[first_mid, choose_rows(cat.mid_leaf_cum, first_mid, rng)]
    leaf = np.where((rank > 0) & (rng.random(rank.size) < SAME_CATEGORY), same, leaf)
    return cat.pick_in_leaf(leaf, c.taste[line_customer], rng)


def _rebuy(
    product: IntArray,
    line_order: IntArray,
    line_customer: IntArray,
    cat: Catalog,
    rng: np.random.Generator,
) -> IntArray:
    """Some lines copy a product from one of the customer's earlier orders.

    Lines come in time order; sorting them stably by customer puts each customer's history in a
    contiguous run, where a line may copy any line of the customer's earlier orders.
    """
    n = product.size
    by_customer = np.argsort(line_customer, kind="stable")
    first_of_customer = run_start(line_customer[by_customer])
    first_of_order = run_start(line_order[by_customer])
    earlier = first_of_order - first_of_customer
    source = first_of_customer + np.floor(rng.random(n) * earlier).astype(np.int64)
    base = product[by_customer]
    # People restock consumables; a second phone charger is rarer.
    keen = cat.consumable[base[source]] | (rng.random(n) < 0.25)
    wants = (earlier > 0) & (rng.random(n) < REBUY) & keen
    parent = np.where(wants, source, np.arange(n, dtype=np.int64))
    # A copy of a copy is a copy of the original: follow the pointers to their roots.
    while not np.array_equal(parent[parent], parent):
        parent = parent[parent]
    result = np.empty(n, dtype=np.int64)
    result[by_customer] = base[parent]
    return result


def _formula_stage(
    product: IntArray, placed: IntArray, line_customer: IntArray, c: Customers, cat: Catalog
) -> IntArray:
    """Infant formula of the stage fitting the baby's age: 1段 0–6, 2段 6–12, 3段 12+ months.

    Formula bought ahead of the birth is 1段; a customer without a baby at home buys for one
    baby in the family, so the stages still only move up.
    """
    series = cat.series[product]
    age_days = (placed - c.baby_birth[line_customer]) // DAY
    stage = np.where(age_days < 183, 1, np.where(age_days < 365, 2, 3))
    staged = cat.stage_products[np.maximum(series, 0), stage - 1]
    return np.asarray(np.where(series >= 0, staged, product), dtype=np.int64)


def _distinct_lines(
    line_order: IntArray, product: IntArray, n_products: int
) -> tuple[IntArray, IntArray]:
    """One line per product in an order: a product drawn twice is kept once, in first place."""
    _, first = np.unique(line_order * n_products + product, return_index=True)
    keep = np.sort(first)
    return line_order[keep], product[keep]


def _quantities(consumable: BoolArray, rng: np.random.Generator) -> IntArray:
    n = consumable.size
    stock_up = np.minimum(rng.geometric(0.55, size=n), 4)
    single = 1 + (rng.random(n) < 0.05)
    return np.asarray(np.where(consumable, stock_up, single), dtype=np.int64)


def _discounts(
    subtotal: IntArray, promo: BoolArray, seq: IntArray, rng: np.random.Generator
) -> tuple[IntArray, pa.Array]:
    """Campaign 满减, the best applicable coupon, the new-customer coupon; at most half off."""
    n = subtotal.size
    cross = np.where(
        promo & (rng.random(n) < 0.9), subtotal // CROSS_STORE_STEP * CROSS_STORE_OFF, 0
    )
    thresholds = np.array([t for _, t, _ in COUPONS], dtype=np.int64)
    amounts = np.array([a for _, _, a in COUPONS], dtype=np.int64)
    best = np.searchsorted(thresholds, subtotal, side="right") - 1
    uses = rng.random(n) < np.where(promo, 0.35, 0.15)
    _, new_threshold, new_amount = NEW_CUSTOMER_COUPON
    new = (seq == 0) & (subtotal >= new_threshold) & (rng.random(n) < 0.4)
    coupon_off = np.where(new, new_amount, np.where(uses, amounts[best], 0))
    prefixes = [p for p, _, _ in COUPONS] + [NEW_CUSTOMER_COUPON[0]]
    template = np.where(new, len(COUPONS), best)
    codes = join([pick(prefixes, template), "-", pa.array(_random_codes(n, rng), pa.string())])
    return np.minimum(cross + coupon_off, subtotal // 2), masked(codes, ~(new | uses))


def _random_codes(n: int, rng: np.random.Generator) -> list[str]:
    letters = np.array(list(COUPON_ALPHABET))[rng.integers(0, len(COUPON_ALPHABET), (n, 8))]
    return [str(code) for code in np.ascontiguousarray(letters).view("<U8").ravel()]


def _online_channel(n: int, rng: np.random.Generator) -> IntArray:
    return choose(np.array(ONLINE_CHANNEL_SHARES), n, rng)


def _shipping(net: IntArray, channel: IntArray, city: IntArray) -> IntArray:
    remote = np.array([p in REMOTE_PROVINCES for p, _, _ in CITIES])[city]
    store = channel == ORDER_CHANNELS.index("store")
    fee = np.where(remote, REMOTE_SHIPPING, SHIPPING)
    free = net >= np.where(remote, REMOTE_FREE_SHIPPING, FREE_SHIPPING)
    return np.asarray(np.where(store | free, 0, fee), dtype=np.int64)


def _statuses(
    placed: IntArray, channel: IntArray, peak: BoolArray, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """Mostly completed; impulse cancellations peak on the big days; recent orders in transit."""
    n = placed.size
    left = END - placed
    store = channel == ORDER_CHANNELS.index("store")
    cancelled = rng.random(n) < np.where(peak, 0.07, 0.03)
    pending = ~cancelled & ~store & (left < PENDING_WINDOW / 2) & (rng.random(n) < 0.3)
    paid_only = ~cancelled & ~store & ~pending & (left < PENDING_WINDOW)
    shipped = ~cancelled & ~store & (left >= PENDING_WINDOW) & (left < SHIPPING_WINDOW)
    status = np.full(n, STATUSES.index(OrderStatus.COMPLETED), dtype=np.int64)
    for mask, value in (
        (cancelled, OrderStatus.CANCELLED),
        (pending, OrderStatus.PENDING),
        (paid_only, OrderStatus.PAID),
        (shipped, OrderStatus.SHIPPED),
    ):
        status[mask] = STATUSES.index(value)
    delay = np.where(
        store,
        rng.integers(5, 60, size=n),
        np.ceil(np.exp(rng.normal(4.0, 1.0, size=n))).astype(np.int64),
    )
    paid = np.where(cancelled | pending, -1, np.minimum(placed + delay, END - 1))
    return status, np.asarray(paid, dtype=np.int64)


def _discount_shares(
    line_total: IntArray, line_order: IntArray, starts: IntArray, discount: IntArray
) -> IntArray:
    """Split each order's discount over its lines pro rata, exactly (remainder to first lines)."""
    subtotal = np.add.reduceat(line_total, starts) if starts.size else np.zeros(0, np.int64)
    order_discount = discount[line_order]
    share = line_total * order_discount // np.maximum(subtotal[line_order], 1)
    allotted = np.add.reduceat(share, starts) if starts.size else np.zeros(0, np.int64)
    remainder = (discount - allotted)[line_order]
    return np.asarray(share + (rank_in_group(line_order) < remainder), dtype=np.int64)


def orders_table(o: Orders, cat: Catalog) -> pa.Table:
    """One row per order line; order-level values are repeated on every line of the order."""
    lo = o.line_order
    return pa.table(
        {
            "order_id": order_id(lo),
            "customer_id": customer_id(o.customer[lo]),
            "placed_at": local_time(o.placed[lo]),
            "paid_at": local_time(np.maximum(o.paid[lo], 0), o.paid[lo] < 0),
            "status": pick(STATUSES, o.status[lo]),
            "currency": pa.array([CURRENCY] * lo.size, pa.string()),
            "sku": sku(o.product),
            "product_title": pick(cat.title, o.product),
            "quantity": integers(o.quantity),
            "unit_price": money(o.unit_price),
            "line_total": money(o.line_total),
            "line_no": integers(o.line_no),
            "discount": money(o.discount[lo]),
            "shipping": money(o.shipping[lo]),
            "total": money(o.total[lo]),
            "channel": pick(ORDER_CHANNELS, o.channel[lo]),
            "coupon_codes": o.coupon.take(pa.array(lo)),
        }
    )
