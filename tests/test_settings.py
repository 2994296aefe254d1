from pathlib import Path

import pytest

from patron.settings import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def test_every_setting_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`{name}`" in text, f"docs/settings.md does not document {name}"
        assert f"`PATRON_{name.upper()}`" in text


def test_environment_and_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "patron.toml").write_text('default_shop = "tmall"\ndefault_currency = "USD"\n')
    monkeypatch.setenv("PATRON_DEFAULT_CURRENCY", "EUR")
    settings = Settings()
    assert settings.default_shop == "tmall"
    assert settings.default_currency == "EUR"  # the environment wins over the file
    assert settings.database_url == "sqlite:///patron.db"
    assert settings.default_timezone == "Asia/Shanghai"
