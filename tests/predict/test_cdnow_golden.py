"""The published estimates and holdout figures on the CDNOW sample (../shared/data/README.md):
Fader, Hardie & Lee (2005), Marketing Science 24(2) and Journal of Marketing Research 42(4).
Each is asserted to the precision it was published with."""

from __future__ import annotations

import pytest

from patron.predict.calibration import Split, evaluate
from patron.predict.clv import BGNBD, GammaGamma, ParetoNBD

pytestmark = pytest.mark.shared_data


def rounded(params: dict[str, float], digits: int) -> dict[str, float]:
    return {name: round(value, digits) for name, value in params.items()}


def test_the_sample_summary_has_the_published_cohort(cdnow: Split) -> None:
    summary = cdnow.summary
    assert len(summary) == 2357
    assert (summary["frequency"] > 0).sum() == 946
    assert (summary["frequency"] == 0).sum() == 1411
    assert summary["T"].max() == pytest.approx(272 / 7)  # first purchase on 1 January 1997


def test_bgnbd_estimates(cdnow: Split) -> None:
    model = BGNBD().fit(cdnow.summary)
    assert model.converged_
    assert rounded(model.params_.as_dict(), 3) == {
        "r": 0.243,
        "alpha": 4.414,
        "a": 0.793,
        "b": 2.426,
    }
    assert round(model.log_likelihood_, 1) == -9582.4


def test_pareto_nbd_estimates(cdnow: Split) -> None:
    model = ParetoNBD().fit(cdnow.summary)
    assert model.converged_
    assert rounded(model.params_.as_dict(), 3) == {
        "r": 0.553,
        "alpha": 10.578,
        "s": 0.606,
        "beta": 11.669,
    }
    assert round(model.log_likelihood_, 1) == -9595.0


def test_gamma_gamma_estimates_on_the_946_repeat_buyers(cdnow: Split) -> None:
    model = GammaGamma().fit(cdnow.summary)
    assert model.customers_ == 946
    assert rounded(model.params_.as_dict(), 2) == {"p": 6.25, "q": 3.74, "gamma": 15.44}


def test_bgnbd_holdout_figures(cdnow: Split) -> None:
    report = evaluate(BGNBD().fit(cdnow.summary), cdnow)
    # Week 78 ends on the holdout end; the cumulative forecast falls about 4% short.
    assert len(report.week_ends) == 78
    assert str(report.week_ends[-1]) == "1998-06-30"
    assert round(report.cumulative_error, 2) == -0.04
    assert round(report.holdout.correlation, 3) == 0.626
    zero = report.by_frequency[0]
    assert (zero.frequency, zero.customers) == (0, 1411)
    assert (round(zero.predicted, 2), round(zero.actual, 2)) == (0.23, 0.24)
