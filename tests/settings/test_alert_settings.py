"""`[alerts]`: a bad webhook_url is one clear settings error that never echoes the URL's token,
check-config masks a good one, and the environment can set it."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.cli import main
from core.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("ARBDESK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _write(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(f'[alerts]\nwebhook_url = "{url}"\n', encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("ftp://hooks.example/T0KEN", "'ftp://…'"),
        ("hooks.example/services/T0KEN", "'…'"),
        ("https:///T0KEN", "'https://…'"),
    ],
)
def test_a_bad_webhook_url_is_one_clear_error_without_its_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, shown: str
) -> None:
    path = _write(tmp_path, url)
    code = main(["check-config", "--config", str(path)])
    out, err = capsys.readouterr()
    assert code != 0 and out == ""
    assert [x.strip() for x in err.splitlines()[1:]] == [
        f"alerts.webhook_url = {shown}: webhook_url must be empty (off) or an http(s):// URL"
        " with a host"
    ]
    assert "T0KEN" not in err


def test_check_config_masks_the_webhook_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "https://hooks.example/services/T0KEN")
    assert main(["check-config", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert 'alerts.webhook_url = "**********"' in out.splitlines()
    assert "T0KEN" not in out
    assert load_settings(path).alerts.webhook_url.get_secret_value().endswith("/T0KEN")


def test_the_webhook_url_comes_from_the_environment_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARBDESK_ALERTS__WEBHOOK_URL", "https://hooks.example/x")
    assert load_settings(None).alerts.webhook_url.get_secret_value() == "https://hooks.example/x"
    monkeypatch.setenv("ARBDESK_ALERTS__WEBHOOK_URL", "not a url")
    with pytest.raises(SettingsError) as caught:
        load_settings(None)
    assert caught.value.problems[0].startswith("alerts.webhook_url = '…': ")


def test_alerts_default_to_the_bell_and_no_webhook() -> None:
    alerts = load_settings(None).alerts
    assert alerts.bell_on_breaker_trip is True
    assert alerts.webhook_url.get_secret_value() == ""


def test_the_repo_settings_toml_documents_the_alert_defaults() -> None:
    repo = Path(__file__).resolve().parents[2] / "settings.toml"
    assert load_settings(repo).alerts == load_settings(None).alerts
