"""What the purchase models (BG/NBD, MBG/NBD, Pareto/NBD) share: a Gamma(r, alpha) purchase
rate, a likelihood that splits into 'alive at T' and 'dropped out by T' terms, and the
predictions that follow from that split alone."""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from patron.predict.clv.base import Model, Params, Vector, distinct, read_purchases


@dataclass(frozen=True)
class PurchaseParams(Params):
    r: float
    alpha: float


Q = TypeVar("Q", bound=PurchaseParams)
Terms = tuple[Vector, Vector]


def next_purchase_wait(params: PurchaseParams, x: Vector, age: Vector) -> Vector:
    """Median time after T to the next purchase of a customer who is still alive. Given alive,
    the purchase rate is Gamma(r + x, alpha + T) in all three models, so the wait is Lomax
    distributed and its median is (alpha + T)(2^(1/(r+x)) − 1). The mean would be infinite
    whenever r + x ≤ 1, as for most one-time buyers."""
    return (params.alpha + age) * np.expm1(math.log(2) / (params.r + x))


class PurchaseModel(Model[Q]):
    """A buy-till-you-die model fitted on frequency, recency and T."""

    @abstractmethod
    def terms(self, params: Q, x: Vector, t_x: Vector, age: Vector) -> Terms:
        """Log-likelihood of each customer's history split into its two parts: being alive at T
        (and buying x times), and having dropped out after the last purchase."""

    @abstractmethod
    def expected_given_alive(self, params: Q, t: npt.ArrayLike, x: Vector, age: Vector) -> Vector:
        """Expected purchases in the next t of a customer known to be alive at T."""

    @abstractmethod
    def expected_new(self, params: Q, t: npt.ArrayLike) -> Vector:
        """Expected repeat purchases in the first t after a new customer's first purchase."""

    def read(self, summary: object) -> tuple[Vector, ...]:
        return read_purchases(summary)

    def log_likelihood(self, params: Q, columns: Sequence[Vector]) -> Vector:
        return np.logaddexp(*self.terms(params, *columns))

    # Predictions for every customer of a summary (frequency, recency, T), after fit or load.

    def p_alive(self, summary: object) -> Vector:
        """Probability that each customer is still alive at T."""
        alive, dead = self.terms(self.params_, *read_purchases(summary))
        return np.asarray(expit(alive - dead), dtype=np.float64)

    def expected_purchases(self, summary: object, t: float | Sequence[float]) -> Vector:
        """Expected purchases of each customer in the next t time units; for a sequence of
        horizons, one row per horizon."""
        x, t_x, age = read_purchases(summary)
        alive, dead = self.terms(self.params_, x, t_x, age)
        # Given alive, the expectation depends on x and T only: once per distinct pair.
        (xs, ages), _, pair = distinct(x, age)
        given = self.expected_given_alive(self.params_, np.asarray(t)[..., None], xs, ages)[
            ..., pair
        ]
        return np.asarray(expit(alive - dead) * given, dtype=np.float64)

    def p_purchase(self, summary: object, t: float) -> Vector:
        """Probability of at least one purchase in the next t: 1 − L(x, t_x, T + t)/L(x, t_x, T),
        since the likelihood with T + t is that of the same history and no purchase after T."""
        x, t_x, age = read_purchases(summary)
        now = np.logaddexp(*self.terms(self.params_, x, t_x, age))
        later = np.logaddexp(*self.terms(self.params_, x, t_x, age + t))
        return np.asarray(-np.expm1(later - now), dtype=np.float64)

    def next_purchase_in(self, summary: object) -> Vector:
        """Median time after T to the next purchase, if the customer is alive (see
        ``next_purchase_wait``); read it with ``p_alive``."""
        x, _, age = read_purchases(summary)
        return next_purchase_wait(self.params_, x, age)

    def expected_purchases_new(self, t: npt.ArrayLike) -> Vector:
        """Expected repeat purchases in the first t after a customer's first purchase."""
        return self.expected_new(self.params_, t)
