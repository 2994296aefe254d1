"""Vectorised sampling helpers shared by the generator modules."""

from __future__ import annotations

import zlib

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent random stream per component.

    Each component draws from its own stream so that tuning one component's draws leaves the
    other files' bytes unchanged, and the catalogue does not depend on the number of customers.
    """
    entropy = [seed, zlib.crc32(name.encode())]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


def cumulative(weights: FloatArray) -> FloatArray:
    """Row-wise cumulative distribution of non-negative weights, last column exactly 1."""
    totals = weights.sum(axis=-1, keepdims=True)
    cum = np.cumsum(weights / totals, axis=-1)
    cum[..., -1] = 1.0
    return np.asarray(cum, dtype=np.float64)


def choose_rows(cum: FloatArray, rows: IntArray, rng: np.random.Generator) -> IntArray:
    """Draw one column per entry of ``rows`` from the row-wise cumulative weights ``cum``."""
    u = rng.random(rows.size)
    # The sampled column is the number of cumulative values strictly below the uniform draw.
    return np.asarray((cum[rows] <= u[:, None]).sum(axis=1), dtype=np.int64)


def choose(weights: FloatArray, size: int, rng: np.random.Generator) -> IntArray:
    """Draw ``size`` indices from one categorical distribution."""
    cum = cumulative(weights)
    return np.asarray(np.searchsorted(cum, rng.random(size), side="right"), dtype=np.int64)


def gumbel_argmax(logits: FloatArray, rng: np.random.Generator) -> IntArray:
    """One draw per row from softmax(logits) (-inf marks padding that is never drawn)."""
    noisy = logits + rng.gumbel(size=logits.shape)
    return np.asarray(np.argmax(noisy, axis=1), dtype=np.int64)


def group_starts(sorted_groups: IntArray) -> IntArray:
    """Index of the first element of each run of equal values in a sorted array."""
    if sorted_groups.size == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.flatnonzero(sorted_groups[1:] != sorted_groups[:-1]) + 1
    return np.concatenate([np.zeros(1, dtype=np.int64), change.astype(np.int64)])


def run_start(sorted_groups: IntArray) -> IntArray:
    """For each element of an array sorted by group, the index where its group's run starts."""
    starts = group_starts(sorted_groups)
    marks = np.zeros(sorted_groups.size, dtype=np.int64)
    marks[starts] = starts
    return np.asarray(np.maximum.accumulate(marks), dtype=np.int64)


def rank_in_group(sorted_groups: IntArray) -> IntArray:
    """0-based position of each element within its run of equal values (array sorted by group)."""
    return np.arange(sorted_groups.size, dtype=np.int64) - run_start(sorted_groups)


def cumsum_in_groups(values: FloatArray, sorted_groups: IntArray) -> FloatArray:
    """Running total of ``values`` restarting at every run of equal group ids."""
    total = np.cumsum(values)
    starts = group_starts(sorted_groups)
    is_start = np.zeros(values.size, dtype=np.int64)
    is_start[starts] = 1
    run = np.cumsum(is_start) - 1
    return np.asarray(total - (total - values)[starts][run], dtype=np.float64)


def expand(counts: IntArray) -> tuple[IntArray, IntArray]:
    """For counts per parent: the parent of every child and the child's rank within its parent."""
    parent = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    return parent, rank_in_group(parent)


def sigmoid(x: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)


def bijection(index: IntArray, modulus: int, rng: np.random.Generator) -> IntArray:
    """Distinct pseudo-random numbers below ``modulus`` for distinct indices below it.

    An affine map with a multiplier coprime to the modulus is a permutation, so phone numbers and
    mailbox numbers are unique without a loop that checks for collisions.
    """
    multiplier = int(rng.integers(modulus // 3, modulus // 2)) | 1
    while np.gcd(multiplier, modulus) != 1:
        multiplier += 2
    offset = int(rng.integers(0, modulus))
    return np.asarray((index * multiplier + offset) % modulus, dtype=np.int64)
