"""Fixtures of the analytics tests: the hand-built shop's facts on an in-process DuckDB.

tests/analytics is a package, so that this conftest does not shadow the top-level one."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from ibis import BaseBackend

from analytics.shop import write_shop
from patron.analytics.facts import Facts, connect_duckdb, read_facts


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[BaseBackend]:
    con = connect_duckdb(memory_limit="1GB", temp_directory=tmp_path / "duck", threads=1)
    yield con
    # Cached tables are dropped when their expressions are collected: those a test keeps in a
    # reference cycle (a refused refresh's traceback) must go while the connection is open.
    gc.collect()
    con.disconnect()


@pytest.fixture
def facts(duck: BaseBackend, tmp_path: Path) -> Facts:
    return read_facts(duck, write_shop(tmp_path / "facts"))
