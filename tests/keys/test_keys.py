"""Keys: only secure backends, cryptfile on opt-in, live-mode-only loading, nothing printed.

The Secret Service round trip is in test_keys_secret_service.py.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend
from keyring.backends import SecretService, fail, null
from keyring.backends.chainer import ChainerBackend
from keyrings.cryptfile.cryptfile import CryptFileKeyring
from keyrings.cryptfile.file import PlaintextKeyring

from console.cli import main
from core.keys import (
    InvalidKey,
    KeyringUnavailable,
    KeyStore,
    LiveModeRequired,
    MissingKey,
    check_backend,
    load_relay_key,
    load_venue_credentials,
    load_wallet_key,
    normalize_private_key,
    wallet_address,
)
from core.redact import redact
from core.settings import KeyBackend, KeySettings, Mode, Settings, VenueKind, VenueSettings

ROOT = Path(__file__).resolve().parents[2]
PLAINTEXT = "keyrings.cryptfile.file.PlaintextKeyring"
KEY_ONE = "0x" + "00" * 31 + "01"
KEY_ONE_ADDRESS = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
API_KEY = "AK-7f3b9e2d4c1a8f6e"
API_SECRET = "SK-q8Zr+Tn2/Lw5Vx0Mb7Hc4Jf1="
WALLET_KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
WALLET_ADDRESS = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"


# -- private keys --------------------------------------------------------------------------


def test_private_key_accepted_with_or_without_0x_in_any_case() -> None:
    bare = "00" * 31 + "01"
    for spelling in (bare, "0x" + bare, "0X" + bare.upper(), f"  {bare}\n"):
        assert normalize_private_key(spelling) == KEY_ONE
    assert wallet_address(bare) == KEY_ONE_ADDRESS


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "0x" + "ab" * 31,  # 31 bytes
        "ab" * 33,  # 33 bytes
        "zz" * 32,  # not hex
        "00" * 32,  # zero
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",  # the curve order
    ],
)
def test_invalid_private_keys_are_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(InvalidKey) as err:
        normalize_private_key(bad)
    assert not bad or bad.lower() not in str(err.value).lower()


# -- backend acceptance --------------------------------------------------------------------


class _EmptyChain(ChainerBackend):
    backends: list[KeyringBackend] = []  # shadows keyring's classproperty


class _PlaintextFirstChain(ChainerBackend):
    backends = [PlaintextKeyring(), CryptFileKeyring()]


@pytest.mark.parametrize(
    "backend",
    [null.Keyring(), fail.Keyring(), PlaintextKeyring(), _EmptyChain(), _PlaintextFirstChain()],
    ids=["null", "fail", "plaintext", "empty-chain", "plaintext-first-chain"],
)
def test_insecure_backends_are_refused_with_the_fix(backend: KeyringBackend) -> None:
    with pytest.raises(KeyringUnavailable) as err:
        check_backend(backend, allow_cryptfile=True)
    assert "dbus-run-session" in err.value.fix
    assert "gnome-keyring-daemon --unlock" in err.value.fix
    assert 'backend = "cryptfile"' in err.value.fix


def test_cryptfile_only_on_opt_in_and_secure_backends_pass() -> None:
    with pytest.raises(KeyringUnavailable, match="only when the settings opt in"):
        check_backend(CryptFileKeyring(), allow_cryptfile=False)
    cryptfile = CryptFileKeyring()
    assert check_backend(cryptfile, allow_cryptfile=True) is cryptfile
    secret_service = SecretService.Keyring()
    assert check_backend(secret_service, allow_cryptfile=False) is secret_service

    class Chain(ChainerBackend):
        backends = [secret_service, PlaintextKeyring()]

    # The chain is unwrapped: only its head is used, never the plaintext file behind it.
    assert check_backend(Chain(), allow_cryptfile=False) is secret_service


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keyring data files, the user's home and the keyring backend choice all under tmp_path."""
    home = tmp_path / "home"
    home.mkdir()
    for var in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(var, str(home))
    for var in ("PYTHON_KEYRING_BACKEND", "ARBDESK_CONFIG", "ARBDESK_KEYRING_PASSPHRASE"):
        monkeypatch.delenv(var, raising=False)
    return home


def test_forced_plaintext_backend_is_refused_and_writes_nothing(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", PLAINTEXT)
    store = KeyStore(Settings())
    with pytest.raises(KeyringUnavailable, match="not a secure store"):
        store.set_venue("binance", API_KEY, API_SECRET)
    report = store.report()
    assert (report.backend, report.secure, report.usable) == (PLAINTEXT, False, False)
    assert not any(p.is_file() for p in isolated_home.rglob("*"))


# -- the encrypted file backend ------------------------------------------------------------


@pytest.fixture
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap key derivation for tests only (the real cost is ~0.6 s per secret)."""
    monkeypatch.setattr(CryptFileKeyring, "time_cost", 1)
    monkeypatch.setattr(CryptFileKeyring, "memory_cost", 1024)


def _cryptfile_settings(path: Path, mode: Mode = Mode.SIM) -> Settings:
    keys = KeySettings(backend=KeyBackend.CRYPTFILE, cryptfile_path=path)
    if mode is Mode.SIM:
        return Settings(keys=keys)
    venue = VenueSettings(name="binance", kind=VenueKind.CCXT, exchange_id="binance")
    return Settings(mode=mode, venues=[venue], keys=keys)


@pytest.mark.usefixtures("fast_argon2")
def test_cryptfile_round_trip_and_file_holds_no_plaintext(
    tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys.cfg"
    monkeypatch.setenv("ARBDESK_KEYRING_PASSPHRASE", "correct horse battery")
    store = KeyStore(_cryptfile_settings(path))
    store.set_venue("okx", API_KEY, API_SECRET, "okx-pass-123")
    address = store.set_wallet(WALLET_KEY)
    assert address == WALLET_ADDRESS

    reopened = KeyStore(_cryptfile_settings(path))
    entries = {(e.kind, e.name): e for e in reopened.entries(verify=True)}
    assert entries[("venue", "okx")].fields == ("apiKey", "secret", "password")
    assert entries[("venue", "okx")].missing == ()
    assert entries[("wallet", "default")].fields == ("privateKey",)
    assert reopened.venue_credentials("okx") == {
        "apiKey": API_KEY,
        "secret": API_SECRET,
        "password": "okx-pass-123",
    }
    assert reopened.wallet_key() == "0x" + WALLET_KEY

    # Re-setting without a password removes the old one.
    reopened.set_venue("okx", API_KEY, API_SECRET)
    assert "password" not in reopened.venue_credentials("okx")

    raw = path.read_text()
    for secret in (API_KEY, API_SECRET, WALLET_KEY, "okx-pass-123", "correct horse battery"):
        assert secret not in raw
    assert oct(path.stat().st_mode & 0o777) == "0o600"

    assert reopened.delete_venue("okx") == ["apiKey", "secret"]
    reopened.delete_wallet()
    assert reopened.entries() == []
    with pytest.raises(MissingKey, match="arbdesk keys set okx"):
        reopened.venue_credentials("okx")


@pytest.mark.usefixtures("fast_argon2", "isolated_home")
def test_cryptfile_wrong_or_missing_passphrase_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.cfg"
    asked: list[bool] = []

    def provider(creating: bool) -> str:
        asked.append(creating)
        return "first passphrase"

    KeyStore(_cryptfile_settings(path), passphrase_provider=provider).set_wallet(WALLET_KEY)
    assert asked == [True]  # a new file: the provider is told to ask twice

    with pytest.raises(KeyringUnavailable, match="wrong passphrase"):
        KeyStore(_cryptfile_settings(path), passphrase_provider=lambda _: "guess").wallet_key()
    with pytest.raises(KeyringUnavailable, match="ARBDESK_KEYRING_PASSPHRASE"):
        KeyStore(_cryptfile_settings(path)).wallet_key()

    store = KeyStore(_cryptfile_settings(path))
    store.unlock_cryptfile("first passphrase")  # what the console's modal will call
    assert store.wallet_key() == "0x" + WALLET_KEY


def test_unlock_cryptfile_refused_unless_opted_in() -> None:
    with pytest.raises(KeyringUnavailable, match="opt in"):
        KeyStore(Settings()).unlock_cryptfile("anything")


# -- live mode only ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [Mode.SIM, Mode.PAPER])
def test_sim_and_paper_never_touch_the_keyring(
    mode: Mode, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A backend that fails on any use: reaching it would raise KeyringUnavailable instead.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    if mode is Mode.SIM:
        settings = Settings()
    else:
        settings = _cryptfile_settings(isolated_home / "k.cfg", Mode.PAPER)
    with pytest.raises(LiveModeRequired):
        load_venue_credentials("binance", settings)
    with pytest.raises(LiveModeRequired):
        load_wallet_key(settings)


@pytest.mark.usefixtures("fast_argon2", "isolated_home")
def test_live_mode_loads_credentials_and_registers_them_for_redaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARBDESK_KEYRING_PASSPHRASE", "pp-live-test")
    settings = _cryptfile_settings(tmp_path / "keys.cfg", Mode.LIVE)
    api_key, secret = "live-AK-" + os.urandom(8).hex(), "live-SK-" + os.urandom(8).hex()
    KeyStore(settings).set_venue("binance", api_key, secret)
    KeyStore(settings).set_wallet(WALLET_KEY)

    creds = load_venue_credentials("binance", settings)
    assert creds == {"apiKey": api_key, "secret": secret}
    assert load_wallet_key(settings) == "0x" + WALLET_KEY
    assert redact(f"ccxt said {api_key} / {secret}") == "ccxt said [redacted] / [redacted]"


# -- the CLI -------------------------------------------------------------------------------


def _run(
    argv: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.usefixtures("fast_argon2", "isolated_home")
def test_cli_round_trip_shows_no_secret_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('[keys]\nbackend = "cryptfile"\ncryptfile_path = "keys.cfg"\n')
    before = config.read_bytes()
    monkeypatch.setenv("ARBDESK_KEYRING_PASSPHRASE", "cli-passphrase")
    cfg = ["--config", str(config)]
    shown = ""

    code, out, err = _run(
        ["keys", "set", "kraken", *cfg], f"{API_KEY}\n{API_SECRET}\n", monkeypatch, capsys
    )
    assert code == 0, err
    assert "stored apiKey, secret for venue 'kraken'" in out
    shown += out + err

    code, out, err = _run(["keys", "set-wallet", *cfg], f"0x{WALLET_KEY}\n", monkeypatch, capsys)
    assert code == 0, err
    assert WALLET_ADDRESS in out
    shown += out + err

    code, out, err = _run(["keys", "list", "--check", *cfg], "", monkeypatch, capsys)
    assert code == 0, err
    assert out.split() == [
        "venue",
        "kraken",
        "apiKey,",
        "secret",
        "wallet",
        "default",
        "privateKey",
    ]
    shown += out + err

    code, out, err = _run(["keys", "doctor", *cfg], "", monkeypatch, capsys)
    assert code == 0, err
    assert "keyrings.cryptfile.cryptfile.CryptFileKeyring (priority 2.5)" in out
    assert "secure:   yes" in out
    shown += out + err

    code, out, err = _run(["check-config", "--json", *cfg], "", monkeypatch, capsys)
    shown += out + err

    code, out, err = _run(["keys", "delete", "kraken", *cfg], "", monkeypatch, capsys)
    assert code == 0, err
    code, out, err = _run(["keys", "delete", "kraken", *cfg], "", monkeypatch, capsys)
    assert code == 1 and "no keys stored for venue 'kraken'" in err
    shown += out + err

    for secret in (API_KEY, API_SECRET, WALLET_KEY, "cli-passphrase"):
        assert secret not in shown
    assert config.read_bytes() == before  # keys never go to settings.toml


@pytest.mark.usefixtures("isolated_home")
def test_cli_refuses_bad_wallet_key_and_missing_required_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(
        'mode = "paper"\n[keys]\nbackend = "cryptfile"\ncryptfile_path = "keys.cfg"\n'
        '[[venues]]\nname = "okx"\nkind = "ccxt"\nexchange_id = "okx"\n'
    )
    monkeypatch.setenv("ARBDESK_KEYRING_PASSPHRASE", "pp")
    monkeypatch.setattr(CryptFileKeyring, "time_cost", 1)
    monkeypatch.setattr(CryptFileKeyring, "memory_cost", 1024)
    cfg = ["--config", str(config)]
    bad_key = "12" * 31
    code, out, err = _run(["keys", "set-wallet", *cfg], bad_key + "\n", monkeypatch, capsys)
    assert code == 1 and "64 hex digits" in err and bad_key not in out + err
    code, out, err = _run(["keys", "set", "okx", *cfg], "a1b2c3d4\ne5f6g7h8\n", monkeypatch, capsys)
    assert code == 1 and "needs a password" in err


def _cli_subprocess(
    args: list[str], stdin: str, env_extra: dict[str, str], home: Path
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARBDESK_", "PYTHON_KEY"))}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home), XDG_CONFIG_HOME=str(home), **env_extra)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=home,
        env={**env, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )


@pytest.mark.parametrize("backend", [PLAINTEXT, "keyring.backends.null.Keyring"])
def test_cli_with_insecure_backend_forced_exits_non_zero_naming_the_fix(
    backend: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    forced = {"PYTHON_KEYRING_BACKEND": backend}
    result = _cli_subprocess(["keys", "set", "binance"], f"{API_KEY}\n{API_SECRET}\n", forced, home)
    assert result.returncode == 3
    assert "no secure keyring" in result.stderr
    assert "dbus-run-session" in result.stderr and 'backend = "cryptfile"' in result.stderr
    assert API_KEY not in result.stdout + result.stderr
    assert not any(p.is_file() for p in home.rglob("*"))  # no plaintext file written

    doctor = _cli_subprocess(["keys", "doctor"], "", forced, home)
    assert doctor.returncode == 3
    assert f"backend:  {backend}" in doctor.stdout
    assert "secure:   no" in doctor.stdout and "gnome-keyring-daemon --unlock" in doctor.stdout


# -- the relay searcher key ----------------------------------------------------------------

SEARCHER_KEY = "0x" + "5e" * 32


@pytest.mark.usefixtures("fast_argon2", "isolated_home")
def test_relay_key_is_separate_from_every_wallet_and_live_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("ARBDESK_KEYRING_PASSPHRASE", "pp-relay-test")
    settings = _cryptfile_settings(tmp_path / "keys.cfg", Mode.LIVE)
    store = KeyStore(settings)
    store.set_wallet(WALLET_KEY)
    with pytest.raises(InvalidKey, match="that is the key of wallet 'default'"):
        store.set_relay_key(WALLET_KEY)
    with pytest.raises(MissingKey, match="arbdesk keys set-relay"):
        load_relay_key(settings)
    assert store.set_relay_key(SEARCHER_KEY) == wallet_address(SEARCHER_KEY)
    assert load_relay_key(settings) == SEARCHER_KEY
    assert load_wallet_key(settings) == "0x" + WALLET_KEY  # the wallet is untouched
    kinds = [(e.kind, e.name) for e in KeyStore(settings).entries(verify=True)]
    assert kinds == [("wallet", "default"), ("relay", "searcher")]
    assert redact(f"signed with {SEARCHER_KEY}") == "signed with [redacted]"
    paper = _cryptfile_settings(tmp_path / "keys.cfg", Mode.PAPER)
    with pytest.raises(LiveModeRequired):
        load_relay_key(paper)
    store.delete_relay_key()
    with pytest.raises(MissingKey):
        store.delete_relay_key()

    config = tmp_path / "settings.toml"
    config.write_text(f'[keys]\nbackend = "cryptfile"\ncryptfile_path = "{tmp_path}/k2.cfg"\n')
    code, out, err = _run(
        ["keys", "set-relay", "--config", str(config)], f"{SEARCHER_KEY}\n", monkeypatch, capsys
    )
    assert code == 0, err
    assert wallet_address(SEARCHER_KEY) in out and SEARCHER_KEY[2:] not in out + err
