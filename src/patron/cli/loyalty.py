"""`patron loyalty`: the programme's rules, members' points and tiers, the operator's points
writes (audited), the backfill of the history, and the report."""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from patron.access.guard import Recorded, Transaction, WriteContext, run_guarded
from patron.cli import loyalty_tables, render
from patron.cli.analyze import LangOption, Language, parse_day
from patron.cli.options import DbOption, FormatOption, OutputFormat, ShopOption, build, shop_name
from patron.core import Patron
from patron.errors import NotFoundError
from patron.loyalty.actions import ActionInput
from patron.loyalty.calendar import day_start
from patron.loyalty.earn import Action
from patron.loyalty.programme import SAMPLE, Programme, load_programme, to_dict
from patron.loyalty.report import LoyaltyReport
from patron.loyalty.service import Result

app = typer.Typer(
    help="The loyalty programme: its rules, members' points and tiers, the report.",
    no_args_is_help=True,
)
programme_app = typer.Typer(
    help="The programme's rules: show them, set them from a file, or start from the sample.",
    no_args_is_help=True,
)
app.add_typer(programme_app, name="programme")

T = TypeVar("T")

CustomerArgument = Annotated[str, typer.Argument(help="The customer's id in the shop.")]


class MemberFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


class EarnAction(StrEnum):
    SIGNIN = "signin"
    REVIEW = "review"
    SHARE = "share"
    TASK = "task"
    BIRTHDAY = "birthday"


MemberFormatOption = Annotated[MemberFormat, typer.Option("--format", help="Output format.")]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="As of the end of this day (YYYY-MM-DD) in the programme's time zone (default: now).",
    ),
]


# --- the programme ------------------------------------------------------------------------


@programme_app.command("show")
def programme_show(
    db: DbOption = None,
    shop: ShopOption = None,
    output: MemberFormatOption = MemberFormat.TABLE,
    lang: LangOption = Language.EN,
) -> None:
    """The programme in force: earn rules, pending days, expiry, tiers."""
    with build(db) as patron:
        ctx = _context(patron, shop, "patron loyalty programme show")
        programme = patron.loyalty().programme(ctx.shop_id)
    if output is MemberFormat.JSON:
        render.as_json(to_dict(programme))
        return
    rules = programme.earn
    render.table(
        f"{programme.title.text(lang.value)} ({programme.name} v{programme.version})",
        ["", "value"],
        [
            ("time zone, currency", f"{programme.timezone}, {programme.currency}"),
            ("order points", f"{rules.points} per {rules.per} {programme.currency} paid"),
            ("first-order bonus", f"{rules.first_order_bonus:,}"),
            ("yearly cap", f"{rules.yearly_cap:,}" if rules.yearly_cap else "none"),
            ("pending (return window)", f"{programme.pending_days} days"),
            ("expiry", _expiry(programme)),
            ("refund of spent points", _words(programme.refund_policy)),
            ("tier window", _words(programme.tiers.window)),
        ],
    )
    render.table(
        "tiers",
        ["tier", "growth from", "discount", "points ×", "free shipping", "birthday points"],
        [
            (
                level.label.text(lang.value),
                f"{level.threshold:,}",
                render.percent(float(level.benefits.discount)),
                f"{level.benefits.points_multiplier}",
                "yes" if level.benefits.free_shipping else "no",
                level.benefits.birthday_gift.points if level.benefits.birthday_gift else None,
            )
            for level in programme.tiers.levels
        ],
    )


def _expiry(programme: Programme) -> str:
    expiry = programme.expiry
    days = f" ({expiry.days} days)" if expiry.days else ""
    return f"{_words(expiry.policy)}{days}"


def _words(code: str) -> str:
    return code.replace("_", " ")


@programme_app.command("set")
def programme_set(
    file: Annotated[Path, typer.Argument(help="A programme file (.toml or .json).")],
    db: DbOption = None,
    shop: ShopOption = None,
) -> None:
    """Validate a programme file and put it in force.

    A file that differs from the programme in force becomes its next version; the same file
    changes nothing. Its currency must be the shop's."""
    document = to_dict(load_programme(file))
    with build(db) as patron:
        ctx = _context(patron, shop, f"patron loyalty programme set {file.name}")
        loyalty = patron.loyalty()
        try:
            before: int | None = loyalty.programme(ctx.shop_id).version
        except NotFoundError:
            before = None
        stored = _audited(
            patron,
            ctx,
            "programme",
            lambda tx: loyalty.set_programme(ctx.shop_id, document, transaction=tx),
        )
    state = "unchanged:" if stored.version == before else "now in force:"
    render.console.print(
        f"programme {stored.name!r} {state} version {stored.version}", highlight=False
    )


@programme_app.command("sample")
def programme_sample(
    path: Annotated[
        bool, typer.Option("--path", help="Print where the sample file is instead.")
    ] = False,
) -> None:
    """Print the shipped sample programme (commented TOML) to start yours from.

    `patron loyalty programme sample > programme.toml`, edit it, then `patron loyalty
    programme set programme.toml`."""
    sample = resources.files("patron.loyalty").joinpath("programmes", SAMPLE)
    print(sample if path else sample.read_text("utf-8"), end="\n" if path else "")


# --- members ------------------------------------------------------------------------------


@app.command()
def member(
    customer: CustomerArgument,
    db: DbOption = None,
    shop: ShopOption = None,
    output: MemberFormatOption = MemberFormat.TABLE,
    lang: LangOption = Language.EN,
) -> None:
    """A member's points, tier, benefits and progress to the next tier."""
    with build(db) as patron:
        ctx = _context(patron, shop, f"patron loyalty member {customer}")
        loyalty = patron.loyalty()
        status = loyalty.member(ctx.shop_id, customer)
        zone = loyalty.programme(ctx.shop_id).zone
    if output is MemberFormat.JSON:
        render.as_json(status)
    else:
        show_member(customer, status, zone, lang)


def show_member(customer: str, status: dict[str, Any], zone: ZoneInfo, lang: Language) -> None:
    tier, upcoming, expiry = status["tier"], status["next_tier"], status["next_expiry"]
    benefits = status["benefits"]
    rows = [
        ("tier", tier["label"][lang.value]),
        ("growth value", f"{status['growth']:,}"),
        ("points", f"{status['balance']:,}"),
        ("  available", f"{status['available']:,}"),
        ("  pending", f"{status['pending']:,}"),
        ("owed", f"{status['debt']:,}"),
        (
            "next expiry",
            f"{expiry['points']:,} on {_local(expiry['at'], zone)}" if expiry else "none",
        ),
        ("discount", render.percent(float(benefits["discount"]))),
        ("points multiplier", benefits["points_multiplier"]),
        ("free shipping", "yes" if benefits["free_shipping"] else "no"),
    ]
    if tier["downgrade_at"]:
        rows.append(("downgrade unless recovered", _local(tier["downgrade_at"], zone)))
    if upcoming:
        rows.append(
            (
                f"next tier: {upcoming['label'][lang.value]}",
                f"{upcoming['growth_needed']:,} growth to go "
                f"({render.percent(float(upcoming['progress']))} there)",
            )
        )
    render.table(f"member {customer}", ["", "value"], rows)


def _local(moment: str, zone: ZoneInfo) -> str:
    return datetime.fromisoformat(moment).astimezone(zone).strftime("%Y-%m-%d %H:%M")


# --- points writes (audited) --------------------------------------------------------------


@app.command()
def earn(
    customer: CustomerArgument,
    action: Annotated[EarnAction, typer.Option("--action", help="What the member did.")],
    ref: Annotated[
        str | None,
        typer.Option("--ref", help="Identifies the review, share or task occurrence."),
    ] = None,
    task: Annotated[str | None, typer.Option("--task", help="The task's code.")] = None,
    text: Annotated[str, typer.Option("--text", help="The review's text.")] = "",
    photo: Annotated[bool, typer.Option("--photo", help="The review has a photo.")] = False,
    db: DbOption = None,
    shop: ShopOption = None,
) -> None:
    """Reward a sign-in, review, share, task or birthday.

    Points follow the programme's rules and caps; the same action again (a second sign-in on
    one day, the same review --ref) grants nothing."""
    request = ActionInput(Action(action.value), ref, task, text, photo)
    with build(db) as patron:
        ctx = _context(patron, shop, f"patron loyalty earn {customer} --action {action}")
        loyalty = patron.loyalty()
        done = _audited(
            patron,
            ctx,
            f"member:{customer}",
            lambda tx: loyalty.earn_action(ctx.shop_id, customer, request, transaction=tx),
        )
    award = done.award or {}
    if done.entry is not None and not done.replayed:
        said = f"granted {award['points']:,} points"
        if award["held"]:
            said += f" of the rule's {award['rule_points']:,} ({award['held']})"
    elif done.replayed:
        said = "already rewarded: nothing granted"
    else:
        said = f"nothing granted ({award['held']})"
    _said(f"{action} by {customer}: {said}", done)


@app.command()
def redeem(
    customer: CustomerArgument,
    points: Annotated[int, typer.Argument(min=1, help="Points to spend.")],
    key: Annotated[
        str, typer.Option("--key", help="Your id of this redemption: the same key is done once.")
    ],
    reason: Annotated[str, typer.Option("--reason", help="What the points paid for.")] = (
        "redeemed"
    ),
    db: DbOption = None,
    shop: ShopOption = None,
) -> None:
    """Spend a member's available points, soonest-expiring first.

    The same --key again is done once: a retry never spends twice."""
    with build(db) as patron:
        ctx = _context(patron, shop, f"patron loyalty redeem {customer} {points}")
        loyalty = patron.loyalty()
        done = _audited(
            patron,
            ctx,
            f"member:{customer}",
            lambda tx: loyalty.redeem(ctx.shop_id, customer, points, key, reason, transaction=tx),
        )
    verb = "already redeemed with this key" if done.replayed else "redeemed"
    _said(f"{customer}: {points:,} points {verb}", done)


# A negative number of points is an argument, not an option.
@app.command(context_settings={"ignore_unknown_options": True})
def adjust(
    customer: CustomerArgument,
    points: Annotated[
        int, typer.Argument(help="Points to add, or to take away when negative (-50).")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why: kept on the ledger entry.")],
    key: Annotated[
        str | None,
        typer.Option("--key", help="Your id of this adjustment (default: a new one, printed)."),
    ] = None,
    db: DbOption = None,
    shop: ShopOption = None,
) -> None:
    """Correct a member's points by hand, with a reason.

    The ledger entry records the reason and you (the system user) as operator; the audit log
    records the command."""
    used = key or f"cli-{uuid.uuid4().hex[:12]}"
    with build(db) as patron:
        ctx = _context(patron, shop, f"patron loyalty adjust {customer} {points}")
        loyalty = patron.loyalty()
        done = _audited(
            patron,
            ctx,
            f"member:{customer}",
            lambda tx: loyalty.adjust(
                ctx.shop_id, customer, points, reason, used, _operator(), transaction=tx
            ),
        )
    verb = "already adjusted with this key" if done.replayed else "adjusted"
    _said(f"{customer}: {points:+,} points {verb} (key {used})", done)


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except OSError:  # no user name in this environment
        return "cli"


def _said(message: str, done: Result) -> None:
    points = done.member
    render.console.print(
        f"{message}; now {points['balance']:,} points, {points['available']:,} available",
        highlight=False,
    )


# --- the daily run ------------------------------------------------------------------------


@app.command("run-daily")
def run_daily(
    date_: Annotated[
        str | None,
        typer.Option("--date", help="Local day of the programme to run for (default: today)."),
    ] = None,
    db: DbOption = None,
    shop: ShopOption = None,
    format: FormatOption = OutputFormat.TABLE,
) -> None:
    """The programme's daily run: release lapsed points-mall reservations, then activate
    pending points, recompute tiers, expire lots and emit the day's events (points expiring,
    will-downgrade, tier changed, birthday); then grant the referrals that came due. Safe to
    run again for the same day: nothing is done twice."""
    day = parse_day(date_)
    with build(db) as patron:
        ctx = _context(patron, shop, "patron loyalty run-daily")
        released = patron.mall().expire_due(ctx.shop_id)
        with _counting("daily run") as step:
            done = patron.loyalty().run_daily(ctx.shop_id, day, step)
        _audited(patron, ctx, f"daily:{done.day.isoformat()}", lambda _tx: done)
    rows = [
        ("reservations released", released),
        ("members", done.members),
        ("lots activated", done.activated_lots),
        ("points activated", done.activated_points),
        ("lots expired", done.expired_lots),
        ("points expired", done.expired_points),
        ("upgraded", done.upgraded),
        ("downgraded", done.downgraded),
        ("downgrades scheduled", done.scheduled),
        ("downgrades cancelled", done.recovered),
        *((f"events: {kind}", n) for kind, n in sorted(done.events.items())),
    ]
    if format is OutputFormat.JSON:
        render.as_json({"day": done.day.isoformat(), "at": done.at.isoformat(), **dict(rows)})
        return
    render.records(
        f"daily run for {done.day.isoformat()} (as of {done.at:%Y-%m-%d %H:%M} UTC)",
        [{"step": label, "count": n} for label, n in rows],
        format.value,
    )


# --- history and report -------------------------------------------------------------------


@app.command()
def backfill(
    as_of: AsOfOption = None,
    db: DbOption = None,
    shop: ShopOption = None,
    lang: LangOption = Language.EN,
) -> None:
    """Enrol past buyers with the points and tier their history earns.

    Every customer who bought before the end of --as-of (default: now) and is not a member
    yet gets the ledger, lots and tier they would have had the programme run all along.
    Members are left alone: running it again adds only new buyers."""
    day = parse_day(as_of)
    with build(db) as patron:
        ctx = _context(patron, shop, "patron loyalty backfill")
        loyalty = patron.loyalty()
        programme = loyalty.programme(ctx.shop_id)
        moment = _end_of(programme, day) if day else None
        with _counting("backfilling members") as step:
            # Batches of members, each committed on its own: audited once done.
            done = loyalty.backfill(ctx.shop_id, moment, step)
            _audited(patron, ctx, "members", lambda _tx: done)
    labels = {level.code: level.label.text(lang.value) for level in programme.tiers.levels}
    render.table(
        f"backfilled under {programme.name} v{programme.version}",
        ["", "value"],
        [
            ("customers enrolled", f"{done.customers:,}"),
            ("already members (left alone)", f"{done.skipped:,}"),
            ("orders replayed", f"{done.orders:,}"),
            ("ledger entries written", f"{done.entries:,}"),
            ("points outstanding of the new members", f"{done.balance:,}"),
            *(
                (f"  in tier {labels.get(code, code)}", f"{done.tiers.get(code, 0):,}")
                for code in labels
            ),
        ],
    )


@app.command()
def report(
    as_of: AsOfOption = None,
    output: FormatOption = OutputFormat.TABLE,
    lang: LangOption = Language.EN,
    db: DbOption = None,
    shop: ShopOption = None,
) -> None:
    """The programme in figures: tiers, points outstanding, monthly flows, redemption.

    Members by tier, points outstanding (the liability: spendable and pending) and owed,
    points earned, redeemed, expired and reversed in each of the last 12 local months, the
    redemption rate, and the reasons of manual adjustments."""
    day = parse_day(as_of)
    with build(db) as patron:
        ctx = _context(patron, shop, "patron loyalty report")
        found = shop_report(patron, ctx.shop_id, day)
    loyalty_tables.show(found, output, lang)


def shop_report(patron: Patron, shop_id: int, day: date | None = None) -> LoyaltyReport:
    """The shop's loyalty report as of the end of ``day`` in the programme's time zone (default:
    now)."""
    loyalty = patron.loyalty()
    moment = _end_of(loyalty.programme(shop_id), day) if day else None
    return loyalty.report(shop_id, moment)


def _end_of(programme: Programme, day: date) -> datetime:
    """The end of the local day: the start of the next."""
    return day_start(programme, day + timedelta(days=1))


# --- plumbing -----------------------------------------------------------------------------


@contextmanager
def _counting(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar of members done out of all; yields the callback that moves it."""
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=render.errors,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _context(patron: Patron, shop: str | None, action: str) -> WriteContext:
    """The operator's context in the shop (its id; an audit entry names ``action``)."""
    return patron.operator_context(shop_name(shop) or patron.settings.default_shop, action)


def _audited(
    patron: Patron, ctx: WriteContext, target: str, write: Callable[[Transaction], T]
) -> T:
    """Run the operator's write in one transaction with its audit entry."""
    done: list[T] = []

    def action(connection: Transaction, _now: datetime) -> Recorded:
        done.append(write(connection))
        return Recorded(200, {}, target)

    retention = timedelta(hours=patron.settings.api_idempotency_hours)
    run_guarded(patron.engine, patron.clock, ctx, action, retention=retention)
    return done[0]
