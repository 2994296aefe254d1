"""The product catalogue: about 1.5k products in a three-level category tree.

The catalogue depends on the seed only, never on the number of customers, so a small and a large
demo shop sell the same products.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from patron.demo.calendar import CURRENCY
from patron.demo.sampling import (
    BoolArray,
    FloatArray,
    IntArray,
    cumulative,
    gumbel_argmax,
    stream,
)
from patron.demo.text import money, numbered
from patron.demo.vocab import CATEGORY_TREE, Leaf, Mid, Top

PRODUCTS_PER_LEAF = (14, 27)
"""Range of products per leaf category (about 20, so 76 leaves give about 1.5k products)."""
STAGE_PRODUCTS = 18
"""Products per infant-formula stage; the three stages carry the same series in the same order."""
STAGE_PRICE = {1: 1.0, 2: 0.94, 3: 0.86}
PRICE_SIGMA = 0.45
POPULARITY_EXPONENT = 1.1
"""Zipf exponent of popularity inside a leaf: a few best sellers, a long tail."""
PICK_CHUNK = 1 << 16
PRICE_PREFERENCE = 0.9
"""How strongly a customer's premium taste tilts choices towards dearer products."""


@dataclass(frozen=True, slots=True)
class Catalog:
    title: tuple[str, ...]
    brand: tuple[str, ...]
    path: tuple[str, ...]
    price: IntArray
    """List price in fen."""
    leaf: IntArray
    mid: IntArray
    top: IntArray
    consumable: BoolArray
    quality: FloatArray
    """Latent quality: good products get better ratings and fewer refunds."""
    price_z: FloatArray
    """Log price standardised within its leaf: the axis of premium versus budget taste."""
    leaf_members: IntArray
    """Products of each leaf, padded with -1."""
    leaf_logpop: FloatArray
    """Log popularity of each leaf's products, padded with -inf."""
    leaf_top: IntArray
    leaf_mid: IntArray
    leaf_names: tuple[str, ...]
    leaf_nouns: tuple[str, ...]
    top_leaves: IntArray
    """Leaves of each top category, padded with -1, with their cumulative weights below."""
    top_leaf_cum: FloatArray
    mid_leaves: IntArray
    mid_leaf_cum: FloatArray
    stage_of_leaf: IntArray
    """Infant-formula stage (1–3) of each leaf, 0 for other leaves."""
    series: IntArray
    """Index of each formula product in ``stage_products``, -1 for other products."""
    stage_products: IntArray
    """Formula series × stage 1–3: the same brand line at each stage of the baby's growth."""

    @property
    def size(self) -> int:
        return int(self.price.size)

    def table(self) -> pa.Table:
        return pa.table(
            {
                "sku": sku(np.arange(self.size, dtype=np.int64)),
                "title": pa.array(self.title, pa.string()),
                "category_path": pa.array(self.path, pa.string()),
                "brand": pa.array(self.brand, pa.string()),
                "list_price": money(self.price),
                "currency": pa.array([CURRENCY] * self.size, pa.string()),
            }
        )

    def pick_in_leaf(self, leaf: IntArray, taste: FloatArray, rng: np.random.Generator) -> IntArray:
        """One product per entry: popularity skew tilted by the buyer's premium taste."""
        # In chunks: the logits matrix is as wide as the largest leaf, so memory stays flat.
        chunks = [
            self._pick(leaf[i : i + PICK_CHUNK], taste[i : i + PICK_CHUNK], rng)
            for i in range(0, leaf.size, PICK_CHUNK)
        ]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)

    def _pick(self, leaf: IntArray, taste: FloatArray, rng: np.random.Generator) -> IntArray:
        members = self.leaf_members[leaf]
        price_z = np.where(members >= 0, self.price_z[np.maximum(members, 0)], 0.0)
        logits = self.leaf_logpop[leaf] + PRICE_PREFERENCE * taste[:, None] * price_z
        column = gumbel_argmax(logits, rng)
        return np.asarray(members[np.arange(leaf.size), column], dtype=np.int64)


def sku(index: IntArray) -> pa.Array:
    """``SKU-000123`` for product index 122."""
    return numbered("SKU-", index + 1, 6)


@dataclass(slots=True)
class _Builder:
    """Accumulates products leaf by leaf (mutable only while the catalogue is being built)."""

    rng: np.random.Generator
    title: list[str]
    brand: list[str]
    path: list[str]
    price: list[int]
    leaf: list[int]
    quality: list[float]
    series: list[int]

    def add_leaf(self, top: Top, mid: Mid, leaf: Leaf, leaf_index: int, lines: list[int]) -> None:
        """Add the products of one leaf; ``lines`` are (brand × series) combinations."""
        specs = self.rng.integers(0, len(leaf.specs), size=len(lines))
        brand_premium = np.exp(self.rng.normal(0.0, 0.25, size=len(mid.brands)))
        noise = self.rng.normal(0.0, PRICE_SIGMA, size=len(lines))
        for k, line in enumerate(lines):
            brand_i, series_i = divmod(line, len(top.series))
            brand = mid.brands[brand_i]
            words = [brand, f"{top.series[series_i]}{leaf.noun}", leaf.name if leaf.stage else ""]
            words.append(leaf.specs[int(specs[k])])
            yuan = leaf.median_price * brand_premium[brand_i] * float(np.exp(noise[k]))
            self.title.append(" ".join(w for w in words if w))
            self.brand.append(brand)
            self.path.append(f"{top.name} > {mid.name} > {leaf.name}")
            self.price.append(_shelf_price(yuan * STAGE_PRICE.get(leaf.stage, 1.0)))
            self.leaf.append(leaf_index)
            self.quality.append(float(self.rng.normal()))
            self.series.append(k if leaf.stage else -1)


def _shelf_price(yuan: float) -> int:
    """Prices as shops set them: 259.00 above fifty yuan, 18.90 below; in fen."""
    if yuan >= 50:
        return (max(round(yuan / 10), 6) * 10 - 1) * 100
    return max(round(yuan), 2) * 100 - 10


def _leaves() -> list[tuple[Top, Mid, Leaf]]:
    return [(top, mid, leaf) for top in CATEGORY_TREE for mid in top.mids for leaf in mid.leaves]


def build_catalog(seed: int) -> Catalog:
    rng = stream(seed, "catalog")
    builder = _Builder(rng, [], [], [], [], [], [], [])
    leaves = _leaves()
    stage_lines: list[int] = []
    for index, (top, mid, leaf) in enumerate(leaves):
        combos = len(mid.brands) * len(top.series)
        if leaf.stage:
            # Every stage sells the same brand lines so a baby can move up within its brand.
            if not stage_lines:
                stage_lines = [int(x) for x in rng.choice(combos, STAGE_PRODUCTS, replace=False)]
            lines = stage_lines
        else:
            count = int(rng.integers(*PRODUCTS_PER_LEAF))
            lines = [int(x) for x in rng.choice(combos, min(count, combos), replace=False)]
        builder.add_leaf(top, mid, leaf, index, lines)
    return _assemble(builder, leaves, rng)


def _assemble(
    builder: _Builder, leaves: list[tuple[Top, Mid, Leaf]], rng: np.random.Generator
) -> Catalog:
    leaf = np.array(builder.leaf, dtype=np.int64)
    price = np.array(builder.price, dtype=np.int64)
    top_names = [t.name for t in CATEGORY_TREE]
    mid_keys = [(t.name, m.name) for t in CATEGORY_TREE for m in t.mids]
    leaf_top = np.array([top_names.index(t.name) for t, _, _ in leaves], dtype=np.int64)
    leaf_mid = np.array([mid_keys.index((t.name, m.name)) for t, m, _ in leaves], dtype=np.int64)
    members, logpop = _leaf_tables(leaf, len(leaves), rng)
    leaf_weight = np.exp(rng.normal(0.0, 0.5, size=len(leaves)))
    top_leaves, top_cum = _group_tables(leaf_top, leaf_weight, len(top_names))
    mid_leaves, mid_cum = _group_tables(leaf_mid, leaf_weight, len(mid_keys))
    series = np.array(builder.series, dtype=np.int64)
    stage_of_leaf = np.array([lf.stage for _, _, lf in leaves], dtype=np.int64)
    return Catalog(
        title=tuple(builder.title),
        brand=tuple(builder.brand),
        path=tuple(builder.path),
        price=price,
        leaf=leaf,
        mid=leaf_mid[leaf],
        top=leaf_top[leaf],
        consumable=np.array([leaves[i][2].consumable for i in builder.leaf], dtype=np.bool_),
        quality=np.array(builder.quality, dtype=np.float64),
        price_z=_standardise_within(np.log(price.astype(np.float64)), leaf),
        leaf_members=members,
        leaf_logpop=logpop,
        leaf_top=leaf_top,
        leaf_mid=leaf_mid,
        leaf_names=tuple(lf.name for _, _, lf in leaves),
        leaf_nouns=tuple(lf.noun for _, _, lf in leaves),
        top_leaves=top_leaves,
        top_leaf_cum=top_cum,
        mid_leaves=mid_leaves,
        mid_leaf_cum=mid_cum,
        stage_of_leaf=stage_of_leaf,
        series=series,
        stage_products=_stage_table(series, stage_of_leaf[leaf]),
    )


def _leaf_tables(
    leaf: IntArray, n_leaves: int, rng: np.random.Generator
) -> tuple[IntArray, FloatArray]:
    """Products of each leaf padded to a matrix, with Zipf popularity in a random order."""
    counts = np.bincount(leaf, minlength=n_leaves)
    width = int(counts.max())
    members = np.full((n_leaves, width), -1, dtype=np.int64)
    logpop = np.full((n_leaves, width), -np.inf, dtype=np.float64)
    for i in range(n_leaves):
        products = np.flatnonzero(leaf == i)
        ranks = rng.permutation(products.size) + 1
        members[i, : products.size] = products
        logpop[i, : products.size] = -POPULARITY_EXPONENT * np.log(ranks)
    return members, logpop


def _group_tables(
    group_of_leaf: IntArray, leaf_weight: FloatArray, n_groups: int
) -> tuple[IntArray, FloatArray]:
    """Leaves of each group padded to a matrix, and the cumulative weights to sample them."""
    width = int(np.bincount(group_of_leaf, minlength=n_groups).max())
    leaves = np.full((n_groups, width), -1, dtype=np.int64)
    weights = np.zeros((n_groups, width), dtype=np.float64)
    for g in range(n_groups):
        members = np.flatnonzero(group_of_leaf == g)
        leaves[g, : members.size] = members
        weights[g, : members.size] = leaf_weight[members]
    return leaves, cumulative(weights)


def _standardise_within(values: FloatArray, groups: IntArray) -> FloatArray:
    counts = np.bincount(groups).astype(np.float64)
    mean = np.bincount(groups, weights=values) / counts
    var = np.bincount(groups, weights=(values - mean[groups]) ** 2) / counts
    return np.asarray((values - mean[groups]) / np.sqrt(np.maximum(var, 1e-9))[groups])


def _stage_table(series: IntArray, stage: IntArray) -> IntArray:
    table = np.full((STAGE_PRODUCTS, 3), -1, dtype=np.int64)
    formula = np.flatnonzero(series >= 0)
    table[series[formula], stage[formula] - 1] = formula
    return table
