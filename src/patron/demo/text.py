"""Vectorised formatting of generated values into the text of the CSV files."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from patron.demo.calendar import START
from patron.demo.sampling import BoolArray, IntArray


def numbered(prefix: str, numbers: IntArray, width: int) -> pa.Array:
    """``prefix`` followed by the number zero-padded to ``width`` digits (``C000001``)."""
    digits = pc.utf8_lpad(pa.array(numbers, pa.int64()).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


def money(fen: IntArray, missing: BoolArray | None = None) -> pa.Array:
    """Integer fen to yuan text with two decimals (``25900`` → ``259.00``), exactly."""
    yuan = pa.array(fen // 100, pa.int64()).cast(pa.string())
    cents = pc.utf8_lpad(pa.array(fen % 100, pa.int64()).cast(pa.string()), 2, "0")
    text = pc.binary_join_element_wise(yuan, cents, ".")
    return masked(text, missing)


def local_time(seconds: IntArray, missing: BoolArray | None = None) -> pa.Array:
    """Seconds since START to local ISO 8601 text without offset (``2025-11-11 00:03:12``)."""
    stamps = START + seconds.astype("timedelta64[s]")
    return masked(pa.array(stamps, pa.timestamp("s")).cast(pa.string()), missing)


def local_date(days: IntArray, missing: BoolArray | None = None) -> pa.Array:
    """Days since START to ``YYYY-MM-DD``."""
    dates = START.astype("datetime64[D]") + days.astype("timedelta64[D]")
    return masked(pa.array(dates, pa.date32()).cast(pa.string()), missing)


def integers(values: IntArray, missing: BoolArray | None = None) -> pa.Array:
    return masked(pa.array(values, pa.int64()), missing)


def pick(words: Sequence[str], index: IntArray, missing: BoolArray | None = None) -> pa.Array:
    """The word at each index (a vectorised lookup into a small vocabulary)."""
    return masked(pa.array(words, pa.string()).take(pa.array(index, pa.int64())), missing)


def join(parts: Sequence[pa.Array | str], separator: str = "") -> pa.Array:
    """Element-wise concatenation of text columns and constants."""
    columns = [pa.scalar(p) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*columns, separator)


def masked(values: pa.Array, missing: BoolArray | None) -> pa.Array:
    """Values where ``missing`` is set become nulls, written as empty fields."""
    if missing is None or not missing.any():
        return values
    null = pa.scalar(None, values.type)
    return pc.if_else(pa.array(missing, pa.bool_()), null, values)
