"""The shipped segment schemes load as documented; malformed scheme files are refused with the
file and the entry at fault named."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from patron.analytics.schemes import load_grid, load_lifecycle, load_scores
from patron.errors import InputError


def shipped(name: str) -> str:
    return resources.files("patron.analytics").joinpath("schemes", name).read_text("utf-8")


def test_the_shipped_grid_has_the_eight_cells_in_order() -> None:
    grid = load_grid()
    assert (grid.name, grid.split, grid.title.zh) == ("rfm_grid", "mean", "RFM 八分类")
    cells = {c.key: (c.r, c.f, c.m, c.label.zh) for c in grid.cells}
    assert cells == {
        "important_value": (True, True, True, "重要价值客户"),
        "important_development": (True, False, True, "重要发展客户"),
        "important_retention": (False, True, True, "重要保持客户"),
        "important_winback": (False, False, True, "重要挽留客户"),
        "general_value": (True, True, False, "一般价值客户"),
        "general_development": (True, False, False, "一般发展客户"),
        "general_retention": (False, True, False, "一般保持客户"),
        "general_winback": (False, False, False, "一般挽留客户"),
    }
    assert list(grid.labels) == list(cells)
    assert grid.labels["important_value"].text("en") == "Champions (important value)"


def test_the_shipped_groups_have_their_ranges_and_labels() -> None:
    groups = load_scores()
    assert (groups.name, groups.title.en, groups.title.zh) == (
        "rfm_groups",
        "RFM named groups",
        "RFM 客户分群",
    )
    assert [(c.key, c.r, c.f, c.label.zh) for c in groups.cells] == [
        ("champions", (5, 5), (4, 5), "冠军客户"),
        ("loyal", (3, 4), (4, 5), "忠诚客户"),
        ("cant_lose", (1, 2), (5, 5), "不能失去的客户"),
        ("at_risk", (1, 2), (3, 4), "有流失风险客户"),
        ("lost", (1, 1), (1, 1), "已流失客户"),
        ("hibernating", (1, 2), (1, 2), "冬眠客户"),
        ("need_attention", (3, 3), (3, 3), "需要关注客户"),
        ("about_to_sleep", (3, 3), (1, 2), "即将沉睡客户"),
        ("potential_loyalists", (4, 5), (2, 3), "潜力忠诚客户"),
        ("promising", (4, 4), (1, 1), "有望客户"),
        ("new", (5, 5), (1, 1), "新客户"),
    ]


def test_the_shipped_lifecycle_loads() -> None:
    lifecycle = load_lifecycle()
    assert lifecycle.labels["churned"].zh == "流失客户"
    assert (lifecycle.quantiles["active"], lifecycle.min_days) == (0.5, 7)


GRID_LAST = """
[[segments]]
key = "general_winback"
label = { en = "General to win back", zh = "一般挽留客户" }
r = "low"
f = "low"
m = "low"
"""
GROUPS_NEW = """
[[segments]]
key = "new"
label = { en = "New", zh = "新客户" }
r = [5, 5]
f = [1, 1]
"""


def edited(name: str, old: str, new: str) -> str:
    text = shipped(name)
    assert text.count(old) == 1, old
    return text.replace(old, new)


BAD_GRIDS = {
    "missing cell": (
        edited("rfm_grid.toml", GRID_LAST, ""),
        r"no segment for R low, F low, M low; the grid needs all 8 cells",
    ),
    "repeated cell": (
        edited(
            "rfm_grid.toml", 'r = "low"\nf = "low"\nm = "low"', 'r = "high"\nf = "high"\nm = "high"'
        ),
        r"segments\[7\] \(general_winback\): repeats the cell of segments\[0\] \(important_value\)",
    ),
    "bad high/low": (
        edited(
            "rfm_grid.toml", 'r = "high"\nf = "high"\nm = "low"', 'r = "up"\nf = "high"\nm = "low"'
        ),
        r"segments\[4\]: r must be one of high, low, not 'up'",
    ),
    "missing label": (
        edited("rfm_grid.toml", 'label = { en = "General value", zh = "一般价值客户" }\n', ""),
        r"segments\[4\]: label needs non-empty en and zh texts",
    ),
    "empty zh label": (
        edited("rfm_grid.toml", 'zh = "一般价值客户"', 'zh = " "'),
        r"segments\[4\]: label needs non-empty en and zh texts",
    ),
    "bad split": (
        edited("rfm_grid.toml", 'split = "mean"', 'split = "mode"'),
        r"split must be one of mean, median, not 'mode'",
    ),
    "scores file as grid": (
        shipped("rfm_groups.toml"),
        r"kind must be one of grid, not 'scores'",
    ),
    "duplicate key": (
        edited("rfm_grid.toml", 'key = "general_winback"', 'key = "important_value"'),
        r"segments\[7\]: key 'important_value' is used twice",
    ),
}

BAD_GROUPS = {
    "bad range order": (
        edited("rfm_groups.toml", "r = [3, 4]", "r = [4, 3]"),
        r"segments\[1\]: r must be \[low, high\] scores within 1–5",
    ),
    "range out of 1-5": (
        edited(
            "rfm_groups.toml",
            'f = [4, 5]\n\n[[segments]]\nkey = "loyal"',
            'f = [4, 6]\n\n[[segments]]\nkey = "loyal"',
        ),
        r"segments\[0\]: f must be \[low, high\] scores within 1–5",
    ),
    "boolean bound": (
        edited("rfm_groups.toml", "r = [1, 1]", "r = [true, 1]"),
        r"segments\[4\]: r must be \[low, high\] scores within 1–5",
    ),
    "range not a list": (
        edited("rfm_groups.toml", "r = [3, 3]\nf = [3, 3]", "r = 3\nf = [3, 3]"),
        r"segments\[6\]: r must be \[low, high\] scores within 1–5",
    ),
    "missing label": (
        edited("rfm_groups.toml", 'label = { en = "Lost", zh = "已流失客户" }\n', ""),
        r"segments\[4\]: label needs non-empty en and zh texts",
    ),
    "label without zh": (
        edited("rfm_groups.toml", '{ en = "Lost", zh = "已流失客户" }', '{ en = "Lost" }'),
        r"segments\[4\]: label needs non-empty en and zh texts",
    ),
    "cell left out": (
        edited("rfm_groups.toml", GROUPS_NEW, ""),
        r"no segment holds R=5, F=1; the segments must cover all 25 cells",
    ),
    "segment that never matches": (
        shipped("rfm_groups.toml") + GROUPS_NEW.replace('"new"', '"newer"'),
        r"segments\[11\] \(newer\): never matches, earlier segments hold all its cells",
    ),
    "bad key": (
        edited("rfm_groups.toml", 'key = "cant_lose"', 'key = "can\'t lose"'),
        r"segments\[2\]: key \"can't lose\" must be letters, digits and _",
    ),
    "no segments": (
        'name = "x"\ntitle = { en = "X", zh = "X" }\nkind = "scores"\n',
        r"expected one or more \[\[segments\]\] entries",
    ),
}


@pytest.mark.parametrize("case", BAD_GRIDS)
def test_a_bad_grid_file_is_refused_naming_file_and_entry(tmp_path: Path, case: str) -> None:
    text, message = BAD_GRIDS[case]
    path = tmp_path / "shop_grid.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(InputError, match=f"^{re.escape(str(path))}: {message}"):
        load_grid(path)


@pytest.mark.parametrize("case", BAD_GROUPS)
def test_a_bad_groups_file_is_refused_naming_file_and_entry(tmp_path: Path, case: str) -> None:
    text, message = BAD_GROUPS[case]
    path = tmp_path / "shop_groups.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(InputError, match=f"^{re.escape(str(path))}: {message}"):
        load_scores(path)


def test_a_file_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "grid.toml"
    path.write_text("[[segments]\nkey = ", "utf-8")
    with pytest.raises(InputError, match=f"^{re.escape(str(path))} is not valid TOML: ") as caught:
        load_grid(path)
    assert caught.value.details == {"field": "path"}


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "groups.toml"
    path.write_bytes(shipped("rfm_groups.toml").encode("gb18030"))
    with pytest.raises(InputError, match=f"^{re.escape(str(path))} is not UTF-8 text"):
        load_scores(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(InputError, match=f"^cannot read {re.escape(str(path))}: No such file"):
        load_scores(path)
