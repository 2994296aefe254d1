"""Behaviour events: sessions of visits, searches, views, carts and checkouts.

Four kinds of session: the one that ends in each online order (its checkout starts a minute or two
before the order is placed), browsing by known customers while they are active, recent browsing
intent near the end of the period (carts left behind by customers who are still alive), and
anonymous visits. Reviews written also appear as review events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from patron.demo.calendar import DAY, END, HOUR, Calendar
from patron.demo.catalog import Catalog, sku
from patron.demo.customers import Customers, customer_id
from patron.demo.orders import Orders
from patron.demo.purchases import Purchases
from patron.demo.reviews import Reviews
from patron.demo.sampling import (
    BoolArray,
    FloatArray,
    IntArray,
    choose,
    choose_rows,
    cumsum_in_groups,
    expand,
)
from patron.demo.text import join, local_time, masked, numbered, pick
from patron.demo.vocab import CATEGORY_TREE, ORDER_CHANNELS, SEARCH_TEMPLATES
from patron.ingest.model import EventType

PURCHASE, BROWSE, INTENT, ANONYMOUS = range(4)
EVENT_TYPES: tuple[str, ...] = tuple(t.value for t in EventType)
INTENT_DAYS = 14
ANONYMOUS_PER_CUSTOMER = 0.3
"""Anonymous sessions per registered customer."""
LINGER_DAYS = 45.0
"""Customers who dropped out still drop by for a while after their last order."""

# Per session kind (purchase, browse, intent, anonymous): chance of each optional step.
SIGN_IN = (0.15, 0.1, 0.2, 0.0)
SEARCH = (0.35, 0.4, 0.5, 0.3)
EXTRA_VIEWS = (0.5, 1.2, 1.5, 0.8)
FAVORITE = (0.06, 0.1, 0.3, 0.0)
SHARE = (0.02, 0.03, 0.05, 0.0)
INQUIRY = (0.05, 0.03, 0.1, 0.0)
CART = (0.0, 0.12, 1.0, 0.03)
CART_REMOVE = 0.3
CHECKOUT_AFTER_CART = 0.25


@dataclass(frozen=True, slots=True)
class Sessions:
    kind: IntArray
    customer: IntArray
    """-1 for anonymous visitors."""
    anchor: IntArray
    """Start of a browsing session; for a purchase session the time the order was placed."""
    order: IntArray
    """Order a purchase session ends in; -1 otherwise."""
    leaf: IntArray
    """Category the visitor came for."""

    @property
    def size(self) -> int:
        return int(self.kind.size)


@dataclass(frozen=True, slots=True)
class _Block:
    """Events of one step type: their session, rank within the step and product (-1: none)."""

    session: IntArray
    step: int
    rank: IntArray
    product: IntArray


@dataclass(frozen=True, slots=True)
class Events:
    event_type: IntArray
    customer: IntArray
    occurred: IntArray
    product: IntArray
    session: IntArray
    """Session number by start time, -1 for events outside a session (reviews)."""
    query: pa.Array


@dataclass(frozen=True, slots=True)
class _Raw:
    """Events before sorting, with the category each session came for (for search texts)."""

    event_type: IntArray
    customer: IntArray
    occurred: IntArray
    product: IntArray
    session: IntArray
    focus: IntArray

    def __add__(self, other: _Raw) -> _Raw:
        return _Raw(
            *(np.concatenate([getattr(self, f), getattr(other, f)]) for f in self.__slots__)
        )

    def take(self, index: IntArray) -> _Raw:
        return _Raw(*(getattr(self, f)[index] for f in self.__slots__))


def build_events(
    o: Orders,
    reviews: Reviews,
    *,
    p: Purchases,
    c: Customers,
    cat: Catalog,
    calendar: Calendar,
    rng: np.random.Generator,
) -> Events:
    sessions = _concat_sessions(
        _purchase_sessions(o, cat),
        _browse_sessions(p, c, cat, calendar, rng),
        _intent_sessions(p, c, cat, calendar, rng),
        _anonymous_sessions(c.size, cat, calendar, rng),
    )
    raw = _session_events(sessions, o, c, cat, rng) + _review_events(reviews, o)
    return _finish(raw, cat, rng)


def _session_events(
    sessions: Sessions, o: Orders, c: Customers, cat: Catalog, rng: np.random.Generator
) -> _Raw:
    session, step, product = _ordered(_blocks(sessions, o, c, cat, rng))
    occurred, start = _timeline(sessions, session, step, rng)
    # Sessions are numbered in the order they start.
    number = np.empty(sessions.size, dtype=np.int64)
    number[np.lexsort((np.arange(sessions.size), start))] = np.arange(sessions.size)
    return _Raw(
        step, sessions.customer[session], occurred, product, number[session], sessions.leaf[session]
    )


def _review_events(reviews: Reviews, o: Orders) -> _Raw:
    n = reviews.size
    return _Raw(
        event_type=np.full(n, EVENT_TYPES.index(EventType.REVIEW), dtype=np.int64),
        customer=o.customer[o.line_order[reviews.line]],
        occurred=reviews.created,
        product=o.product[reviews.line],
        session=np.full(n, -1, dtype=np.int64),
        focus=np.zeros(n, dtype=np.int64),
    )


def _concat_sessions(*parts: Sessions) -> Sessions:
    return Sessions(*(np.concatenate([getattr(s, f) for s in parts]) for f in Sessions.__slots__))


def _purchase_sessions(o: Orders, cat: Catalog) -> Sessions:
    """Every online order ends a session (the first hour of the period has no history)."""
    online = (o.channel != ORDER_CHANNELS.index("store")) & (o.placed >= HOUR)
    orders = np.flatnonzero(online)
    return Sessions(
        kind=np.full(orders.size, PURCHASE, dtype=np.int64),
        customer=o.customer[orders],
        anchor=o.placed[orders],
        order=orders,
        leaf=cat.leaf[o.product[o.first_line[orders]]],
    )


def _browse_sessions(
    p: Purchases, c: Customers, cat: Catalog, calendar: Calendar, rng: np.random.Generator
) -> Sessions:
    """Visits without an order, while the customer is active (and a little after)."""
    n = c.size
    orders = np.bincount(p.customer, minlength=n)
    bought = orders > 0
    start = np.maximum(c.signup, 0)
    linger = np.floor(rng.exponential(LINGER_DAYS * DAY, size=n)).astype(np.int64)
    # Dropped-out buyers fade after their last order; window shoppers after registering.
    end = np.where(
        bought,
        np.where(p.alive, END, p.last_placed + linger),
        start + 90 * DAY + 2 * linger,
    )
    end = np.minimum(end, END)
    count = rng.poisson(np.where(bought, 0.4 + 0.4 * orders, 1.5))
    count = np.where(end > start, count, 0)
    customer, _ = expand(count)
    return _sessions_in(
        BROWSE, customer, start[customer], end[customer], c=c, cat=cat, calendar=calendar, rng=rng
    )


def _intent_sessions(
    p: Purchases, c: Customers, cat: Catalog, calendar: Calendar, rng: np.random.Generator
) -> Sessions:
    """Recent carts: mostly customers who are still alive, the signal a churn model can use."""
    chance = np.where(p.alive, 0.25, np.where(p.last_placed >= 0, 0.03, 0.05))
    customer = np.flatnonzero(rng.random(c.size) < chance)
    start = np.full(customer.size, END - INTENT_DAYS * DAY, dtype=np.int64)
    start = np.maximum(start, c.signup[customer])
    end = np.full(customer.size, END, dtype=np.int64)
    return _sessions_in(INTENT, customer, start, end, c=c, cat=cat, calendar=calendar, rng=rng)


def _sessions_in(
    kind: int,
    customer: IntArray,
    start: IntArray,
    end: IntArray,
    *,
    c: Customers,
    cat: Catalog,
    calendar: Calendar,
    rng: np.random.Generator,
) -> Sessions:
    """Sessions at times between start and end that follow the shop's traffic pattern."""
    u0, u1 = calendar.to_operational(start), calendar.to_operational(end)
    anchor = calendar.to_calendar(u0 + rng.random(customer.size) * (u1 - u0))
    top = choose_rows(c.affinity_cum, customer, rng)
    return Sessions(
        kind=np.full(customer.size, kind, dtype=np.int64),
        customer=customer,
        anchor=np.maximum(anchor, start),
        order=np.full(customer.size, -1, dtype=np.int64),
        leaf=cat.top_leaves[top, choose_rows(cat.top_leaf_cum, top, rng)],
    )


def _anonymous_sessions(
    n_customers: int, cat: Catalog, calendar: Calendar, rng: np.random.Generator
) -> Sessions:
    n = round(ANONYMOUS_PER_CUSTOMER * n_customers)
    top = choose(np.array([t.share for t in CATEGORY_TREE]), n, rng)
    return Sessions(
        kind=np.full(n, ANONYMOUS, dtype=np.int64),
        customer=np.full(n, -1, dtype=np.int64),
        anchor=calendar.to_calendar(rng.random(n) * calendar.operational_end),
        order=np.full(n, -1, dtype=np.int64),
        leaf=cat.top_leaves[top, choose_rows(cat.top_leaf_cum, top, rng)],
    )


def _chance(table: tuple[float, ...], kind: IntArray, rng: np.random.Generator) -> IntArray:
    return np.asarray(rng.random(kind.size) < np.array(table)[kind], dtype=np.int64)


def _blocks(
    s: Sessions, o: Orders, c: Customers, cat: Catalog, rng: np.random.Generator
) -> list[_Block]:
    """The steps of every session, in funnel order, with the products they concern."""
    purchase = s.kind == PURCHASE
    lines = np.zeros(s.size, dtype=np.int64)
    lines[purchase] = o.line_count[s.order[purchase]]
    taste = np.where(s.customer >= 0, c.taste[np.maximum(s.customer, 0)], 0.0)
    step = EVENT_TYPES.index
    views = _views(s, lines, o, cat=cat, taste=taste, rng=rng)
    cart = np.where(purchase, lines, _chance(CART, s.kind, rng))
    cart += (s.kind == INTENT) & (rng.random(s.size) < 0.3)
    removed = (cart > 0) & ~purchase & (rng.random(s.size) < CART_REMOVE)
    checkout = purchase | ((cart > 0) & ~removed & (rng.random(s.size) < CHECKOUT_AFTER_CART))
    # App buyers sign in to check out more often than the other sessions.
    app = np.zeros(s.size, dtype=np.bool_)
    app[purchase] = o.channel[s.order[purchase]] == ORDER_CHANNELS.index("app")
    signed = np.maximum(_chance(SIGN_IN, s.kind, rng), app & (rng.random(s.size) < 0.2))
    carts = _cart_block(
        step(EventType.CART_ADD), cart, views, purchase=purchase, lines=lines, rng=rng
    )
    return [
        _plain(step(EventType.VISIT), np.ones(s.size, dtype=np.int64)),
        _plain(step(EventType.SIGN_IN), signed),
        _plain(step(EventType.SEARCH), _chance(SEARCH, s.kind, rng)),
        views,
        _viewed(step(EventType.FAVORITE), _chance(FAVORITE, s.kind, rng), views, rng),
        _viewed(step(EventType.SHARE), _chance(SHARE, s.kind, rng), views, rng),
        _viewed(step(EventType.INQUIRY), _chance(INQUIRY, s.kind, rng), views, rng),
        carts,
        _first_of(step(EventType.CART_REMOVE), removed, carts, s.size),
        _plain(step(EventType.CHECKOUT_START), checkout.astype(np.int64)),
    ]


def _plain(step: int, count: IntArray) -> _Block:
    session, rank = expand(count)
    return _Block(session, step, rank, np.full(session.size, -1, dtype=np.int64))


def _views(
    s: Sessions,
    lines: IntArray,
    o: Orders,
    *,
    cat: Catalog,
    taste: FloatArray,
    rng: np.random.Generator,
) -> _Block:
    """Products viewed: the order's products first in a purchase session, then the category's."""
    base = np.where(s.kind == PURCHASE, lines, 1 + (s.kind == INTENT))
    count = base + rng.poisson(np.array(EXTRA_VIEWS)[s.kind])
    session, rank = expand(count)
    leaf = s.leaf[session]
    # A fifth of the extra views wander off to any category.
    wander = rng.random(session.size) < 0.2
    leaf = np.where(wander, cat.leaf[rng.integers(0, cat.size, size=session.size)], leaf)
    product = cat.pick_in_leaf(leaf, taste[session], rng)
    ordered = rank < lines[session]
    product[ordered] = o.product[o.first_line[s.order[session[ordered]]] + rank[ordered]]
    return _Block(session, EVENT_TYPES.index(EventType.VIEW), rank, product)


def _view_offsets(views: _Block, n_sessions: int) -> tuple[IntArray, IntArray]:
    count = np.bincount(views.session, minlength=n_sessions)
    return np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64), count


def _viewed(step: int, count: IntArray, views: _Block, rng: np.random.Generator) -> _Block:
    """A step about one of the products viewed earlier in the session."""
    offset, n_views = _view_offsets(views, count.size)
    session, rank = expand(count)
    pick_view = np.floor(rng.random(session.size) * n_views[session]).astype(np.int64)
    return _Block(session, step, rank, views.product[offset[session] + pick_view])


def _cart_block(
    step: int,
    count: IntArray,
    views: _Block,
    *,
    purchase: BoolArray,
    lines: IntArray,
    rng: np.random.Generator,
) -> _Block:
    """Purchase sessions put the ordered products in the cart; others a product viewed."""
    browsing = _viewed(step, np.where(purchase, 0, count), views, rng)
    session, rank = expand(np.where(purchase, lines, 0))
    # Views of a purchase session start with the ordered products, in line order.
    offset, _ = _view_offsets(views, count.size)
    bought = views.product[offset[session] + rank]
    return _Block(
        np.concatenate([browsing.session, session]),
        step,
        np.concatenate([browsing.rank, rank]),
        np.concatenate([browsing.product, bought]),
    )


def _first_of(step: int, wanted: BoolArray, carts: _Block, n_sessions: int) -> _Block:
    """Removing from the cart the first product put in."""
    first = np.full(n_sessions, -1, dtype=np.int64)
    is_first = carts.rank == 0
    first[carts.session[is_first]] = carts.product[is_first]
    session = np.flatnonzero(wanted & (first >= 0))
    return _Block(session, step, np.zeros(session.size, dtype=np.int64), first[session])


def _ordered(blocks: list[_Block]) -> tuple[IntArray, IntArray, IntArray]:
    """All events of all sessions, grouped by session and in funnel order inside it."""
    session = np.concatenate([b.session for b in blocks])
    rank = np.concatenate([b.rank for b in blocks])
    step = np.concatenate([np.full(b.session.size, b.step, dtype=np.int64) for b in blocks])
    funnel = np.concatenate(
        [np.full(b.session.size, i, dtype=np.int64) for i, b in enumerate(blocks)]
    )
    product = np.concatenate([b.product for b in blocks])
    order = np.lexsort((rank, funnel, session))
    return session[order], step[order], product[order]


def _timeline(
    s: Sessions, session: IntArray, step: IntArray, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """Seconds between steps; purchase sessions are laid out backwards from the order."""
    n = session.size
    viewing = step == EVENT_TYPES.index(EventType.VIEW)
    gap = np.where(viewing, 10 + rng.exponential(60.0, size=n), 3 + rng.exponential(25.0, size=n))
    first = np.ones(n, dtype=np.bool_)
    first[1:] = session[1:] != session[:-1]
    gap = np.where(first, 0.0, np.floor(gap))
    offset = cumsum_in_groups(gap, session).astype(np.int64)
    duration = np.zeros(s.size, dtype=np.int64)
    np.maximum.at(duration, session, offset)
    before_order = rng.integers(20, 180, size=s.size)
    start = np.where(s.kind == PURCHASE, s.anchor - duration - before_order, s.anchor)
    return start[session] + offset, start


def _finish(raw: _Raw, cat: Catalog, rng: np.random.Generator) -> Events:
    """Drop what falls outside the period, sort by time, and write the search queries."""
    keep = np.flatnonzero((raw.occurred >= 0) & (raw.occurred < END))
    e = raw.take(keep[np.lexsort((keep, raw.occurred[keep]))])
    searched = e.event_type == EVENT_TYPES.index(EventType.SEARCH)
    queries = _queries(e.focus[searched], cat, rng)
    # Non-search events take a null index, hence a null query.
    position = np.cumsum(searched) - 1
    query = queries.take(pa.array(position, pa.int64(), mask=~searched))
    return Events(e.event_type, e.customer, e.occurred, e.product, e.session, query)


def _queries(leaf: IntArray, cat: Catalog, rng: np.random.Generator) -> pa.Array:
    """Search text about the category the visitor came for, sometimes naming a brand."""
    n = leaf.size
    width = (cat.leaf_members[leaf] >= 0).sum(axis=1)
    column = np.floor(rng.random(n) * width).astype(np.int64)
    brand = pick(cat.brand, cat.leaf_members[leaf, column])
    words = {"leaf": pick(cat.leaf_names, leaf), "noun": pick(cat.leaf_nouns, leaf), "brand": brand}
    variants = [_template(t, words) for t in SEARCH_TEMPLATES]
    which = pa.array(rng.integers(0, len(variants), size=n))
    return pc.choose(which, *variants)


def _template(template: str, words: dict[str, pa.Array]) -> pa.Array:
    """Fill one ``{name}`` template column-wise."""
    parts: list[pa.Array | str] = []
    rest = template
    while "{" in rest:
        head, _, tail = rest.partition("{")
        name, _, rest = tail.partition("}")
        parts += [head, words[name]]
    parts.append(rest)
    return join(parts)


def events_table(e: Events) -> pa.Table:
    n = e.event_type.size
    return pa.table(
        {
            "event_id": numbered("E", np.arange(n, dtype=np.int64) + 1, 9),
            "event_type": pick(EVENT_TYPES, e.event_type),
            "customer_id": masked(customer_id(np.maximum(e.customer, 0)), e.customer < 0),
            "occurred_at": local_time(e.occurred),
            "sku": masked(sku(np.maximum(e.product, 0)), e.product < 0),
            "session_id": masked(numbered("S", np.maximum(e.session, 0) + 1, 9), e.session < 0),
            "query": e.query,
        }
    )
