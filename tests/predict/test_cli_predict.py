"""`patron predict evaluate` as a user runs it, on the CDNOW sample and on a CSV of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import shared_file
from patron.cli.app import main
from patron.predict.transactions import read_transactions

pytestmark = pytest.mark.shared_data

DATES = ["--calibration-end", "1997-09-30", "--holdout-end", "1998-06-30"]


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    capsys.readouterr()
    assert main(["predict", "evaluate", *args, *DATES, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_evaluate_cdnow_json(capsys: pytest.CaptureFixture[str]) -> None:
    path = shared_file("CDNOW_sample.txt")
    report = run_json(capsys, "--transactions", str(path), "--cdnow")
    assert {"params", "log_likelihood", "holdout_actual", "holdout_predicted"} <= set(report)
    assert {"cumulative_error", "individual_correlation", "mae", "weekly", "by_frequency"} <= set(
        report
    )
    assert {k: round(v, 3) for k, v in report["params"].items()} == {  # type: ignore[attr-defined]
        "r": 0.243,
        "alpha": 4.414,
        "a": 0.793,
        "b": 2.426,
    }
    assert round(report["log_likelihood"], 1) == -9582.4  # type: ignore[call-overload]
    assert report["holdout_actual"] == 1882
    assert round(report["cumulative_error"], 2) == -0.04  # type: ignore[call-overload]
    assert round(report["individual_correlation"], 3) == 0.626  # type: ignore[call-overload]


def test_evaluate_csv_gives_the_same_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = shared_file("CDNOW_sample.txt")
    csv = tmp_path / "transactions.csv"
    read_transactions(path, cdnow=True).to_csv(csv, index=False)
    from_csv = run_json(capsys, "--transactions", str(csv), "--model", "pareto_nbd")
    from_cdnow = run_json(capsys, "--transactions", str(path), "--cdnow", "--model", "pareto_nbd")
    assert from_csv == from_cdnow
    assert round(from_csv["log_likelihood"], 1) == -9595.0  # type: ignore[call-overload]


def test_evaluate_table(capsys: pytest.CaptureFixture[str]) -> None:
    path = shared_file("CDNOW_master.txt")
    assert main(["predict", "evaluate", "--transactions", str(path), "--cdnow", *DATES]) == 0
    out = capsys.readouterr().out
    assert "bgnbd fitted on 23,570 customers (weeks)" in out
    assert "individual correlation" in out
    assert "1998-06-30" in out


def test_evaluate_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "none.csv"
    assert main(["predict", "evaluate", "--transactions", str(missing), *DATES]) == 3
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,date\nc1,2024-01-01\n")
    assert main(["predict", "evaluate", "--transactions", str(bad), *DATES]) == 2
    assert "the header lacks amount" in capsys.readouterr().err
    few = tmp_path / "few.csv"
    few.write_text("customer_id,date,amount\nc1,1997-01-01,5\nc1,1997-02-01,5\n")
    assert main(["predict", "evaluate", "--transactions", str(few), *DATES]) == 2
    assert "needs at least 200 customers" in capsys.readouterr().err


def test_churn_evaluate_json(capsys: pytest.CaptureFixture[str]) -> None:
    path = shared_file("CDNOW_sample.txt")
    capsys.readouterr()
    args = ["--transactions", str(path), "--cdnow", "--horizon-days", "90", "--format", "json"]
    assert main(["predict", "churn-evaluate", *args]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"auc", "pr_auc", "brier", "calibration", "baseline"} <= set(report)
    assert {"auc", "pr_auc", "brier", "calibration"} <= set(report["baseline"])
    assert (report["customers"], report["test_cut"]) == (2357, "1998-04-02")
    assert (round(report["auc"], 3), round(report["baseline"]["auc"], 3)) == (0.819, 0.834)
    assert [row["bin"] for row in report["calibration"]] == list(range(1, 11))


def test_churn_evaluate_needs_one_source() -> None:
    assert main(["predict", "churn-evaluate"]) == 2
