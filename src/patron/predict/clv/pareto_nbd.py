"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987): while alive a customer buys at a Poisson
rate λ ~ Gamma(r, alpha); the lifetime is exponential with rate μ ~ Gamma(s, beta)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import gammaln

from patron.predict.clv.base import Vector
from patron.predict.clv.purchases import PurchaseModel, PurchaseParams, Terms
from patron.predict.clv.special import hyp2f1, log1mexp, per_count

# Below this distance from 1, s − 1 is moved to it: the expectations are smooth in s, and
# their closed form is 0/0 at s = 1 exactly.
S_NEAR_ONE = 1e-7


@dataclass(frozen=True)
class ParetoNBDParams(PurchaseParams):
    s: float
    beta: float


def terms(p: ParetoNBDParams, x: Vector, t_x: Vector, age: Vector) -> Terms:
    """log of the two parts of the likelihood (Fader & Hardie 2005, "A Note on Deriving the
    Pareto/NBD Model", eq. 22): alive at T, and dead at some τ in (t_x, T], which is
    s · ∫ (alpha + τ)^−(r+x) (beta + τ)^−(s+1) dτ over (t_x, T] = s · (J(t_x) − J(T))."""
    head = (
        per_count(lambda k: gammaln(p.r + k), x)
        - gammaln(p.r)
        + p.r * math.log(p.alpha)
        + p.s * math.log(p.beta)
    )
    alive = head - (p.r + x) * np.log(p.alpha + age) - p.s * np.log(p.beta + age)
    from_last, from_end = log_tail(p, x, t_x), log_tail(p, x, age)
    dead = head + math.log(p.s) + from_last + log1mexp(from_end - from_last)
    return alive, dead


def log_tail(p: ParetoNBDParams, x: Vector, t: Vector) -> Vector:
    """log J(t), J(t) = ∫ from t to ∞ of (alpha + τ)^−(r+x) (beta + τ)^−(s+1) dτ. The note's
    2F1(r+s+x, ·; r+s+x+1; z) becomes, by Euler's transformation, a 2F1(1, ·; r+s+x+1; z):
    a series of positive terms with no overflow however many purchases x counts. Which
    branch depends on the larger of alpha and beta, so that 0 ≤ z < 1."""
    c = p.r + p.s + x + 1
    if p.alpha >= p.beta:
        z = (p.alpha - p.beta) / (p.alpha + t)
        series = hyp2f1(1.0, p.r + x, c, z)
        powers = (p.r + x) * np.log(p.alpha + t) + p.s * np.log(p.beta + t)
    else:
        z = (p.beta - p.alpha) / (p.beta + t)
        series = hyp2f1(1.0, p.s + 1, c, z)
        powers = (p.r + x - 1) * np.log(p.alpha + t) + (p.s + 1) * np.log(p.beta + t)
    return np.asarray(np.log(series) - powers - np.log(c - 1), dtype=np.float64)


def _survival_integral(s: float, scale: Vector | float, t: npt.ArrayLike) -> Vector:
    """∫ from 0 to t of (scale/(scale + u))^s du = scale · (1 − (scale/(scale+t))^(s−1))/(s − 1):
    the expected time alive in the next t when the drop-out rate is Gamma(s, scale)."""
    sm1 = s - 1 if abs(s - 1) >= S_NEAR_ONE else math.copysign(S_NEAR_ONE, s - 1)
    return np.asarray(scale * -np.expm1(-sm1 * np.log1p(np.asarray(t) / scale)) / sm1)


def expected_given_alive(p: ParetoNBDParams, t: npt.ArrayLike, x: Vector, age: Vector) -> Vector:
    """Rate Gamma(r + x, alpha + T) times the expected time alive, μ ~ Gamma(s, beta + T)."""
    return (p.r + x) / (p.alpha + age) * _survival_integral(p.s, p.beta + age, t)


def expected_new(p: ParetoNBDParams, t: npt.ArrayLike) -> Vector:
    return p.r / p.alpha * _survival_integral(p.s, p.beta, t)


class ParetoNBD(PurchaseModel[ParetoNBDParams]):
    name = "pareto_nbd"
    params_type = ParetoNBDParams

    def terms(self, params: ParetoNBDParams, x: Vector, t_x: Vector, age: Vector) -> Terms:
        return terms(params, x, t_x, age)

    def expected_given_alive(
        self, params: ParetoNBDParams, t: npt.ArrayLike, x: Vector, age: Vector
    ) -> Vector:
        return expected_given_alive(params, t, x, age)

    def expected_new(self, params: ParetoNBDParams, t: npt.ArrayLike) -> Vector:
        return expected_new(params, t)
