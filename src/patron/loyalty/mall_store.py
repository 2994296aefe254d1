"""The points mall in the operational database: rewards by (shop, code), and reservations that
hold a member's points and a reward's units until confirmed (kept), cancelled or expired (given
back). Connection-level: the caller owns the transaction (:mod:`patron.loyalty.mall_service`).

Row locks, in this order everywhere, so that no two transactions wait for each other in a cycle:

1. the member (``SELECT … FOR UPDATE``; :func:`patron.loyalty.points.apply` takes it for every
   change of points). Every change of a reservation's state happens under its member's lock, so
   a state read under it holds until commit, and so does what the member holds of a reward
   (the per-member limit);
2. the member's reservation (closing it updates its row);
3. the reward (``SELECT … FOR UPDATE`` while reserving, an update when units come back): its
   stock, points and visibility.

A transaction over several members (:func:`expire_due`) locks all of them first, in ascending
id order, and only then the rewards, in ascending id order. On SQLite, ``BEGIN IMMEDIATE``
serialises the writers (SQLAlchemy leaves ``FOR UPDATE`` out there).

Points: a reservation spends its points into a ``redeem`` entry keyed ``mall:<key>``; a cancel
or an expiry gives them back to the lots they came from in an entry keyed ``mall:<key>:cancel``
(one key for both: the ledger's unique key makes sure a reservation is released once). Every
operation is idempotent by the caller's key.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, CursorResult, Row, and_, func, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from patron.db import tables as t
from patron.errors import ConflictError, ErrorCode
from patron.intake.rules import MAX_QUANTITY
from patron.intake.sql import insert_for, not_found
from patron.loyalty import ledger
from patron.loyalty.mall import (
    Refusal,
    Reservation,
    Reward,
    RewardKind,
    State,
    detail_dict,
    min_tier_rank,
    parse_detail,
    refusal,
    reservation_key,
    reservation_ttl,
    visible,
    whole,
)
from patron.loyalty.points import Applied, Operation, apply
from patron.loyalty.programme import Programme
from patron.loyalty.store import ensure_member

_rewards = t.loyalty_rewards.c
_reservations = t.loyalty_reservations.c
_members = t.loyalty_members.c
_uses = t.loyalty_lot_uses.c

EXPIRE_BATCH = 200
"""Reservations :func:`expire_due` expires in one transaction."""


@dataclass(frozen=True, slots=True)
class Answer:
    reservation: Reservation
    replayed: bool
    """Nothing changed: the key's operation was done before."""


# --- rewards ----------------------------------------------------------------------------------


def put_reward(connection: Connection, shop_id: int, reward: Reward) -> Reward:
    """Create the shop's reward ``reward.code`` or replace its definition. ``stock`` is the
    units free to reserve from now on: units held by open reservations come back on top of it
    when those are cancelled or expire."""
    values = {
        "kind": str(reward.kind),
        "title_en": reward.title_en,
        "title_zh": reward.title_zh,
        "points": reward.points,
        "stock": reward.stock,
        "per_member_limit": reward.per_member_limit,
        "min_tier": reward.min_tier,
        "visible_from": reward.visible_from,
        "visible_until": reward.visible_until,
        "detail": detail_dict(reward.detail),
        "active": reward.active,
    }
    row = connection.execute(
        insert_for(connection, t.loyalty_rewards)
        .values(shop_id=shop_id, code=reward.code, **values)
        .on_conflict_do_update(index_elements=["shop_id", "code"], set_=values)
        .returning(t.loyalty_rewards)
    ).one()
    return reward_of(row)


def reward_of(row: Row[Any]) -> Reward:
    kind = RewardKind(row.kind)
    return Reward(
        code=row.code,
        kind=kind,
        title_en=row.title_en,
        title_zh=row.title_zh,
        points=row.points,
        detail=parse_detail(kind, row.detail),
        stock=row.stock,
        per_member_limit=row.per_member_limit,
        min_tier=row.min_tier,
        visible_from=row.visible_from,
        visible_until=row.visible_until,
        active=row.active,
    )


def rewards(connection: Connection, shop_id: int) -> list[Reward]:
    """Every reward of the shop, by code."""
    query = select(t.loyalty_rewards).where(_rewards.shop_id == shop_id).order_by(_rewards.code)
    return [reward_of(row) for row in connection.execute(query)]


def offers(
    connection: Connection, shop_id: int, programme: Programme, customer_id: int, now: datetime
) -> list[tuple[Reward, Refusal | None]]:
    """The rewards the customer sees now (one not yet a member has the lowest tier), by code,
    each with why they could not reserve one more unit (``None``: they can)."""
    member = connection.execute(
        select(_members.id, _members.tier).where(
            _members.shop_id == shop_id, _members.customer_id == customer_id
        )
    ).first()
    rank = programme.rank(member.tier) if member else 0
    held = _held(connection, member.id, now) if member else {}
    found: list[tuple[Reward, Refusal | None]] = []
    query = select(t.loyalty_rewards).where(_rewards.shop_id == shop_id).order_by(_rewards.code)
    for row in connection.execute(query):
        reward = reward_of(row)
        min_rank = min_tier_rank(programme, reward)
        if visible(reward, rank, min_rank, now):
            found.append((reward, refusal(reward, rank, min_rank, now, held.get(row.id, 0))))
    return found


# --- reservations -----------------------------------------------------------------------------


def reserve(
    connection: Connection,
    shop_id: int,
    programme: Programme,
    customer_id: int,
    code: str,
    quantity: int,
    key: str,
    now: datetime,
    ttl_seconds: int,
) -> Answer:
    """Reserve ``quantity`` units of reward ``code`` for the customer until ``now +
    ttl_seconds``: the units are taken from the stock and their points spent at once. Refused,
    with nothing changed, when the reward is hidden from the member, out of stock or past the
    member's limit (:class:`~patron.loyalty.mall.Refusal`, checked first), or when the member
    has too few spendable points. ``key`` again answers the reservation it made (as it stands
    now); with another customer, reward or quantity it is refused (``IDEMPOTENCY_KEY_REUSED``).

    Under the member's lock, then the reward's: is the key's reservation made (by a request
    that held the lock first)? may the member have the units? take them from the stock
    (conditional update), spend the points (:func:`patron.loyalty.points.apply` with
    :func:`patron.loyalty.ledger.redeem`, entry ``mall:<key>``), record the reservation."""
    key = reservation_key(key)
    whole(quantity, "quantity", 1, MAX_QUANTITY)
    ttl = reservation_ttl(ttl_seconds)
    by_key = (_reservations.shop_id == shop_id, _reservations.key == key)
    done = _find(connection, *by_key)
    if done is not None:
        return _replay(connection, done, customer_id, code, quantity)
    offered = connection.execute(
        select(_rewards.id).where(_rewards.shop_id == shop_id, _rewards.code == code)
    ).scalar_one_or_none()
    if offered is None:
        raise not_found("reward", code)
    ensure_member(connection, shop_id, customer_id, programme.tiers.levels[0].code, now)
    member = _lock_member(
        connection, _members.shop_id == shop_id, _members.customer_id == customer_id
    )
    done = _find(connection, *by_key)
    if done is not None:
        return _replay(connection, done, customer_id, code, quantity)
    row = connection.execute(
        select(t.loyalty_rewards).where(_rewards.id == offered).with_for_update()
    ).one()
    reward = reward_of(row)
    held = _held(connection, member.id, now, offered).get(offered, 0)
    rank = programme.rank(member.tier)
    refused = refusal(reward, rank, min_tier_rank(programme, reward), now, held, quantity)
    if refused is not None:
        raise refused.error()
    if reward.stock is not None:
        _one(
            connection.execute(
                update(t.loyalty_rewards)
                .where(_rewards.id == offered, _rewards.stock >= quantity)
                .values(stock=_rewards.stock - quantity)
            ),
            "the reward's stock",
        )
    points = reward.points * quantity
    entry_key = f"mall:{key}"
    spend = partial(
        ledger.redeem,
        points=points,
        key=entry_key,
        reason=f"points mall: {quantity} × {code}",
        source="mall",
        at=now,
    )
    detail = {entry_key: {"reward": code, "quantity": quantity}}
    applied = _apply(
        connection, shop_id, programme, customer_id, entry_key, -points, spend, now, details=detail
    )
    # The entry is made only with its reservation, which was looked for under the lock.
    assert not applied.replayed
    connection.execute(
        insert(t.loyalty_reservations).values(
            shop_id=shop_id,
            reward_id=offered,
            member_id=member.id,
            key=key,
            quantity=quantity,
            points=points,
            state=str(State.RESERVED),
            entry_id=applied.entry["id"],
            created_at=now,
            expires_at=now + ttl,
        )
    )
    reservation = Reservation(key, reward, quantity, points, State.RESERVED, now, now + ttl, None)
    return Answer(reservation, replayed=False)


def confirm(connection: Connection, shop_id: int, key: str, now: datetime) -> Answer:
    """Keep a reservation for good (its points stay spent). Confirming it again answers the
    same; refused once it was cancelled or expired, or its time ran out."""
    row = _locked(connection, shop_id, reservation_key(key))
    reservation = _reservation(connection, row)
    if reservation.state is State.CONFIRMED:
        return Answer(reservation, replayed=True)
    if reservation.state is not State.RESERVED:
        raise _refused(reservation, "confirm")
    if now >= reservation.expires_at:
        raise ConflictError(
            f"cannot confirm reservation {row.key!r}: it expired at "
            f"{reservation.expires_at.isoformat()}",
            reason=str(State.EXPIRED),
            key=row.key,
            expires_at=reservation.expires_at.isoformat(),
        )
    _close(connection, row.id, State.CONFIRMED, now)
    return Answer(replace(reservation, state=State.CONFIRMED, closed_at=now), replayed=False)


def cancel(
    connection: Connection, shop_id: int, programme: Programme, key: str, now: datetime
) -> Answer:
    """Release a reservation: its points back to the lots they came from, its units back to
    the stock. Cancelling a cancelled or expired one answers it as it is; a confirmed one is
    refused."""
    row = _locked(connection, shop_id, reservation_key(key))
    reservation = _reservation(connection, row)
    if reservation.state in (State.CANCELLED, State.EXPIRED):
        return Answer(reservation, replayed=True)
    if reservation.state is State.CONFIRMED:
        raise _refused(reservation, "cancel")
    _release(connection, shop_id, programme, row, State.CANCELLED, now)
    _put_back(connection, Counter({row.reward_id: row.quantity}))
    return Answer(replace(reservation, state=State.CANCELLED, closed_at=now), replayed=False)


def expire_due(
    connection: Connection,
    shop_id: int,
    programme: Programme,
    now: datetime,
    *,
    limit: int = EXPIRE_BATCH,
) -> int:
    """Expire up to ``limit`` reservations past their ``expires_at`` (lowest member ids first)
    as :func:`cancel` releases them; returns how many. The daily run calls it in a new
    transaction each time until it returns 0: short transactions hold few members' locks."""
    due = connection.execute(
        select(_reservations.id, _reservations.member_id)
        .where(
            _reservations.shop_id == shop_id,
            _reservations.state == str(State.RESERVED),
            _reservations.expires_at <= now,
        )
        .order_by(_reservations.member_id, _reservations.id)
        .limit(limit)
    ).all()
    for member_id in sorted({each.member_id for each in due}):
        _lock_member(connection, _members.id == member_id)
    units: Counter[int] = Counter()
    expired = 0
    for each in due:
        row = _find(connection, _reservations.id == each.id)
        assert row is not None
        if row.state == State.RESERVED:  # else closed while this run waited for the lock
            _release(connection, shop_id, programme, row, State.EXPIRED, now)
            units[row.reward_id] += row.quantity
            expired += 1
    _put_back(connection, units)
    return expired


# --- internals --------------------------------------------------------------------------------


def _apply(
    connection: Connection,
    shop_id: int,
    programme: Programme,
    customer_id: int,
    key: str,
    points: int,
    operation: Operation,
    now: datetime,
    *,
    details: Mapping[str, Any] | None = None,
    extra_lots: Sequence[int] = (),
) -> Applied:
    return apply(
        connection,
        shop_id,
        customer_id,
        key,
        points,
        operation,
        now=now,
        policy=programme.refund_policy,
        base_tier=programme.tiers.levels[0].code,
        details=details,
        extra_lots=extra_lots,
    )


def _held(
    connection: Connection, member_id: int, now: datetime, reward_id: int | None = None
) -> dict[int, int]:
    """Units the member holds by reward: confirmed, or reserved and not lapsed (a lapsed
    reservation can no longer be confirmed, so it does not count against the limit)."""
    live = or_(
        _reservations.state == str(State.CONFIRMED),
        and_(_reservations.state == str(State.RESERVED), _reservations.expires_at > now),
    )
    query = (
        select(_reservations.reward_id, func.sum(_reservations.quantity))
        .where(_reservations.member_id == member_id, live)
        .group_by(_reservations.reward_id)
    )
    if reward_id is not None:
        query = query.where(_reservations.reward_id == reward_id)
    return {int(reward): int(units) for reward, units in connection.execute(query)}


def _find(connection: Connection, *conditions: ColumnElement[bool]) -> Row[Any] | None:
    """A reservation with its member's customer id."""
    return connection.execute(
        select(t.loyalty_reservations, _members.customer_id)
        .join(t.loyalty_members, _members.id == _reservations.member_id)
        .where(*conditions)
    ).first()


def _lock_member(connection: Connection, *where: ColumnElement[bool]) -> Row[int, str]:
    """The member's id and tier, their row locked until commit."""
    return connection.execute(
        select(_members.id, _members.tier).where(*where).with_for_update()
    ).one()


def _locked(connection: Connection, shop_id: int, key: str) -> Row[Any]:
    """The reservation of ``key``, read again once its member is locked: its state then holds
    until commit."""
    where = (_reservations.shop_id == shop_id, _reservations.key == key)
    found = _find(connection, *where)
    if found is None:
        raise not_found("reservation", key)
    _lock_member(connection, _members.id == found.member_id)
    row = _find(connection, *where)
    assert row is not None
    return row


def _reservation(connection: Connection, row: Row[Any]) -> Reservation:
    reward = connection.execute(select(t.loyalty_rewards).where(_rewards.id == row.reward_id)).one()
    return Reservation(
        row.key,
        reward_of(reward),
        row.quantity,
        row.points,
        State(row.state),
        row.created_at,
        row.expires_at,
        row.closed_at,
    )


def _replay(
    connection: Connection, row: Row[Any], customer_id: int, code: str, quantity: int
) -> Answer:
    reservation = _reservation(connection, row)
    if (row.customer_id, reservation.reward.code, row.quantity) != (customer_id, code, quantity):
        raise ConflictError(
            f"key {row.key!r} was already used for another reservation",
            code=ErrorCode.IDEMPOTENCY_KEY_REUSED,
            key=row.key,
        )
    return Answer(reservation, replayed=True)


def _refused(reservation: Reservation, action: str) -> ConflictError:
    closed = reservation.closed_at.isoformat() if reservation.closed_at else None
    return ConflictError(
        f"cannot {action} reservation {reservation.key!r}: it was {reservation.state} at {closed}",
        reason=str(reservation.state),
        key=reservation.key,
        closed_at=closed,
    )


def _release(
    connection: Connection,
    shop_id: int,
    programme: Programme,
    row: Row[Any],
    state: State,
    now: datetime,
) -> None:
    """Give the reservation's points back to the lots its entry took them from (lots that
    expired meanwhile expire them at once) and close it as ``state``."""
    taken = connection.execute(
        select(_uses.lot_id, _uses.points)
        .where(_uses.entry_id == row.entry_id)
        .order_by(_uses.lot_id)
    ).all()
    uses = [(int(lot), -int(points)) for lot, points in taken]
    entry_key = f"mall:{row.key}:cancel"
    give = partial(
        ledger.give_back,
        uses=uses,
        key=entry_key,
        reason=f"reservation {state}",
        source="mall",
        at=now,
    )
    lots = [lot for lot, _ in uses]
    _apply(
        connection,
        shop_id,
        programme,
        row.customer_id,
        entry_key,
        row.points,
        give,
        now,
        extra_lots=lots,
    )
    _close(connection, row.id, state, now)


def _close(connection: Connection, reservation_id: int, state: State, now: datetime) -> None:
    _one(
        connection.execute(
            update(t.loyalty_reservations)
            .where(
                _reservations.id == reservation_id,
                _reservations.state == str(State.RESERVED),
            )
            .values(state=str(state), closed_at=now)
        ),
        "the reservation",
    )


def _put_back(connection: Connection, units: Mapping[int, int]) -> None:
    """Units back to the stock of limited rewards, in ascending reward id order."""
    for reward_id in sorted(units):
        connection.execute(
            update(t.loyalty_rewards)
            .where(_rewards.id == reward_id, _rewards.stock.is_not(None))
            .values(stock=_rewards.stock + units[reward_id])
        )


def _one(result: CursorResult[Any], what: str) -> None:
    """A conditional update under its row's lock changes exactly one row; anything else means
    some writer skipped the lock order, and the transaction must not go on."""
    if result.rowcount != 1:
        raise RuntimeError(f"{what} changed under its row lock")
