"""From a chunk of source text to validated canonical columns (pure).

Steps: map source columns (and constants, value maps, derived columns) onto canonical names;
parse each column by its kind; apply the entity's rules (signs, defaults, returns). Every refused
value becomes a :class:`RowError`; a row with any error is left out of the good rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from patron import jsonfmt
from patron.errors import ErrorCode, InputError
from patron.ingest import parse
from patron.ingest.model import Entity, OrderStatus, RowError
from patron.ingest.profiles import Profile
from patron.ingest.schema import RETURN_FLAG, Field, Kind, fields

HEADER_ROWS = 1


@dataclass(frozen=True, slots=True)
class Context:
    """What a transform needs besides the data: the run's profile and the shop's defaults."""

    entity: Entity
    profile: Profile
    timezone: str
    currency: str
    source: str


@dataclass(slots=True)
class Transformed:
    columns: dict[str, pa.Array]
    errors: list[RowError]
    good: np.ndarray  # bool mask over the chunk's rows
    blank: int = 0  # rows with no value in any column read: spreadsheet padding, not data


@dataclass(slots=True)
class RunState:
    """State carried across the chunks of one run."""

    derive: dict[str, object] = field(default_factory=dict)


def check_columns(context: Context, found: list[str]) -> None:
    """Refuse a file that lacks a required column, naming what is missing and what was found."""
    missing = [
        f"{f.name} (column {context.profile.source_of(f.name)!r})"
        for f in fields(context.entity)
        if f.required and not _provided(context.profile, f.name, found)
    ]
    if missing:
        raise InputError(
            f"{context.source}: missing required column(s): {', '.join(missing)}; "
            f"found columns: {', '.join(found) or '(none)'}",
            code=ErrorCode.COLUMNS_MISSING,
            file=context.source,
            missing=missing,
            found=found,
        )


def _provided(profile: Profile, name: str, found: Iterable[str]) -> bool:
    if name in profile.constants or (profile.derive is not None and name == "order_id"):
        return True
    source = profile.source_of(name)
    return source is not None and _find(source, found) is not None


def _find(source: str, found: Iterable[str]) -> str | None:
    wanted = source.strip().casefold()
    return next((c for c in found if c.strip().casefold() == wanted), None)


def transform(context: Context, chunk: pa.Table, first_row: int, state: RunState) -> Transformed:
    """``first_row`` is the source row number of the chunk's first row."""
    n = chunk.num_rows
    profile = context.profile
    text: dict[str, pa.Array] = {}
    blank = np.ones(n, dtype=bool)
    for f in fields(context.entity):
        if f.name in profile.constants:
            text[f.name] = pa.array([profile.constants[f.name]] * n, pa.string())
            continue
        source = profile.source_of(f.name)
        column = _find(source, chunk.column_names) if source else None
        text[f.name] = (
            parse.clean_text(chunk.column(column).combine_chunks())
            if column is not None
            else pa.nulls(n, pa.string())
        )
        if column is not None:
            blank &= pc.is_null(text[f.name]).to_numpy(zero_copy_only=False)
    # Source columns a profile names under non-canonical keys are inputs of its derive hook.
    for name, source in profile.columns.items():
        if name not in text:
            column = _find(source, chunk.column_names)
            text[name] = (
                parse.clean_text(chunk.column(column).combine_chunks())
                if column is not None
                else pa.nulls(n, pa.string())
            )
    for name, mapping in profile.values.items():
        text[name] = _map_values(text[name], mapping)
    if context.entity is Entity.CUSTOMERS and profile.attribute_prefix:
        text["attributes"] = _attributes(chunk, profile.attribute_prefix, text["attributes"])
        blank &= pc.is_null(text["attributes"]).to_numpy(zero_copy_only=False)
    if profile.derive is not None:
        text = profile.derive(text, state.derive)
    _defaults(context, text, n)

    typed: dict[str, pa.Array] = {}
    refusals: list[parse.Refusal] = []
    # Currency first: it decides the minor unit of every amount on the row.
    for f in sorted(fields(context.entity), key=lambda f: f.kind is not Kind.CURRENCY):
        typed[f.name], refused = _parse(f, text[f.name], typed, context, profile)
        refusals += refused
        if f.required:
            missing = np.flatnonzero(pc.is_null(text[f.name]).to_numpy(zero_copy_only=False))
            if missing.size:
                refusals.append(parse.Refusal(f.name, missing, "required value is missing"))
    rules = _RULES.get(context.entity)
    if rules is not None:
        refusals += rules(typed, text, context)
    errors, good = _errors(refusals, text, context, first_row, n, blank)
    return Transformed(typed, errors, good, int(blank.sum()))


def _map_values(values: pa.Array, mapping: dict[str, str] | object) -> pa.Array:
    assert isinstance(mapping, dict)
    keys = pa.array(list(mapping), pa.string())
    targets = pa.array(list(mapping.values()), pa.string())
    index = pc.index_in(values, value_set=keys)
    mapped = pc.take(targets, index)
    return pc.if_else(pc.is_valid(index), mapped, values)


def _attributes(chunk: pa.Table, prefix: str, given: pa.Array) -> pa.Array:
    names = [c for c in chunk.column_names if c.startswith(prefix)]
    if not names:
        return given
    columns = {
        c[len(prefix) :]: parse.clean_text(chunk.column(c).combine_chunks()).to_pylist()
        for c in names
    }
    rows = []
    for i in range(chunk.num_rows):
        obj = {k: v[i] for k, v in columns.items() if v[i] is not None}
        rows.append(jsonfmt.dumps(obj) if obj else None)
    return pc.coalesce(given, pa.array(rows, pa.string()))


def _defaults(context: Context, text: dict[str, pa.Array], n: int) -> None:
    """Row defaults. An order's status and currency are order-level values that line-item
    exports give on one row only, so their defaults are applied per order when merging."""
    if "currency" in text and context.entity is not Entity.ORDERS:
        text["currency"] = pc.fill_null(text["currency"], context.currency)
    if context.entity is Entity.ORDERS:
        has_sku = pc.is_valid(text["sku"])
        text["quantity"] = pc.if_else(
            pc.and_(has_sku, pc.is_null(text["quantity"])), "1", text["quantity"]
        )


def _parse(
    f: Field, raw: pa.Array, typed: dict[str, pa.Array], context: Context, profile: Profile
) -> tuple[pa.Array, list[parse.Refusal]]:
    if raw.null_count == len(raw):  # a column the file does not have: nothing to parse
        return pa.nulls(len(raw), parse.ARROW_TYPES[f.kind]), []
    timezone = profile.timezone or context.timezone
    if f.kind is Kind.MONEY:
        currency = typed.get("currency", pa.nulls(len(raw), pa.string()))
        return parse.parse_money(f, raw, pc.fill_null(currency, context.currency))
    if f.kind is Kind.TIMESTAMP:
        return parse.parse_timestamp(f, raw, profile.timestamp_format, timezone)
    if f.kind is Kind.DATE:
        return parse.parse_date(f, raw, profile.date_format)
    return parse.SIMPLE_PARSERS[f.kind](f, raw)


def _positions(mask: pa.Array) -> np.ndarray:
    return np.flatnonzero(pc.fill_null(mask, False).to_numpy(zero_copy_only=False))


def _order_rules(
    typed: dict[str, pa.Array], text: dict[str, pa.Array], context: Context
) -> list[parse.Refusal]:
    """Signs must agree with the status; return (cancellation) lines are marked, made positive."""
    returns = context.profile.returns
    qty = typed["quantity"]
    is_return = pa.array(np.zeros(len(qty), dtype=bool))
    if returns.order_id_prefix:
        is_return = pc.fill_null(pc.starts_with(text["order_id"], returns.order_id_prefix), False)
    if returns.negative_quantity:
        is_return = pc.or_(is_return, pc.fill_null(pc.less(qty, 0), False))
    refusals = []
    negative_qty = pc.and_(pc.invert(is_return), pc.less(qty, 0))
    if (bad := _positions(negative_qty)).size:
        refusals.append(
            parse.Refusal(
                "quantity",
                bad,
                "negative quantity on a sale line; only return/cancellation lines may be negative "
                "(declare them with [returns] in a mapping file)",
            )
        )
    if (bad := _positions(pc.and_(is_return, pc.greater(qty, 0)))).size:
        refusals.append(
            parse.Refusal("quantity", bad, "a return line must have a negative quantity")
        )
    if (bad := _positions(pc.and_(is_return, pc.is_null(typed["sku"])))).size:
        refusals.append(parse.Refusal("sku", bad, "a return line must name the product returned"))
    for name in ("unit_price", "line_total", "total", "discount", "shipping", "refund_amount"):
        wrong = pc.less(typed[name], 0)
        if name == "line_total":  # a return line's total is negative in most exports
            wrong = pc.and_(pc.invert(is_return), wrong)
        if (bad := _positions(wrong)).size:
            refusals.append(parse.Refusal(name, bad, "must not be negative on a sale"))
    unpaid = pc.equal(typed["status"], OrderStatus.PENDING.value)
    if (bad := _positions(pc.and_(unpaid, pc.greater(typed["refund_amount"], 0)))).size:
        refusals.append(
            parse.Refusal("refund_amount", bad, "a pending (unpaid) order cannot have a refund")
        )
    # Returns become positive quantities and amounts of goods given back.
    typed["quantity"] = pc.if_else(is_return, pc.negate(qty), qty)
    unit_total = pc.multiply(typed["quantity"], typed["unit_price"])
    line_total = pc.coalesce(pc.abs(typed["line_total"]), unit_total)
    typed["line_total"] = line_total
    typed[RETURN_FLAG] = is_return
    return refusals


def _refund_rules(
    typed: dict[str, pa.Array], text: dict[str, pa.Array], context: Context
) -> list[parse.Refusal]:
    refusals = []
    if (bad := _positions(pc.less_equal(typed["amount"], 0))).size:
        refusals.append(parse.Refusal("amount", bad, "a refund amount must be positive"))
    if (bad := _positions(pc.less_equal(typed["quantity"], 0))).size:
        refusals.append(parse.Refusal("quantity", bad, "a refunded quantity must be positive"))
    if (bad := _positions(pc.less(typed["line_no"], 1))).size:
        refusals.append(parse.Refusal("line_no", bad, "line numbers start at 1"))
    return refusals


def _review_rules(
    typed: dict[str, pa.Array], text: dict[str, pa.Array], context: Context
) -> list[parse.Refusal]:
    rating = typed["rating"]
    bad = _positions(pc.or_(pc.less(rating, 1), pc.greater(rating, 5)))
    return (
        [parse.Refusal("rating", bad, "a rating is a whole number from 1 to 5")] if bad.size else []
    )


def _customer_rules(
    typed: dict[str, pa.Array], text: dict[str, pa.Array], context: Context
) -> list[parse.Refusal]:
    tier = typed["city_tier"]
    bad = _positions(pc.or_(pc.less(tier, 1), pc.greater(tier, 6)))
    return [parse.Refusal("city_tier", bad, "a city tier is from 1 to 6")] if bad.size else []


def _product_rules(
    typed: dict[str, pa.Array], text: dict[str, pa.Array], context: Context
) -> list[parse.Refusal]:
    bad = _positions(pc.less(typed["list_price"], 0))
    return (
        [parse.Refusal("list_price", bad, "a list price must not be negative")] if bad.size else []
    )


def _event_rules(
    typed: dict[str, pa.Array], text: dict[str, pa.Array], context: Context
) -> list[parse.Refusal]:
    """Events without an id get a digest of their content, so re-ingesting never duplicates them."""
    missing = pc.is_null(typed["event_id"]).to_numpy(zero_copy_only=False)
    if missing.any():
        parts = [
            typed[c].cast(pa.string()).to_pylist()
            for c in ("event_type", "customer_id", "occurred_at", "sku", "session_id", "query")
        ]
        ids = typed["event_id"].to_pylist()
        for i in np.flatnonzero(missing):
            content = "\x1f".join("" if p[i] is None else str(p[i]) for p in parts)
            ids[i] = "h:" + hashlib.blake2b(content.encode(), digest_size=20).hexdigest()
        typed["event_id"] = pa.array(ids, pa.string())
    return []


_RULES = {
    Entity.ORDERS: _order_rules,
    Entity.REFUNDS: _refund_rules,
    Entity.REVIEWS: _review_rules,
    Entity.CUSTOMERS: _customer_rules,
    Entity.PRODUCTS: _product_rules,
    Entity.EVENTS: _event_rules,
}


def _errors(
    refusals: list[parse.Refusal],
    text: dict[str, pa.Array],
    context: Context,
    first_row: int,
    n: int,
    blank: np.ndarray,
) -> tuple[list[RowError], np.ndarray]:
    """Row errors, and which rows are good: neither refused nor blank (blank rows are skipped
    without an error, as a CSV reader skips empty lines)."""
    good = ~blank
    errors: list[RowError] = []
    for refusal in refusals:
        positions = refusal.positions[~blank[refusal.positions]]
        good[positions] = False
        values = text.get(refusal.column)
        source = context.profile.source_of(refusal.column) or refusal.column
        for position in positions.tolist():
            value = values[position].as_py() if values is not None else None
            errors.append(RowError(first_row + position, source, value, refusal.reason))
    errors.sort(key=lambda e: e.row)
    return errors, good
