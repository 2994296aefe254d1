"""What BG/NBD and MBG/NBD share: a Gamma(r, alpha) purchase rate and a Beta(a, b) probability
of dropping out after a purchase. The likelihood's two terms and their gradient, and the
expected purchases of a customer known to be alive."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, expit, gammaln

from patron.predict.clv.base import Gradient, Vector
from patron.predict.clv.purchases import PurchaseParams, Terms
from patron.predict.clv.special import hyp2f1, per_count

# The closed form of the expectation is 0/0 at a = 1, and 0·∞ at a + b = 1 (a new BG/NBD
# customer); the expectation is smooth in a and b, so a − 1 and a + b − 1 closer to 0 than
# this are moved to it.
NEAR_POLE = 1e-7


@dataclass(frozen=True)
class BetaGeometricParams(PurchaseParams):
    a: float
    b: float


def terms(p: BetaGeometricParams, x: Vector, y: Vector, t_x: Vector, age: Vector) -> Terms:
    """The two log-terms of the BG family, with y the purchases after which the customer may
    have dropped out (x in BG/NBD, x + 1 in MBG/NBD, whose first purchase counts too):
    alive  = log (r)_x + r log alpha + log (b)_y/(a+b)_y − (r+x) log(alpha + T),
    dead   = alive + log a − log(b + y − 1) + (r+x)(log(alpha + T) − log(alpha + t_x)), y > 0,
    the Beta functions written as rising factorials (a)_n = Γ(a + n)/Γ(a) of whole counts."""
    common = (
        per_count(lambda k: gammaln(p.r + k), x)
        - gammaln(p.r)
        + p.r * math.log(p.alpha)
        + per_count(lambda k: gammaln(p.b + k) - gammaln(p.a + p.b + k), y)
        - gammaln(p.b)
        + gammaln(p.a + p.b)
    )
    alive = common - (p.r + x) * np.log(p.alpha + age)
    may_die = y > 0
    dead = (
        common
        + math.log(p.a)
        - np.log(p.b + np.where(may_die, y - 1, 0))
        - (p.r + x) * np.log(p.alpha + t_x)
    )
    return alive, np.where(may_die, dead, -np.inf)


def gradient(
    p: BetaGeometricParams, x: Vector, y: Vector, t_x: Vector, age: Vector, weight: Vector
) -> Gradient:
    """The weighted total log-likelihood and its derivatives by r, alpha, a, b: each row's
    are those of the two terms, weighted by P(alive) and 1 − P(alive)."""
    alive, dead = terms(p, x, y, t_x, age)
    w = expit(alive - dead)
    psi_r = per_count(lambda k: digamma(p.r + k), x) - digamma(p.r)
    psi_b = per_count(lambda k: digamma(p.b + k), y) - digamma(p.b)
    psi_ab = per_count(lambda k: digamma(p.a + p.b + k), y) - digamma(p.a + p.b)
    log_end = w * np.log(p.alpha + age) + (1 - w) * np.log(p.alpha + t_x)
    inverse_end = w / (p.alpha + age) + (1 - w) / (p.alpha + t_x)
    dead_b = (1 - w) / (p.b + np.where(y > 0, y - 1, 0))
    jacobian = np.column_stack(
        (
            psi_r + math.log(p.alpha) - log_end,
            p.r / p.alpha - (p.r + x) * inverse_end,
            -psi_ab + (1 - w) / p.a,
            psi_b - psi_ab - dead_b,
        )
    )
    return float(weight @ np.logaddexp(alive, dead)), weight @ jacobian


def expectation(
    t: npt.ArrayLike, shape: Vector | float, scale: Vector | float, a: float, b: Vector | float
) -> Vector:
    """E[purchases in the next t] of an alive customer whose rate is Gamma(shape, scale) and
    whose drop-out probability after each purchase is Beta(a, b): E over p of (1 − E e^{−λpt})/p,
    which is (a + b − 1)/(a − 1) · [1 − (scale/(scale + t))^(a−1) · 2F1(a − 1, a + b − 1 −
    shape; a + b − 1; t/(scale + t))]. This is FHL (2005) eq. 10 after Euler's transformation:
    its 2F1 stays near 1 for heavy buyers where the textbook 2F1(r + x, b + x; …) overflows."""
    t = np.asarray(t, dtype=np.float64)
    am1 = a - 1 if abs(a - 1) >= NEAR_POLE else math.copysign(NEAR_POLE, a - 1)
    c = am1 + b
    c = np.where(np.abs(c) < NEAR_POLE, NEAR_POLE, c)
    z = t / (scale + t)
    shrink = np.exp(am1 * np.log1p(-z))
    return np.asarray(c / am1 * (1 - shrink * hyp2f1(am1, c - shape, c, z)), dtype=np.float64)
