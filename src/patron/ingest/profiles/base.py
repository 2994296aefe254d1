"""The Profile value: a declarative description of one source layout."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pyarrow as pa

from patron.ingest.model import Entity
from patron.ingest.readers import ReadOptions
from patron.ingest.schema import field_names

Columns = dict[str, pa.Array]
Derive = Callable[[Columns, dict[str, object]], Columns]
"""A hook that computes canonical columns from others (text in, text out), with state kept
across the chunks of one run (e.g. a counter for ids the source does not carry)."""


@dataclass(frozen=True, slots=True)
class Returns:
    """How a line-item export marks lines that return goods bought earlier."""

    order_id_prefix: str | None = None
    negative_quantity: bool = False


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    # canonical column → source header
    columns: Mapping[str, str]
    # canonical column → value used for every row
    constants: Mapping[str, str] = field(default_factory=dict)
    # canonical column → {source value: canonical value}
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    entities: tuple[Entity, ...] = tuple(Entity)
    read: ReadOptions = field(default_factory=ReadOptions)
    timestamp_format: str | None = None
    date_format: str | None = None
    # Time zone of timestamps written without an offset; default: the shop's.
    timezone: str | None = None
    returns: Returns = Returns()
    # Source columns named <prefix><key> become custom attributes of customers.
    attribute_prefix: str | None = None
    derive: Derive | None = None
    doc: str = ""

    def source_of(self, canonical: str) -> str | None:
        return self.columns.get(canonical)


def identity_columns(entity: Entity) -> dict[str, str]:
    return {name: name for name in field_names(entity)}
