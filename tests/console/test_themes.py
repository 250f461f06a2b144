"""Themes load from themes/ as data; bad files are reported, not fatal."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.color import Color

from console.themes import load_themes, next_theme, theme_from_mapping


def test_bundled_themes_load() -> None:
    themes, problems = load_themes()
    names = {t.name for t in themes}
    assert {"arbdesk-dark", "arbdesk-light", "arbdesk-contrast"} <= names
    assert problems == []
    contrast = next(t for t in themes if t.name == "arbdesk-contrast")
    # Only the 16 ANSI colours, so it reads the same on a 16-colour terminal.
    colors = [contrast.primary, contrast.background, contrast.foreground, contrast.error]
    assert all(c is not None and c.startswith("ansi_") for c in colors)
    assert contrast.ansi
    light = next(t for t in themes if t.name == "arbdesk-light")
    assert not light.dark
    assert Color.parse(light.background or "").brightness > 0.8


def test_bad_theme_files_are_reported(tmp_path: Path) -> None:
    (tmp_path / "ok.toml").write_text('name = "ok"\nprimary = "#112233"\n')
    (tmp_path / "typo.toml").write_text('name = "typo"\nprimary = "#112233"\nprimay = "#fff"\n')
    (tmp_path / "color.toml").write_text('name = "color"\nprimary = "not-a-colour"\n')
    (tmp_path / "broken.toml").write_text("name = \n")
    themes, problems = load_themes(tmp_path)
    assert [t.name for t in themes] == ["ok"]
    reasons = {p.path.name: p.reason for p in problems}
    assert "unknown keys: primay" in reasons["typo.toml"]
    assert "not a colour" in reasons["color.toml"]
    assert "broken.toml" in reasons


def test_theme_needs_name_and_primary() -> None:
    with pytest.raises(ValueError, match="name"):
        theme_from_mapping({"primary": "#000000"})


def test_next_theme_wraps() -> None:
    assert next_theme(["a", "b"], "b") == "a"
    assert next_theme(["a", "b"], "zzz") == "a"
