"""The same analysis on DuckDB and on Spark (local, through Ibis): identical outputs, column by
column — summary, RFM and segments, stage thresholds, stages and transitions, cohorts, KPIs,
preference tags and intent — on the hand-built shop and on a random shop of 600 customers; and
an incremental refresh on Spark equal to a full analysis there.

Slow (a JVM starts, each query is a Spark job); skipped when pyspark or a Java runtime is
missing, so that a machine without them still passes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest
from ibis import BaseBackend

from analytics.shop import AS_OF, write_shop
from analytics.test_kpis import random_rows
from analytics.test_refresh import LATER, WINDOW, assert_same, rows_with
from patron.analytics import cohorts
from patron.analytics.analysis import compute
from patron.analytics.delta import window
from patron.analytics.facts import Facts, connect_duckdb, read_facts
from patron.analytics.kpis import kpis
from patron.analytics.refresh import build, refresh
from patron.analytics.rfm import grid_segments, rfm, score_segments
from patron.analytics.service import Schemes
from patron.analytics.stages import assign, thresholds, transitions
from patron.analytics.summary import customer_summary
from patron.analytics.tags import intent, preference_tags

pyspark_sql = pytest.importorskip("pyspark.sql", reason="pyspark is not installed (extra `spark`)")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("java") is None, reason="no Java runtime for Spark"),
    # pyspark's own: py4j leaves sockets to the JVM open, toPandas passes pandas 3 `copy=`.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


@pytest.fixture(scope="module")
def spark() -> Iterator[BaseBackend]:
    session = (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .appName("patron-equivalence")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield ibis.pyspark.connect(session)
    session.stop()


def _normal(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """Rows in key order, timestamps as naive UTC, nulls as None, integers as int: Spark
    returns naive UTC timestamps and floats where DuckDB returns aware ones and Int64."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            out[column] = values.dt.tz_convert("UTC").dt.tz_localize(None)
        elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            out[column] = values.astype("float64")
    out = out.sort_values(key).reset_index(drop=True)
    return out.astype(object).where(out.notna(), None)


def _outputs(facts: Facts, as_of: datetime) -> dict[str, Any]:
    schemes = Schemes.shipped()
    summary = customer_summary(facts, as_of)
    scored = score_segments(grid_segments(rfm(summary), schemes.grid), schemes.scores)
    limits = thresholds(facts, as_of, schemes.lifecycle)
    staged = assign(summary, limits)
    before = assign(customer_summary(facts, as_of - timedelta(days=30)), limits)
    return {
        "summary": _normal(summary.to_pandas(), ["customer_id"]),
        "rfm": _normal(scored.to_pandas(), ["customer_id"]),
        "thresholds": limits,
        "stages": _normal(staged.to_pandas(), ["customer_id"]),
        "transitions": transitions(before, staged).counts,
        "retention": _normal(cohorts.retention(facts, as_of).to_pandas(), ["cohort", "k"]),
        "revenue": _normal(cohorts.revenue(facts, as_of).to_pandas(), ["cohort", "k"]),
        "kpis": kpis(facts, as_of),
        "tags": _normal(
            preference_tags(facts, as_of, schemes.tags, "Asia/Shanghai").to_pandas(),
            ["customer_id"],
        ),
        "intent": _normal(intent(facts, as_of, schemes.tags).to_pandas(), ["customer_id"]),
    }


def _same(duck: dict[str, Any], spark: dict[str, Any]) -> None:
    for name, expected in duck.items():
        got = spark[name]
        if isinstance(expected, pd.DataFrame):
            assert list(got.columns) == list(expected.columns), name
            for column in expected.columns:
                assert list(got[column]) == list(expected[column]), f"{name}.{column}"
        else:
            assert got == expected, name


@pytest.mark.parametrize("shop", ["hand-built", "random"])
def test_duckdb_and_spark_give_identical_results(
    spark: BaseBackend, tmp_path: Path, shop: str
) -> None:
    if shop == "hand-built":
        folder, as_of = write_shop(tmp_path / "facts"), AS_OF
    else:
        rows = random_rows(customers=600, orders=2_400)
        folder, as_of = write_shop(tmp_path / "facts", rows), datetime(2026, 7, 1, tzinfo=UTC)
    duck = connect_duckdb("1GB", tmp_path / "spill", threads=1)
    try:
        expected = _outputs(read_facts(duck, folder), as_of)
    finally:
        duck.disconnect()
    _same(expected, _outputs(read_facts(spark, folder), as_of))


def test_a_refresh_on_spark_gives_the_full_analysis(spark: BaseBackend, tmp_path: Path) -> None:
    folder = write_shop(tmp_path / "facts", rows_with(WINDOW))
    facts = read_facts(spark, folder)
    done = refresh(build(facts, AS_OF), window(facts, AS_OF, LATER), Schemes.shipped())
    assert_same(compute(facts, LATER, Schemes.shipped()), done.analysis)
