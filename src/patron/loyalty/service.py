"""The loyalty facade: the programme, members' points and tiers, one transaction per write.

Each write loads what it needs, calls the pure core (:mod:`earn`, :mod:`ledger`,
:mod:`tiers`), and stores the result under the member's row lock (:mod:`points`). Every
write is idempotent by its ledger key: an order's points are keyed by the order, a refund's
reversal by the refund, an action by what it rewards, a redemption or adjustment by the
caller's key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update

from patron.clock import Clock
from patron.db import tables as t
from patron.db.engine import reader
from patron.errors import ConfigError, ConflictError, ErrorCode, InputError, NotFoundError
from patron.intake.sql import insert_for, not_found, shop_by_id
from patron.loyalty import calendar, earn, ledger, tiers
from patron.loyalty.actions import ActionInput, decide, earned_in_year, grant_of
from patron.loyalty.backfill import Backfilled, Progress, backfill
from patron.loyalty.daily import DailyRun, run_daily
from patron.loyalty.daily import Progress as DailyProgress
from patron.loyalty.ledger import Grant
from patron.loyalty.order_facts import (
    PURCHASE_STATUSES,
    PaidOrder,
    earn_detail,
    first_purchase,
    fully_refunded,
    is_first_purchase,
    load_order,
    qualifying_facts,
    refund_points,
)
from patron.loyalty.points import Applied, Operation, apply
from patron.loyalty.programme import Programme, parse_programme, to_dict
from patron.loyalty.report import LoyaltyReport, loyalty_report
from patron.loyalty.store import Account, ensure_member, find_entry, lock_customer, lock_member
from patron.pagination import DEFAULT_LIMIT, Page, check_limit, decode_cursor, page_of

_members = t.loyalty_members.c
_entries = t.loyalty_entries.c
_VERSION = select(func.max(t.loyalty_programmes.c.version)).where(
    t.loyalty_programmes.c.shop_id == bindparam("shop_id")
)


@dataclass(frozen=True, slots=True)
class Result:
    """A write's answer: the entry of its key (``None`` when nothing was due) and the member
    afterwards."""

    entry: dict[str, Any] | None
    member: dict[str, Any]
    replayed: bool = False
    award: dict[str, Any] | None = None
    """For an action: the rule's points, what was granted and why less (``held``)."""


@dataclass(frozen=True, slots=True)
class OrderCredit:
    """What crediting an order did: its points, the refunds taken back, the tier."""

    order: str
    status: str
    earned: int
    reversed: int
    member: dict[str, Any] | None


class LoyaltyService:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self._programmes: dict[tuple[int, int], Programme] = {}

    @contextmanager
    def _writing(self, transaction: Connection | None) -> Iterator[Connection]:
        """The caller's ``transaction`` (the API's, with its idempotency record and audit
        entry), or one of the write's own."""
        if transaction is not None:
            yield transaction
            return
        with self.engine.begin() as own:
            yield own

    # --- the programme ------------------------------------------------------------------

    def has_programme(self, shop_id: int) -> bool:
        with reader(self.engine).connect() as connection:
            return connection.execute(_VERSION, {"shop_id": shop_id}).scalar() is not None

    def set_programme(
        self, shop_id: int, document: Mapping[str, Any], *, transaction: Connection | None = None
    ) -> Programme:
        """Validate ``document`` and make it the shop's programme: a new version when it
        differs from the one in force (its ``version`` is set to the next number)."""
        with self._writing(transaction) as connection:
            shop = shop_by_id(connection, shop_id)
            current = self._stored_programme(connection, shop_id)
            version = current.version + 1 if current is not None else 1
            programme = parse_programme({**document, "version": version}, "programme")
            if programme.currency != shop.currency:
                raise ConfigError(
                    f"programme: currency: the shop {shop.name!r} trades in {shop.currency}, "
                    f"not {programme.currency}",
                    field="currency",
                )
            same = {**to_dict(programme), "version": version - 1}
            if current is not None and to_dict(current) == same:
                return current
            connection.execute(
                insert(t.loyalty_programmes).values(
                    shop_id=shop_id,
                    version=version,
                    document=to_dict(programme),
                    created_at=self.clock.now(),
                )
            )
            return programme

    def programme(self, shop_id: int) -> Programme:
        with reader(self.engine).connect() as connection:
            return self.programme_in(connection, shop_id)

    def _stored_programme(self, connection: Connection, shop_id: int) -> Programme | None:
        """The programme in force. Only its version is read each time: a version never
        changes once stored, so its parsed document is kept per (shop, version)."""
        p = t.loyalty_programmes.c
        version = connection.execute(_VERSION, {"shop_id": shop_id}).scalar_one_or_none()
        if version is None:
            return None
        cached = self._programmes.get((shop_id, version))
        if cached is None:
            document = connection.execute(
                select(p.document).where(p.shop_id == shop_id, p.version == version)
            ).scalar_one()
            cached = parse_programme(document, f"programme v{version}")
            self._programmes[(shop_id, version)] = cached
        return cached

    def programme_in(self, connection: Connection, shop_id: int) -> Programme:
        """The programme in force, read in the caller's transaction."""
        programme = self._stored_programme(connection, shop_id)
        if programme is None:
            raise NotFoundError(
                "the shop has no loyalty programme yet: set one with "
                "`patron loyalty programme set FILE` or PUT /v1/loyalty/programme",
                code=ErrorCode.NOT_FOUND,
                object="programme",
            )
        return programme

    # --- orders -------------------------------------------------------------------------

    def credit_order(
        self, shop_id: int, external_id: str, *, transaction: Connection | None = None
    ) -> OrderCredit:
        """Bring the ledger in line with the order as stored: its points once paid, the
        points of its refunds taken back, all of them when cancelled; then the member's tier
        (an upgrade is immediate). Safe to call on every change of the order."""
        now = self.clock.now()
        with self._writing(transaction) as connection:
            programme = self.programme_in(connection, shop_id)
            order = load_order(connection, shop_id, external_id)
            if order.status not in (*PURCHASE_STATUSES, "cancelled"):
                return OrderCredit(external_id, order.status, 0, 0, None)
            earned = self._earn_order(connection, shop_id, programme, order, now)
            taken = self._take_back(connection, shop_id, programme, order, now)
            account = self._retier(connection, shop_id, programme, order.customer_id, now)
            member = self._member_json(connection, programme, account, now) if account else None
        return OrderCredit(external_id, order.status, earned, taken, member)

    def _earn_order(
        self,
        connection: Connection,
        shop_id: int,
        programme: Programme,
        order: PaidOrder,
        now: datetime,
    ) -> int:
        key = f"order:{order.id}"
        if order.status == "cancelled" and find_entry(connection, shop_id, key) is None:
            return 0  # cancelled before it earned: nothing to do, nobody to enrol
        base = programme.tiers.levels[0].code
        ensure_member(connection, shop_id, order.customer_id, base, now)
        account = lock_member(connection, shop_id, order.customer_id)
        assert account is not None
        year = calendar.local_date(programme, order.paid_at).year
        points = earn.order_points(
            programme,
            order.lines,
            account.tier,
            is_first_purchase(connection, shop_id, order),
            earned_this_year=earned_in_year(connection, account.id, programme, year),
        )
        if points.total == 0:
            return 0
        grant = Grant(
            points.total,
            key,
            "order paid",
            order.source,
            calendar.available_from(programme, order.paid_at),
            calendar.expires_at(programme, order.paid_at),
        )
        detail = earn_detail(order, points)
        applied = self._apply(
            connection,
            shop_id,
            programme,
            order.customer_id,
            key,
            None,
            lambda member: ledger.earn(member, grant, now),
            now,
            {key: detail},
        )
        return 0 if applied.replayed else points.total

    def _take_back(
        self,
        connection: Connection,
        shop_id: int,
        programme: Programme,
        order: PaidOrder,
        now: datetime,
    ) -> int:
        earned = connection.execute(
            select(_entries.detail, _entries.points).where(
                _entries.shop_id == shop_id, _entries.key == f"order:{order.id}"
            )
        ).first()
        if earned is None:
            return 0
        lines = {line["line_id"]: line["points"] for line in earned.detail["lines"]}
        dues: list[tuple[str, int, str]] = [
            (f"refund:{refund.id}", points, "refund")
            for refund, points in refund_points(order, lines)
        ]
        bonus = int(earned.detail["bonus"])
        if bonus and (order.status == "cancelled" or fully_refunded(order)):
            dues.append((f"order:{order.id}:bonus", bonus, "first-order bonus returned"))
        if order.status == "cancelled":
            rest = sum(lines.values()) - sum(p for k, p, _ in dues if k.startswith("refund:"))
            dues.append((f"order:{order.id}:cancel", rest, "order cancelled"))
        taken = 0
        for key, points, reason in dues:
            if points <= 0:
                continue
            applied = self._apply(
                connection,
                shop_id,
                programme,
                order.customer_id,
                key,
                None,
                partial(
                    ledger.reverse,
                    points=points,
                    key=key,
                    reason=reason,
                    source=order.source,
                    at=now,
                    policy=programme.refund_policy,
                ),
                now,
            )
            taken += 0 if applied.replayed else points
        return taken

    # --- points -------------------------------------------------------------------------

    def redeem(
        self,
        shop_id: int,
        customer: str,
        points: int,
        key: str,
        reason: str,
        *,
        transaction: Connection | None = None,
    ) -> Result:
        """Spend ``points`` (soonest-expiring first); ``key`` makes a retry a replay."""
        now = self.clock.now()
        entry_key = _caller_key("redeem", key)
        with self._writing(transaction) as connection:
            programme = self.programme_in(connection, shop_id)
            account = self._lock(connection, shop_id, programme, customer, now)
            applied = self._apply(
                connection,
                shop_id,
                programme,
                account.customer_id,
                entry_key,
                -points,
                lambda member: ledger.redeem(member, points, entry_key, reason, "redeem", now),
                now,
                locked=account,
            )
            return self._result(connection, programme, applied, now)

    def adjust(
        self,
        shop_id: int,
        customer: str,
        points: int,
        reason: str,
        key: str,
        operator: str,
        *,
        transaction: Connection | None = None,
    ) -> Result:
        """A manual correction with a reason; the operator is recorded on the entry."""
        now = self.clock.now()
        entry_key = _caller_key("adjust", key)
        with self._writing(transaction) as connection:
            programme = self.programme_in(connection, shop_id)
            account = self._lock(connection, shop_id, programme, customer, now)
            grant = Grant(
                points, entry_key, reason, "adjust", now, calendar.expires_at(programme, now)
            )
            applied = self._apply(
                connection,
                shop_id,
                programme,
                account.customer_id,
                entry_key,
                points,
                lambda member: ledger.adjust(member, points, grant, now),
                now,
                {entry_key: {"operator": operator}},
                locked=account,
            )
            return self._result(connection, programme, applied, now)

    # --- actions and referrals ----------------------------------------------------------

    def earn_action(
        self,
        shop_id: int,
        customer: str,
        request: ActionInput,
        *,
        transaction: Connection | None = None,
    ) -> Result:
        """Points for a sign-in, review, share, task or birthday, within the rule's caps; a
        retry of the same action (same day, review, share, occurrence, year) is a replay."""
        now = self.clock.now()
        with self._writing(transaction) as connection:
            programme = self.programme_in(connection, shop_id)
            account = self._lock(connection, shop_id, programme, customer, now)
            decision = decide(connection, programme, account, request, account.row.birth_date, now)
            award = decision.award
            key = f"m{account.id}:{award.key}"
            summary = {
                "action": str(award.action),
                "rule_points": award.rule_points,
                "points": award.points,
                "held": str(award.held) if award.held else None,
            }
            if award.points == 0 and find_entry(connection, shop_id, key) is None:
                member = self._member_json(connection, programme, account, now)
                return Result(None, member, award=summary)
            grant = grant_of(programme, award, key, decision.source, now)
            applied = self._apply(
                connection,
                shop_id,
                programme,
                account.customer_id,
                key,
                None,  # a retry may meet a cap its first attempt filled: replay it anyway
                lambda member: ledger.earn(member, grant, now),
                now,
                locked=account,
            )
            if decision.signin is not None and not applied.replayed:
                connection.execute(
                    update(t.loyalty_members)
                    .where(_members.id == account.id)
                    .values(signin_date=decision.signin.day, signin_streak=decision.signin.streak)
                )
            result = self._result(connection, programme, applied, now)
            return Result(result.entry, result.member, result.replayed, summary)

    def refer(
        self, shop_id: int, referrer: str, referred: str, *, transaction: Connection | None = None
    ) -> dict[str, Any]:
        """Record that ``referrer`` brought ``referred``. A customer is referred once: the
        same referral again is answered as before, another referrer is refused."""
        if referrer == referred:
            raise InputError("a customer cannot refer themselves", field="referred")
        now = self.clock.now()
        r = t.loyalty_referrals.c
        with self._writing(transaction) as connection:
            referrer_id = self.customer_id(connection, shop_id, referrer)
            referred_id = self.customer_id(connection, shop_id, referred)
            connection.execute(
                insert_for(connection, t.loyalty_referrals)
                .values(
                    shop_id=shop_id,
                    referrer_id=referrer_id,
                    referred_id=referred_id,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["shop_id", "referred_id"])
            )
            row = connection.execute(
                select(t.loyalty_referrals).where(
                    r.shop_id == shop_id, r.referred_id == referred_id
                )
            ).one()
        if row.referrer_id != referrer_id:
            raise ConflictError(
                f"customer {referred!r} was already referred by another customer",
                field="referred",
            )
        return {
            "referrer": referrer,
            "referred": referred,
            "created_at": row.created_at.isoformat(),
            "granted_at": row.granted_at.isoformat() if row.granted_at else None,
        }

    def grant_referrals(self, shop_id: int) -> int:
        """Grant the referrals whose referred customer's first order has passed its return
        window without being returned in full; returns how many were granted."""
        now = self.clock.now()
        r = t.loyalty_referrals.c
        with reader(self.engine).connect() as connection:
            waiting = connection.execute(
                select(r.id, r.referrer_id, r.referred_id)
                .where(r.shop_id == shop_id, r.granted_at.is_(None))
                .order_by(r.id)
            ).all()
        granted = 0
        for referral in waiting:
            with self.engine.begin() as connection:
                programme = self.programme_in(connection, shop_id)
                if self._grant_referral(connection, shop_id, programme, referral, now):
                    granted += 1
        return granted

    def _grant_referral(
        self,
        connection: Connection,
        shop_id: int,
        programme: Programme,
        referral: Any,
        now: datetime,
    ) -> bool:
        first = first_purchase(connection, shop_id, referral.referred_id)
        if first is None:
            return False
        order = load_order(connection, shop_id, first)
        if fully_refunded(order):
            return False
        base = programme.tiers.levels[0].code
        members = sorted((referral.referrer_id, referral.referred_id))
        for customer_id in members:  # enrolled, then locked in id order: no deadlock
            ensure_member(connection, shop_id, customer_id, base, now)
        accounts = {c: lock_member(connection, shop_id, c) for c in members}
        year = calendar.local_date(programme, now).year
        earned = {
            c: earned_in_year(connection, a.id, programme, year)
            for c, a in accounts.items()
            if a is not None
        }
        due = earn.referral_points(
            programme,
            str(referral.referred_id),
            order.paid_at,
            now,
            referrer_earned_this_year=earned[referral.referrer_id],
            referred_earned_this_year=earned[referral.referred_id],
        )
        if now < due.due_at:
            return False
        for customer_id, award in (
            (referral.referrer_id, due.referrer),
            (referral.referred_id, due.referred),
        ):
            if award.points > 0:
                grant = grant_of(programme, award, award.key, "action:referral", now)
                self._apply(
                    connection,
                    shop_id,
                    programme,
                    customer_id,
                    award.key,
                    award.points,
                    partial(ledger.earn, grant=grant, at=now),
                    now,
                )
        connection.execute(
            update(t.loyalty_referrals)
            .where(t.loyalty_referrals.c.id == referral.id)
            .values(granted_at=now)
        )
        return True

    # --- the daily run ------------------------------------------------------------------

    def run_daily(
        self, shop_id: int, day: date | None = None, progress: DailyProgress | None = None
    ) -> DailyRun:
        """The programme's daily run for local ``day`` (default: today): activations, tiers,
        expiries and the events of :mod:`patron.loyalty.daily`; then the referrals that came
        due. Safe to run again for the same day."""
        programme = self.programme(shop_id)
        done = run_daily(self.engine, self.clock, shop_id, programme, day, progress=progress)
        self.grant_referrals(shop_id)
        return done

    # --- history ------------------------------------------------------------------------

    def backfill(
        self, shop_id: int, as_of: datetime | None = None, progress: Progress | None = None
    ) -> Backfilled:
        """Enrol every customer who bought before ``as_of`` (default now) and is not a member
        yet, with the points and tier their history earns under the programme."""
        programme = self.programme(shop_id)
        return backfill(self.engine, shop_id, programme, as_of or self.clock.now(), progress)

    def report(self, shop_id: int, as_of: datetime | None = None) -> LoyaltyReport:
        """Members by tier, the points outstanding, points by month, the redemption rate."""
        at = as_of or self.clock.now()
        return loyalty_report(self.engine, shop_id, self.programme(shop_id), at)

    # --- members ------------------------------------------------------------------------

    def member(self, shop_id: int, customer: str) -> dict[str, Any]:
        """The member's points, tier, benefits and what the next tier unlocks."""
        now = self.clock.now()
        with reader(self.engine).connect() as connection:
            programme = self.programme_in(connection, shop_id)
            account = lock_customer(connection, shop_id, customer, lock=False)
            if account is None:
                self.customer_id(connection, shop_id, customer)  # an unknown customer: 404
                raise NotFoundError(
                    f"customer {customer!r} is not a member yet", object="member", id=customer
                )
            return self._member_json(connection, programme, account, now)

    def history(
        self, shop_id: int, customer: str, cursor: str | None = None, limit: int = DEFAULT_LIMIT
    ) -> Page[dict[str, Any]]:
        """The member's ledger entries, oldest first."""
        check_limit(limit)
        after = decode_cursor(cursor)
        with reader(self.engine).connect() as connection:
            customer_id = self.customer_id(connection, shop_id, customer)
            member_id = connection.execute(
                select(_members.id).where(
                    _members.shop_id == shop_id, _members.customer_id == customer_id
                )
            ).scalar_one_or_none()
            if member_id is None:
                return Page([], None)
            rows = connection.execute(
                select(t.loyalty_entries)
                .where(_entries.member_id == member_id, _entries.id > after)
                .order_by(_entries.id)
                .limit(limit + 1)
            ).all()
        return page_of([_entry_json(row._asdict()) for row in rows], limit, lambda e: e["id"])

    # --- internals ----------------------------------------------------------------------

    def _apply(
        self,
        connection: Connection,
        shop_id: int,
        programme: Programme,
        customer_id: int,
        key: str,
        points: int | None,
        operation: Operation,
        now: datetime,
        details: Mapping[str, Any] | None = None,
        *,
        locked: Account | None = None,
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
            locked=locked,
        )

    def _lock(
        self,
        connection: Connection,
        shop_id: int,
        programme: Programme,
        customer: str,
        now: datetime,
    ) -> Account:
        """The member of the customer (external id), locked; enrolled first if need be."""
        account = lock_customer(connection, shop_id, customer)
        if account is None:
            customer_id = self.customer_id(connection, shop_id, customer)
            ensure_member(connection, shop_id, customer_id, programme.tiers.levels[0].code, now)
            account = lock_member(connection, shop_id, customer_id)
            assert account is not None
        return account

    def _retier(
        self,
        connection: Connection,
        shop_id: int,
        programme: Programme,
        customer_id: int,
        now: datetime,
    ) -> Account | None:
        """Growth value as of ``now``; an upgrade (or the end of a scheduled downgrade) at once.
        ``None``: the customer is not a member."""
        account = lock_member(connection, shop_id, customer_id)
        if account is None:
            return None
        facts = qualifying_facts(
            connection, shop_id, customer_id, calendar.tier_window_start(programme, now), now
        )
        growth = tiers.growth(programme, facts)
        downgrade_on = (
            calendar.local_date(programme, account.downgrade_at)
            if account.downgrade_at is not None
            else None
        )
        state = tiers.TierState(account.tier, downgrade_on)
        changed = tiers.on_growth_change(programme, state, growth)
        values: dict[str, Any] = {"growth": growth}
        if changed is not None:
            values["downgrade_at"] = None
            if changed.tier != account.tier:
                values |= {"tier": changed.tier, "tier_since": now}
                record_tier_change(
                    connection,
                    shop_id,
                    account.id,
                    account.tier,
                    changed.tier,
                    growth,
                    "upgraded",
                    now,
                )
        connection.execute(
            update(t.loyalty_members).where(_members.id == account.id).values(**values)
        )
        relocked = lock_member(connection, shop_id, customer_id)
        assert relocked is not None
        return relocked

    def customer_id(self, connection: Connection, shop_id: int, customer: str) -> int:
        """The row id of the customer (external id); NotFoundError when unknown."""
        return self._customer(connection, shop_id, customer)[0]

    def _customer(
        self, connection: Connection, shop_id: int, customer: str
    ) -> tuple[int, date | None]:
        """The customer's row id and birth date."""
        c = t.customers.c
        found = connection.execute(
            select(c.id, c.birth_date).where(c.shop_id == shop_id, c.external_id == customer)
        ).first()
        if found is None:
            raise not_found("customer", customer)
        return int(found.id), found.birth_date

    def _result(
        self, connection: Connection, programme: Programme, applied: Applied, now: datetime
    ) -> Result:
        return Result(
            _entry_json(dict(applied.entry)),
            self._member_json(connection, programme, applied.account, now),
            applied.replayed,
        )

    def _member_json(
        self, connection: Connection, programme: Programme, account: Account, now: datetime
    ) -> dict[str, Any]:
        return member_json(programme, account, now)


def record_tier_change(
    connection: Connection,
    shop_id: int,
    member_id: int,
    before: str | None,
    after: str,
    growth: int,
    reason: str,
    at: datetime,
) -> None:
    """A tier change and its event for outreach (keyed: recorded once)."""
    connection.execute(
        insert(t.loyalty_tier_changes).values(
            shop_id=shop_id,
            member_id=member_id,
            from_tier=before,
            to_tier=after,
            growth=growth,
            reason=reason,
            at=at,
        )
    )
    connection.execute(
        insert(t.loyalty_events).values(
            shop_id=shop_id,
            member_id=member_id,
            kind="tier_changed",
            key=f"tier:{member_id}:{after}:{at.isoformat()}",
            payload={"from": before, "to": after, "growth": growth, "reason": reason},
            occurred_at=at,
        )
    )


def member_json(programme: Programme, account: Account, now: datetime) -> dict[str, Any]:
    """The member as of ``now``: lots due for activation or expiry count as settled, whether
    or not the daily run or an operation has written it yet."""
    points = ledger.settle(account.points, now).member
    available = points.available(now)
    expiring = sorted(
        (lot.expires_at, lot.remaining)
        for lot in points.lots
        if lot.remaining > 0 and lot.expires_at is not None and not lot.expired(now)
    )
    benefit = tiers.benefits(programme, account.tier, account.growth)
    upcoming = benefit.next
    return {
        "balance": points.balance,
        "available": available,
        "pending": points.pending,
        "debt": points.debt,
        "next_expiry": (
            {"at": expiring[0][0].isoformat(), "points": expiring[0][1]} if expiring else None
        ),
        "tier": {
            "code": benefit.level.code,
            "label": {"en": benefit.level.label.en, "zh": benefit.level.label.zh},
            "since": account.tier_since.isoformat(),
            "downgrade_at": account.downgrade_at.isoformat() if account.downgrade_at else None,
        },
        "growth": account.growth,
        "benefits": benefit.benefits.model_dump(mode="json"),
        "next_tier": (
            {
                "code": upcoming.level.code,
                "label": {"en": upcoming.level.label.en, "zh": upcoming.level.label.zh},
                "growth_needed": upcoming.growth_needed,
                "progress": str(upcoming.progress),
                "benefits": upcoming.level.benefits.model_dump(mode="json"),
            }
            if upcoming is not None
            else None
        ),
    }


def _entry_json(row: dict[str, Any]) -> dict[str, Any]:
    created = row["created_at"]
    return {
        "id": row["id"],
        "kind": row["kind"],
        "points": row["points"],
        "reason": row["reason"],
        "source": row["source"],
        "created_at": created.isoformat() if isinstance(created, datetime) else created,
    }


def _caller_key(kind: str, key: str) -> str:
    key = key.strip()
    if not key or len(key) > 200:
        raise InputError(f"{kind} needs a key of 1 to 200 characters", field="key")
    return f"{kind}:{key}"
