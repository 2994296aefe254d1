"""Numerical helpers of the likelihoods: functions of whole purchase counts evaluated once per
distinct count, log(1 − e^d) without cancellation, and a 2F1 that does not fail near z = 1."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy.special import hyp2f1 as scipy_hyp2f1

from patron.predict.clv.base import Vector


def per_count(f: Callable[[Vector], Vector], x: Vector) -> Vector:
    """f(x) for whole counts x ≥ 0, evaluated on 0 … max x and read by index: a summary's
    counts are a few small numbers repeated, and gammaln or digamma on every row dominated the
    likelihood's cost. Falls back to f(x) when the counts span more values than there are rows."""
    top = int(x.max(initial=0))
    if top >= x.size:
        return f(x)
    return f(np.arange(top + 1, dtype=np.float64))[x.astype(np.intp)]


def log1mexp(d: Vector) -> Vector:
    """log(1 − e^d) for d ≤ 0, accurate at both ends (Mächler 2012); −inf at d = 0."""
    d = np.minimum(d, 0.0)
    near = d > -math.log(2)
    log_near = np.log(-np.expm1(np.where(near & (d < 0), d, -1.0)))
    log_far = np.log1p(-np.exp(np.where(near, -1.0, d)))
    return np.where(d == 0, -np.inf, np.where(near, log_near, log_far))


# The series fallback sums terms in blocks of this many, up to SERIES_TERMS in all.
SERIES_BLOCK = 1024
SERIES_TERMS = 4_000_000


def hyp2f1(a: npt.ArrayLike, b: npt.ArrayLike, c: npt.ArrayLike, z: npt.ArrayLike) -> Vector:
    """Gauss's 2F1(a, b; c; z) for 0 ≤ z < 1: scipy's, and where it fails the defining series.
    scipy 1.17 returns inf or nan near z = 1 when c − a − b is a large whole number
    (2F1(1, 0.05; 100.05; 0.95)) or for large b and c close to it (2F1(1, 615.4; 616.6; 0.997))."""
    a, b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c, z)))
    value = np.array(scipy_hyp2f1(a, b, c, z), dtype=np.float64)
    failed = ~np.isfinite(value)
    if failed.any():
        value[failed] = _series(a[failed], b[failed], c[failed], z[failed])
    return value


def _series(a: Vector, b: Vector, c: Vector, z: Vector) -> Vector:
    """Σ (a)_k (b)_k / ((c)_k k!) z^k, a block of terms at a time (running products of the
    ratios of successive terms), until a block's last term no longer changes the sum."""
    total, first = np.zeros_like(z), np.ones_like(z)
    for start in range(0, SERIES_TERMS, SERIES_BLOCK):
        k = np.arange(start, start + SERIES_BLOCK, dtype=np.float64)[:, None]
        products = np.cumprod((a + k) * (b + k) / ((c + k) * (k + 1)) * z, axis=0)
        total += first * (1 + products[:-1].sum(axis=0))
        first = first * products[-1]
        if np.all(np.abs(first) <= 1e-17 * np.abs(total)):
            break
    return total
