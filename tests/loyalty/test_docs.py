"""docs/loyalty.md shows the shipped sample as it is and names every key of a programme."""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from patron.loyalty.programme import SAMPLE, Programme

DOCS = Path(__file__).resolve().parents[2] / "docs" / "loyalty.md"
SHIPPED = Path(__file__).resolve().parents[2] / "src/patron/loyalty/programmes" / SAMPLE


def _models(kind: Any) -> list[type[BaseModel]]:
    """The models inside an annotation (``tuple[TierLevel, ...]``, ``Caps | None``…)."""
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return [kind]
    if get_origin(kind) in (tuple, list, Union, types.UnionType) or get_args(kind):
        return [model for arg in get_args(kind) for model in _models(arg)]
    return []


def _keys(model: type[BaseModel]) -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        keys.add(name)
        for inner in _models(field.annotation):
            keys |= _keys(inner)
    return keys


def test_the_docs_show_the_shipped_sample() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", DOCS.read_text("utf-8"), re.DOTALL)
    assert blocks == [SHIPPED.read_text("utf-8")]


def test_every_key_of_a_programme_is_documented() -> None:
    text = DOCS.read_text("utf-8")
    missing = sorted(key for key in _keys(Programme) if key not in text)
    assert missing == []
