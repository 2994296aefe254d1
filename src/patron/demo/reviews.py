"""Product reviews written after delivery: mostly positive, poor for bad products and returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from patron.demo.calendar import DAY, END
from patron.demo.catalog import Catalog, sku
from patron.demo.customers import Customers, customer_id
from patron.demo.orders import STATUSES, Orders, order_id
from patron.demo.refunds import Refunds
from patron.demo.sampling import IntArray, choose_rows, cumulative
from patron.demo.text import integers, join, local_time, numbered, pick
from patron.demo.vocab import REVIEW_CLOSERS, REVIEW_MIDDLES, REVIEW_OPENERS
from patron.ingest.model import OrderStatus

RATING_CUTS = (-1.96, -1.57, -1.11, -0.34)
"""Cuts of the latent satisfaction (variance 1.25) giving about 4/4/8/22/62 % of 1…5 stars."""
RETURN_PENALTY = 2.0
DELIVERY_DAYS = 2


@dataclass(frozen=True, slots=True)
class Reviews:
    line: IntArray
    """Index of the order line reviewed; sorted by time of writing."""
    rating: IntArray
    created: IntArray

    @property
    def size(self) -> int:
        return int(self.line.size)


def build_reviews(
    o: Orders, refunds: Refunds, c: Customers, cat: Catalog, rng: np.random.Generator
) -> Reviews:
    delivered = np.isin(
        refunds.status,
        [STATUSES.index(OrderStatus.COMPLETED), STATUSES.index(OrderStatus.REFUNDED)],
    )[o.line_order]
    n = o.line_order.size
    # Some customers review everything, most rarely; an unhappy buyer is keener to say so.
    chance = c.review_propensity[o.customer[o.line_order]] * np.where(refunds.returned, 1.5, 1.0)
    wait = DELIVERY_DAYS * DAY + np.floor(rng.exponential(4 * DAY, size=n)).astype(np.int64)
    created = o.paid[o.line_order] + wait
    written = delivered & (rng.random(n) < chance) & (created < END)
    latent = 0.5 * cat.quality[o.product] + rng.normal(size=n)
    latent -= RETURN_PENALTY * refunds.returned
    rating = 1 + np.searchsorted(np.array(RATING_CUTS), latent)
    lines = np.flatnonzero(written)
    lines = lines[np.lexsort((lines, created[lines]))]
    return Reviews(lines, np.asarray(rating[lines], dtype=np.int64), created[lines])


def _texts(rating: IntArray, noun: pa.Array, rng: np.random.Generator) -> pa.Array:
    """Opener, a remark on the product, closer: all in the tone of the rating."""
    parts = []
    for table in (REVIEW_OPENERS, REVIEW_MIDDLES, REVIEW_CLOSERS):
        words = [w for stars in range(1, 6) for w in table[stars]]
        offsets = np.cumsum([0] + [len(table[s]) for s in range(1, 6)])
        counts = np.array([len(table[s]) for s in range(1, 6)], dtype=np.float64)
        # Uniform choice among the fragments of the review's own rating.
        weights = np.zeros((5, int(counts.max())))
        for s in range(5):
            weights[s, : int(counts[s])] = 1.0
        column = choose_rows(cumulative(weights), rating - 1, rng)
        parts.append(pick(words, offsets[rating - 1] + column))
    return join([parts[0], "，这款", noun, parts[1], "，", parts[2]])


def reviews_table(r: Reviews, o: Orders, cat: Catalog, rng: np.random.Generator) -> pa.Table:
    product = o.product[r.line]
    return pa.table(
        {
            "review_id": numbered("RV", np.arange(r.size, dtype=np.int64) + 1, 8),
            "customer_id": customer_id(o.customer[o.line_order[r.line]]),
            "sku": sku(product),
            "order_id": order_id(o.line_order[r.line]),
            "rating": integers(r.rating),
            "text": _texts(r.rating, pick(cat.leaf_nouns, cat.leaf[product]), rng),
            "created_at": local_time(r.created),
        }
    )
