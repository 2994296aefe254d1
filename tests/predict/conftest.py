"""Fixtures of the prediction tests: the CDNOW sample split at the published dates.

tests/predict is a package, so that this conftest does not shadow the top-level one."""

from __future__ import annotations

from datetime import date

import pytest

from conftest import shared_file
from patron.predict.calibration import Split, split
from patron.predict.transactions import read_transactions

CALIBRATION_END = date(1997, 9, 30)
HOLDOUT_END = date(1998, 6, 30)


@pytest.fixture(scope="session")
def cdnow() -> Split:
    """The 2,357 customers of the CDNOW sample, weeks, calibration 39 weeks, holdout 39 weeks."""
    path = shared_file("CDNOW_sample.txt")
    return split(read_transactions(path, cdnow=True), CALIBRATION_END, HOLDOUT_END)
