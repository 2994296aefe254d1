"""BG/NBD (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way"): while alive a
customer buys at a Poisson rate λ ~ Gamma(r, alpha) and, after each repeat purchase, drops out
with probability p ~ Beta(a, b)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy.typing as npt

from patron.predict.clv import beta_geometric
from patron.predict.clv.base import Gradient, Patterns, Vector
from patron.predict.clv.purchases import PurchaseModel, Terms


@dataclass(frozen=True)
class BGNBDParams(beta_geometric.BetaGeometricParams):
    pass


def terms(p: BGNBDParams, x: Vector, t_x: Vector, age: Vector) -> Terms:
    """log of the two parts of FHL (2005) eq. 6: alive at T, and dropped out right after the
    last purchase (possible only after a repeat purchase)."""
    return beta_geometric.terms(p, x, x, t_x, age)


def expected_given_alive(p: BGNBDParams, t: npt.ArrayLike, x: Vector, age: Vector) -> Vector:
    """FHL (2005) eq. 10 divided by P(alive): after x repeat purchases and no drop-out, the
    rate is Gamma(r + x, alpha + T) and the drop-out probability Beta(a, b + x)."""
    return beta_geometric.expectation(t, p.r + x, p.alpha + age, p.a, p.b + x)


def expected_new(p: BGNBDParams, t: npt.ArrayLike) -> Vector:
    """FHL (2005) eq. 9: a new customer is alive with no history."""
    return beta_geometric.expectation(t, p.r, p.alpha, p.a, p.b)


class BGNBD(PurchaseModel[BGNBDParams]):
    name = "bgnbd"
    params_type = BGNBDParams
    closed_form_gradient = True

    def terms(self, params: BGNBDParams, x: Vector, t_x: Vector, age: Vector) -> Terms:
        return terms(params, x, t_x, age)

    def total_gradient(self, params: BGNBDParams, patterns: Patterns) -> Gradient:
        x, t_x, age = patterns.columns
        return beta_geometric.gradient(params, x, x, t_x, age, patterns.weight)

    def expected_given_alive(
        self, params: BGNBDParams, t: npt.ArrayLike, x: Vector, age: Vector
    ) -> Vector:
        return expected_given_alive(params, t, x, age)

    def expected_new(self, params: BGNBDParams, t: npt.ArrayLike) -> Vector:
        return expected_new(params, t)
