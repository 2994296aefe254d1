"""Daily run benchmark: N members of the sample programme (Asia/Shanghai, CNY) with 2–3 point
lots each and the orders behind them, run for three days of the year end, then the last again:

- 2027-12-02, the expiry notice day: every member with points of 2026 gets a
  ``points_expiring`` event, and this first run stores every member's growth;
- 2027-12-31, an ordinary day: activations, downgrade warnings;
- 2028-01-01, the worst day: the points of 2026 expire, tiers are evaluated, birthdays;
- 2028-01-01 again: a re-run, which finds nothing to do.

    python bench/loyalty_daily_bench.py [--members 1000000] [--sqlite-members 100000]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--sample 10000]

The data (seeded): 70 % of members have a lot earned in 2026 (expiring at the start of
2028-01-01 Shanghai time; half of the lots of 2026 and 2027 partly spent), 90 % one earned in
2027, 15 % one earned in December 2027 and still pending; one order per lot (5 % half and 1 %
fully refunded); ledger entries (earn, activate, one redemption per member who spent) and lot
uses consistent with the lots; birth dates for 70 % of customers; tiers consistent with growth
except 5 % one tier too high (scheduled for a downgrade at the evaluation of 2028-01-01) and 2 %
whose downgrade is due then.

PostgreSQL: a database of its own (``patron_bench``, loaded with COPY, vacuumed and analysed),
copied for each variant (``--variant``, default all) — 2 connections (run_daily's default),
1 connection, and 2 connections with the foreign keys from ledger rows to members, entries
and lots dropped (the migration proposed in docs/benchmarks.md) — and dropped at the end.
SQLite: files under bench/out/.

Each run is timed for wall and CPU of this process and, on PostgreSQL, the CPU of the server's
processes (from /proc: every postgres process alive at the end of the run, the WAL writer and
checkpointer included); the machine's load average is recorded before each run. The baseline
is the per-member path —
lock the member, ``ledger.settle``, ``store.store``, ``qualifying_facts`` and the tier rules,
one transaction per member, as the online operations do — timed on a random sample of members
of a copy of the database taken before the year end, and extrapolated to all members.
Figures go to stdout and bench/out/loyalty_daily.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.engine import make_url

from patron.clock import FixedClock
from patron.core import Patron
from patron.db import tables as t
from patron.db.engine import make_engine
from patron.db.shops import ensure_shop
from patron.loyalty import calendar, ledger, tiers
from patron.loyalty.daily import DailyRun, run_daily
from patron.loyalty.order_facts import qualifying_facts
from patron.loyalty.programme import Programme, sample_programme, to_dict
from patron.loyalty.service import LoyaltyService
from patron.loyalty.store import lock_member, store
from patron.settings import Settings

OUT = Path(__file__).resolve().parent / "out"
DAYS = (date(2027, 12, 2), date(2027, 12, 31), date(2028, 1, 1), date(2028, 1, 1))
YEAR_END = 2
"""The index in DAYS of the worst day; the baseline's copy is taken just before it."""
NOW = datetime(2027, 12, 31, 16, 30, tzinfo=UTC)
"""2028-01-01 00:30 in Shanghai: every run happens then."""
SECOND = 1_000_000
DAY = 86_400 * SECOND
SHANGHAI = 8 * 3_600 * SECOND
"""Asia/Shanghai is UTC+8 all year: local midnights are computed from it."""
FOREIGN_KEYS = (
    ("loyalty_entries", "fk_loyalty_entries_member_id_loyalty_members"),
    ("loyalty_lot_uses", "fk_loyalty_lot_uses_entry_id_loyalty_entries"),
    ("loyalty_lot_uses", "fk_loyalty_lot_uses_lot_id_loyalty_lots"),
    ("loyalty_events", "fk_loyalty_events_member_id_loyalty_members"),
)
"""The checks the proposed migration drops: each costs 6–8 µs per row written."""


# --- the data ---------------------------------------------------------------------------------


def _micros(moment: datetime) -> int:
    return int(moment.timestamp()) * SECOND


def _midnight(micros: np.ndarray) -> np.ndarray:
    """The UTC microseconds of the local midnight starting the local day of ``micros``."""
    return (micros + SHANGHAI) // DAY * DAY - SHANGHAI


def _keys(prefix: str, values: np.ndarray) -> list[str]:
    return [f"{prefix}{v}" for v in values.tolist()]


def _sums(owner: np.ndarray, values: np.ndarray, members: int) -> np.ndarray:
    """Per member (1..members) sums of ``values``."""
    return np.bincount(owner, weights=values, minlength=members + 1)[1:].astype(np.int64)


def generate(members: int, programme: Programme, seed: int = 7) -> dict[str, dict[str, Any]]:
    """Columns of every table to load, as numpy arrays or lists (timestamps in UTC
    microseconds, -1 for none)."""
    assert programme.timezone == "Asia/Shanghai" and programme.pending_days == 15
    rng = np.random.default_rng(seed)
    ids = np.arange(1, members + 1)
    # One order and one lot per member and kind: 2026, 2027, December 2027 (pending).
    parts = []
    for kind, share, start, end in (
        (0, 0.70, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 12, 15, tzinfo=UTC)),
        (1, 0.90, datetime(2027, 1, 2, tzinfo=UTC), datetime(2027, 11, 30, tzinfo=UTC)),
        (2, 0.15, datetime(2027, 12, 1, tzinfo=UTC), datetime(2027, 12, 31, 15, tzinfo=UTC)),
    ):
        owners = ids[rng.random(members) < share]
        placed = rng.integers(_micros(start), _micros(end), owners.size)
        parts.append((np.full(owners.size, kind), owners, placed))
    kind, owner, placed = (np.concatenate([part[n] for part in parts]) for n in range(3))
    order = np.lexsort((placed, owner))
    kind, owner, placed = kind[order], owner[order], placed[order]
    n = kind.size
    order_id = np.arange(1, n + 1)
    total = (np.exp(rng.normal(np.log(30_000), 0.9, n)) // 100 * 100).astype(np.int64) + 100
    shipping = np.where(rng.random(n) < 0.3, 1_000, 0)
    goods = total - shipping
    roll = rng.random(n)
    refunded = np.where(roll < 0.01, goods, np.where(roll < 0.06, goods // 2, 0))
    refund_of = np.flatnonzero(refunded > 0)
    # One point per yuan kept; pending for 15 days; the points of 2026 expire at 2028-01-01.
    amount = np.maximum(goods // 100 - refunded // 100, 0)
    available = _midnight(placed) + 16 * DAY
    expires = np.where(
        kind == 0,
        _micros(calendar.day_start(programme, date(2028, 1, 1))),
        _micros(calendar.day_start(programme, date(2029, 1, 1))),
    )
    pending = kind == 2
    partly = (kind < 2) & (rng.random(n) < 0.5)
    spent = np.where(partly, (amount * rng.random(n)).astype(np.int64), 0)
    remaining = amount - spent
    lots = np.flatnonzero(amount > 0)
    lot_id = np.arange(1, lots.size + 1)
    active = ~pending[lots]
    activate_id = lots.size + np.arange(1, active.sum() + 1)
    spent_by = _sums(owner[lots], spent[lots], members)
    spenders = np.flatnonzero(spent_by > 0) + 1
    redeem_id = lots.size + active.sum() + np.arange(1, spenders.size + 1)
    order_key = _keys("order:", order_id[lots])
    source = _keys("order:O", order_id[lots])
    zero = np.zeros(active.sum(), np.int64)
    entries = {
        "id": np.concatenate([lot_id, activate_id, redeem_id]),
        "member_id": np.concatenate([owner[lots], owner[lots][active], spenders]),
        "kind": ["earn"] * lots.size
        + ["activate"] * int(active.sum())
        + ["redeem"] * spenders.size,
        "points": np.concatenate([amount[lots], zero, -spent_by[spenders - 1]]),
        "pending": np.concatenate([amount[lots], -amount[lots][active], np.zeros_like(spenders)]),
        "debt": 0,
        "written_off": 0,
        "key": order_key
        + [f"activate:{key}" for key, on in zip(order_key, active, strict=True) if on]
        + _keys("redeem:", spenders),
        "reason": ["order paid"] * lots.size
        + ["return window ended"] * int(active.sum())
        + ["mall"] * spenders.size,
        "source": source
        + [src for src, on in zip(source, active, strict=True) if on]
        + ["redeem"] * spenders.size,
        "created_at": np.concatenate(
            [placed[lots], available[lots][active], np.full(spenders.size, _micros(NOW) - 40 * DAY)]
        ),
    }
    uses = {
        "entry_id": np.concatenate([lot_id, activate_id]),
        "lot_id": np.concatenate([lot_id, lot_id[active]]),
        "points": np.concatenate([amount[lots], zero]),
    }
    # Growth as of the year end (orders of 2027 only); tiers consistent with it except 7 % one
    # tier too high, of whom 2 % are due for their downgrade at the evaluation of 2028-01-01.
    window = kind > 0
    net = _sums(owner[window], (goods - refunded)[window], members)
    counted = window & (refunded < goods)
    kept = _sums(owner[counted], np.ones(counted.sum()), members)
    thresholds = np.array([level.threshold for level in programme.tiers.levels])
    rank = np.searchsorted(thresholds, net // 100 + 10 * kept, side="right") - 1
    roll = rng.random(members)
    above = (roll < 0.07) & (rank < thresholds.size - 1)
    codes = np.array([level.code for level in programme.tiers.levels], dtype=object)
    year_end = _micros(calendar.day_start(programme, date(2028, 1, 1)))
    joined = np.full(members, _micros(datetime(2025, 6, 1, tzinfo=UTC)))
    births = rng.integers(date(1960, 1, 1).toordinal(), date(2006, 1, 1).toordinal(), members)
    known = rng.random(members) < 0.7
    return {
        "customers": {
            "id": ids,
            "external_id": _keys("C", ids),
            "birth_date": [
                date.fromordinal(born) if on else None
                for born, on in zip(births.tolist(), known.tolist(), strict=True)
            ],
            "is_stub": np.zeros(members, bool),
        },
        "orders": {
            "id": order_id,
            "external_id": _keys("O", order_id),
            "customer_id": owner,
            "placed_at": placed,
            "paid_at": placed,
            "status": ["completed"] * n,
            "currency": ["CNY"] * n,
            "subtotal_minor": goods,
            "discount_minor": 0,
            "shipping_minor": shipping,
            "total_minor": total,
            "item_count": 1,
        },
        "refunds": {
            "id": np.arange(1, refund_of.size + 1),
            "external_id": _keys("R", order_id[refund_of]),
            "order_id": order_id[refund_of],
            "amount_minor": refunded[refund_of],
            "refunded_at": placed[refund_of] + 3 * DAY,
        },
        "loyalty_members": {
            "id": ids,
            "customer_id": ids,
            "joined_at": joined,
            "balance": _sums(owner[lots], remaining[lots], members),
            "pending": _sums(owner[lots][~active], remaining[lots][~active], members),
            "debt": 0,
            "negative_allowed": np.zeros(members, bool),
            "earned_total": _sums(owner[lots], amount[lots], members),
            "redeemed_total": spent_by,
            "tier": codes[np.where(above, rank + 1, rank)].tolist(),
            "tier_since": joined,
            "growth": 0,
            "downgrade_at": np.where(above & (roll < 0.02), year_end, -1),
            "signin_streak": 0,
            "updated_at": joined,
        },
        "loyalty_entries": entries,
        "loyalty_lots": {
            "id": lot_id,
            "member_id": owner[lots],
            "entry_id": lot_id,
            "amount": amount[lots],
            "remaining": remaining[lots],
            "available_from": available[lots],
            "expires_at": expires[lots],
            "pending": pending[lots],
            "source": source,
            "key": order_key,
        },
        "loyalty_lot_uses": uses,
    }


TIMESTAMPS = {
    "placed_at", "paid_at", "refunded_at", "joined_at", "tier_since", "downgrade_at",
    "updated_at", "created_at", "available_from", "expires_at",
}  # fmt: skip


def arrow_table(columns: dict[str, Any], shop_id: int) -> pa.Table:
    """One table's columns as Arrow, with its shop; timestamps UTC (-1: none)."""
    size = len(columns["id"] if "id" in columns else columns["entry_id"])
    arrays: dict[str, pa.Array] = {"shop_id": pa.array(np.full(size, shop_id))}
    for name, values in columns.items():
        if isinstance(values, int):
            arrays[name] = pa.array(np.full(size, values))
        elif name in TIMESTAMPS:
            stamps = np.asarray(values, dtype=np.int64)
            arrays[name] = pa.array(stamps, pa.timestamp("us", tz="UTC"), mask=stamps < 0)
        else:
            arrays[name] = pa.array(values)
    return pa.table(arrays)


def load_postgres(url: str, data: dict[str, dict[str, Any]], shop_id: int) -> None:
    """COPY every table (foreign key triggers off: the data is consistent by construction),
    move the id sequences past the ids, then VACUUM ANALYZE."""
    with psycopg.connect(_libpq(url), autocommit=True) as connection:
        connection.execute("SET session_replication_role = replica")
        for name, columns in data.items():
            table = arrow_table(columns, shop_id)
            buffer = io.BytesIO()
            pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
            names = ", ".join(table.column_names)
            with connection.cursor().copy(f"COPY {name} ({names}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(buffer.getvalue())
            if "id" in columns:
                sequence = f"pg_get_serial_sequence('{name}', 'id')"
                connection.execute(f"SELECT setval({sequence}, (SELECT max(id) FROM {name}))")
        connection.execute("SET session_replication_role = origin")
        connection.execute("VACUUM ANALYZE")


def load_sqlite(engine: Engine, data: dict[str, dict[str, Any]], shop_id: int) -> None:
    """Insert every table; no ANALYZE: Patron's SQLite databases have no statistics."""
    with engine.begin() as connection:
        for name, columns in data.items():
            rows = arrow_table(columns, shop_id).to_pylist()
            connection.execute(insert(t.metadata.tables[name]), rows)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def build(url: str, members: int, programme: Programme) -> tuple[int, float]:
    """Migrate the database at ``url`` and load the shop, its programme and the data; the
    shop's id and the seconds it took."""
    clock = FixedClock(NOW)
    patron = Patron(Settings(database_url=url, quarantine_dir=OUT / "q"), clock)
    patron.upgrade()
    with patron.engine.begin() as connection:
        shop_id = ensure_shop(connection, "bench", "Asia/Shanghai", "CNY", clock).id
    LoyaltyService(patron.engine, clock).set_programme(shop_id, to_dict(programme))
    start = time.perf_counter()
    data = generate(members, programme)
    if patron.engine.dialect.name == "postgresql":
        load_postgres(url, data, shop_id)
    else:
        load_sqlite(patron.engine, data, shop_id)
    patron.close()
    return shop_id, time.perf_counter() - start


# --- measuring --------------------------------------------------------------------------------


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds used so far by each process named postgres (on this machine)."""
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, rest = (entry / "stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        if name.endswith("(postgres"):
            fields = rest.split()
            used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return used


@contextmanager
def measured(engine: Engine) -> Iterator[dict[str, float]]:
    """Wall and own CPU seconds of the block, the load average before it and, on PostgreSQL,
    the CPU seconds of the server's processes alive at its end (a process that exits within
    the block is not counted)."""
    figures: dict[str, float] = {"load_before": os.getloadavg()[0]}
    server = engine.dialect.name == "postgresql"
    before = _postgres_cpu() if server else {}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    yield figures
    figures["wall_s"] = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    figures["cpu_s"] = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    if server:
        now = _postgres_cpu()
        figures["postgres_cpu_s"] = sum(cpu - before.get(pid, 0.0) for pid, cpu in now.items())


def per_member(
    engine: Engine, shop_id: int, programme: Programme, customers: list[int], day: date
) -> None:
    """The baseline: what the online path does for one member, member by member."""
    at = calendar.day_start(programme, day)
    evaluating = tiers.is_evaluation_day(programme, day)
    m = t.loyalty_members.c
    for customer in customers:
        with engine.begin() as connection:
            account = lock_member(connection, shop_id, customer)
            assert account is not None
            posting = ledger.settle(account.points, at)
            if posting.entries:
                store(connection, shop_id, account, posting, at, programme.refund_policy)
            since = calendar.tier_window_start(programme, NOW)
            facts = qualifying_facts(connection, shop_id, customer, since, NOW)
            growth = tiers.growth(programme, facts)
            due = account.downgrade_at
            on = calendar.local_date(programme, due) if due else None
            state = tiers.TierState(account.tier, on)
            if evaluating:
                state = tiers.evaluate(programme, state, growth, day).after
            state = tiers.on_growth_change(programme, state, growth) or state
            downgrade = state.downgrade_on
            connection.execute(
                update(t.loyalty_members)
                .where(m.id == account.id)
                .values(
                    growth=growth,
                    tier=state.tier,
                    downgrade_at=calendar.day_start(programme, downgrade) if downgrade else None,
                )
            )


def run_days(
    url: str,
    shop_id: int,
    workers: int,
    log: Callable[[str], None],
    before_year_end: Callable[[], None] | None = None,
) -> list[dict[str, Any]]:
    """Run DAYS on the database at ``url``; the figures and counts of each run."""
    programme = sample_programme()
    engine = make_engine(url)
    clock = FixedClock(NOW)
    runs = []
    for n, day in enumerate(DAYS):
        if n == YEAR_END and before_year_end is not None:
            engine.dispose()
            before_year_end()
        with measured(engine) as figures:
            result = run_daily(engine, clock, shop_id, programme, day, workers=workers)
        runs.append({**figures, "counts": asdict(result)})
        shown = ", ".join(f"{k} {v:.1f}" for k, v in figures.items())
        log(f"  {day} (workers {workers}): {shown}; {_short(result)}")
    engine.dispose()
    return runs


def _short(result: DailyRun) -> str:
    events = ", ".join(f"{k} {v:,}" for k, v in result.events.items() if v)
    return (
        f"activated {result.activated_lots:,}, expired {result.expired_lots:,}, "
        f"growth stored {result.growth_updated:,}, up {result.upgraded:,}, "
        f"down {result.downgraded:,}, scheduled {result.scheduled:,}; events: {events or '-'}"
    )


def baseline(
    url: str, shop_id: int, members: int, sample: int, log: Callable[[str], None]
) -> dict[str, Any]:
    """The per-member path for the year end on ``sample`` random members, extrapolated."""
    engine = make_engine(url)
    chosen = sorted(np.random.default_rng(1).choice(members, sample, replace=False) + 1)
    with measured(engine) as figures:
        per_member(engine, shop_id, sample_programme(), [int(c) for c in chosen], DAYS[YEAR_END])
    engine.dispose()
    per = figures["wall_s"] / sample
    found = {
        **figures,
        "sample": sample,
        "per_member_ms": per * 1e3,
        "all_members_s": per * members,
    }
    log(f"  baseline, {sample:,} members one by one: {per * 1e3:.2f} ms each")
    return found


# --- the two databases ------------------------------------------------------------------------


def sqlite_bench(members: int, sample: int, log: Callable[[str], None]) -> dict[str, Any]:
    files = {name: OUT / f"loyalty_daily_{name}.db" for name in ("source", "run", "baseline")}
    for file in files.values():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{file}{suffix}").unlink(missing_ok=True)
    shop_id, load_s = build(f"sqlite:///{files['source']}", members, sample_programme())
    log(f"sqlite: {members:,} members loaded in {load_s:.0f} s")
    shutil.copy(files["source"], files["run"])
    runs = run_days(
        f"sqlite:///{files['run']}",
        shop_id,
        1,
        log,
        lambda: shutil.copy(files["run"], files["baseline"]),
    )
    return {
        "members": members,
        "runs": runs,
        "baseline": baseline(f"sqlite:///{files['baseline']}", shop_id, members, sample, log),
    }


VARIANTS = {
    "2 workers": (2, False),
    "1 worker": (1, False),
    "2 workers, foreign keys dropped": (2, True),
}
"""PostgreSQL variants: connections at once, and whether the foreign keys are dropped."""


def postgres_bench(
    admin_url: str,
    members: int,
    sample: int,
    variants: list[str],
    log: Callable[[str], None],
) -> dict[str, Any]:
    admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    names = ("patron_bench", "patron_bench_run", "patron_bench_baseline")

    def url(name: str) -> str:
        return make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    def sql(statement: str) -> None:
        with admin.connect() as connection:
            connection.execute(text(statement))

    def copy(source: str, target: str) -> None:
        sql(f"DROP DATABASE IF EXISTS {target}")
        sql(f"CREATE DATABASE {target} TEMPLATE {source}")

    for name in names:
        sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    sql(f"CREATE DATABASE {names[0]}")
    try:
        shop_id, load_s = build(url(names[0]), members, sample_programme())
        log(f"postgres: {members:,} members loaded in {load_s:.0f} s")
        engine = make_engine(url(names[0]))
        with engine.connect() as connection:
            rows = {
                table: connection.execute(
                    select(func.count()).select_from(t.metadata.tables[table])
                ).scalar_one()
                for table in ("orders", "refunds", "loyalty_lots", "loyalty_entries")
            }
        engine.dispose()
        found: dict[str, Any] = {"members": members, "rows": rows, "load_s": load_s, "variants": {}}
        for variant in variants:
            workers, drop = VARIANTS[variant]
            log(f" {variant}")
            copy(names[0], names[1])
            if drop:
                engine = make_engine(url(names[1]))
                with engine.begin() as connection:
                    for table, key in FOREIGN_KEYS:
                        connection.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {key}"))
                engine.dispose()
            with_baseline = variant == variants[0] and sample > 0
            found["variants"][variant] = run_days(
                url(names[1]),
                shop_id,
                workers,
                log,
                (lambda: copy(names[1], names[2])) if with_baseline else None,
            )
            if with_baseline:
                found["baseline"] = baseline(url(names[2]), shop_id, members, sample, log)
        return found
    finally:
        for name in names:
            sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--sqlite-members", type=int, default=100_000)
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--sample", type=int, default=10_000)
    parser.add_argument("--skip", choices=("sqlite", "postgres"), action="append", default=[])
    parser.add_argument(
        "--variant",
        choices=list(VARIANTS),
        action="append",
        help="PostgreSQL variants to run (default: all; the baseline runs with the first)",
    )
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    results: dict[str, Any] = {"started": datetime.now(UTC).isoformat(), "cores": os.cpu_count()}

    def log(line: str) -> None:
        print(line, flush=True)

    if "sqlite" not in args.skip:
        sample = min(args.sample, args.sqlite_members // 10)
        results["sqlite"] = sqlite_bench(args.sqlite_members, sample, log)
    if "postgres" not in args.skip:
        variants = args.variant or list(VARIANTS)
        results["postgres"] = postgres_bench(
            args.postgres, args.members, args.sample, variants, log
        )
    (OUT / "loyalty_daily.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
