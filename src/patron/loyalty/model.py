"""The loyalty vocabulary: ledger entries, point lots, member accounts and the policies that
decide what a refund of already spent points does. Values only: no I/O, no clock.

Points are integers. A member's ``balance`` is the sum of their entries' ``points``; the lots
hold the same points split by where they came from, when they become spendable and when they
expire: the lots' remaining points add up to ``max(balance, 0)`` (a balance is negative only
under :attr:`RefundPolicy.NEGATIVE_BALANCE`, and then every lot is empty). ``pending`` is the
part of the balance still inside its return window (sum of the entries' ``pending`` and of the
remaining points of pending lots); only the rest is spendable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class EntryKind(StrEnum):
    EARN = "earn"
    """Points granted (an order, an action, a bonus); pending until the return window ends."""
    ACTIVATE = "activate"
    """Pending points of a lot become spendable (no change of the balance)."""
    REDEEM = "redeem"
    """Points spent (a reward, a discount, a reservation of the points mall)."""
    EXPIRE = "expire"
    """Points of a lot that reached its expiry."""
    REVERSE = "reverse"
    """Points taken back (a refunded line, a debt paid from new points) or given back (a
    cancelled reservation)."""
    ADJUST = "adjust"
    """A manual correction by an operator, with a reason, audited."""


class RefundPolicy(StrEnum):
    """What a refund does when the points it takes back were already spent."""

    NEGATIVE_BALANCE = "negative_balance"
    """The balance goes below zero; new points pay it back first."""
    DEDUCT_FUTURE = "deduct_future"
    """The balance stops at zero; the rest is a debt taken from the member's next points."""
    WRITE_OFF = "write_off"
    """The balance stops at zero; the rest is forgiven (recorded on the entry)."""


@dataclass(frozen=True, slots=True)
class Lot:
    """Points granted together: ``remaining`` of ``amount`` are left; spendable from
    ``available_from`` once activated; gone at ``expires_at`` (never when ``None``)."""

    id: int | None
    amount: int
    remaining: int
    available_from: datetime
    expires_at: datetime | None
    pending: bool
    source: str
    """What earned it: ``order:<external id>``, ``action:<kind>``, ``adjust``…"""
    key: str
    """The key of the entry that granted it: names the lot in the keys of its activation
    and expiry (``activate:<key>``), which are known before the lot is stored."""

    def spendable(self, at: datetime) -> bool:
        return not self.pending and self.remaining > 0 and not self.expired(at)

    def expired(self, at: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= at


@dataclass(frozen=True, slots=True)
class Use:
    """Points an entry took from (negative) or gave back to (positive) one lot."""

    lot: int
    """Index of the lot in the member's lots (stored lots first, then the entry's new lot)."""
    points: int


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the append-only ledger, as the pure core produces it."""

    kind: EntryKind
    points: int
    """Change of the balance."""
    pending: int
    """Change of the pending part of the balance."""
    key: str
    """Idempotency key, unique per shop: the same key never makes a second entry."""
    reason: str
    source: str
    uses: tuple[Use, ...] = ()
    creates: int | None = None
    """Index of the lot the entry granted (earn, positive adjustment), if any."""
    written_off: int = 0
    """Points a refund could not take back and forgave (:attr:`RefundPolicy.WRITE_OFF`)."""
    debt: int = 0
    """Change of the member's debt (:attr:`RefundPolicy.DEDUCT_FUTURE`)."""


@dataclass(frozen=True, slots=True)
class Member:
    """A member's points: cached balance, pending part, debt, and lots (ordered by id)."""

    balance: int = 0
    pending: int = 0
    debt: int = 0
    lots: tuple[Lot, ...] = field(default_factory=tuple)

    def available(self, at: datetime) -> int:
        """Points the member can spend at ``at``."""
        return sum(lot.remaining for lot in self.lots if lot.spendable(at))
