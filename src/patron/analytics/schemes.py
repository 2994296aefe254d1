"""Segment schemes and lifecycle stages as configuration data (TOML), with zh-CN and en labels.

The shipped files live beside this module (``schemes/*.toml``); a shop may give its own file of
the same shape. Loading validates everything and names the file and the entry at fault.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from patron.errors import InputError

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")
STAGES = ("potential", "new", "active", "silent", "sleeping", "churned", "dead")
"""Lifecycle stages in order; the buyers' ones from ``active`` on follow days since purchase."""
DAY_STAGES = ("active", "silent", "sleeping", "churned")


@dataclass(frozen=True, slots=True)
class Label:
    en: str
    zh: str

    def text(self, lang: Lang) -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True, slots=True)
class GridCell:
    """A cell of the grid scheme: each of R, F, M required "high" (True) or "low" (False)."""

    key: str
    label: Label
    r: bool
    f: bool
    m: bool


@dataclass(frozen=True, slots=True)
class ScoreCell:
    """A segment of the score scheme: inclusive ranges of the R and F scores (1–5)."""

    key: str
    label: Label
    r: tuple[int, int]
    f: tuple[int, int]

    def holds(self, r: int, f: int) -> bool:
        return self.r[0] <= r <= self.r[1] and self.f[0] <= f <= self.f[1]


@dataclass(frozen=True, slots=True)
class GridScheme:
    name: str
    title: Label
    split: Literal["mean", "median"]
    cells: tuple[GridCell, ...]


@dataclass(frozen=True, slots=True)
class ScoreScheme:
    name: str
    title: Label
    cells: tuple[ScoreCell, ...]

    def segment(self, r: int, f: int) -> str:
        """The key of the first segment holding the scores."""
        for cell in self.cells:
            if cell.holds(r, f):
                return cell.key
        raise ValueError(f"no segment of {self.name} holds R={r}, F={f}")


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """Stage labels and how thresholds are set: fixed ``days`` where given, else the quantile
    of the shop's inter-purchase intervals."""

    labels: dict[str, Label]
    quantiles: dict[str, float]
    days: dict[str, int]
    min_days: int


def load_grid(path: Path | None = None) -> GridScheme:
    raw, where = _read(path, "rfm_grid.toml")
    cells = []
    for n, entry in enumerate(_list(raw, "segments", where)):
        at = f"{where}: segments[{n}]"
        values = {axis: _choice(entry, axis, ("high", "low"), at) == "high" for axis in "rfm"}
        cells.append(GridCell(_key(entry, at), _label(entry, "label", at), **values))
    combos = {(c.r, c.f, c.m) for c in cells}
    if len(combos) != 8:
        raise InputError(f"{where}: the grid needs all 8 high/low cells once", field="segments")
    split = _choice(raw, "split", ("mean", "median"), where)
    return GridScheme(
        _text(raw, "name", where),
        _label(raw, "title", where),
        "mean" if split == "mean" else "median",
        tuple(cells),
    )


def load_scores(path: Path | None = None) -> ScoreScheme:
    raw, where = _read(path, "rfm_groups.toml")
    cells = []
    for n, entry in enumerate(_list(raw, "segments", where)):
        at = f"{where}: segments[{n}]"
        cells.append(
            ScoreCell(
                _key(entry, at),
                _label(entry, "label", at),
                _range(entry, "r", at),
                _range(entry, "f", at),
            )
        )
    scheme = ScoreScheme(_text(raw, "name", where), _label(raw, "title", where), tuple(cells))
    for r in range(1, 6):
        for f in range(1, 6):
            if not any(c.holds(r, f) for c in cells):
                raise InputError(
                    f"{where}: no segment holds R={r}, F={f}; the segments must cover all 25 cells",
                    field="segments",
                )
    return scheme


def load_lifecycle(path: Path | None = None) -> Lifecycle:
    raw, where = _read(path, "lifecycle.toml")
    labels = {}
    for n, entry in enumerate(_list(raw, "stages", where)):
        at = f"{where}: stages[{n}]"
        labels[_choice(entry, "key", STAGES, at)] = _label(entry, "label", at)
    missing = [s for s in STAGES if s not in labels]
    if missing:
        raise InputError(f"{where}: stages without a label: {', '.join(missing)}", field="stages")
    quantiles = {}
    for stage, value in _table(raw, "quantiles", where).items():
        _choice({"key": stage}, "key", DAY_STAGES, f"{where}: [quantiles]")
        if not isinstance(value, float | int) or not 0 < value < 1:
            raise InputError(
                f"{where}: quantiles.{stage} must be a number between 0 and 1", field=stage
            )
        quantiles[stage] = float(value)
    days = {}
    for stage, value in _table(raw, "days", where).items():
        _choice({"key": stage}, "key", (*DAY_STAGES, "new"), f"{where}: [days]")
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InputError(f"{where}: days.{stage} must be a whole number ≥ 1", field=stage)
        days[stage] = value
    unset = [s for s in DAY_STAGES if s not in days and s not in quantiles]
    if unset:
        raise InputError(
            f"{where}: give days or a quantile for {', '.join(unset)}", field="quantiles"
        )
    min_days = raw.get("min_days", 1)
    if not isinstance(min_days, int) or min_days < 1:
        raise InputError(f"{where}: min_days must be a whole number ≥ 1", field="min_days")
    return Lifecycle(labels, quantiles, days, min_days)


def _read(path: Path | None, shipped: str) -> tuple[dict[str, Any], str]:
    if path is None:
        text = resources.files("patron.analytics").joinpath("schemes", shipped).read_text("utf-8")
        where = shipped
    else:
        try:
            text = path.read_text("utf-8")
        except OSError as error:
            raise InputError(f"cannot read {path}: {error.strerror}", field="path") from error
        where = str(path)
    try:
        return tomllib.loads(text), where
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{where} is not valid TOML: {error}", field="path") from error


def _list(raw: dict[str, Any], name: str, where: str) -> list[dict[str, Any]]:
    value = raw.get(name)
    if not isinstance(value, list) or not value or not all(isinstance(x, dict) for x in value):
        raise InputError(f"{where}: expected one or more [[{name}]] entries", field=name)
    return value


def _table(raw: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise InputError(f"{where}: [{name}] must be a table", field=name)
    return value


def _text(raw: dict[str, Any], name: str, where: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: {name} must be a non-empty string", field=name)
    return value


def _key(entry: dict[str, Any], where: str) -> str:
    key = _text(entry, "key", where)
    if not key.replace("_", "").isalnum() or not key.isascii():
        raise InputError(f"{where}: key {key!r} must be letters, digits and _", field="key")
    return key


def _choice(entry: dict[str, Any], name: str, allowed: tuple[str, ...], where: str) -> str:
    value = entry.get(name)
    if value not in allowed:
        raise InputError(
            f"{where}: {name} must be one of {', '.join(allowed)}, not {value!r}", field=name
        )
    return str(value)


def _label(entry: dict[str, Any], name: str, where: str) -> Label:
    value = entry.get(name)
    if not isinstance(value, dict) or not all(isinstance(value.get(x), str) for x in LANGS):
        raise InputError(f"{where}: {name} needs en and zh texts", field=name)
    return Label(value["en"], value["zh"])


def _range(entry: dict[str, Any], name: str, where: str) -> tuple[int, int]:
    value = entry.get(name)
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(x, int) and 1 <= x <= 5 for x in value)
        or value[0] > value[1]
    ):
        raise InputError(f"{where}: {name} must be [low, high] scores within 1–5", field=name)
    return value[0], value[1]
