"""Live settings edits: validated like settings.toml, applied to the running object, written back
to the file with its comments and layout kept; a bad value changes nothing anywhere."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import Settings, SettingsError, load_settings
from core.settings_edit import apply_setting, editable_fields, validate_setting, write_toml_value

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A copy of the repo's commented settings.toml."""
    path = tmp_path / "settings.toml"
    shutil.copyfile(REPO / "settings.toml", path)
    return path


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    a, b = before.splitlines(), after.splitlines()
    assert len(a) == len(b), "lines were added or removed"
    return [(x, y) for x, y in zip(a, b, strict=True) if x != y]


def test_valid_edit_applies_live_and_keeps_the_file_layout(repo_copy: Path) -> None:
    before = repo_copy.read_text(encoding="utf-8")
    settings = load_settings(repo_copy)
    change = apply_setting(settings, "thresholds.min_profit_bps", " 7.25 ")  # typed text
    assert (change.old, change.new, change.written_to) == (3.0, 7.25, repo_copy)
    assert settings.thresholds.min_profit_bps == 7.25
    after = repo_copy.read_text(encoding="utf-8")
    assert changed_lines(before, after) == [("min_profit_bps = 3.0", "min_profit_bps = 7.25")]
    assert load_settings(repo_copy).thresholds.min_profit_bps == 7.25  # what a restart reads


def test_edits_of_other_types_round_trip(repo_copy: Path) -> None:
    settings = load_settings(repo_copy)
    apply_setting(settings, "execution.cancel_on_kill", "false")
    apply_setting(settings, "risk.max_concurrent_trades", "4")
    apply_setting(settings, "detector.sweep_interval_ms", 250)
    reread = load_settings(repo_copy)
    assert reread.execution.cancel_on_kill is False
    assert reread.risk.max_concurrent_trades == 4
    assert reread.detector.sweep_interval_ms == 250


def test_a_key_missing_from_the_file_is_added_to_its_section(repo_copy: Path) -> None:
    before = repo_copy.read_text(encoding="utf-8")
    assert "unknown_order_grace_s" not in before
    settings = load_settings(repo_copy)
    apply_setting(settings, "execution.unknown_order_grace_s", "8")
    after = repo_copy.read_text(encoding="utf-8")
    assert after.startswith(before.split("[execution]")[0])  # everything above untouched
    assert load_settings(repo_copy).execution.unknown_order_grace_s == 8.0
    for comment in (line for line in before.splitlines() if line.startswith("#")):
        assert comment in after


@pytest.mark.parametrize(
    ("path", "raw", "reason"),
    [
        ("thresholds.min_profit_bps", "-2", "greater than or equal to 0"),
        ("thresholds.min_profit_bps", "nan", "finite number"),
        ("thresholds.min_profit_bps", "abc", "valid number"),
        ("thresholds.min_profit_bps", "  ", "a value is required"),
        ("thresholds.stale_after_ms", "0", "greater than 0"),
        ("risk.max_concurrent_trades", "2.5", "valid integer"),
        ("thresholds.min_profit_bsp", "3", "unknown key"),
        ("cycles.max_hops", "5", "less than or equal to 4"),
        ("cycles.max_hops", "2", "greater than or equal to 3"),
        ("cycles.min_profit_bps", "-1", "greater than or equal to 0"),
        ("mode", "paper", "not a live-editable setting"),
        ("feeds.backoff_max_s", "1", "not a live-editable setting"),
    ],
)
def test_invalid_edit_changes_nothing(repo_copy: Path, path: str, raw: str, reason: str) -> None:
    before = repo_copy.read_text(encoding="utf-8")
    settings = load_settings(repo_copy)
    snapshot = settings.model_dump()
    with pytest.raises(SettingsError) as info:
        apply_setting(settings, path, raw)
    (line,) = info.value.problems
    assert line.startswith(f"{path} = ") and reason in line, line
    assert settings.model_dump() == snapshot
    assert repo_copy.read_text(encoding="utf-8") == before


def test_validate_setting_changes_nothing() -> None:
    settings = Settings()
    assert validate_setting(settings, "thresholds.opportunity_ttl_s", "2.5") == 2.5
    assert settings.thresholds.opportunity_ttl_s == 5.0


def test_model_level_rule_keeps_the_value_in_force() -> None:
    # pydantic alone would store the value and then raise; the previous value must stay.
    settings = Settings()
    with pytest.raises(ValidationError, match="backoff_max_s must be at least"):
        settings.feeds.backoff_max_s = 0.1
    assert settings.feeds.backoff_max_s == 30.0
    settings.feeds.backoff_max_s = 12.0  # a good value still goes through
    assert settings.feeds.backoff_max_s == 12.0
    with pytest.raises(ValidationError, match="priority_fee_gwei must not exceed"):
        settings.chain.max_fee_gwei = 0.001
    assert settings.chain.max_fee_gwei == 200.0


def test_running_on_defaults_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    change = apply_setting(settings, "thresholds.min_profit_usd", "1.5")
    assert change.written_to is None and settings.thresholds.min_profit_usd == 1.5
    assert list(tmp_path.iterdir()) == []


def test_write_toml_value_creates_a_missing_section(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('# mine\nmode = "sim"\n', encoding="utf-8")
    write_toml_value(path, "ui", "theme", "arbdesk-light")
    text = path.read_text(encoding="utf-8")
    assert text.startswith('# mine\nmode = "sim"\n')
    assert load_settings(path).ui.theme == "arbdesk-light"
    assert not [p for p in tmp_path.iterdir() if p.name != "s.toml"]  # no temp file left


def test_editable_fields_describe_every_live_setting() -> None:
    fields = {f.path: f for f in editable_fields(Settings())}
    assert fields["thresholds.min_profit_bps"].value == 3.0
    assert "basis points" in fields["thresholds.min_profit_bps"].description
    assert "execution.unknown_order_grace_s" in fields
    assert all(f.description for f in fields.values())
    assert not any(p.startswith(("feeds.", "venues", "mode")) for p in fields)


def test_auto_execute_is_not_offered_by_the_editor() -> None:
    """`A` (with its live-mode confirmation) is the only switch; the editor can't bypass it."""
    paths = {f.path for f in editable_fields(Settings())}
    assert "execution.auto_execute" not in paths
    assert "thresholds.min_profit_bps" in paths


def test_a_settings_file_that_cannot_be_written_changes_nothing(repo_copy: Path) -> None:
    settings = load_settings(repo_copy)
    repo_copy.write_text(repo_copy.read_text(encoding="utf-8") + "\n[broken\n", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        apply_setting(settings, "thresholds.min_profit_bps", "0")
    assert "not saved" in caught.value.problems[0]
    assert settings.thresholds.min_profit_bps == 3.0
