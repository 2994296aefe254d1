"""Customer summaries drawn from each model: the ground truth of parameter-recovery
tests and the data of the benchmarks. Each customer is observed for ``age`` time units after
the first purchase; draws come from the seeded ``rng`` only."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from patron.predict.clv.base import Vector
from patron.predict.clv.bgnbd import BGNBDParams
from patron.predict.clv.gamma_gamma import GammaGammaParams
from patron.predict.clv.mbgnbd import MBGNBDParams
from patron.predict.clv.pareto_nbd import ParetoNBDParams


def _summary(x: Vector, t_x: Vector, age: Vector) -> pd.DataFrame:
    return pd.DataFrame({"frequency": x, "recency": t_x, "T": age})


def _beta_geometric(
    rng: np.random.Generator,
    rate: Vector,
    p: Vector,
    age: Vector,
    alive: npt.NDArray[np.bool_],
) -> pd.DataFrame:
    """Poisson purchases at ``rate`` until T, each followed by drop-out with probability p,
    for the customers ``alive`` after the first purchase; one step per purchase, over the
    customers still buying."""
    n = len(age)
    x, t_x, now = np.zeros(n), np.zeros(n), np.zeros(n)
    active = np.flatnonzero(alive)
    while active.size:
        now[active] += rng.exponential(1.0 / rate[active])
        active = active[now[active] <= age[active]]
        x[active] += 1
        t_x[active] = now[active]
        active = active[rng.random(active.size) >= p[active]]
    return _summary(x, t_x, age)


def bgnbd(params: BGNBDParams, age: Vector, rng: np.random.Generator) -> pd.DataFrame:
    n = len(age)
    rate = rng.gamma(params.r, 1.0 / params.alpha, n)
    p = rng.beta(params.a, params.b, n)
    return _beta_geometric(rng, rate, p, age, np.ones(n, dtype=bool))


def mbgnbd(params: MBGNBDParams, age: Vector, rng: np.random.Generator) -> pd.DataFrame:
    n = len(age)
    rate = rng.gamma(params.r, 1.0 / params.alpha, n)
    p = rng.beta(params.a, params.b, n)
    return _beta_geometric(rng, rate, p, age, rng.random(n) >= p)


def pareto_nbd(params: ParetoNBDParams, age: Vector, rng: np.random.Generator) -> pd.DataFrame:
    """Purchases are Poisson over the part of (0, T] the customer lives; given their number n,
    the last one is the largest of n uniform times, end · U^(1/n)."""
    n = len(age)
    rate = rng.gamma(params.r, 1.0 / params.alpha, n)
    death = rng.exponential(1.0 / rng.gamma(params.s, 1.0 / params.beta, n))
    end = np.minimum(death, age)
    x = rng.poisson(rate * end).astype(np.float64)
    t_x = np.where(x > 0, end * rng.random(n) ** (1.0 / np.maximum(x, 1)), 0.0)
    return _summary(x, t_x, age)


def gamma_gamma(params: GammaGammaParams, x: Vector, rng: np.random.Generator) -> Vector:
    """Mean value of each customer's x repeat transactions (0 where x = 0): the mean of x
    Gamma(p, ν) values is Gamma(px, xν), with ν ~ Gamma(q, gamma) per customer."""
    nu = rng.gamma(params.q, 1.0 / params.gamma, len(x))
    shape = np.maximum(params.p * x, 1e-300)
    return np.where(x > 0, rng.gamma(shape, 1.0 / (np.maximum(x, 1) * nu)), 0.0)
