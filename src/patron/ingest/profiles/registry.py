"""The shipped profiles by name, and mapping files (TOML) for any other layout."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from patron.errors import ConfigError, ErrorCode, NotFoundError
from patron.ingest.model import Entity
from patron.ingest.profiles.base import Profile, Returns, identity_columns
from patron.ingest.profiles.cdnow import CDNOW
from patron.ingest.profiles.shopify import SHOPIFY
from patron.ingest.profiles.taobao import TAOBAO
from patron.ingest.readers import ReadOptions
from patron.ingest.schema import field_names

GENERIC = Profile(
    name="generic",
    columns={},  # filled per entity: the canonical names themselves
    attribute_prefix="attr_",
    doc="Patron's canonical columns (docs/ingestion.md).",
)

PROFILES: dict[str, Profile] = {p.name: p for p in (GENERIC, SHOPIFY, TAOBAO, CDNOW)}


def resolve(entity: Entity, profile: str | None, mapping: Path | None) -> Profile:
    """The profile to read ``entity`` with: a mapping file, a named profile, or generic."""
    if mapping is not None:
        if profile not in (None, "generic"):
            raise ConfigError("give either --profile or --mapping, not both", profile=profile)
        chosen = load_mapping(mapping)
    else:
        name = profile or "generic"
        if name not in PROFILES:
            raise ConfigError(
                f"unknown profile {name!r}; known profiles: {', '.join(sorted(PROFILES))}",
                code=ErrorCode.PROFILE_UNKNOWN,
                profile=name,
                known=sorted(PROFILES),
            )
        chosen = PROFILES[name]
    if entity not in chosen.entities:
        raise ConfigError(
            f"profile {chosen.name!r} reads {', '.join(chosen.entities)}, not {entity}",
            profile=chosen.name,
        )
    if chosen.name == "generic":
        return Profile(**{**_fields(chosen), "columns": identity_columns(entity)})
    return chosen


def _fields(profile: Profile) -> dict[str, Any]:
    return {name: getattr(profile, name) for name in Profile.__slots__}


_MAPPING_KEYS = {
    "name",
    "entity",
    "read",
    "columns",
    "constants",
    "values",
    "parse",
    "returns",
    "attributes",
    "description",
}


def load_mapping(path: Path) -> Profile:
    """A Profile from a TOML mapping file; every mistake is named with its key."""
    if not path.exists():
        raise NotFoundError(
            f"{path}: no such mapping file", code=ErrorCode.FILE_NOT_FOUND, file=str(path)
        )
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _bad(path, f"not valid TOML: {exc}") from exc
    unknown = set(doc) - _MAPPING_KEYS
    if unknown:
        raise _bad(
            path, f"unknown keys {sorted(unknown)}; expected some of {sorted(_MAPPING_KEYS)}"
        )
    entity = _entity(path, doc.get("entity", "orders"))
    columns = _str_table(path, doc, "columns")
    constants = _str_table(path, doc, "constants")
    canonical = set(field_names(entity))
    for key in list(columns) + list(constants):
        if key not in canonical:
            raise _bad(
                path,
                f"{key!r} is not a canonical {entity} column; expected one of {sorted(canonical)}",
            )
    values = doc.get("values", {})
    if not isinstance(values, dict) or not all(
        k in canonical and isinstance(v, dict) and all(isinstance(x, str) for x in v.values())
        for k, v in values.items()
    ):
        raise _bad(path, "[values.<column>] tables must map source values to canonical text values")
    read = _table(path, doc, "read")
    parse = _table(path, doc, "parse")
    returns = _table(path, doc, "returns")
    attributes = _table(path, doc, "attributes")
    try:
        return Profile(
            name=str(doc.get("name", path.stem)),
            entities=(entity,),
            columns=columns,
            constants=constants,
            values={k: dict(v) for k, v in values.items()},
            read=ReadOptions(
                delimiter=read.get("delimiter"),
                encoding=read.get("encoding"),
                header=bool(read.get("header", True)),
                column_names=tuple(read.get("column_names", ())),
                whitespace_separated=bool(read.get("whitespace_separated", False)),
            ),
            timestamp_format=parse.get("timestamp_format"),
            date_format=parse.get("date_format"),
            timezone=parse.get("timezone"),
            returns=Returns(
                order_id_prefix=returns.get("order_id_prefix"),
                negative_quantity=bool(returns.get("negative_quantity", False)),
            ),
            attribute_prefix=attributes.get("prefix"),
            doc=str(doc.get("description", "")),
        )
    except TypeError as exc:
        raise _bad(path, str(exc)) from exc


def _bad(path: Path, why: str) -> ConfigError:
    return ConfigError(
        f"mapping file {path}: {why}", code=ErrorCode.MAPPING_INVALID, file=str(path)
    )


def _entity(path: Path, value: object) -> Entity:
    try:
        return Entity(str(value))
    except ValueError:
        raise _bad(
            path, f"entity {value!r} unknown; expected one of {[e.value for e in Entity]}"
        ) from None


def _table(path: Path, doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise _bad(path, f"[{key}] must be a table")
    return value


def _str_table(path: Path, doc: dict[str, Any], key: str) -> dict[str, str]:
    table = _table(path, doc, key)
    for k, v in table.items():
        if not isinstance(v, str):
            raise _bad(path, f"[{key}] {k} must be text, got {v!r}")
    return dict(table)
