"""`patron analyze --incremental` as a user runs it: a full analysis the first time (it keeps
the state), then refreshes, each saying which it did and why."""

import json
from pathlib import Path

import pytest

from patron.cli.app import main
from patron.cli.options import Globals

HEADER = "order_id,customer_id,placed_at,sku,quantity,unit_price,status\n"


@pytest.fixture(autouse=True)
def _reset_globals() -> None:
    Globals.db = None
    Globals.shop = None


def _ingest(db: str, path: Path, rows: str) -> None:
    path.write_text(HEADER + rows, encoding="utf-8")
    assert main(["ingest", "orders", str(path), "--db", db, "--shop", "s1"]) == 0


def test_analyze_incremental(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["--db", db, "db", "upgrade"]) == 0
    _ingest(
        db,
        tmp_path / "june.csv",
        "A1,c1,2026-03-01 10:00:00,S1,2,10.00,completed\n"
        "A2,c1,2026-05-01 10:00:00,S1,1,10.00,completed\n"
        "A3,c2,2026-06-20 09:30:00,S2,1,30.00,completed\n",
    )
    capsys.readouterr()
    args = ["--db", db, "--shop", "s1", "analyze", "--incremental"]
    assert main([*args, "--as-of", "2026-06-30", "--format", "json"]) == 0
    first = json.loads(capsys.readouterr().out)
    # The shop's day ends at 16:00 UTC (Asia/Shanghai).
    assert (first["as_of"], first["refreshed_from"], first["full_because"]) == (
        "2026-06-30T16:00:00+00:00",
        None,
        "no state kept yet",
    )
    assert first["tags_as_of"] == first["as_of"]
    _ingest(db, tmp_path / "july.csv", "A4,c3,2026-07-01 11:00:00,S1,1,20.00,completed\n")
    capsys.readouterr()
    assert main([*args, "--as-of", "2026-07-01", "--format", "json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert (second["refreshed_from"], second["full_because"]) == (first["as_of"], None)
    assert second["tags_as_of"] == first["as_of"]
    assert (second["kpis"]["customers"], second["kpis"]["buyers"]) == (3, 3)
    assert main([*args, "--as-of", "2026-07-02"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # as wrapped to the terminal
    assert "Refreshed from the state as of 2026-07-01 16:00 UTC." in out
    assert "Preference tags and intent are those of the last full analysis" in out
    assert main([*args, "--as-of", "2026-06-15"]) != 0
    assert "a refresh moves forwards" in capsys.readouterr().err
