"""What `patron loyalty report` prints; the tier pyramid and the liability also end `patron
demo`."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rich.table import Table

from patron.cli import render
from patron.cli.analyze import Language
from patron.cli.options import OutputFormat
from patron.loyalty.report import LoyaltyReport

BAR = 30
"""Width of the widest bar of the tier pyramid."""


def show(report: LoyaltyReport, output: OutputFormat, lang: Language) -> None:
    """JSON: the whole report; CSV: every figure as one long table (section, key, label,
    metric, value); a table: each part."""
    if output is OutputFormat.JSON:
        render.as_json(report.to_json())
        return
    if output is OutputFormat.CSV:
        render.as_csv(_long(report, lang))
        return
    show_tiers(report, lang)
    show_liability(report)
    render.table(
        "points per month",
        ["month", "earned", "redeemed", "expired", "reversed", "adjusted"],
        [
            (
                m.month,
                f"{m.earned:,}",
                f"{m.redeemed:,}",
                f"{m.expired:,}",
                f"{m.reversed:,}",
                f"{m.adjusted:+,}" if m.adjusted else "0",
            )
            for m in report.monthly
        ],
    )
    r = report.redemption_rate
    render.table(
        f"redemption over {len(report.monthly)} months",
        ["", "value"],
        [
            ("points earned", f"{r.earned:,}"),
            ("points redeemed", f"{r.redeemed:,}"),
            ("redemption rate (redeemed ÷ earned)", render.percent(r.rate)),
            ("members who ever redeemed", f"{r.ever_redeemed:,} of {r.members:,}"),
            ("share of members", render.percent(r.member_share)),
        ],
    )
    if report.adjustments:
        render.table(
            "manual adjustments by reason",
            ["reason", "count", "points"],
            [(a.reason, f"{a.count:,}", f"{a.points:+,}") for a in report.adjustments],
        )
    else:
        render.console.print("manual adjustments: none")


def show_tiers(report: LoyaltyReport, lang: Language) -> None:
    """Members per tier as a pyramid: the top tier first, centred bars as long as the tier's
    share of members (the largest tier fills the width)."""
    tiers = report.members_by_tier
    total = sum(t.members for t in tiers)
    widest = max((t.members for t in tiers), default=0) or 1
    pyramid = Table(
        title=f"members by tier · {total:,} members · {report.programme} v{report.version}",
        title_justify="left",
    )
    pyramid.add_column("tier")
    pyramid.add_column("members", justify="right")
    pyramid.add_column("share", justify="right")
    pyramid.add_column("", justify="center", min_width=BAR)
    for tier in reversed(tiers):
        length = round(BAR * tier.members / widest) or (1 if tier.members else 0)
        pyramid.add_row(
            tier.label_zh if lang is Language.ZH else tier.label_en,
            f"{tier.members:,}",
            render.percent(tier.share),
            "█" * length,
        )
    render.console.print(pyramid)


def show_liability(report: LoyaltyReport) -> None:
    """The points outstanding and owed, as of the report's moment (local time)."""
    debt = report.liability
    render.table(
        f"points outstanding · {_moment(report)} ({report.timezone})",
        ["", "points"],
        [
            ("outstanding (the programme's liability)", f"{debt.outstanding:,}"),
            ("  spendable", f"{debt.spendable:,}"),
            ("  pending (inside the return window)", f"{debt.pending:,}"),
            ("owed by members (refunds of spent points)", f"{debt.debt:,}"),
            ("members who owe points", f"{debt.members_in_debt:,}"),
        ],
    )


def _moment(report: LoyaltyReport) -> str:
    """The report's moment in local time; midnight reads as the end of the day before."""
    local = report.as_of.astimezone(ZoneInfo(report.timezone))
    if local.time() == time():
        return f"end of {local.date() - timedelta(days=1)}"
    return f"{local:%Y-%m-%d %H:%M}"


def _long(report: LoyaltyReport, lang: Language) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(section: str, key: str, label: str, figures: dict[str, Any]) -> None:
        rows.extend(
            {"section": section, "key": key, "label": label, "metric": metric, "value": value}
            for metric, value in figures.items()
        )

    for tier in report.members_by_tier:
        label = tier.label_zh if lang is Language.ZH else tier.label_en
        add("members_by_tier", tier.code, label, {"members": tier.members, "share": tier.share})
    json = report.to_json()
    add("liability", "", "", json["liability"])
    for month in json["monthly"]:
        add("monthly", month.pop("month"), "", month)
    add("redemption_rate", "", "", json["redemption_rate"])
    for reason in json["adjustments"]:
        add("adjustments", reason.pop("reason"), "", reason)
    return rows
