"""Each log-likelihood against the paper's formula computed here with plain math, or against
numerical integration of the individual-level model over what the closed form integrates out."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import hyp2f1

from patron.predict.clv import bgnbd, gamma_gamma, mbgnbd, pareto_nbd
from patron.predict.clv.base import Patterns
from patron.predict.clv.bgnbd import BGNBD, BGNBDParams
from patron.predict.clv.gamma_gamma import GammaGammaParams
from patron.predict.clv.mbgnbd import MBGNBD, MBGNBDParams
from patron.predict.clv.pareto_nbd import ParetoNBDParams
from patron.predict.clv.special import hyp2f1 as hyp2f1_safe
from patron.predict.clv.special import log1mexp, per_count

BG = BGNBDParams(r=0.25, alpha=4.0, a=0.8, b=2.5)
MBG = MBGNBDParams(r=0.5, alpha=6.0, a=0.9, b=1.6)
PARETO_BRANCHES = [
    ParetoNBDParams(r=0.55, alpha=12.0, s=0.6, beta=8.0),  # alpha > beta
    ParetoNBDParams(r=0.55, alpha=8.0, s=0.6, beta=12.0),  # alpha < beta
    ParetoNBDParams(r=0.55, alpha=10.0, s=0.6, beta=10.0),
]
CUSTOMERS = [(0, 0.0, 30.0), (1, 5.5, 30.0), (2, 20.0, 30.0), (7, 29.0, 30.0), (3, 12.0, 12.0)]


def ll(terms: tuple[np.ndarray, np.ndarray]) -> float:
    return float(np.logaddexp(*terms)[0])


def arrays(x: float, t_x: float, age: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.array([float(x)]), np.array([t_x]), np.array([age])


def beta_fn(a: float, b: float) -> float:
    return math.gamma(a) * math.gamma(b) / math.gamma(a + b)


def test_bgnbd_one_time_buyer_is_the_nbd_zero_count() -> None:
    # x = 0: no drop-out is possible, L = (alpha / (alpha + T))^r.
    assert ll(bgnbd.terms(BG, *arrays(0, 0.0, 30.0))) == pytest.approx(0.25 * math.log(4 / 34))


@pytest.mark.parametrize(("x", "t_x", "age"), CUSTOMERS)
def test_bgnbd_matches_fhl_equation_6(x: int, t_x: float, age: float) -> None:
    r, alpha, a, b = BG.r, BG.alpha, BG.a, BG.b
    nbd = math.gamma(r + x) * alpha**r / math.gamma(r)
    expected = beta_fn(a, b + x) / beta_fn(a, b) * nbd / (alpha + age) ** (r + x)
    if x > 0:
        expected += beta_fn(a + 1, b + x - 1) / beta_fn(a, b) * nbd / (alpha + t_x) ** (r + x)
    assert ll(bgnbd.terms(BG, *arrays(x, t_x, age))) == pytest.approx(math.log(expected), rel=1e-12)


@pytest.mark.parametrize(("x", "t_x", "age"), CUSTOMERS)
def test_mbgnbd_matches_batislam_equation(x: int, t_x: float, age: float) -> None:
    r, alpha, a, b = MBG.r, MBG.alpha, MBG.a, MBG.b
    nbd = math.gamma(r + x) * alpha**r / math.gamma(r)
    expected = beta_fn(a, b + x + 1) / beta_fn(a, b) * nbd / (alpha + age) ** (r + x)
    expected += beta_fn(a + 1, b + x) / beta_fn(a, b) * nbd / (alpha + t_x) ** (r + x)
    assert ll(mbgnbd.terms(MBG, *arrays(x, t_x, age))) == pytest.approx(
        math.log(expected), rel=1e-12
    )


def test_mbgnbd_one_time_buyer_may_have_left_at_once() -> None:
    # x = 0: alive with probability b/(a+b) and no purchase since, or gone with a/(a+b).
    a, b = MBG.a, MBG.b
    expected = b / (a + b) * (MBG.alpha / (MBG.alpha + 30)) ** MBG.r + a / (a + b)
    assert ll(mbgnbd.terms(MBG, *arrays(0, 0.0, 30.0))) == pytest.approx(math.log(expected))


def pareto_by_quadrature(p: ParetoNBDParams, x: int, t_x: float, age: float) -> float:
    """L = Γ(r+x) α^r β^s / Γ(r) · [(α+T)^−(r+x) (β+T)^−s + s ∫ (α+τ)^−(r+x) (β+τ)^−(s+1) dτ],
    the integral over the time of death τ in (t_x, T] done numerically."""
    head = math.gamma(p.r + x) * p.alpha**p.r * p.beta**p.s / math.gamma(p.r)
    alive = (p.alpha + age) ** -(p.r + x) * (p.beta + age) ** -p.s
    dead, _ = quad(
        lambda tau: (p.alpha + tau) ** -(p.r + x) * (p.beta + tau) ** -(p.s + 1),
        t_x,
        age,
        epsabs=0,
        epsrel=1e-13,
    )
    return head * (alive + p.s * dead)


@pytest.mark.parametrize("params", PARETO_BRANCHES)
@pytest.mark.parametrize(("x", "t_x", "age"), CUSTOMERS)
def test_pareto_nbd_matches_the_integral_over_the_time_of_death(
    params: ParetoNBDParams, x: int, t_x: float, age: float
) -> None:
    expected = math.log(pareto_by_quadrature(params, x, t_x, age))
    assert ll(pareto_nbd.terms(params, *arrays(x, t_x, age))) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("params", PARETO_BRANCHES[:2])
def test_pareto_nbd_matches_the_notes_hypergeometric_form(params: ParetoNBDParams) -> None:
    # Fader & Hardie's A0 with 2F1(r+s+x, s+1 | r+x; r+s+x+1; ·), each branch as printed.
    r, alpha, s, beta = params.r, params.alpha, params.s, params.beta
    x, t_x, age = 4, 17.0, 39.0
    big, b2 = (alpha, s + 1) if alpha >= beta else (beta, r + x)
    c = r + s + x

    def term(t: float) -> float:
        return float(hyp2f1(c, b2, c + 1, abs(alpha - beta) / (big + t)) / (big + t) ** c)

    head = math.gamma(r + x) * alpha**r * beta**s / math.gamma(r)
    a0 = term(t_x) - term(age)
    expected = head * ((alpha + age) ** -(r + x) * (beta + age) ** -s + s / c * a0)
    assert ll(pareto_nbd.terms(params, *arrays(x, t_x, age))) == pytest.approx(
        math.log(expected), rel=1e-12
    )


def test_pareto_nbd_last_purchase_at_t_is_only_alive() -> None:
    # t_x = T leaves no time to die after the last purchase: the dead term is zero.
    p = PARETO_BRANCHES[0]
    alive, dead = pareto_nbd.terms(p, *arrays(3, 20.0, 20.0))
    assert dead[0] == -np.inf
    assert math.exp(alive[0]) == pytest.approx(pareto_by_quadrature(p, 3, 20.0, 20.0))


@pytest.mark.parametrize(("x", "m"), [(1, 10.0), (3, 35.5), (12, 4.2)])
def test_gamma_gamma_density_integrates_out_nu(x: int, m: float) -> None:
    # The mean of x Gamma(p, ν) values is Gamma(px, rate xν); ν ~ Gamma(q, rate γ).
    params = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)
    p, q, g = params.p, params.q, params.gamma

    def joint(nu: float) -> float:
        k, rate = p * x, x * nu
        mean = math.exp(k * math.log(rate) + (k - 1) * math.log(m) - rate * m - math.lgamma(k))
        prior = math.exp(q * math.log(g) + (q - 1) * math.log(nu) - g * nu - math.lgamma(q))
        return mean * prior

    density, _ = quad(joint, 0, np.inf, epsabs=0, epsrel=1e-12)
    found = gamma_gamma.log_likelihood(params, np.array([float(x)]), np.array([m]))[0]
    assert found == pytest.approx(math.log(density), rel=1e-9)


@pytest.mark.parametrize(("model", "params"), [(BGNBD(), BG), (MBGNBD(), MBG)])
def test_closed_form_gradient_matches_finite_differences(model: Any, params: Any) -> None:
    x, t_x, age = (np.array(c, dtype=np.float64) for c in zip(*CUSTOMERS, strict=True))
    patterns = Patterns((x, t_x, age), np.array([3.0, 1.0, 2.0, 5.0, 1.0]))

    def total(values: np.ndarray) -> float:
        return float(patterns.weight @ model.log_likelihood(type(params).of(values), (x, t_x, age)))

    value, slope = model.total_gradient(params, patterns)
    assert value == pytest.approx(total(params.vector()), rel=1e-13)
    base = params.vector()
    for i in range(len(base)):
        step = np.zeros_like(base)
        step[i] = 1e-6 * base[i]
        numeric = (total(base + step) - total(base - step)) / (2 * step[i])
        assert slope[i] == pytest.approx(numeric, rel=1e-6)


def test_per_count_reads_a_table_or_falls_back() -> None:
    few = np.array([0.0, 3.0, 3.0, 1.0, 2.0])
    np.testing.assert_allclose(per_count(lambda k: k**2 + 1, few), few**2 + 1)
    spread = np.array([0.0, 1000.0])  # more distinct counts than rows: evaluated directly
    np.testing.assert_allclose(per_count(lambda k: k**2 + 1, spread), spread**2 + 1)


def test_log1mexp_is_accurate_at_both_ends() -> None:
    d = np.array([0.0, -1e-20, -1e-5, -0.5, -5.0, -800.0])
    expected = [
        -math.inf,
        math.log(1e-20),
        math.log(-math.expm1(-1e-5)),
        math.log1p(-math.exp(-0.5)),
    ]
    expected += [math.log1p(-math.exp(-5.0)), 0.0]
    np.testing.assert_allclose(log1mexp(d), expected, rtol=1e-14)


@pytest.mark.parametrize(
    ("a", "b", "c", "z"),
    [
        (1.0, 0.05, 100.05, 0.95),  # c − a − b = 99: scipy 1.17 returns inf
        (1.0, 615.393911831095, 616.6230838823549, 0.9969790876549703),  # scipy: nan
        (-0.3, 3.0, 101.3, 0.99),
        (1.0, 2.0, 3.0, 0.5),
    ],
)
def test_hyp2f1_is_the_series_where_scipy_fails(a: float, b: float, c: float, z: float) -> None:
    total, term, k = 0.0, 1.0, 0
    while abs(term) > 1e-18 * abs(total) or k == 0:
        total += term
        term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * z
        k += 1
    assert hyp2f1_safe(a, b, c, z) == pytest.approx(total, rel=1e-12)


def test_gamma_gamma_gradient_matches_finite_differences() -> None:
    params = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)
    x, m = np.array([1.0, 3.0, 12.0, 3.0]), np.array([10.0, 35.5, 4.2, 80.0])
    weight = np.array([2.0, 1.0, 1.0, 4.0])

    def total(values: np.ndarray) -> float:
        return float(weight @ gamma_gamma.log_likelihood(GammaGammaParams.of(values), x, m))

    value, slope = gamma_gamma.gradient(params, gamma_gamma.SpendSums.of(x, m, weight))
    assert value == pytest.approx(total(params.vector()), rel=1e-13)
    base = params.vector()
    for i in range(3):
        step = np.zeros(3)
        step[i] = 1e-6 * base[i]
        numeric = (total(base + step) - total(base - step)) / (2 * step[i])
        assert slope[i] == pytest.approx(numeric, rel=1e-6)
