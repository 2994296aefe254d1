"""`patron analyze` and `patron report`: the shop's customers in bulk."""

from __future__ import annotations

import math
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

import pandas as pd
import typer

from patron.analytics.service import Analysis, AnalysisRun
from patron.cli import clv_report, render
from patron.cli.options import DbOption, FormatOption, OutputFormat, ShopOption, build, shop_name
from patron.core import Patron
from patron.errors import InputError


class Language(StrEnum):
    EN = "en"
    ZH = "zh"


class Report(StrEnum):
    SUMMARY = "summary"
    RFM = "rfm"
    SEGMENTS = "segments"
    STAGES = "stages"
    TRANSITIONS = "transitions"
    COHORTS = "cohorts"
    KPIS = "kpis"
    TAGS = "tags"
    CLUSTERS = "clusters"
    CLV = "clv"


LangOption = Annotated[Language, typer.Option("--lang", help="Labels in English or Chinese.")]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Analyse as of the end of this day (YYYY-MM-DD) in the shop's time zone "
        "(default: now).",
    ),
]


IncrementalOption = Annotated[
    bool,
    typer.Option(
        "--incremental",
        help="Refresh from the state kept by the last refresh and the facts since it (core "
        "results; tags and intent stay those of the last full analysis); a full analysis "
        "when it cannot, which then keeps the state.",
    ),
]


def analyze(
    as_of: AsOfOption = None,
    lang: LangOption = Language.EN,
    db: DbOption = None,
    shop: ShopOption = None,
    format: FormatOption = OutputFormat.TABLE,
    incremental: IncrementalOption = False,
) -> None:
    """Analyse the shop (summary, RFM, segments, lifecycle stages and transitions, cohorts,
    KPIs) and store every customer's profile for the services to read."""
    day = parse_day(as_of)
    with build(db) as patron, render.errors.status("analysing…") as status:
        service = patron.analytics()
        run = (service.refresh if incremental else service.analyze)(
            _shop(shop, patron), day, lang.value, lambda step: status.update(f"{step}…")
        )
    if format is OutputFormat.JSON:
        how: dict[str, str | None] = {}
        if incremental:
            since = run.refreshed_from
            how["refreshed_from"] = None if since is None else since.isoformat()
            how["full_because"] = run.full_because
        tags_as_of = run.analysis.tags_as_of
        render.as_json(
            {
                "shop": run.shop.name,
                "as_of": run.analysis.as_of.isoformat(),
                **how,
                "tags_as_of": None if tags_as_of is None else tags_as_of.isoformat(),
                "facts": run.facts,
                "profiles": run.written.profiles,
                "stage_changes": run.written.stage_changes,
                "kpis": run.analysis.kpis.to_json(),
            }
        )
        return
    if incremental:
        render.console.print(_how(run), markup=False)
    show_headline(run, lang)


def _how(run: AnalysisRun) -> str:
    """How an incremental analysis went: refreshed, or a full analysis and why."""
    if run.refreshed_from is None:
        return f"Full analysis ({run.full_because}); the state is kept for the next refresh."
    tags = run.analysis.tags_as_of
    since = "none yet" if tags is None else f"as of {tags:%Y-%m-%d %H:%M} UTC"
    return (
        f"Refreshed from the state as of {run.refreshed_from:%Y-%m-%d %H:%M} UTC."
        f" Preference tags and intent are those of the last full analysis ({since})."
    )


def report(
    kind: Annotated[Report, typer.Argument(help="What to print.")],
    lang: LangOption = Language.EN,
    db: DbOption = None,
    shop: ShopOption = None,
    format: FormatOption = OutputFormat.TABLE,
    k: Annotated[
        int | None,
        typer.Option("--k", min=2, help="clusters: this many (default: chosen by silhouette)."),
    ] = None,
) -> None:
    """Print a result of the shop's latest analysis."""
    if kind is Report.CLUSTERS:
        _clusters(shop, db, format, k)
        return
    if kind is Report.CLV:
        with build(db) as patron:
            found = patron.predict().clv_report(_shop(shop, patron), lang.value)
        clv_report.show(found, format)
        return
    with build(db) as patron:
        run = patron.analytics().latest(_shop(shop, patron), lang.value)
    records = _records(kind, run.analysis)
    if format is OutputFormat.JSON:
        render.as_json(run.analysis.kpis.to_json() if kind is Report.KPIS else records)
    elif format is OutputFormat.CSV:
        render.as_csv(records)
    elif kind in (Report.SEGMENTS, Report.RFM):
        frame = run.analysis.segments if kind is Report.SEGMENTS else run.analysis.grid
        _segments(f"{kind.value} · {_title(run)}", frame, run.shop.currency)
    else:
        _table(f"{kind.value} · {_title(run)}", records)


def _clusters(shop: str | None, db: str | None, format: OutputFormat, k: int | None) -> None:
    with build(db) as patron, render.errors.status("clustering…"):
        found = patron.analytics().clusters(_shop(shop, patron), k)
    records = _frame(found.profiles.reset_index())
    if format is OutputFormat.JSON:
        render.as_json({"k": found.k, "silhouettes": dict(found.silhouettes), "clusters": records})
    elif format is OutputFormat.CSV:
        render.as_csv(records)
    else:
        scores = ", ".join(f"k={n}: {v:.3f}" for n, v in found.silhouettes.items())
        columns = ["cluster", "size", "share", "purchases", "net_spend_minor", "recency_days"]
        render.table(
            f"{found.k} clusters (silhouette {scores})",
            [*columns, "top categories"],
            [[_cell(r[c]) for c in columns] + [r["top_categories"]] for r in records],
        )


def show_headline(run: AnalysisRun, lang: Language) -> None:
    """The headline KPIs, the segment table and the stage table (used by `patron demo` too)."""
    a = run.analysis
    currency = run.shop.currency
    k = a.kpis
    render.table(
        f"shop {run.shop.name} as of {a.as_of:%Y-%m-%d %H:%M} UTC",
        ["KPI", "value"],
        [
            ("customers", f"{k.customers:,}"),
            ("buyers", f"{k.buyers:,}"),
            ("repeat buyers", f"{k.repeat_buyers:,}"),
            ("repurchase rate", render.percent(k.repurchase_rate)),
            ("average order value", _money(k.aov_minor, currency)),
            ("orders per buyer", _number(k.orders_per_buyer)),
            ("net revenue", _money(k.net_revenue_minor, currency)),
            ("revenue share of the top 20 %", render.percent(k.revenue_share_top20)),
            ("refund rate", render.percent(k.refund_rate)),
            ("churn rate (90 days)", render.percent(k.churn_rate)),
        ],
    )
    _segments("segments", a.segments, currency)
    _table("lifecycle stages", _records(Report.STAGES, a))


def _title(run: AnalysisRun) -> str:
    return f"{run.shop.name} · as of {run.analysis.as_of:%Y-%m-%d %H:%M} UTC"


def _segments(title: str, frame: pd.DataFrame, currency: str) -> None:
    """A segment table that fits a terminal: shares in %, money in the shop's currency."""

    def fixed(value: float | None, digits: int) -> str:
        return "—" if value is None else f"{value:,.{digits}f}"

    rows = [
        (
            r["label"],
            f"{r['customers']:,}",
            render.percent(r["customer_share"]),
            fixed(r["mean_recency_days"], 0),
            fixed(r["mean_frequency"], 2),
            "—"
            if r["mean_monetary_minor"] is None
            else _money(round(r["mean_monetary_minor"]), currency),
            render.percent(r["revenue_share"]),
        )
        for r in _frame(frame)
    ]
    columns = ["segment", "customers", "share", "days since", "orders", "spend", "revenue"]
    render.table(title, columns, rows)


def _records(kind: Report, a: Analysis) -> list[dict[str, Any]]:
    if kind is Report.SEGMENTS:
        return _frame(a.segments)
    if kind is Report.RFM:
        return _frame(a.grid)
    if kind is Report.STAGES:
        return _frame(a.stages)
    if kind is Report.TAGS:
        return _frame(a.tags)
    if kind is Report.TRANSITIONS:
        counts = a.transitions.counts
        return [
            {
                "from": before,
                **{after: int(counts.loc[before, after]) for after in counts.columns},
                "reactivation": a.transitions.reactivation.get(before),
            }
            for before in counts.index
        ]
    if kind is Report.COHORTS:
        matrix = a.retention.reset_index()
        matrix.columns = [str(c) for c in matrix.columns]
        return _frame(matrix)
    if kind is Report.SUMMARY:
        k = a.kpis
        return [
            {
                "as_of": a.as_of.isoformat(),
                "customers": k.customers,
                "buyers": k.buyers,
                "profiles": a.profiles.num_rows,
                **{f"{stage}_days": days for stage, days in a.thresholds.day_limits()},
                "new_days": a.thresholds.new,
            }
        ]
    flat = a.kpis.to_json()
    return [
        {"kpi": key, "value": value}
        for key, value in flat.items()
        if not isinstance(value, (list, dict))
    ]


def _frame(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in clean.to_dict("records")]


def _table(title: str, records: list[dict[str, Any]]) -> None:
    if not records:
        render.console.print(f"{title}: nothing yet")
        return
    columns = list(records[0])
    render.table(title, columns, [[_cell(r[c]) for c in columns] for r in records])


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:,.3f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return value


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _money(minor: int | None, currency: str) -> str:
    return "—" if minor is None else render.money(minor, currency)


def parse_day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"--as-of {text!r} is not a date: use YYYY-MM-DD", field="--as-of"
        ) from None


def _shop(shop: str | None, patron: Patron) -> str:
    return shop_name(shop) or patron.settings.default_shop
