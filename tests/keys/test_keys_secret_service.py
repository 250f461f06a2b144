"""`arbdesk keys` against a real Secret Service: gnome-keyring in a private D-Bus session.

Each test runs a shell script under `dbus-run-session`, with HOME and the XDG folders in
tmp_path so the user's own keyring is never touched; the daemon dies with the session.
Skipped, with the reason, where gnome-keyring or dbus is not installed (.ci/run installs them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MISSING = [tool for tool in ("dbus-run-session", "gnome-keyring-daemon") if not shutil.which(tool)]
pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"needs {' and '.join(MISSING)} (apt-get install gnome-keyring dbus); not installed",
)

API_KEY = "ss-AK-0b5e9d1c7a3f"
API_SECRET = "ss-SK-Wq4+Xz9/Rt2=Yp7"
WALLET_KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
WALLET_ADDRESS = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"

LIVE_SETTINGS = """\
mode = "live"
[[venues]]
name = "binance"
kind = "ccxt"
exchange_id = "binance"
"""

LOAD_LIVE = f"""\
from pathlib import Path
from core.keys import load_venue_credentials, load_wallet_key
from core.settings import load_settings
settings = load_settings(Path("live.toml"))
creds = load_venue_credentials("binance", settings)
expected = {{"apiKey": {API_KEY!r}, "secret": {API_SECRET!r}}}
ok = creds == expected and load_wallet_key(settings) == "0x" + {WALLET_KEY!r}
print("live-load", "ok" if ok else "MISMATCH")
"""


def _session(tmp_path: Path, script: str) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    runtime = tmp_path / "run"
    for d in (home, runtime):
        d.mkdir(exist_ok=True, mode=0o700)
    (home / "live.toml").write_text(LIVE_SETTINGS)
    (home / "load_live.py").write_text(LOAD_LIVE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARBDESK_", "PYTHON_KEY"))}
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_RUNTIME_DIR=str(runtime),
        PYTHONPATH=str(ROOT),
        ARB=f"{sys.executable} -m console.cli",
        PY=sys.executable,
    )
    return subprocess.run(
        ["dbus-run-session", "--", "bash", "-c", script],
        capture_output=True,
        text=True,
        cwd=home,
        env=env,
        timeout=120,
    )


UNLOCK = "printf %s 'test-keyring-pw' | gnome-keyring-daemon --unlock >/dev/null\n"


def test_set_list_load_delete_round_trip(tmp_path: Path) -> None:
    script = (
        UNLOCK
        + f"""
    $ARB keys doctor; echo "rc-doctor=$?"
    printf '%s\\n%s\\n\\n' '{API_KEY}' '{API_SECRET}' | $ARB keys set binance; echo "rc-set=$?"
    echo '0x{WALLET_KEY}' | $ARB keys set-wallet; echo "rc-wallet=$?"
    $ARB keys list --check; echo "rc-list=$?"
    $PY load_live.py; echo "rc-load=$?"
    $ARB keys delete binance; echo "rc-delete=$?"
    $ARB keys list; echo "rc-list2=$?"
    secret-tool lookup service arbdesk username venue:binance:apiKey; echo "rc-lookup=$?"
    """
    )
    result = _session(tmp_path, script)
    out = result.stdout
    assert "backend:  keyring.backends.SecretService.Keyring (priority 5)" in out, result.stderr
    assert "secure:   yes" in out and "usable:   yes" in out
    for step in ("doctor", "set", "wallet", "list", "load", "delete", "list2"):
        assert f"rc-{step}=0" in out, (step, out, result.stderr)
    assert "stored apiKey, secret for venue 'binance' in Secret Service" in out
    assert f"stored wallet 'default': address {WALLET_ADDRESS}" in out
    assert "venue   binance              apiKey, secret" in out
    assert "live-load ok" in out
    assert "deleted apiKey, secret for venue 'binance'" in out
    listed_after = out.split("rc-delete=0", 1)[1].split("rc-list2", 1)[0]
    assert "binance" not in listed_after and "wallet  default" in listed_after
    if shutil.which("secret-tool"):  # the entry is really gone from the Secret Service
        assert "rc-lookup=1" in out
    for secret in (API_KEY, API_SECRET, WALLET_KEY):
        assert secret not in out + result.stderr


def test_locked_collection_is_refused_with_the_fix(tmp_path: Path) -> None:
    # First session creates and fills the login keyring; the second starts it locked.
    first = _session(tmp_path, UNLOCK + f"echo '{WALLET_KEY}' | $ARB keys set-wallet")
    assert first.returncode == 0, first.stderr
    script = """
    gnome-keyring-daemon --start --components=secrets >/dev/null
    $ARB keys doctor; echo "rc-doctor=$?"
    $PY load_live.py; echo "rc-load=$?"
    """
    result = _session(tmp_path, script)
    assert "rc-doctor=3" in result.stdout
    assert "collection 'Login' is locked" in result.stdout
    assert "gnome-keyring-daemon --unlock" in result.stdout
    assert "KeyringUnavailable" in result.stderr and "rc-load=1" in result.stdout
    assert WALLET_KEY not in result.stdout + result.stderr
