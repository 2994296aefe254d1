"""`patron loyalty` as an operator runs it: a programme from the sample, the history backfilled,
members' points, audited writes, the report. Figures from the sample programme (1 point per
yuan, first order +100, pending for 15 days; growth = yuan + 10 per order, Silver from
1,000)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from conftest import NOW
from patron.cli.app import main
from patron.cli.options import Globals
from patron.clock import FixedClock
from patron.db import tables as t
from patron.loyalty.programme import load_programme

ORDERS = """order_id,customer_id,placed_at,sku,quantity,unit_price,status
A1,c1,2026-03-01 10:00:00,S1,2,10.00,completed
A2,c1,2026-05-01 10:00:00,S1,1,10.00,completed
A3,c2,2026-06-20 09:30:00,S2,1,3000.00,completed
A4,c3,2026-11-20 09:30:00,S2,1,300.00,paid
"""
"""c1: 20 yuan + 100 and 10 (130 points, growth 50); c2: 3,000 + 100 (growth 3,010: Silver);
c3: 300 + 100 still pending on 23 November."""


@pytest.fixture(autouse=True)
def _reset_globals() -> None:
    Globals.db = None
    Globals.shop = None


@pytest.fixture
def shop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> list[str]:
    """The arguments that reach shop s1 with its orders loaded; every command runs at NOW."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("patron.core.SystemClock", lambda: FixedClock(NOW))
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS, encoding="utf-8")
    assert main(["--db", db, "db", "upgrade"]) == 0
    assert main(["--db", db, "ingest", "orders", str(orders), "--shop", "s1"]) == 0
    capsys.readouterr()
    return ["--db", db, "--shop", "s1", "loyalty"]


def _json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


def test_programme_from_the_sample(
    shop: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*shop, "member", "c1"]) == 3
    assert "programme set FILE" in capsys.readouterr().err
    assert main(["loyalty", "programme", "sample"]) == 0
    sample = tmp_path / "programme.toml"
    sample.write_text(capsys.readouterr().out, encoding="utf-8")
    assert load_programme(sample).name == "sample"
    assert main(["loyalty", "programme", "sample", "--path"]) == 0
    assert Path(capsys.readouterr().out.strip()).read_text("utf-8") == sample.read_text("utf-8")
    assert main([*shop, "programme", "set", str(sample)]) == 0
    assert "now in force: version 1" in capsys.readouterr().out
    assert main([*shop, "programme", "set", str(sample)]) == 0
    assert "unchanged: version 1" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(sample.read_text("utf-8").replace("threshold = 5000", "threshold = 500"))
    assert main([*shop, "programme", "set", str(bad)]) == 2
    assert "tiers.levels[2].threshold" in capsys.readouterr().err
    assert main([*shop, "programme", "show", "--format", "json"]) == 0
    assert _json(capsys)["version"] == 1
    assert main([*shop, "programme", "show", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "示例店铺会员计划" in out and "钻石会员" in out and "15 days" in out


def test_backfill_members_writes_and_report(
    shop: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["loyalty", "programme", "sample"])
    sample = tmp_path / "programme.toml"
    sample.write_text(capsys.readouterr().out, encoding="utf-8")
    assert main([*shop, "programme", "set", str(sample)]) == 0
    assert main([*shop, "backfill", "--as-of", "2026-11-22"]) == 0
    out = capsys.readouterr().out
    assert "customers enrolled" in out and "3,630" in out
    assert main([*shop, "member", "c2", "--format", "json"]) == 0
    c2 = _json(capsys)
    assert (c2["balance"], c2["available"], c2["growth"], c2["tier"]["code"]) == (
        3_100,
        3_100,
        3_010,
        "silver",
    )
    assert main([*shop, "member", "c2", "--lang", "zh"]) == 0
    assert "银卡会员" in capsys.readouterr().out

    assert main([*shop, "earn", "c1", "--action", "signin"]) == 0
    assert "granted 5 points; now 135 points, 135 available" in capsys.readouterr().out
    assert main([*shop, "earn", "c1", "--action", "signin"]) == 0
    assert "already rewarded" in capsys.readouterr().out
    assert main([*shop, "redeem", "c2", "100", "--key", "k1", "--reason", "coupon"]) == 0
    assert "now 3,000 points, 3,000 available" in capsys.readouterr().out
    assert main([*shop, "redeem", "c2", "100", "--key", "k1", "--reason", "coupon"]) == 0
    assert "already redeemed with this key" in capsys.readouterr().out
    assert main([*shop, "redeem", "c1", "1000", "--key", "k2"]) == 1
    assert "[points_insufficient]: not enough points: 1000 wanted, 135 available" in (
        capsys.readouterr().err
    )
    assert main([*shop, "adjust", "c3", "-50", "--reason", "typo", "--key", "a1"]) == 0
    assert "c3: -50 points adjusted (key a1); now 350 points" in capsys.readouterr().out
    assert main([*shop, "adjust", "c3", "-50", "--reason", "typo", "--key", "a1"]) == 0
    assert "already adjusted" in capsys.readouterr().out

    assert main([*shop, "report", "--as-of", "2026-11-23", "--format", "json"]) == 0
    report = _json(capsys)
    assert [(t["tier"], t["members"]) for t in report["members_by_tier"]] == [
        ("member", 2),
        ("silver", 1),
        ("gold", 0),
        ("diamond", 0),
    ]
    assert report["liability"] == {
        "outstanding": 135 + 3_000 + 350,
        "pending": 350,
        "spendable": 135 + 3_000,
        "debt": 0,
        "members_in_debt": 0,
    }
    months = {m["month"]: m for m in report["monthly"]}
    assert [months[m]["earned"] for m in ("2026-03", "2026-05", "2026-06", "2026-11")] == [
        120,
        10,
        3_100,
        405,
    ]
    assert (months["2026-11"]["redeemed"], months["2026-11"]["adjusted"]) == (100, -50)
    assert report["adjustments"] == [{"reason": "typo", "count": 1, "points": -50}]
    assert main([*shop, "report", "--as-of", "2026-11-23", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "section,key,label,metric,value"
    assert "members_by_tier,silver,Silver,members,1" in lines
    assert main([*shop, "report", "--as-of", "2026-11-23", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "银卡会员" in out and "end of 2026-11-23" in out

    # The operator's writes are audited, without an API key.
    engine = create_engine(shop[1])
    a = t.audit_log.c
    with engine.connect() as connection:
        audited = connection.execute(
            select(a.method, a.route, a.target, a.api_key_id).order_by(a.id)
        ).all()
    engine.dispose()
    assert [tuple(row) for row in audited] == [
        ("CLI", "patron loyalty programme set programme.toml", "programme", None),
        ("CLI", "patron loyalty backfill", "members", None),
        ("CLI", "patron loyalty earn c1 --action signin", "member:c1", None),
        ("CLI", "patron loyalty earn c1 --action signin", "member:c1", None),
        ("CLI", "patron loyalty redeem c2 100", "member:c2", None),
        ("CLI", "patron loyalty redeem c2 100", "member:c2", None),
        ("CLI", "patron loyalty adjust c3 -50", "member:c3", None),
        ("CLI", "patron loyalty adjust c3 -50", "member:c3", None),
    ]


def test_run_daily_twice_does_nothing_twice(
    shop: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["loyalty", "programme", "sample"])
    sample = tmp_path / "programme.toml"
    sample.write_text(capsys.readouterr().out, encoding="utf-8")
    assert main([*shop, "programme", "set", str(sample)]) == 0
    assert main([*shop, "backfill", "--as-of", "2026-11-01"]) == 0
    capsys.readouterr()
    assert main([*shop, "run-daily", "--date", "2026-11-23", "--format", "json"]) == 0
    first = _json(capsys)
    assert (first["day"], first["at"], first["members"]) == (
        "2026-11-23",
        "2026-11-22T16:00:00+00:00",
        2,
    )
    assert main([*shop, "run-daily", "--date", "2026-11-23", "--format", "json"]) == 0
    again = _json(capsys)
    assert again["lots activated"] == again["lots expired"] == again["events: tier_changed"] == 0
