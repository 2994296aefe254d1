"""The CDNOW master file: ``customer_id date(YYYYMMDD) number_of_cds dollar_value``,
whitespace separated, one line per transaction, no order id."""

from __future__ import annotations

import pyarrow as pa

from patron.ingest.model import Entity
from patron.ingest.profiles.base import Columns, Profile
from patron.ingest.readers import ReadOptions


def _order_ids(columns: Columns, state: dict[str, object]) -> Columns:
    """Order id = customer-date-n, n counting the customer's transactions of that day in file
    order: stable across re-ingestion of the same file."""
    seen = state.setdefault("seen", {})
    assert isinstance(seen, dict)
    ids: list[str | None] = []
    for customer, day in zip(
        columns["customer_id"].to_pylist(), columns["placed_at"].to_pylist(), strict=True
    ):
        if customer is None or day is None:
            ids.append(None)
            continue
        key = (customer, day)
        seen[key] = seen.get(key, 0) + 1
        ids.append(f"{customer}-{day}-{seen[key]}")
    return {**columns, "order_id": pa.array(ids, pa.string())}


CDNOW = Profile(
    name="cdnow",
    entities=(Entity.ORDERS,),
    columns={
        "customer_id": "customer_id",
        "placed_at": "date",
        "item_count": "number_of_cds",
        "total": "dollar_value",
    },
    constants={"currency": "USD", "status": "completed"},
    read=ReadOptions(whitespace_separated=True),
    timestamp_format="%Y%m%d",
    timezone="America/New_York",
    derive=_order_ids,
    doc="CDNOW master file (Fader & Hardie): customer id, date, CDs bought, dollar value.",
)
