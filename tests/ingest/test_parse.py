"""Each kind parses to one Arrow type, whether the column has values or none at all."""

from __future__ import annotations

import pyarrow as pa
import pytest

from patron.ingest import parse
from patron.ingest.schema import Field, Kind

SAMPLES = {
    Kind.TEXT: "Tea",
    Kind.INTEGER: "3",
    Kind.MONEY: "12.50",
    Kind.TIMESTAMP: "2024-05-01 08:30:00",
    Kind.DATE: "2024-05-01",
    Kind.BOOLEAN: "yes",
    Kind.CURRENCY: "cny",
    Kind.CHOICE: "F",
    Kind.JSON: '{"vip": true}',
}


def _parsed(kind: Kind, raw: pa.Array) -> pa.Array:
    f = Field("c", kind, choices=("F", "M", "O"))
    if kind is Kind.MONEY:
        return parse.parse_money(f, raw, pa.array(["CNY"] * len(raw)))[0]
    if kind is Kind.TIMESTAMP:
        return parse.parse_timestamp(f, raw, None, "Asia/Shanghai")[0]
    if kind is Kind.DATE:
        return parse.parse_date(f, raw, None)[0]
    return parse.SIMPLE_PARSERS[kind](f, raw)[0]


@pytest.mark.parametrize("kind", list(Kind))
def test_a_kind_parses_to_its_arrow_type(kind: Kind) -> None:
    parsed = _parsed(kind, pa.array([SAMPLES[kind], None], pa.string()))
    assert parsed.type == parse.ARROW_TYPES[kind]
    assert parsed.null_count == 1
