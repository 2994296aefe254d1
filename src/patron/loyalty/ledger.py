"""The points ledger as pure functions: each takes a member's points (:class:`Member`) and
returns the member after the operation with the entries to append.

Every operation first *settles* the member at its moment: lots past their return window are
activated, lots past their expiry expire. An operation therefore never spends, takes back or
credits points that should already be gone, and the invariants of :mod:`patron.loyalty.model`
hold after every call::

    balance == sum(entry.points)      max(balance, 0) == sum(lot.remaining)
    pending == sum(entry.pending) == sum(lot.remaining for pending lots)
    debt == sum(entry.debt)           every lot 0 <= remaining <= amount

Spending takes the soonest-expiring spendable lots first (lots that never expire last); taking
back a refunded order's points takes that order's own lots first. New points first pay what the
member owes: a debt (:attr:`RefundPolicy.DEDUCT_FUTURE`) or a negative balance
(:attr:`RefundPolicy.NEGATIVE_BALANCE`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from patron.errors import ConflictError, ErrorCode, InputError
from patron.loyalty.model import Entry, EntryKind, Lot, Member, RefundPolicy, Use


@dataclass(frozen=True, slots=True)
class Posting:
    """The member after an operation and the entries it appends (settlement entries first)."""

    member: Member
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class Grant:
    """Points to grant as a new lot."""

    points: int
    key: str
    reason: str
    source: str
    available_from: datetime
    expires_at: datetime | None


class _Book:
    """A member being changed by one operation: lots, totals and the entries so far."""

    def __init__(self, member: Member) -> None:
        self.lots = list(member.lots)
        self.balance = member.balance
        self.pending = member.pending
        self.debt = member.debt
        self.entries: list[Entry] = []

    def post(self, entry: Entry) -> None:
        self.balance += entry.points
        self.pending += entry.pending
        self.debt += entry.debt
        self.entries.append(entry)

    def take(self, index: int, points: int) -> Use:
        """Take ``points`` from lot ``index``; returns the use."""
        lot = self.lots[index]
        self.lots[index] = replace(lot, remaining=lot.remaining - points)
        return Use(index, -points)

    def give(self, index: int, points: int) -> Use:
        lot = self.lots[index]
        self.lots[index] = replace(lot, remaining=lot.remaining + points)
        return Use(index, points)

    def take_in_order(self, order: Iterable[int], points: int) -> tuple[tuple[Use, ...], int]:
        """Take up to ``points`` from the lots in ``order``; returns the uses and the points
        from pending lots among them."""
        uses: list[Use] = []
        from_pending = 0
        for index in order:
            if points == 0:
                break
            lot = self.lots[index]
            taken = min(points, lot.remaining)
            if taken > 0:
                uses.append(self.take(index, taken))
                from_pending += taken if lot.pending else 0
                points -= taken
        return tuple(uses), from_pending

    def posting(self) -> Posting:
        member = Member(self.balance, self.pending, self.debt, tuple(self.lots))
        return Posting(member, tuple(self.entries))


def _settle(book: _Book, at: datetime) -> None:
    """Activate the lots whose return window ended and expire the lots past expiry."""
    for index, lot in enumerate(book.lots):
        if lot.pending and lot.available_from <= at and not lot.expired(at):
            book.lots[index] = replace(lot, pending=False)
            if lot.remaining > 0:
                book.post(
                    Entry(
                        EntryKind.ACTIVATE,
                        0,
                        -lot.remaining,
                        f"activate:{lot.key}",
                        "return window ended",
                        lot.source,
                        (Use(index, 0),),
                    )
                )
    for index, lot in enumerate(book.lots):
        if lot.expired(at) and lot.remaining > 0:
            uses, from_pending = book.take_in_order([index], lot.remaining)
            book.lots[index] = replace(book.lots[index], pending=False)
            book.post(
                Entry(
                    EntryKind.EXPIRE,
                    -lot.remaining,
                    -from_pending,
                    f"expire:{lot.key}",
                    "points expired",
                    lot.source,
                    uses,
                )
            )


def settle(member: Member, at: datetime) -> Posting:
    """Activations and expiries due at ``at`` (the daily run; every operation does it too)."""
    book = _Book(member)
    _settle(book, at)
    return book.posting()


def _spend_order(lots: Sequence[Lot], indexes: Iterable[int]) -> list[int]:
    """Soonest expiry first, never-expiring last, then oldest."""

    def key(index: int) -> tuple[bool, datetime | None, datetime, int]:
        lot = lots[index]
        return (lot.expires_at is None, lot.expires_at, lot.available_from, index)

    return sorted(indexes, key=key)


def _credit(book: _Book, kind: EntryKind, grant: Grant, at: datetime) -> None:
    """A new lot for ``grant``, then what the member owes paid from it."""
    pending = grant.available_from > at
    index = len(book.lots)
    # A negative balance is paid first: the lot keeps what is left of the points.
    kept = min(grant.points, max(book.balance + grant.points, 0))
    lot = Lot(
        None,
        grant.points,
        kept,
        grant.available_from,
        grant.expires_at,
        pending,
        grant.source,
        grant.key,
    )
    book.lots.append(lot)
    book.post(
        Entry(
            kind,
            grant.points,
            kept if pending else 0,
            grant.key,
            grant.reason,
            grant.source,
            (Use(index, kept),),
            creates=index,
        )
    )
    _pay_debt(book, index, grant.key, grant.source)


def _pay_debt(book: _Book, index: int, key: str, source: str) -> None:
    paid = min(book.debt, book.lots[index].remaining)
    if paid == 0:
        return
    uses, from_pending = book.take_in_order([index], paid)
    book.post(
        Entry(
            EntryKind.REVERSE,
            -paid,
            -from_pending,
            f"{key}:debt",
            "refunded points owed",
            source,
            uses,
            debt=-paid,
        )
    )


def earn(member: Member, grant: Grant, at: datetime) -> Posting:
    """Grant points (pending until ``available_from``)."""
    if grant.points <= 0:
        raise InputError(f"points to earn must be positive, not {grant.points}", field="points")
    book = _Book(member)
    _settle(book, at)
    _credit(book, EntryKind.EARN, grant, at)
    return book.posting()


def insufficient(wanted: int, available: int) -> ConflictError:
    return ConflictError(
        f"not enough points: {wanted} wanted, {available} available",
        code=ErrorCode.POINTS_INSUFFICIENT,
        wanted=wanted,
        available=available,
    )


def redeem(
    member: Member, points: int, key: str, reason: str, source: str, at: datetime
) -> Posting:
    """Spend ``points`` from the spendable lots, soonest-expiring first; refused (nothing
    changes) when fewer are available."""
    if points <= 0:
        raise InputError(f"points to redeem must be positive, not {points}", field="points")
    book = _Book(member)
    _settle(book, at)
    spendable = [i for i, lot in enumerate(book.lots) if lot.spendable(at)]
    available = sum(book.lots[i].remaining for i in spendable)
    if available < points:
        raise insufficient(points, available)
    uses, _ = book.take_in_order(_spend_order(book.lots, spendable), points)
    book.post(Entry(EntryKind.REDEEM, -points, 0, key, reason, source, uses))
    return book.posting()


def _takeback_order(lots: Sequence[Lot], own: Callable[[Lot], bool]) -> list[int]:
    """The lots a take-back draws on: the source's own lots, then spendable lots by expiry,
    then other pending lots by expiry."""
    live = [i for i, lot in enumerate(lots) if lot.remaining > 0]
    mine = [i for i in live if own(lots[i])]
    others = [i for i in live if not own(lots[i])]
    spendable = [i for i in others if not lots[i].pending]
    pending = [i for i in others if lots[i].pending]
    return mine + _spend_order(lots, spendable) + _spend_order(lots, pending)


def reverse(
    member: Member,
    points: int,
    key: str,
    reason: str,
    source: str,
    at: datetime,
    policy: RefundPolicy,
) -> Posting:
    """Take back ``points`` granted by ``source`` (a refunded order): from the source's own
    lots first, then from the member's others; what was already spent is handled by
    ``policy``."""
    if points <= 0:
        raise InputError(f"points to take back must be positive, not {points}", field="points")
    book = _Book(member)
    _settle(book, at)
    order = _takeback_order(book.lots, lambda lot: lot.source == source)
    uses, from_pending = book.take_in_order(order, points)
    taken = -sum(use.points for use in uses)
    missing = points - taken
    if policy is RefundPolicy.NEGATIVE_BALANCE:
        entry = Entry(EntryKind.REVERSE, -points, -from_pending, key, reason, source, uses)
    elif policy is RefundPolicy.DEDUCT_FUTURE:
        entry = Entry(
            EntryKind.REVERSE, -taken, -from_pending, key, reason, source, uses, debt=missing
        )
    else:
        entry = Entry(
            EntryKind.REVERSE, -taken, -from_pending, key, reason, source, uses, written_off=missing
        )
    book.post(entry)
    return book.posting()


def give_back(
    member: Member,
    uses: Sequence[tuple[int, int]],
    key: str,
    reason: str,
    source: str,
    at: datetime,
) -> Posting:
    """Return spent points to the lots they came from (``(lot id, points)`` pairs: a
    cancelled reservation). Points of lots that expired meanwhile expire at once; what the
    member owes is paid first."""
    book = _Book(member)
    _settle(book, at)
    by_id = {lot.id: index for index, lot in enumerate(book.lots)}
    total = sum(points for _, points in uses)
    if total <= 0:
        raise InputError("nothing to give back", field="points")
    # A negative balance keeps its share; the lots get the rest, latest-used first.
    room = min(total, max(book.balance + total, 0))
    given: list[Use] = []
    pending = 0
    for lot_id, points in reversed(uses):
        if lot_id not in by_id:
            raise ValueError(f"lot {lot_id} is not among the member's lots")
        share = min(points, room)
        if share > 0:
            index = by_id[lot_id]
            given.append(book.give(index, share))
            pending += share if book.lots[index].pending else 0
            room -= share
    book.post(Entry(EntryKind.REVERSE, total, pending, key, reason, source, tuple(given)))
    for use in given:
        lot = book.lots[use.lot]
        if lot.expired(at):
            expired, _ = book.take_in_order([use.lot], lot.remaining)
            book.post(
                Entry(
                    EntryKind.EXPIRE,
                    -lot.remaining,
                    0,
                    f"{key}:expire:{lot.key}",
                    "points given back to an expired lot",
                    lot.source,
                    expired,
                )
            )
        else:
            _pay_debt(book, use.lot, f"{key}:{lot.key}", source)
    return book.posting()


def adjust(member: Member, points: int, grant: Grant, at: datetime) -> Posting:
    """A manual correction: positive points are a new lot (``grant``), negative ones are taken
    like a refund's (spendable lots first) and refused beyond the member's points."""
    if points == 0:
        raise InputError("an adjustment of 0 points changes nothing", field="points")
    if not grant.reason.strip():
        raise InputError("an adjustment needs a reason", field="reason")
    book = _Book(member)
    _settle(book, at)
    if points > 0:
        _credit(book, EntryKind.ADJUST, replace(grant, points=points), at)
        return book.posting()
    live = sum(lot.remaining for lot in book.lots)
    if live < -points:
        raise insufficient(-points, live)
    order = _takeback_order(book.lots, lambda _lot: False)
    uses, from_pending = book.take_in_order(order, -points)
    book.post(
        Entry(EntryKind.ADJUST, points, -from_pending, grant.key, grant.reason, grant.source, uses)
    )
    return book.posting()


def refund_share(line_points: int, line_net_minor: int, refunded_minor: int) -> int:
    """Points of a line to have taken back once ``refunded_minor`` of its ``line_net_minor``
    are refunded in all: pro rata, rounded down so that the points taken back by successive
    partial refunds add up to exactly the line's points when it is refunded in full."""
    if line_net_minor <= 0:
        return line_points
    share = min(refunded_minor, line_net_minor)
    return line_points * share // line_net_minor if share < line_net_minor else line_points
