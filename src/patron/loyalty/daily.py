"""The loyalty programme's daily run (``patron loyalty run-daily [--date D]``): settle every
member's points, re-evaluate tiers, and emit the events outreach consumes.

The run for local date D of the programme's time zone acts as of the start of D,
``at = calendar.day_start(programme, D)``; D must have started (an earlier day may be run
again, or late). For each member, in this order:

1. **Activate** the pending lots whose ``available_from <= at`` and that have not expired.
2. **Tiers.** Growth is computed from the qualifying facts — orders placed in the tier window
   with a purchase status, net of their refunds, those not refunded in full counted
   (:func:`patron.loyalty.order_facts.qualifying_facts`, set-based). On an evaluation day
   (:func:`tiers.is_evaluation_day`) :func:`tiers.evaluate` decides with the growth as of
   ``at``: downgrades are scheduled, made once the grace period is over, or cancelled, and a
   higher tier reached is granted. Then, every day, the immediate rules
   (:func:`tiers.on_growth_change`) apply with the growth as of the moment the member's batch
   runs, which is also the growth stored — as the online path stores it: a tier the facts reach
   is granted (orders imported but never credited), a member back at their tier's threshold
   keeps it, and a run made later in the day never undoes what online operations did since
   ``at``. Counted and recorded is the net change (``tier_since`` and the change dated ``at``).
3. **Expire** the lots whose ``expires_at <= at`` with points left: their remaining points are
   taken (from ``pending`` too when the lot was still pending).
4. **Events**, rows of ``loyalty_events`` keyed uniquely per shop, so that no run emits one
   twice: ``tier_changed`` (``tier:<member>:<tier>:<at>``, the online path's key);
   ``will_downgrade`` when :func:`tiers.warning_due` says so
   (``tier-warning:<tier>:<date>:<member>``); ``points_expiring`` for points whose last day is
   at most ``expiry_notice_days - 1`` days after D, once per member and expiry moment
   (``expiring:<member>:<local date they are gone>``: not once a day, which would announce
   the same points up to N times); ``birthday`` for members whose customer was born on D's
   month and day, 29 February counting as 28 February in common years
   (``birthday:<member>:<year>``). Birthday points are the service's business.

Activation and expiry are the two halves of :func:`ledger.settle` at ``at``, and post exactly
its entries (keys ``activate:<lot key>`` and ``expire:<lot key>``, amounts, reasons, uses, in
its order), lot and member changes: lazy settlement by an online operation and the daily run
never disagree or post twice — whichever comes first does the work and the other finds
nothing due. They touch disjoint lots and tiers read neither, so a batch posts them together.
Entries are dated ``at``.

Members are processed in batches of consecutive ids, one transaction each — a crash loses
nothing done, and an online write waits at most for one batch. A batch locks its member rows
first (``FOR UPDATE``, in id order), then writes their lots, and locks the run's row in
``loyalty_daily_runs`` last, to add what it did to the day's counts (so a re-run, or the run
after a crash, adds what was left). Online operations lock one member, then its lots, and never
the run's row, so no order of locks can deadlock; batches hold disjoint members, so on
PostgreSQL several run at once (``workers``); SQLite's writers are exclusive anyway. Every
statement is set-based over the batch; only members whose tier may change come back to
Python, where the pure :mod:`tiers` decides.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from itertools import pairwise
from math import lcm
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Engine,
    MetaData,
    Row,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    extract,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    update,
)

from patron.clock import Clock
from patron.db import tables as t
from patron.db.types import Id
from patron.errors import InputError
from patron.intake.sql import insert_for
from patron.loyalty import calendar, ledger, tiers
from patron.loyalty.model import Entry, Lot, Member
from patron.loyalty.order_facts import PURCHASE_STATUSES
from patron.loyalty.programme import Programme
from patron.money import exponent

_members = t.loyalty_members.c
_lots = t.loyalty_lots.c
_entries = t.loyalty_entries.c
_events = t.loyalty_events.c
_runs = t.loyalty_daily_runs.c

BATCH_SIZE = 10_000
"""Members per transaction: long enough to be set-based, short enough for online writes."""

WORKERS = 2
"""Connections that run batches at once on PostgreSQL (batches hold disjoint members)."""


class EventKind(StrEnum):
    POINTS_EXPIRING = "points_expiring"
    WILL_DOWNGRADE = "will_downgrade"
    TIER_CHANGED = "tier_changed"
    BIRTHDAY = "birthday"


@dataclass(frozen=True, slots=True)
class DailyRun:
    """What one run did; a re-run of a day finds nothing left and counts zeros."""

    day: date
    at: datetime
    """The moment the run acts as of: the start of ``day`` in the programme's time zone."""
    members: int
    activated_lots: int
    activated_points: int
    expired_lots: int
    expired_points: int
    growth_updated: int
    upgraded: int
    downgraded: int
    scheduled: int
    """Downgrades newly scheduled (the member keeps the tier during the grace period)."""
    recovered: int
    """Scheduled downgrades cancelled: the member is back at the tier's threshold."""
    events: Mapping[str, int]
    """New events by :class:`EventKind`."""


_STEPS = (
    "members",
    "activated_lots",
    "activated_points",
    "expired_lots",
    "expired_points",
    "growth_updated",
    "upgraded",
    "downgraded",
    "scheduled",
    "recovered",
)

Progress = Callable[[int, int], None]
"""Called after each batch with the members done and the members in all."""


def run_daily(
    engine: Engine,
    clock: Clock,
    shop_id: int,
    programme: Programme,
    day: date | None = None,
    *,
    expiry_notice_days: int = 30,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
    workers: int | None = None,
) -> DailyRun:
    """Run the day ``day`` (default: today in the programme's time zone) for the shop's
    members; safe to repeat. See the module's documentation for what it does. Batches run on
    ``workers`` connections at once (default: 2 on PostgreSQL; SQLite has one writer)."""
    now = clock.now()
    day = calendar.local_date(programme, now) if day is None else day
    at = calendar.day_start(programme, day)
    if at > now:
        raise InputError(
            f"the day {day.isoformat()} has not started yet in {programme.timezone}: "
            "a daily run acts as of the start of its day",
            field="date",
        )
    if expiry_notice_days < 0:
        raise InputError("expiry_notice_days must be 0 or more", field="expiry_notice_days")
    notice_until = calendar.day_start(programme, day + timedelta(days=expiry_notice_days))
    with engine.begin() as connection:
        run_id = _open_run(connection, shop_id, day, now)
        ranges, total = _ranges(connection, shop_id, batch_size)
        moments = _expiry_moments(connection, shop_id, at, notice_until)
    plan = _Plan(shop_id, programme, day, at, run_id, moments, clock)
    if engine.dialect.name != "postgresql":
        workers = 1
    counts: Counter[str] = Counter()
    for found in _run_batches(engine, plan, ranges, workers or WORKERS):
        counts += found
        if progress is not None:
            progress(counts["members"], total)
    with engine.begin() as connection:
        found = _birthday_events(connection, shop_id, day, at)
        _add_counts(connection, run_id, found, finished=clock.now())
    counts += found
    return DailyRun(
        day,
        at,
        **{name: counts[name] for name in _STEPS},
        events={kind.value: counts[kind] for kind in EventKind},
    )


@dataclass(frozen=True, slots=True)
class _Plan:
    """What every batch of a run needs."""

    shop_id: int
    programme: Programme
    day: date
    at: datetime
    run_id: int
    moments: Sequence[datetime]
    """The expiry moments to announce (:func:`_expiry_moments`)."""
    clock: Clock


def _ranges(
    connection: Connection, shop_id: int, size: int
) -> tuple[list[tuple[int, int | None]], int]:
    """The batches as id ranges ``(after, up to)`` of ``size`` members (the last one open:
    members enrolled meanwhile join it), and the number of members."""
    numbered = (
        select(_members.id, func.row_number().over(order_by=_members.id).label("n"))
        .where(_members.shop_id == shop_id)
        .subquery()
    )
    bounds = connection.execute(
        select(numbered.c.id).where(numbered.c.n % size == 0).order_by(numbered.c.id)
    ).scalars()
    starts = [0, *bounds]
    ranges: list[tuple[int, int | None]] = list(pairwise(starts))
    ranges.append((starts[-1], None))
    total = connection.execute(select(func.count()).where(_members.shop_id == shop_id))
    return ranges, int(total.scalar_one())


def _run_batches(
    engine: Engine, plan: _Plan, ranges: Sequence[tuple[int, int | None]], workers: int
) -> Iterator[Counter[str]]:
    """Run the batches on ``workers`` connections (threads, when more than one); yields what
    each batch did once it is committed. The first error stops the workers after their
    current batch and is raised."""
    todo: queue.SimpleQueue[tuple[int, int | None]] = queue.SimpleQueue()
    for batch in ranges:
        todo.put(batch)
    stop = threading.Event()
    if workers == 1:
        with engine.connect() as connection:
            yield from _batches_on(connection, plan, todo, stop)
        return
    results: queue.SimpleQueue[Counter[str] | BaseException | None] = queue.SimpleQueue()

    def work() -> None:
        try:
            with engine.connect() as connection:
                for found in _batches_on(connection, plan, todo, stop):
                    results.put(found)
        except BaseException as error:
            stop.set()
            results.put(error)
        finally:
            results.put(None)

    threads = [threading.Thread(target=work, name=f"daily-run-{n}") for n in range(workers)]
    for thread in threads:
        thread.start()
    failure: BaseException | None = None
    try:
        running = workers
        while running:
            result = results.get()
            if result is None:
                running -= 1
            elif isinstance(result, BaseException):
                failure = failure or result
            else:
                yield result
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    if failure is not None:
        raise failure


def _batches_on(
    connection: Connection,
    plan: _Plan,
    todo: queue.SimpleQueue[tuple[int, int | None]],
    stop: threading.Event,
) -> Iterator[Counter[str]]:
    """Take batches from ``todo`` until none is left (or ``stop``), one transaction each."""
    with connection.begin():
        _scratch.create_all(connection)
    while not stop.is_set():
        try:
            after, up_to = todo.get_nowait()
        except queue.Empty:
            break
        with connection.begin():
            found = _run_batch(connection, plan, after, up_to)
        yield found
    with connection.begin():
        _scratch.drop_all(connection)


def _run_batch(connection: Connection, plan: _Plan, after: int, up_to: int | None) -> Counter[str]:
    """One batch, in the caller's transaction: lock its members, settle, tiers, expiry notices,
    then add what it did to the run's counts (the run's row is locked last)."""
    ids = _lock_members(connection, plan.shop_id, after, up_to)
    if not ids:
        return Counter()
    batch = _Batch(plan.shop_id, plan.programme, plan.day, plan.at, plan.clock.now(), ids)
    found = _settle(connection, batch)
    found += _retier(connection, batch)
    found += _expiring_events(connection, batch, plan.moments)
    found["members"] = len(ids)
    _add_counts(connection, plan.run_id, found)
    return found


# --- the run's row ------------------------------------------------------------------------------


def _open_run(connection: Connection, shop_id: int, day: date, now: datetime) -> int:
    """The day's row, created by its first run; counts one more run."""
    connection.execute(
        insert_for(connection, t.loyalty_daily_runs)
        .values(shop_id=shop_id, run_date=day, counts={"runs": 0}, started_at=now)
        .on_conflict_do_nothing(index_elements=["shop_id", "run_date"])
    )
    row = connection.execute(
        select(_runs.id, _runs.counts)
        .where(_runs.shop_id == shop_id, _runs.run_date == day)
        .with_for_update()
    ).one()
    counts = {**row.counts, "runs": row.counts["runs"] + 1}
    connection.execute(
        update(t.loyalty_daily_runs)
        .where(_runs.id == row.id)
        .values(counts=counts, finished_at=None)
    )
    return int(row.id)


def _add_counts(
    connection: Connection,
    run_id: int,
    found: Counter[str],
    finished: datetime | None = None,
) -> None:
    """Add what a batch did to the day's counts, in the batch's transaction. The run's row
    is locked last: online operations never lock it, and a batch holds it only to commit."""
    stored: dict[str, Any] = connection.execute(
        select(_runs.counts).where(_runs.id == run_id).with_for_update()
    ).scalar_one()
    events = Counter(stored.get("events", {}))
    events.update({kind.value: found[kind] for kind in EventKind})
    counts = {
        **stored,
        **{name: stored.get(name, 0) + found[name] for name in _STEPS},
        "events": {kind.value: events[kind.value] for kind in EventKind},
    }
    values: dict[str, Any] = {"counts": counts}
    if finished is not None:
        values["finished_at"] = finished
    connection.execute(update(t.loyalty_daily_runs).where(_runs.id == run_id).values(**values))


# --- batches ------------------------------------------------------------------------------------

_scratch = MetaData()
_batch = Table(
    "loyalty_daily_batch",
    _scratch,
    Column("member_id", Id, primary_key=True, autoincrement=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DELETE ROWS",
)
"""The members of the batch, locked."""


def _lock_members(connection: Connection, shop_id: int, after: int, up_to: int | None) -> list[int]:
    """Lock the members with ids in ``(after, up_to]``, in id order, and keep them in the
    batch table; their ids."""
    if connection.dialect.name == "postgresql":
        # It empties the temporary tables at every commit. Plans are made for each batch's
        # values: once psycopg prepares a statement, PostgreSQL may switch to a generic plan,
        # and the growth's then read every order of the shop's window for each batch (7 s at
        # 1M members instead of 0.08). Its JIT would compile every batch's statements anew
        # (30 ms for the growth's) and gain nothing on 10k rows.
        connection.execute(
            text(
                "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),"
                " set_config('jit', 'off', true)"
            )
        )
    else:
        for table in _scratch.sorted_tables:
            connection.execute(table.delete())
    # The shop is a filter, not a way in (+ 0): the id range is. Otherwise SQLite, which
    # usually has no statistics, would read the shop's whole index for every batch.
    within = [_members.shop_id + 0 == shop_id, _members.id > after]
    if up_to is not None:
        within.append(_members.id <= up_to)
    locked = select(_members.id).where(*within).order_by(_members.id).with_for_update()
    return sorted(
        connection.execute(
            insert(_batch).from_select(["member_id"], locked).returning(_batch.c.member_id)
        ).scalars()
    )


@dataclass(frozen=True, slots=True)
class _Batch:
    shop_id: int
    programme: Programme
    day: date
    at: datetime
    now: datetime
    """When the batch runs: the end of the window of its growth."""
    ids: list[int]

    def has(self, member_id: ColumnElement[int]) -> ColumnElement[bool]:
        """``member_id`` is one of the batch's locked members — all of the shop, so that no
        other condition on the shop is needed: where there is one, SQLite, which usually has
        no statistics, reads the shop's index instead of the member's."""
        return and_(self.in_range(member_id), member_id.in_(select(_batch.c.member_id)))

    def in_range(self, member_id: ColumnElement[int]) -> ColumnElement[bool]:
        """The batch's id range: with it PostgreSQL, which knows nothing of temporary tables'
        sizes, keeps to the indexes by member."""
        return member_id.between(self.ids[0], self.ids[-1])


# --- activation and expiry ----------------------------------------------------------------------

_TEMPLATE_KEY = "k"


def _ledger_templates() -> tuple[Entry, Entry]:
    """The entries :func:`ledger.settle` posts for one lot activated and one lot expired: the
    SQL below copies their kind, reason and key prefix, so the two cannot drift apart."""
    start = datetime(2000, 1, 1, tzinfo=UTC)
    due = Lot(1, 1, 1, start, None, True, "", _TEMPLATE_KEY)
    gone = Lot(2, 1, 1, start, start, False, "", _TEMPLATE_KEY)
    activate, expire = ledger.settle(Member(2, 1, 0, (due, gone)), start).entries
    return activate, expire


_ACTIVATE, _EXPIRE = _ledger_templates()

_due = Table(
    "loyalty_daily_due",
    _scratch,
    Column("lot_id", Id, primary_key=True, autoincrement=False),
    Column("member_id", Id, nullable=False),
    Column("expires", Boolean, nullable=False),
    Column("posts", Boolean, nullable=False),
    Column("key", String, nullable=False),
    Column("source", String, nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("pending", BigInteger, nullable=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DELETE ROWS",
)
"""The batch's lots that :func:`ledger.settle` activates or expires: whether it expires,
whether an entry is posted (not for activating an empty lot), and the entry's key and changes
of the balance and of pending points (``points`` is also the lot's use)."""


_ZERO: ColumnElement[int] = literal(0, BigInteger)


def _by_step(expires: ColumnElement[bool], field: str) -> ColumnElement[str]:
    """The ledger's ``kind`` or ``reason`` of the expiry or the activation entry."""
    expire, activate = (str(getattr(entry, field)) for entry in (_EXPIRE, _ACTIVATE))
    return case((expires, literal(expire, String)), else_=literal(activate, String))


def _settle(connection: Connection, batch: _Batch) -> Counter[str]:
    """:func:`ledger.settle` at the run's moment for every member of the batch: the lots due,
    their entries (by member, activations first, by lot: the ledger's order), the lots, the
    uses, then the members' cached sums."""
    at = batch.at
    expired = and_(_lots.expires_at.is_not(None), _lots.expires_at <= at)
    activating = and_(_lots.pending, _lots.available_from <= at, ~expired)
    expiring = and_(expired, _lots.remaining > 0)
    prefix = case(
        (expiring, literal(_EXPIRE.key.removesuffix(_TEMPLATE_KEY), String)),
        else_=literal(_ACTIVATE.key.removesuffix(_TEMPLATE_KEY), String),
    )
    d = _due.c
    connection.execute(
        insert(_due).from_select(
            [c.name for c in _due.columns],
            select(
                _lots.id,
                _lots.member_id,
                expiring,
                or_(expiring, _lots.remaining > 0),
                prefix + _lots.key,
                _lots.source,
                case((expiring, -_lots.remaining), else_=0),
                case((and_(expiring, ~_lots.pending), 0), else_=-_lots.remaining),
            ).where(
                batch.has(_lots.member_id),
                or_(activating, expiring),
            ),
        )
    )
    connection.execute(
        update(t.loyalty_lots)
        .where(batch.in_range(_lots.member_id), _lots.id == d.lot_id)
        .values(remaining=_lots.remaining + d.points, pending=False)
    )
    found = connection.execute(
        select(d.expires, func.count(), func.sum(case((d.expires, d.points), else_=d.pending)))
        .where(d.posts)
        .group_by(d.expires)
    ).all()
    if not found:
        return Counter()
    connection.execute(
        insert(t.loyalty_entries).from_select(
            [
                "shop_id",
                "member_id",
                "kind",
                "points",
                "pending",
                "debt",
                "written_off",
                "key",
                "reason",
                "source",
                "created_at",
            ],
            select(
                literal(batch.shop_id, BigInteger),
                d.member_id,
                _by_step(d.expires, "kind"),
                d.points,
                d.pending,
                _ZERO,
                _ZERO,
                d.key,
                _by_step(d.expires, "reason"),
                d.source,
                literal(at, _entries.created_at.type),
            )
            .where(d.posts)
            .order_by(d.member_id, d.expires, d.lot_id),
        )
    )
    connection.execute(
        insert(t.loyalty_lot_uses).from_select(
            ["entry_id", "lot_id", "shop_id", "points"],
            select(_entries.id, d.lot_id, _entries.shop_id, _entries.points)
            .join_from(
                _due,
                t.loyalty_entries,
                and_(
                    _entries.shop_id == batch.shop_id,
                    batch.in_range(_entries.member_id),
                    _entries.key == d.key,
                ),
            )
            .where(d.posts),
        )
    )
    sums = (
        select(
            d.member_id,
            func.sum(d.points).label("points"),
            func.sum(d.pending).label("pending"),
        )
        .where(d.posts)
        .group_by(d.member_id)
        .subquery()
    )
    connection.execute(
        update(t.loyalty_members)
        .where(_members.id == sums.c.member_id)
        .values(
            balance=_members.balance + sums.c.points,
            pending=_members.pending + sums.c.pending,
            updated_at=batch.now,
        )
    )
    counts: Counter[str] = Counter()
    for expires, lots, points in found:
        step = "expired" if expires else "activated"
        counts.update({f"{step}_lots": lots, f"{step}_points": -int(points)})
    return counts


# --- tiers --------------------------------------------------------------------------------------

_facts = Table(
    "loyalty_daily_growth",
    _scratch,
    Column("member_id", Id, primary_key=True, autoincrement=False),
    Column("growth_now", BigInteger, nullable=False),
    Column("growth_at", BigInteger, nullable=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DELETE ROWS",
)
"""The batch's growth values, computed once and read by the statements that follow."""


def _growth_weights(programme: Programme) -> tuple[int, int, int]:
    """``(a, b, d)`` with growth = floor((net minor units × a + orders × b) / d), exactly
    :func:`tiers.growth` in integers (SQL has no fractions)."""
    rule = programme.tiers.growth
    unit = Fraction(rule.per_currency_unit) / 10 ** exponent(programme.currency)
    order = Fraction(rule.per_order)
    d = lcm(unit.denominator, order.denominator)
    return unit.numerator * (d // unit.denominator), order.numerator * (d // order.denominator), d


def _growth_sql(
    programme: Programme, net: ColumnElement[Any], orders: ColumnElement[Any]
) -> ColumnElement[int]:
    a, b, d = _growth_weights(programme)
    value = cast(net, BigInteger) * a + cast(orders, BigInteger) * b
    return case((value > 0, value // d), else_=0)


def _fill_facts(connection: Connection, batch: _Batch, evaluating: bool) -> None:
    """Every member of the batch with their growth as of now and, on an evaluation day, as
    of the run's moment (else the same): the set-based :func:`qualifying_facts`."""
    o, r, b = t.orders.c, t.refunds.c, _batch.c
    programme = batch.programme
    since_now = calendar.tier_window_start(programme, batch.now)
    since_at = calendar.tier_window_start(programme, batch.at)
    # The batch's orders in the windows, with what was paid and what was refunded of each.
    # Matched on the member's shop rather than a constant, so that SQLite, which usually has
    # no statistics, looks them up by customer instead of reading all the shop's orders.
    orders = (
        select(
            _members.id.label("member_id"),
            o.placed_at,
            (o.total_minor - o.shipping_minor).label("paid"),
            func.coalesce(func.sum(r.amount_minor), 0).label("refunded"),
        )
        .join_from(
            t.loyalty_members,
            t.orders,
            and_(
                o.shop_id == _members.shop_id,
                o.customer_id == _members.customer_id,
                o.status.in_(PURCHASE_STATUSES),
                o.placed_at >= (min(since_now, since_at) if evaluating else since_now),
                o.placed_at < batch.now,
            ),
        )
        .outerjoin(t.refunds, r.order_id == o.id)
        .where(batch.has(_members.id))
        .group_by(_members.id, o.id, o.placed_at, o.total_minor, o.shipping_minor)
        .subquery()
    )

    def growth(since: datetime, until: datetime) -> ColumnElement[int]:
        within = and_(orders.c.placed_at >= since, orders.c.placed_at < until)
        net = func.sum(case((within, orders.c.paid - orders.c.refunded), else_=0))
        kept = func.sum(case((and_(within, orders.c.refunded < orders.c.paid), 1), else_=0))
        return _growth_sql(programme, net, kept)

    now = growth(since_now, batch.now)
    connection.execute(
        insert(_facts).from_select(
            ["member_id", "growth_now", "growth_at"],
            select(b.member_id, now, growth(since_at, batch.at) if evaluating else now)
            .select_from(_batch.outerjoin(orders, orders.c.member_id == b.member_id))
            .group_by(b.member_id),
        )
    )


def _rank_sql(programme: Programme, growth: ColumnElement[int]) -> ColumnElement[int]:
    """The rank of the tier ``growth`` reaches (:func:`tiers.tier_for`)."""
    levels = list(enumerate(programme.tiers.levels))[1:]
    return case(*[(growth >= level.threshold, n) for n, level in reversed(levels)], else_=0)


def _retier(connection: Connection, batch: _Batch) -> Counter[str]:
    """Store the batch's growth; let the pure tier rules decide for the members whose tier
    may change (a downgrade scheduled, a higher tier reached, or below their tier's threshold
    at an evaluation) and store what they decide."""
    programme = batch.programme
    evaluating = tiers.is_evaluation_day(programme, batch.day)
    _fill_facts(connection, batch, evaluating)
    f = _facts.c
    rank = case(
        {level.code: n for n, level in enumerate(programme.tiers.levels)},
        value=_members.tier,
        else_=-1,
    )
    may_change = [_members.downgrade_at.is_not(None), _rank_sql(programme, f.growth_now) > rank]
    if evaluating:
        may_change.append(_rank_sql(programme, f.growth_at) != rank)
    candidates = connection.execute(
        select(
            _members.id,
            _members.tier,
            _members.tier_since,
            _members.downgrade_at,
            f.growth_now,
            f.growth_at,
        )
        .join_from(t.loyalty_members, _facts, f.member_id == _members.id)
        .where(batch.in_range(_members.id), or_(*may_change))
        .order_by(_members.id)
    ).all()
    stored = connection.execute(
        update(t.loyalty_members)
        .where(
            batch.in_range(_members.id),
            _members.id == f.member_id,
            _members.growth != f.growth_now,
        )
        .values(growth=f.growth_now)
    ).rowcount
    counts = Counter({"growth_updated": stored})
    changes = [_decide(batch, row, evaluating) for row in candidates]
    _store_tiers(connection, batch, [c for c in changes if c.outcome is not None], counts)
    warnings = [_warning_event(batch, c) for c in changes if c.warning is not None]
    counts += _emit(connection, warnings)
    return counts


@dataclass(frozen=True, slots=True)
class _Change:
    member_id: int
    before: tiers.TierState
    state: tiers.TierState
    outcome: str | None
    """``upgraded``, ``downgraded``, ``scheduled``, ``recovered`` or ``None`` (no change)."""
    growth: int
    """The growth that decided the outcome."""
    warning: tiers.DowngradeWarning | None
    """The warning of a scheduled downgrade due today."""
    tier_since: datetime


def _decide(batch: _Batch, row: Row[*tuple[Any, ...]], evaluating: bool) -> _Change:
    programme = batch.programme
    due = row.downgrade_at
    before = tiers.TierState(row.tier, calendar.local_date(programme, due) if due else None)
    state, growth = before, row.growth_at
    if evaluating:
        state = tiers.evaluate(programme, before, row.growth_at, batch.day).after
    changed = tiers.on_growth_change(programme, state, row.growth_now)
    if changed is not None:
        state, growth = changed, row.growth_now
    rank, was = programme.rank(state.tier), programme.rank(before.tier)
    outcome: str | None = None
    if rank != was:
        outcome = "upgraded" if rank > was else "downgraded"
    elif state.downgrade_on != before.downgrade_on:
        outcome = "scheduled" if state.downgrade_on is not None else "recovered"
    warning = tiers.warning_due(programme, state, row.growth_now, batch.day)
    return _Change(row.id, before, state, outcome, growth, warning, row.tier_since)


def tier_event_key(member_id: int, tier: str, at: datetime) -> str:
    """The key of a ``tier_changed`` event: one per member, tier reached and moment."""
    return f"tier:{member_id}:{tier}:{at.isoformat()}"


def _store_tiers(
    connection: Connection, batch: _Batch, changes: Sequence[_Change], counts: Counter[str]
) -> None:
    if not changes:
        return
    programme = batch.programme
    connection.execute(
        update(t.loyalty_members)
        .where(_members.id == bindparam("member"))
        .values(
            tier=bindparam("new_tier"),
            tier_since=bindparam("since"),
            downgrade_at=bindparam("downgrade"),
        ),
        [
            {
                "member": c.member_id,
                "new_tier": c.state.tier,
                "since": batch.at if c.state.tier != c.before.tier else c.tier_since,
                "downgrade": (
                    calendar.day_start(programme, c.state.downgrade_on)
                    if c.state.downgrade_on is not None
                    else None
                ),
            }
            for c in changes
        ],
    )
    counts.update(c.outcome for c in changes if c.outcome is not None)
    moved = [c for c in changes if c.state.tier != c.before.tier]
    if not moved:
        return
    connection.execute(
        insert(t.loyalty_tier_changes),
        [
            {
                "shop_id": batch.shop_id,
                "member_id": c.member_id,
                "from_tier": c.before.tier,
                "to_tier": c.state.tier,
                "growth": c.growth,
                "reason": c.outcome,
                "at": batch.at,
            }
            for c in moved
        ],
    )
    counts += _emit(
        connection,
        [
            {
                "shop_id": batch.shop_id,
                "member_id": c.member_id,
                "kind": EventKind.TIER_CHANGED.value,
                "key": tier_event_key(c.member_id, c.state.tier, batch.at),
                "payload": {
                    "from": c.before.tier,
                    "to": c.state.tier,
                    "growth": c.growth,
                    "reason": c.outcome,
                },
                "occurred_at": batch.at,
            }
            for c in moved
        ],
    )


def _warning_event(batch: _Batch, change: _Change) -> dict[str, Any]:
    warning = change.warning
    assert warning is not None
    return {
        "shop_id": batch.shop_id,
        "member_id": change.member_id,
        "kind": EventKind.WILL_DOWNGRADE.value,
        "key": f"{warning.key}:{change.member_id}",
        "payload": {
            "tier": warning.tier,
            "downgrade_on": warning.downgrade_on.isoformat(),
            "growth_needed": warning.growth_needed,
        },
        "occurred_at": batch.at,
    }


# --- events -------------------------------------------------------------------------------------


def _emit(connection: Connection, events: Sequence[Mapping[str, Any]]) -> Counter[str]:
    """Insert the events whose key is new; counts those inserted by kind."""
    if not events:
        return Counter()
    inserted = connection.execute(
        insert_for(connection, t.loyalty_events)
        .on_conflict_do_nothing(index_elements=["shop_id", "key"])
        .returning(_events.kind),
        list(events),
    ).scalars()
    return Counter(inserted)


def _json_object(connection: Connection, **fields: ColumnElement[Any]) -> ColumnElement[Any]:
    build = func.jsonb_build_object if connection.dialect.name == "postgresql" else func.json_object
    return build(*[part for name, value in fields.items() for part in (_name(name), value)])


def _name(name: str) -> ColumnElement[str]:
    """A JSON key as an SQL string literal (the names are this module's own)."""
    assert name.isidentifier()
    return literal_column(f"'{name}'", String)


def _text(value: ColumnElement[Any] | str) -> ColumnElement[str]:
    return literal(value, String) if isinstance(value, str) else cast(value, String)


_EVENT_COLUMNS = ["shop_id", "member_id", "kind", "key", "payload", "occurred_at"]


def _event_columns(
    shop_id: int,
    kind: EventKind,
    member_id: ColumnElement[int],
    key: Sequence[ColumnElement[Any] | str],
    payload: ColumnElement[Any],
    at: datetime,
) -> list[ColumnElement[Any]]:
    """The columns of ``loyalty_events`` (:data:`_EVENT_COLUMNS`) for an ``INSERT … SELECT``;
    the key is the concatenation of ``key``."""
    text = _text(key[0])
    for part in key[1:]:
        text = text + _text(part)
    return [
        literal(shop_id, BigInteger),
        member_id,
        literal(kind.value, String),
        text,
        payload,
        literal(at, _events.occurred_at.type),
    ]


def _insert_new(connection: Connection, rows: Select[Any]) -> int:
    """Insert the events ``rows`` (see :func:`_event_columns`) whose key is new; how many."""
    return int(
        connection.execute(
            insert_for(connection, t.loyalty_events)
            .from_select(_EVENT_COLUMNS, rows)
            .on_conflict_do_nothing(index_elements=["shop_id", "key"])
            .execution_options(preserve_rowcount=True)
        ).rowcount
    )


def _expiry_moments(
    connection: Connection, shop_id: int, at: datetime, until: datetime
) -> list[datetime]:
    """The moments in ``(at, until]`` at which lots expire (a day boundary each, unless the
    programme's time zone changed): every one is announced."""
    return list(
        connection.execute(
            select(_lots.expires_at)
            .where(_lots.shop_id == shop_id, _lots.expires_at > at, _lots.expires_at <= until)
            .distinct()
            .order_by(_lots.expires_at)
        ).scalars()
    )


def _expiring_events(
    connection: Connection, batch: _Batch, moments: Sequence[datetime]
) -> Counter[str]:
    """``points_expiring`` for the batch's members with points that expire at one of
    ``moments``: one event per member and moment, with the points."""
    if not moments:
        return Counter()
    programme = batch.programme

    def by_moment(text: Callable[[datetime], str]) -> ColumnElement[str]:
        return case({moment: text(moment) for moment in moments}, value=_lots.expires_at)

    gone_on = by_moment(lambda moment: calendar.local_date(programme, moment).isoformat())
    payload = _json_object(
        connection,
        points=func.sum(_lots.remaining),
        expires_at=by_moment(datetime.isoformat),
    )
    columns = _event_columns(
        batch.shop_id,
        EventKind.POINTS_EXPIRING,
        _lots.member_id,
        ("expiring:", _lots.member_id, ":", gone_on),
        payload,
        batch.at,
    )
    rows = (
        select(*columns)
        .where(
            batch.has(_lots.member_id),
            _lots.remaining > 0,
            _lots.expires_at.in_(moments),
        )
        .group_by(_lots.member_id, _lots.expires_at)
    )
    return Counter({EventKind.POINTS_EXPIRING.value: _insert_new(connection, rows)})


def _birthday_events(connection: Connection, shop_id: int, day: date, at: datetime) -> Counter[str]:
    """``birthday`` for the members born on ``day``'s month and day (29 February on
    28 February of a common year)."""
    c = t.customers.c
    month, dom = extract("month", c.birth_date), extract("day", c.birth_date)
    born = and_(month == day.month, dom == day.day)
    if (day.month, day.day) == (2, 28) and (date(day.year, 3, 1) - timedelta(days=1)).day == 28:
        born = or_(born, and_(month == 2, dom == 29))
    payload = _json_object(connection, birth_date=c.birth_date, tier=_members.tier)
    columns = _event_columns(
        shop_id,
        EventKind.BIRTHDAY,
        _members.id,
        ("birthday:", _members.id, f":{day.year}"),
        payload,
        at,
    )
    rows = (
        select(*columns)
        .join_from(t.loyalty_members, t.customers, c.id == _members.customer_id)
        .where(_members.shop_id == shop_id, born)
    )
    return Counter({EventKind.BIRTHDAY.value: _insert_new(connection, rows)})
