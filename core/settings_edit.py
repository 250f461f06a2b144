"""Live settings edits: validate one value with the same pydantic model as settings.toml,
apply it to the running settings object, and write it back to the file with comments kept.

The console's thresholds editor and `Engine.update_setting` go through here, so a value typed
in the console is judged exactly like the same value written in settings.toml.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from pydantic import BaseModel, ValidationError

from core.settings import Settings, SettingsError, format_validation_error

# Sections whose fields the console may edit while running (everything that is a threshold or
# a limit). Venue lists, mode and paths need a restart and are edited in the file.
EDITABLE_SECTIONS = ("thresholds", "cycles", "risk", "execution", "detector")
_SCALARS = (bool, int, float, str)
# Switched with their own key and confirmation (`A` asks in live mode), for the session only;
# the editor must not offer a way around that.
SESSION_ONLY = frozenset({"execution.auto_execute"})


@dataclass(frozen=True, slots=True)
class EditableField:
    path: str  # "thresholds.min_profit_bps"
    section: str
    name: str
    description: str
    value: Any
    type_name: str


@dataclass(frozen=True, slots=True)
class SettingChange:
    path: str
    old: Any
    new: Any
    written_to: Path | None  # None when running on built-in defaults (nothing to write)


def editable_fields(settings: Settings) -> list[EditableField]:
    fields = []
    for section_name in EDITABLE_SECTIONS:
        section: BaseModel = getattr(settings, section_name)
        for name, info in type(section).model_fields.items():
            ann = info.annotation
            if ann not in _SCALARS:  # maps and lists are edited in the file, not one-line inputs
                continue
            if not _editor_may_show(f"{section_name}.{name}"):
                continue
            fields.append(
                EditableField(
                    path=f"{section_name}.{name}",
                    section=section_name,
                    name=name,
                    description=(info.description or "").strip(),
                    value=getattr(section, name),
                    type_name=getattr(ann, "__name__", str(ann)),
                )
            )
    return fields


def _split(path: str) -> tuple[str, str]:
    section, _, name = path.partition(".")
    if section not in EDITABLE_SECTIONS or not name:
        raise SettingsError(path, [f"{path} = ?: not a live-editable setting"])
    return section, name


def _editor_may_show(path: str) -> bool:
    return path not in SESSION_ONLY


def validate_setting(settings: Settings, path: str, raw: Any) -> Any:
    """The validated value for `path`, or SettingsError(`key = value: reason`). Changes nothing."""
    section_name, name = _split(path)
    section: BaseModel = getattr(settings, section_name)
    if name not in type(section).model_fields:
        raise SettingsError(path, [f"{path} = {raw!r}: unknown key"])
    if isinstance(raw, str):
        raw = raw.strip()
        if raw == "":
            raise SettingsError(path, [f"{path} = '': a value is required"])
    candidate = {**section.model_dump(), name: raw}
    try:
        checked = type(section).model_validate(candidate)
    except ValidationError as exc:
        problems = [f"{section_name}.{line}" for line in format_validation_error(exc)]
        raise SettingsError(path, problems) from exc
    return getattr(checked, name)


def apply_setting(settings: Settings, path: str, raw: Any, *, write: bool = True) -> SettingChange:
    """Validate, write back to settings.toml, then apply to the live settings object.

    The file is written first: if it cannot be (disk, permissions, a half-edited file that no
    longer parses), SettingsError is raised and the running value stays as it was.
    """
    value = validate_setting(settings, path, raw)
    written = save_setting(settings.toml_path, path, value) if write else None
    return set_live(settings, path, value, written)


def save_setting(toml_path: Path | None, path: str, value: Any) -> Path | None:
    """Write one validated value to settings.toml (None: running on defaults, no file).
    Blocking file I/O: the engine calls it from a thread, never from the event loop."""
    if toml_path is None:
        return None
    section_name, _, name = path.partition(".")  # validated by the caller
    try:
        write_toml_value(toml_path, section_name, name, value)
    except (OSError, ValueError, tomlkit.exceptions.TOMLKitError) as exc:
        raise SettingsError(path, [f"{path} = {value!r}: not saved to {toml_path}: {exc}"]) from exc
    return toml_path


def set_live(settings: Settings, path: str, value: Any, written_to: Path | None) -> SettingChange:
    """Apply a validated value to the running settings object."""
    section_name, name = _split(path)
    section = getattr(settings, section_name)
    old = getattr(section, name)
    setattr(section, name, value)
    return SettingChange(path=path, old=old, new=value, written_to=written_to)


def write_toml_value(toml_path: Path, section: str, name: str, value: Any) -> None:
    """Set `[section] name = value` in the file, keeping every comment and the layout."""
    text = toml_path.read_text(encoding="utf-8") if toml_path.exists() else ""
    doc = tomlkit.parse(text)
    table = doc.get(section)
    if table is None:
        table = tomlkit.table()
        doc[section] = table
    table[name] = _toml_value(value)
    _atomic_write(toml_path, tomlkit.dumps(doc))


def _toml_value(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    return value


def _atomic_write(path: Path, text: str) -> None:
    # Write-then-rename so a crash mid-write never leaves a truncated settings.toml.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
