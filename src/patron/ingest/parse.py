"""Vectorised parsing of text columns into typed columns, with a reason for every value refused.

Pure: Arrow arrays in, Arrow arrays and errors out. Money is parsed exactly from its decimal text
(never through a float) into integer minor units.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from patron import jsonfmt
from patron.ingest.schema import Field, Kind
from patron.money import exponent

MICRO_DIGITS = 6
_MONEY_RE = r"^(?P<sign>[-+]?)(?P<int>\d*)(?:\.(?P<frac>\d{0,6}))?$"
_MONEY_NOISE = r"[\s,¥￥$£€]|^(?:CNY|RMB|USD|GBP|EUR)"
_INT_RE = r"^[-+]?\d{1,18}(?:\.0*)?$"
_OFFSET_RE = r"(?:Z|[+-]\d{2}:?\d{2})$"
_TRUE = ("1", "true", "t", "yes", "y", "是", "true.", "opt-in", "subscribed")
_FALSE = ("0", "false", "f", "no", "n", "否", "opt-out", "unsubscribed")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Values of one column refused: positions within the chunk and why."""

    column: str
    positions: np.ndarray
    reason: str


def clean_text(values: pa.Array) -> pa.Array:
    """Trim whitespace; empty text is a missing value."""
    trimmed = pc.utf8_trim_whitespace(values.cast(pa.string()))
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _refused(column: str, raw: pa.Array, parsed: pa.Array, reason: str) -> list[Refusal]:
    bad = pc.and_(pc.is_valid(raw), pc.is_null(parsed))
    positions = np.flatnonzero(bad.to_numpy(zero_copy_only=False))
    return [Refusal(column, positions, reason)] if positions.size else []


def parse_text(f: Field, raw: pa.Array) -> tuple[pa.Array, list[Refusal]]:
    lengths = pc.utf8_length(raw)
    too_long = pc.fill_null(pc.greater(lengths, f.max_length), False)
    parsed = pc.if_else(too_long, pa.scalar(None, pa.string()), raw)
    return parsed, _refused(f.name, raw, parsed, f"longer than {f.max_length} characters")


def parse_integer(f: Field, raw: pa.Array) -> tuple[pa.Array, list[Refusal]]:
    ok = pc.match_substring_regex(raw, _INT_RE)
    digits = pc.replace_substring_regex(raw, r"\.0*$", "")
    parsed = pc.if_else(ok, digits, pa.scalar(None, pa.string())).cast(pa.int64())
    return parsed, _refused(f.name, raw, parsed, "expected a whole number")


def parse_money(f: Field, raw: pa.Array, currencies: pa.Array) -> tuple[pa.Array, list[Refusal]]:
    """Decimal text to minor units of each row's currency, rounding half to even."""
    text = pc.replace_substring_regex(raw, _MONEY_NOISE, "")
    parts = pc.extract_regex(text, _MONEY_RE)
    ok = pc.and_(pc.is_valid(parts), pc.match_substring_regex(text, r"\d"))
    negative = pc.fill_null(pc.equal(parts.field("sign"), "-"), False)
    sign = np.where(negative.to_numpy(zero_copy_only=False), -1, 1)
    whole = pc.if_else(pc.equal(parts.field("int"), ""), "0", parts.field("int"))
    frac = pc.utf8_rpad(pc.fill_null(parts.field("frac"), ""), MICRO_DIGITS, "0")
    micro_text = pc.if_else(ok, pc.binary_join_element_wise(whole, frac, ""), "0")
    micro = pc.fill_null(micro_text, "0").cast(pa.int64()).to_numpy(zero_copy_only=False) * sign
    # Each row's currency decides how many micro units make a minor unit.
    distinct = pc.unique(currencies)
    exps = pa.array([exponent(c) for c in distinct.to_pylist()], pa.int64())
    row_exps = pc.take(exps, pc.index_in(currencies, value_set=distinct)).to_numpy(
        zero_copy_only=False
    )
    divisor = 10 ** (MICRO_DIGITS - row_exps)
    minor = _round_half_even_div(micro, divisor)
    parsed = pa.array(
        minor, pa.int64(), mask=~pc.fill_null(ok, False).to_numpy(zero_copy_only=False)
    )
    return parsed, _refused(f.name, raw, parsed, "expected an amount such as 1234.50")


def _round_half_even_div(numerator: np.ndarray, divisor: np.ndarray) -> np.ndarray:
    quotient, remainder = np.divmod(numerator, divisor)
    twice = 2 * remainder
    up = (twice > divisor) | ((twice == divisor) & (quotient % 2 == 1))
    return np.asarray(quotient + up.astype(np.int64))


def parse_timestamp(
    f: Field, raw: pa.Array, fmt: str | None, timezone: str
) -> tuple[pa.Array, list[Refusal]]:
    """Text to UTC timestamps; text without an offset is local time of ``timezone``."""
    series = pd.Series(raw.to_pandas(), dtype="string")
    has_offset = series.str.contains(_OFFSET_RE, regex=True, na=False).to_numpy(dtype=bool)
    result = pd.Series(pd.NaT, index=series.index, dtype="datetime64[us, UTC]")
    naive_rows = ~has_offset & series.notna().to_numpy()
    ambiguous = np.zeros(len(series), dtype=bool)
    if naive_rows.any():
        local = pd.to_datetime(series[naive_rows], format=fmt or "ISO8601", errors="coerce")
        localized = local.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
        result[naive_rows] = localized.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
        # A local time that occurs twice (clocks set back) is refused for what it is, not guessed.
        ambiguous[np.flatnonzero(naive_rows)] = (local.notna() & localized.isna()).to_numpy(
            dtype=bool
        )
    if has_offset.any():
        aware = pd.to_datetime(
            series[has_offset], format=fmt or "ISO8601", errors="coerce", utc=True
        )
        result[has_offset] = aware.astype("datetime64[us, UTC]")
    parsed = pa.array(result, pa.timestamp("us", tz="UTC"), from_pandas=True)
    expected = f"a date and time in format {fmt}" if fmt else "an ISO 8601 date and time"
    if not ambiguous.any():
        return parsed, _refused(f.name, raw, parsed, f"expected {expected}")
    unreadable = (
        pc.and_(pc.is_valid(raw), pc.is_null(parsed)).to_numpy(zero_copy_only=False) & ~ambiguous
    )
    refusals = [
        Refusal(
            f.name,
            np.flatnonzero(ambiguous),
            f"ambiguous local time in {timezone} (the clocks were set back): "
            "give the UTC offset, e.g. 2024-11-03T01:30:00-04:00",
        )
    ]
    if unreadable.any():
        refusals.append(Refusal(f.name, np.flatnonzero(unreadable), f"expected {expected}"))
    return parsed, refusals


def parse_date(f: Field, raw: pa.Array, fmt: str | None) -> tuple[pa.Array, list[Refusal]]:
    series = pd.Series(raw.to_pandas(), dtype="string")
    dates = pd.to_datetime(series, format=fmt or "ISO8601", errors="coerce")
    parsed = pa.array(dates.dt.date, pa.date32(), from_pandas=True)
    return parsed, _refused(f.name, raw, parsed, f"expected a date ({fmt or 'YYYY-MM-DD'})")


def parse_boolean(f: Field, raw: pa.Array) -> tuple[pa.Array, list[Refusal]]:
    lowered = pc.utf8_lower(raw)
    is_true = pc.is_in(lowered, pa.array(_TRUE))
    is_false = pc.is_in(lowered, pa.array(_FALSE))
    parsed = pc.if_else(is_true, True, pc.if_else(is_false, False, pa.scalar(None, pa.bool_())))
    return parsed, _refused(f.name, raw, parsed, "expected yes/no (true/false, 1/0, 是/否)")


def parse_choice(f: Field, raw: pa.Array) -> tuple[pa.Array, list[Refusal]]:
    normal = raw if f.choices == ("F", "M", "O") else pc.utf8_lower(raw)
    ok = pc.is_in(normal, pa.array(f.choices))
    parsed = pc.if_else(ok, normal, pa.scalar(None, pa.string()))
    return parsed, _refused(f.name, raw, parsed, f"expected one of {', '.join(f.choices)}")


def parse_currency(f: Field, raw: pa.Array) -> tuple[pa.Array, list[Refusal]]:
    upper = pc.utf8_upper(raw)
    ok = pc.match_substring_regex(upper, r"^[A-Z]{3}$")
    parsed = pc.if_else(ok, upper, pa.scalar(None, pa.string()))
    return parsed, _refused(f.name, raw, parsed, "expected an ISO 4217 currency code")


def parse_json_object(f: Field, raw: pa.Array) -> tuple[pa.Array, list[Refusal]]:
    def canonical(text: str | None) -> str | None:
        if text is None:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return jsonfmt.dumps(value) if isinstance(value, dict) else None

    parsed = pa.array([canonical(t) for t in raw.to_pylist()], pa.string())
    return parsed, _refused(f.name, raw, parsed, "expected a JSON object")


ARROW_TYPES: dict[Kind, pa.DataType] = {
    Kind.TEXT: pa.string(),
    Kind.INTEGER: pa.int64(),
    Kind.MONEY: pa.int64(),
    Kind.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    Kind.DATE: pa.date32(),
    Kind.BOOLEAN: pa.bool_(),
    Kind.CURRENCY: pa.string(),
    Kind.CHOICE: pa.string(),
    Kind.JSON: pa.string(),
}
"""The type each kind parses to."""

Parser = Callable[[Field, pa.Array], tuple[pa.Array, list[Refusal]]]

SIMPLE_PARSERS: dict[Kind, Parser] = {
    Kind.TEXT: parse_text,
    Kind.INTEGER: parse_integer,
    Kind.BOOLEAN: parse_boolean,
    Kind.CHOICE: parse_choice,
    Kind.CURRENCY: parse_currency,
    Kind.JSON: parse_json_object,
}
