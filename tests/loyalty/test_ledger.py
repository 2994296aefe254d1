"""The pure points ledger: hand-computed cases and a state machine keeping every invariant."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from patron.errors import ConflictError, ErrorCode, InputError
from patron.loyalty.ledger import (
    Grant,
    Posting,
    adjust,
    earn,
    give_back,
    redeem,
    refund_share,
    reverse,
    settle,
)
from patron.loyalty.model import Entry, EntryKind, Member, RefundPolicy

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def stored(posting: Posting, next_id: int = 1) -> Member:
    """The member as the service stores it: new lots get ids."""
    lots = [
        lot if lot.id is not None else replace(lot, id=next_id + index)
        for index, lot in enumerate(posting.member.lots)
    ]
    return replace(posting.member, lots=tuple(lots))


def grant(
    points: int,
    key: str,
    *,
    source: str = "order:1",
    pending_days: int = 0,
    expires_days: int | None = 365,
    at: datetime = T0,
) -> Grant:
    expires = at + timedelta(days=expires_days) if expires_days is not None else None
    return Grant(points, key, "order", source, at + timedelta(days=pending_days), expires)


def check(member: Member, entries: list[Entry]) -> None:
    assert member.balance == sum(e.points for e in entries)
    assert member.pending == sum(e.pending for e in entries)
    assert member.debt == sum(e.debt for e in entries)
    assert max(member.balance, 0) == sum(lot.remaining for lot in member.lots)
    assert member.pending == sum(lot.remaining for lot in member.lots if lot.pending)
    assert all(0 <= lot.remaining <= lot.amount for lot in member.lots)
    assert len({e.key for e in entries}) == len(entries)


def test_pending_points_activate_at_the_end_of_the_return_window() -> None:
    earned = earn(Member(), grant(100, "o1", pending_days=15), T0)
    member = stored(earned)
    assert (member.balance, member.pending, member.available(T0)) == (100, 100, 0)
    with pytest.raises(ConflictError) as refused:
        redeem(member, 10, "r1", "mall", "reward:1", T0 + 14 * DAY)
    assert refused.value.code == ErrorCode.POINTS_INSUFFICIENT
    assert refused.value.details == {"wanted": 10, "available": 0}
    settled = settle(member, T0 + 15 * DAY)
    assert [(e.kind, e.points, e.pending, e.key) for e in settled.entries] == [
        (EntryKind.ACTIVATE, 0, -100, "activate:o1")
    ]
    assert (settled.member.pending, settled.member.available(T0 + 15 * DAY)) == (0, 100)


def test_redemption_spends_the_soonest_expiring_lots_first() -> None:
    member = stored(earn(Member(), grant(100, "a", expires_days=300), T0))
    member = stored(earn(member, grant(50, "b", expires_days=100), T0), 2)
    member = stored(earn(member, grant(30, "c", expires_days=None), T0), 3)
    spent = redeem(member, 120, "r", "mall", "reward:1", T0 + DAY)
    (entry,) = spent.entries
    # Lot 2 (expires day 100) first, then lot 1 (day 300); the lot that never expires is kept.
    assert [(u.lot, u.points) for u in entry.uses] == [(1, -50), (0, -70)]
    assert [lot.remaining for lot in spent.member.lots] == [30, 0, 30]
    assert spent.member.balance == 60


def test_expiry_takes_what_is_left_of_a_lot() -> None:
    member = stored(earn(Member(), grant(100, "a", expires_days=30), T0))
    member = stored(redeem(member, 40, "r", "mall", "reward:1", T0 + DAY))
    settled = settle(member, T0 + 30 * DAY)
    assert [(e.kind, e.points, e.key) for e in settled.entries] == [
        (EntryKind.EXPIRE, -60, "expire:a")
    ]
    assert settled.member.balance == 0
    # An operation at or after expiry settles first: the points are never spendable.
    with pytest.raises(ConflictError):
        redeem(member, 1, "r2", "mall", "reward:1", T0 + 30 * DAY)


@pytest.mark.parametrize(
    ("policy", "balance", "debt", "written_off"),
    [
        (RefundPolicy.NEGATIVE_BALANCE, -70, 0, 0),
        (RefundPolicy.DEDUCT_FUTURE, 0, 70, 0),
        (RefundPolicy.WRITE_OFF, 0, 0, 70),
    ],
)
def test_a_refund_of_spent_points_follows_the_policy(
    policy: RefundPolicy, balance: int, debt: int, written_off: int
) -> None:
    member = stored(earn(Member(), grant(100, "o1"), T0))
    member = stored(redeem(member, 70, "r", "mall", "reward:1", T0 + DAY))
    taken = reverse(member, 100, "o1:refund", "refund", "order:1", T0 + 2 * DAY, policy)
    (entry,) = taken.entries
    assert (taken.member.balance, taken.member.debt, entry.written_off) == (
        balance,
        debt,
        written_off,
    )
    # 30 points were left to take back, 70 were spent. The next 100 points pay what is owed
    # first (nothing under write-off).
    after = earn(stored(taken), grant(100, "o2", source="order:2"), T0 + 3 * DAY)
    assert after.member.balance == 100 - 70 * (policy is not RefundPolicy.WRITE_OFF)
    assert after.member.debt == 0
    assert after.member.lots[-1].remaining == after.member.balance


def test_a_refund_takes_the_orders_own_lot_first() -> None:
    member = stored(earn(Member(), grant(100, "o1", source="order:1", expires_days=10), T0))
    member = stored(earn(member, grant(80, "o2", source="order:2", expires_days=500), T0), 2)
    taken = reverse(member, 50, "o2:refund", "refund", "order:2", T0 + DAY, RefundPolicy.WRITE_OFF)
    assert [lot.remaining for lot in taken.member.lots] == [100, 30]


def test_give_back_restores_the_lots_and_expires_what_is_past_expiry() -> None:
    member = stored(earn(Member(), grant(100, "a", expires_days=10), T0))
    member = stored(redeem(member, 60, "r", "mall", "reward:1", T0 + DAY))
    back = give_back(member, [(1, 60)], "r:cancel", "cancelled", "reward:1", T0 + 2 * DAY)
    assert back.member.lots[0].remaining == 100
    late = give_back(member, [(1, 60)], "r:cancel", "cancelled", "reward:1", T0 + 20 * DAY)
    assert [(e.kind, e.points) for e in late.entries] == [
        (EntryKind.EXPIRE, -40),
        (EntryKind.REVERSE, 60),
        (EntryKind.EXPIRE, -60),
    ]
    assert late.member.balance == 0


def test_adjustments_need_a_reason_and_cannot_overdraw() -> None:
    member = stored(earn(Member(), grant(10, "a"), T0))
    with pytest.raises(InputError, match="reason"):
        adjust(member, 5, Grant(5, "adj", " ", "adjust", T0, None), T0)
    with pytest.raises(ConflictError):
        adjust(member, -11, Grant(0, "adj", "typo", "adjust", T0, None), T0)
    down = adjust(member, -10, Grant(0, "adj", "typo", "adjust", T0, None), T0)
    assert down.member.balance == 0


@pytest.mark.parametrize(
    ("refunds", "expected"),
    [([3333, 3333, 3334], [33, 33, 34]), ([5000, 5000], [50, 50]), ([10_000], [100])],
)
def test_partial_refunds_take_back_exactly_the_lines_points(
    refunds: list[int], expected: list[int]
) -> None:
    # A line of 100.00 that earned 100 points, refunded in parts.
    done, taken = 0, []
    for amount in refunds:
        before = refund_share(100, 10_000, done)
        done += amount
        taken.append(refund_share(100, 10_000, done) - before)
    assert taken == expected


class LedgerMachine(RuleBasedStateMachine):
    """Random operations and clock moves; every invariant holds after each step."""

    def __init__(self) -> None:
        super().__init__()
        self.member = Member()
        self.entries: list[Entry] = []
        self.at = T0
        self.next_id = 1
        self.serial = 0
        self.redemptions: list[tuple[str, tuple[tuple[int, int], ...]]] = []

    def _apply(self, posting: Posting) -> None:
        self.member = stored(posting, self.next_id)
        self.next_id = max((lot.id or 0) for lot in self.member.lots) + 1 if self.member.lots else 1
        self.entries.extend(posting.entries)

    def _key(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}:{self.serial}"

    @rule(
        points=st.integers(1, 500),
        pending=st.integers(0, 20),
        expires=st.one_of(st.none(), st.integers(1, 60)),
        source=st.sampled_from(["order:1", "order:2", "order:3", "action:signin"]),
    )
    def earn(self, points: int, pending: int, expires: int | None, source: str) -> None:
        g = grant(
            points,
            self._key("earn"),
            source=source,
            pending_days=pending,
            expires_days=expires,
            at=self.at,
        )
        self._apply(earn(self.member, g, self.at))

    @rule(points=st.integers(1, 600))
    def redeem(self, points: int) -> None:
        key = self._key("redeem")
        try:
            posting = redeem(self.member, points, key, "mall", "reward:1", self.at)
        except ConflictError:
            assert settle(self.member, self.at).member.available(self.at) < points
            return
        ids = self._lot_ids(posting)
        self._apply(posting)
        (spent,) = [e for e in posting.entries if e.kind is EntryKind.REDEEM]
        self.redemptions.append((key, tuple((ids[u.lot], -u.points) for u in spent.uses)))

    def _lot_ids(self, posting: Posting) -> list[int]:
        return [lot.id or 0 for lot in posting.member.lots]

    @rule(
        points=st.integers(1, 600),
        source=st.sampled_from(["order:1", "order:2", "order:3"]),
        policy=st.sampled_from(list(RefundPolicy)),
    )
    def refund(self, points: int, source: str, policy: RefundPolicy) -> None:
        before = self.member
        posting = reverse(
            self.member, points, self._key("refund"), "refund", source, self.at, policy
        )
        self._apply(posting)
        (entry,) = [e for e in posting.entries if e.kind is EntryKind.REVERSE]
        if policy is RefundPolicy.NEGATIVE_BALANCE:
            assert entry.points == -points
        else:
            assert -entry.points + entry.debt + entry.written_off == points
        assert self.member.balance <= before.balance

    @precondition(lambda self: self.redemptions)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        index = data.draw(st.integers(0, len(self.redemptions) - 1))
        key, uses = self.redemptions.pop(index)
        self._apply(give_back(self.member, uses, f"{key}:cancel", "cancel", "reward:1", self.at))

    @rule(points=st.integers(-300, 300).filter(bool))
    def adjust(self, points: int) -> None:
        g = Grant(points, self._key("adjust"), "correction", "adjust", self.at, None)
        try:
            self._apply(adjust(self.member, points, g, self.at))
        except ConflictError:
            assert points < 0

    @rule(days=st.integers(0, 40))
    def wait(self, days: int) -> None:
        self.at += timedelta(days=days, hours=1)
        self._apply(settle(self.member, self.at))

    @invariant()
    def balances_add_up(self) -> None:
        check(self.member, self.entries)
        assert self.member.balance >= 0 or any(
            e.kind is EntryKind.REVERSE and e.points < 0 for e in self.entries
        )


TestLedgerMachine = LedgerMachine.TestCase
TestLedgerMachine.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
