"""Points for what members do besides buying: sign-in, reviews, shares, tasks, birthdays and
referrals. Reads what the caps depend on (grants so far this day, month and year) under the
member's row lock, asks :mod:`patron.loyalty.earn` for the award, and returns the grant.

Grants of actions are spendable at once and expire like every other point. Their sources are
``action:<action>`` (``task:<code>`` for tasks), which is what the caps count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from patron.db import tables as t
from patron.errors import InputError
from patron.loyalty import calendar, earn
from patron.loyalty.earn import NO_USAGE, Action, Award, Usage
from patron.loyalty.ledger import Grant
from patron.loyalty.programme import Programme
from patron.loyalty.store import Account

_entries = t.loyalty_entries.c


@dataclass(frozen=True, slots=True)
class ActionInput:
    """An action to reward. ``ref`` identifies it (review id, share id, task occurrence)."""

    action: Action
    ref: str | None = None
    task: str | None = None
    text: str = ""
    has_photo: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    award: Award
    source: str
    signin: earn.SignIn | None = None


def source_of(request: ActionInput) -> str:
    if request.action is Action.TASK:
        return f"task:{request.task}"
    return f"action:{request.action}"


def earned_in_year(connection: Connection, member_id: int, programme: Programme, year: int) -> int:
    """Points the member earned in the programme's local calendar ``year`` (the yearly cap)."""
    start, end = calendar.year_bounds(programme, year)
    return int(
        connection.execute(
            select(func.coalesce(func.sum(_entries.points), 0)).where(
                _entries.member_id == member_id,
                _entries.kind == "earn",
                _entries.created_at >= start,
                _entries.created_at < end,
            )
        ).scalar_one()
    )


def usage(
    connection: Connection, member_id: int, programme: Programme, source: str, at: datetime
) -> Usage:
    """Grants from ``source`` in the local day and month of ``at``: how many, how many points."""
    today = calendar.local_date(programme, at)
    day_start, day_end = calendar.day_bounds(programme, today)
    month_start, month_end = calendar.month_bounds(programme, today)
    in_day = (_entries.created_at >= day_start) & (_entries.created_at < day_end)
    row = connection.execute(
        select(
            func.count().filter(in_day),
            func.coalesce(func.sum(_entries.points).filter(in_day), 0),
            func.count(),
            func.coalesce(func.sum(_entries.points), 0),
        ).where(
            _entries.member_id == member_id,
            _entries.kind == "earn",
            _entries.source == source,
            _entries.created_at >= month_start,
            _entries.created_at < month_end,
        )
    ).one()
    return Usage(*(int(value) for value in row))


def _caps(programme: Programme, request: ActionInput) -> bool:
    """Whether the action's rule has caps by day or month (else its usage is not read)."""
    rules = programme.earn
    rule: Any = {
        Action.REVIEW: rules.review,
        Action.SHARE: rules.share,
    }.get(request.action)
    if request.action is Action.TASK and request.task:
        rule = rules.task(request.task)
    caps = getattr(rule, "caps", None)
    return caps is not None and any(
        value is not None
        for value in (caps.day_count, caps.day_points, caps.month_count, caps.month_points)
    )


def decide(
    connection: Connection,
    programme: Programme,
    account: Account,
    request: ActionInput,
    birth_date: date | None,
    at: datetime,
) -> Decision:
    """The award of ``request`` for the member, caps and yearly cap applied."""
    year = calendar.local_date(programme, at).year
    earned = (
        earned_in_year(connection, account.id, programme, year)
        if programme.earn.yearly_cap is not None
        else 0
    )
    source = source_of(request)
    if request.action is Action.SIGNIN:
        done = earn.sign_in(
            programme,
            at,
            last_day=account.row.signin_date,
            streak=account.row.signin_streak,
            earned_this_year=earned,
        )
        return Decision(done.award, source, done)
    if request.action is Action.BIRTHDAY:
        if birth_date is None:
            raise InputError("the customer's birth date is not known", field="birth_date")
        award = earn.birthday_points(
            programme, account.tier, birth_date, at, earned_this_year=earned
        )
        return Decision(award, source)
    caps = _caps(programme, request)
    used = usage(connection, account.id, programme, source, at) if caps else NO_USAGE
    if request.action is Action.TASK:
        if not request.task:
            raise InputError("a task action needs the task's code", field="task")
        award = earn.task_points(
            programme, request.task, _ref(request), at, usage=used, earned_this_year=earned
        )
    elif request.action is Action.REVIEW:
        award = earn.review_points(
            programme,
            _ref(request),
            request.text,
            request.has_photo,
            usage=used,
            earned_this_year=earned,
        )
    elif request.action is Action.SHARE:
        award = earn.share_points(programme, _ref(request), usage=used, earned_this_year=earned)
    else:
        raise InputError(
            "referral points are granted by the programme once the referred customer's first "
            "order passes its return window: record the referral instead",
            field="action",
        )
    return Decision(award, source)


def _ref(request: ActionInput) -> str:
    ref = (request.ref or "").strip()
    if not ref or len(ref) > 120:
        raise InputError(
            f"a {request.action} action needs a ref of 1 to 120 characters identifying it",
            field="ref",
        )
    return ref


def grant_of(programme: Programme, award: Award, key: str, source: str, at: datetime) -> Grant:
    """The lot of an action's award: spendable at once, expiring by the programme's policy."""
    return Grant(
        award.points,
        key,
        str(award.action),
        source,
        at,
        calendar.expires_at(programme, at),
    )
