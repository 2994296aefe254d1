"""Segment schemes and lifecycle stages as configuration data (TOML), with zh-CN and en labels.

The shipped files live beside this module (``schemes/*.toml``); a shop may give its own file of
the same shape. Loading validates everything and names the file and the entry at fault.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

from patron.errors import InputError

Lang = Literal["en", "zh"]
_Cell = TypeVar("_Cell", "GridCell", "ScoreCell")
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

    @property
    def labels(self) -> dict[str, Label]:
        """Segment labels by key, in scheme order."""
        return {c.key: c.label for c in self.cells}


@dataclass(frozen=True, slots=True)
class ScoreScheme:
    name: str
    title: Label
    cells: tuple[ScoreCell, ...]

    @property
    def labels(self) -> dict[str, Label]:
        """Segment labels by key, in scheme order."""
        return {c.key: c.label for c in self.cells}

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
    """The eight-cell grid scheme: the shipped one, or the file at ``path``."""
    raw, where = _read(path, "rfm_grid.toml")
    _choice(raw, "kind", ("grid",), where)
    cells: list[GridCell] = []
    for n, entry in enumerate(_list(raw, "segments", where)):
        at = f"{where}: segments[{n}]"
        values = {axis: _choice(entry, axis, ("high", "low"), at) == "high" for axis in "rfm"}
        cell = GridCell(_key(entry, at), _label(entry, "label", at), **values)
        for m, earlier in enumerate(cells):
            if (earlier.r, earlier.f, earlier.m) == (cell.r, cell.f, cell.m):
                raise InputError(
                    f"{at} ({cell.key}): repeats the cell of segments[{m}] ({earlier.key})",
                    field="segments",
                )
        cells.append(_unique(cell, cells, at))
    missing = [
        f"R {_high(r)}, F {_high(f)}, M {_high(m)}"
        for r in (True, False)
        for f in (True, False)
        for m in (True, False)
        if not any((c.r, c.f, c.m) == (r, f, m) for c in cells)
    ]
    if missing:
        raise InputError(
            f"{where}: no segment for {'; '.join(missing)}; the grid needs all 8 cells",
            field="segments",
        )
    split = _choice(raw, "split", ("mean", "median"), where)
    return GridScheme(
        _text(raw, "name", where),
        _label(raw, "title", where),
        "mean" if split == "mean" else "median",
        tuple(cells),
    )


def load_scores(path: Path | None = None) -> ScoreScheme:
    """The named-groups scheme on R and F scores: the shipped one, or the file at ``path``.

    Segments match first to last, so a segment whose every cell an earlier one already holds
    could never be assigned: it is refused as a mistake rather than kept as a silent no-op."""
    raw, where = _read(path, "rfm_groups.toml")
    _choice(raw, "kind", ("scores",), where)
    cells: list[ScoreCell] = []
    for n, entry in enumerate(_list(raw, "segments", where)):
        at = f"{where}: segments[{n}]"
        cell = ScoreCell(
            _key(entry, at),
            _label(entry, "label", at),
            _range(entry, "r", at),
            _range(entry, "f", at),
        )
        if all(
            any(c.holds(r, f) for c in cells)
            for r in range(cell.r[0], cell.r[1] + 1)
            for f in range(cell.f[0], cell.f[1] + 1)
        ):
            raise InputError(
                f"{at} ({cell.key}): never matches, earlier segments hold all its cells",
                field="segments",
            )
        cells.append(_unique(cell, cells, at))
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


def _high(value: bool) -> str:
    return "high" if value else "low"


def _unique(cell: _Cell, earlier: list[_Cell], where: str) -> _Cell:
    if any(c.key == cell.key for c in earlier):
        raise InputError(f"{where}: key {cell.key!r} is used twice", field="key")
    return cell


def _read(path: Path | None, shipped: str) -> tuple[dict[str, Any], str]:
    if path is None:
        text = resources.files("patron.analytics").joinpath("schemes", shipped).read_text("utf-8")
        where = shipped
    else:
        try:
            text = path.read_text("utf-8")
        except OSError as error:
            raise InputError(f"cannot read {path}: {error.strerror}", field="path") from error
        except UnicodeDecodeError as error:
            raise InputError(f"{path} is not UTF-8 text: {error}", field="path") from error
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
    if not isinstance(value, dict) or not all(
        isinstance(value.get(x), str) and value[x].strip() for x in LANGS
    ):
        raise InputError(f"{where}: {name} needs non-empty en and zh texts", field=name)
    return Label(value["en"], value["zh"])


def _range(entry: dict[str, Any], name: str, where: str) -> tuple[int, int]:
    value = entry.get(name)
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(x, int) and not isinstance(x, bool) and 1 <= x <= 5 for x in value)
        or value[0] > value[1]
    ):
        raise InputError(f"{where}: {name} must be [low, high] scores within 1–5", field=name)
    return value[0], value[1]
