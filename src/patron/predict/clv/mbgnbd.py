"""MBG/NBD (Batislam, Denizel & Filiztekin 2007): BG/NBD where a customer may also drop out
right after the first purchase, so that a one-time buyer is not taken to be alive for sure."""

from __future__ import annotations

from dataclasses import dataclass

import numpy.typing as npt

from patron.predict.clv import beta_geometric
from patron.predict.clv.base import Gradient, Patterns, Vector
from patron.predict.clv.purchases import PurchaseModel, Terms


@dataclass(frozen=True)
class MBGNBDParams(beta_geometric.BetaGeometricParams):
    pass


def terms(p: MBGNBDParams, x: Vector, t_x: Vector, age: Vector) -> Terms:
    """log of the two parts of the likelihood: alive at T after x + 1 survived purchases, and
    dropped out right after the last purchase (the first one included)."""
    return beta_geometric.terms(p, x, x + 1, t_x, age)


def expected_given_alive(p: MBGNBDParams, t: npt.ArrayLike, x: Vector, age: Vector) -> Vector:
    return beta_geometric.expectation(t, p.r + x, p.alpha + age, p.a, p.b + x + 1)


def expected_new(p: MBGNBDParams, t: npt.ArrayLike) -> Vector:
    """A new customer survives the first purchase with probability b/(a + b), and then has
    drop-out probability Beta(a, b + 1)."""
    return p.b / (p.a + p.b) * beta_geometric.expectation(t, p.r, p.alpha, p.a, p.b + 1)


class MBGNBD(PurchaseModel[MBGNBDParams]):
    name = "mbgnbd"
    params_type = MBGNBDParams
    closed_form_gradient = True

    def terms(self, params: MBGNBDParams, x: Vector, t_x: Vector, age: Vector) -> Terms:
        return terms(params, x, t_x, age)

    def total_gradient(self, params: MBGNBDParams, patterns: Patterns) -> Gradient:
        x, t_x, age = patterns.columns
        return beta_geometric.gradient(params, x, x + 1, t_x, age, patterns.weight)

    def expected_given_alive(
        self, params: MBGNBDParams, t: npt.ArrayLike, x: Vector, age: Vector
    ) -> Vector:
        return expected_given_alive(params, t, x, age)

    def expected_new(self, params: MBGNBDParams, t: npt.ArrayLike) -> Vector:
        return expected_new(params, t)
