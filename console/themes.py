"""Themes as data: each themes/*.toml file becomes a Textual `Theme`.

A theme file holds the `Theme` fields (`name`, `primary`, `background`, ..., `dark`, `ansi`)
and an optional `[variables]` table of Textual CSS variables. Bad files are reported and
skipped so one typo never stops the console from starting.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

THEMES_DIR_ENV = "ARBDESK_THEMES_DIR"
DEFAULT_THEME = "arbdesk-dark"
_THEME_FIELDS = {f.name for f in dataclasses.fields(Theme)}
_COLOR_FIELDS = _THEME_FIELDS - {"name", "dark", "luminosity_spread", "text_alpha", "variables"}
_COLOR_FIELDS.discard("ansi")


@dataclass(frozen=True, slots=True)
class ThemeProblem:
    path: Path
    reason: str


def themes_dir() -> Path:
    """$ARBDESK_THEMES_DIR, else the repository's themes/ folder."""
    env = os.environ.get(THEMES_DIR_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "themes"


def theme_from_mapping(data: dict[str, object]) -> Theme:
    """Build a Theme from parsed TOML; raises ValueError naming the bad key."""
    unknown = set(data) - _THEME_FIELDS
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
    if not isinstance(data.get("name"), str) or not data["name"]:
        raise ValueError("a theme needs a name")
    if not isinstance(data.get("primary"), str):
        raise ValueError("a theme needs a primary colour")
    for key in _COLOR_FIELDS & set(data):
        _check_color(key, data[key])
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ValueError("[variables] must be a table")
    return Theme(**{**data, "variables": {str(k): str(v) for k, v in variables.items()}})  # type: ignore[arg-type]


def _check_color(key: str, value: object) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{key} = {value!r}: a colour must be a string")
    try:
        Color.parse(value)
    except ColorParseError as exc:
        raise ValueError(f"{key} = {value!r}: not a colour") from exc


def load_themes(folder: Path | None = None) -> tuple[list[Theme], list[ThemeProblem]]:
    """Every valid theme in `folder` (sorted by file name) and the problems with the rest."""
    folder = themes_dir() if folder is None else folder
    themes: list[Theme] = []
    problems: list[ThemeProblem] = []
    for path in sorted(folder.glob("*.toml")):
        try:
            with path.open("rb") as handle:
                themes.append(theme_from_mapping(tomllib.load(handle)))
        except (OSError, tomllib.TOMLDecodeError, ValueError, TypeError) as exc:
            problems.append(ThemeProblem(path, str(exc)))
    return themes, problems


def next_theme(names: list[str], current: str) -> str:
    """The theme after `current` in `names`, wrapping around (the first if unknown)."""
    if not names:
        return current
    try:
        return names[(names.index(current) + 1) % len(names)]
    except ValueError:
        return names[0]
