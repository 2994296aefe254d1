"""The command line as a user runs it: exit statuses, JSON output, the demo."""

import json
from pathlib import Path

import pytest

from patron.cli.app import main
from patron.cli.options import Globals
from predict.shop import BUYERS, LAST_DAY, orders, write_orders


@pytest.fixture(autouse=True)
def _reset_globals() -> None:
    Globals.db = None
    Globals.shop = None


def test_db_upgrade_ingest_and_stats_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,customer_id,placed_at,sku,quantity,unit_price,shipping\n"
        "A1,c1,2025-03-01 10:00:00,S1,2,10.00,6\n"
        "A1,c1,2025-03-01 10:00:00,S2,1,5.50,6\n"
        "A2,c2,2025-03-02 09:30:00,S1,1,10.00,0\n",
        encoding="utf-8",
    )
    assert main(["--db", db, "db", "upgrade"]) == 0
    assert main(["ingest", "orders", str(orders), "--db", db, "--shop", "s1"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "--shop", "s1", "stats", "--format", "json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats == {
        "shop": "s1",
        "currency": "CNY",
        "timezone": "Asia/Shanghai",
        "customers": 2,
        "orders": 2,
        "order_lines": 3,
        "refunds": 0,
        "events": 0,
        "products": 2,
        "reviews": 0,
        "gross_revenue_minor": 2550 + 600 + 1000,
        "net_revenue_minor": 4150,
        "first_order_at": "2025-03-01T02:00:00+00:00",
        "last_order_at": "2025-03-02T01:30:00+00:00",
    }


def test_unknown_shop_and_outdated_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main(["--db", db, "stats"]) == 1
    assert "patron db upgrade" in capsys.readouterr().err
    assert main(["--db", db, "db", "upgrade"]) == 0
    assert main(["--db", db, "stats", "--shop", "nowhere"]) == 3
    assert "no shop named 'nowhere'" in capsys.readouterr().err


def test_demo_small_shop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--customers", "300", "--seed", "3"]) == 0
    assert (out / "patron.db").exists()
    capsys.readouterr()
    assert (
        main(
            [
                "--db",
                f"sqlite:///{out / 'patron.db'}",
                "stats",
                "--shop",
                "demo",
                "--format",
                "json",
            ]
        )
        == 0
    )
    stats = json.loads(capsys.readouterr().out)
    assert stats["customers"] >= 300
    assert stats["orders"] > 300
    assert stats["order_lines"] > stats["orders"]
    assert 0 < stats["net_revenue_minor"] < stats["gross_revenue_minor"]
    # The demo is deterministic: running it again changes nothing.
    assert main(["demo", "--out", str(out), "--customers", "300", "--seed", "3"]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "--db",
                f"sqlite:///{out / 'patron.db'}",
                "stats",
                "--shop",
                "demo",
                "--format",
                "json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == stats


def test_analyze_and_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,customer_id,placed_at,sku,quantity,unit_price,status\n"
        "A1,c1,2026-03-01 10:00:00,S1,2,10.00,completed\n"
        "A2,c1,2026-05-01 10:00:00,S1,1,10.00,completed\n"
        "A3,c2,2026-06-20 09:30:00,S2,1,30.00,completed\n",
        encoding="utf-8",
    )
    assert main(["--db", db, "db", "upgrade"]) == 0
    assert main(["ingest", "orders", str(orders), "--db", db, "--shop", "s1"]) == 0
    capsys.readouterr()
    assert (
        main(["--db", db, "--shop", "s1", "analyze", "--as-of", "2026-06-30", "--format", "json"])
        == 0
    )
    run = json.loads(capsys.readouterr().out)
    assert (run["as_of"], run["profiles"], run["stage_changes"]) == (
        "2026-06-30T16:00:00+00:00",
        2,
        2,
    )
    kpis = run["kpis"]
    assert (kpis["customers"], kpis["buyers"], kpis["repeat_buyers"], kpis["aov_minor"]) == (
        2,
        2,
        1,
        2000,
    )
    assert (
        main(["--db", db, "--shop", "s1", "report", "stages", "--format", "json", "--lang", "zh"])
        == 0
    )
    stages = {r["stage"]: (r["label"], r["customers"]) for r in json.loads(capsys.readouterr().out)}
    assert stages["new"] == ("新客", 1) and sum(n for _, n in stages.values()) == 2
    assert main(["--db", db, "--shop", "s1", "report", "kpis", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["repurchase_rate"] == 0.5
    assert main(["--db", db, "--shop", "s1", "analyze", "--as-of", "2026-13-01"]) == 2


def test_predict_scores_and_report_clv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    path = write_orders(tmp_path / "orders.csv", orders())
    assert main(["--db", db, "db", "upgrade"]) == 0
    assert main(["--db", db, "shops", "create", "s1", "--timezone", "UTC"]) == 0
    assert main(["ingest", "orders", str(path), "--db", db, "--shop", "s1"]) == 0
    assert main(["--db", db, "--shop", "s1", "report", "clv"]) == 3
    assert "run `patron predict`" in capsys.readouterr().err
    day = str(LAST_DAY)
    args = ["--db", db, "--shop", "s1", "predict", "--as-of", day, "--model", "pnbd"]
    assert main([*args, "--horizon-days", "90", "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert (run["as_of"], run["model"], run["horizon_days"]) == (
        "2026-07-01T00:00:00+00:00",
        "pareto_nbd",
        90,
    )
    assert (run["customers"], run["buyers"]) == (BUYERS + 1, BUYERS + 1)
    assert set(run["params"]) == {"r", "alpha", "s", "beta"} and 0 < run["mean_p_alive"] < 1
    assert main([*args[:-2], "--format", "table"]) == 0
    out = capsys.readouterr().out
    assert "customers scored" in out and "mean P(alive) of buyers" in out
    assert main(["--db", db, "--shop", "s1", "report", "clv", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valued"] == BUYERS + 1 and report["segments"] == []
    assert main(["--db", db, "--shop", "s1", "report", "clv", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "前 1 %" in out and "not been analysed yet" in out
    assert main(["--db", db, "--shop", "s1", "analyze", "--as-of", day]) == 0
    capsys.readouterr()
    assert main(["--db", db, "--shop", "s1", "report", "clv", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "by,group,label,customers,clv_minor,share"
    assert {line.split(",")[0] for line in lines[1:]} == {"band", "segment", "stage"}
    # An earlier moment than the stored predictions is refused.
    assert main([*args[:5], "--as-of", "2026-06-01"]) == 1
    assert "scored as of 2026-07-01" in capsys.readouterr().err


def test_a_usage_error_is_a_message_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--bogus"]) == 2
    said = capsys.readouterr().err
    assert "No such option: --bogus" in said
    assert "Traceback" not in said
