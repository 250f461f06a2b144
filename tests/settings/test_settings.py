"""Settings: defaults, the repo's settings.toml, ARBDESK_* overrides, how the file is chosen,
and `arbdesk check-config` on every kind of bad input (one `key = value: reason` line each)."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.cli import main
from core.settings import (
    SIM_SYMBOLS,
    Mode,
    Settings,
    SettingsError,
    VenueKind,
    load_settings,
    resolve_config_path,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ARBDESK_* from the caller's shell, and a cwd without a settings.toml."""
    import os

    for name in list(os.environ):
        if name.startswith("ARBDESK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def check_config(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


# -- defaults and the repo file ------------------------------------------------------------


def test_defaults_are_the_offline_sim_market() -> None:
    settings = load_settings(None)
    assert settings.toml_path is None
    assert settings.mode is Mode.SIM
    assert [v.name for v in settings.venues] == ["simex", "simbit", "simkra"]
    assert all(v.kind is VenueKind.SIM and v.symbols == SIM_SYMBOLS for v in settings.venues)
    assert len(SIM_SYMBOLS) >= 6 and "ETH/BTC" in SIM_SYMBOLS  # a cross pair
    assert settings.sim.seed == 11
    assert settings.execution.unknown_order_grace_s == 6.0


def test_repo_settings_toml_loads_and_matches_the_defaults() -> None:
    settings = load_settings(REPO / "settings.toml")
    assert settings.toml_path == REPO / "settings.toml"
    defaults = load_settings(None)
    # The commented file documents the defaults; it must not drift from them.
    assert settings.thresholds == defaults.thresholds
    assert settings.mode is Mode.SIM and settings.sim.seed == defaults.sim.seed


def test_relative_paths_are_relative_to_the_settings_file(tmp_path: Path) -> None:
    sub = tmp_path / "conf"
    sub.mkdir()
    path = write(sub, '[journal]\npath = "j.sqlite3"\n')
    settings = load_settings(path)
    assert settings.resolve_path(settings.journal.path) == sub / "j.sqlite3"
    assert settings.resolve_path(Path("/abs/x")) == Path("/abs/x")


# -- environment overrides -----------------------------------------------------------------


def test_env_overrides_nest_with_double_underscore(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = write(tmp_path, "[thresholds]\nmin_profit_bps = 3.0\nmin_profit_usd = 2.0\n")
    monkeypatch.setenv("ARBDESK_THRESHOLDS__MIN_PROFIT_BPS", "7")
    monkeypatch.setenv("ARBDESK_SIM__SPEED", "4.5")
    settings = load_settings(path)
    assert settings.thresholds.min_profit_bps == 7.0  # env beats the file
    assert settings.thresholds.min_profit_usd == 2.0  # the file beats the default
    assert settings.sim.speed == 4.5


def test_bad_env_override_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARBDESK_THRESHOLDS__MIN_PROFIT_BPS", "lots")
    with pytest.raises(SettingsError) as info:
        load_settings(None)
    (line,) = info.value.problems
    assert line.startswith("thresholds.min_profit_bps = 'lots': ")


# -- which file ------------------------------------------------------------------------------


def test_config_file_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert resolve_config_path(None) is None  # nothing anywhere: built-in defaults
    local = write(tmp_path, "", "settings.toml")
    assert resolve_config_path(None) == local
    from_env = write(tmp_path, "", "env.toml")
    monkeypatch.setenv("ARBDESK_CONFIG", str(from_env))
    assert resolve_config_path(None) == from_env
    assert resolve_config_path("cli.toml") == Path("cli.toml")


@pytest.mark.parametrize("where", ["before", "after", "env"])
def test_check_config_picks_the_file(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "[thresholds]\nmin_profit_bps = 9.5\n", "picked.toml")
    if where == "before":
        args = ["--config", str(path), "check-config"]
    elif where == "after":
        args = ["check-config", "--config", str(path)]
    else:
        monkeypatch.setenv("ARBDESK_CONFIG", str(path))
        args = ["check-config"]
    code, out, err = check_config(args, capsys)
    assert code == 0, err
    assert f"from {path}" in out
    assert "thresholds.min_profit_bps = 9.5" in out.splitlines()


def test_check_config_prints_every_effective_setting(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check_config(["check-config"], capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert "built-in defaults" in lines[0]
    for expected in (
        'mode = "sim"',
        'venues[0].name = "simex"',
        "thresholds.min_profit_bps = 3.0",
        "thresholds.opportunity_ttl_s = 5.0",
        "execution.unknown_order_grace_s = 6.0",
        "sim.seed = 11",
    ):
        assert expected in lines


def test_check_config_json(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    code, out, _ = check_config(["check-config", "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data == Settings().model_dump(mode="json")


# -- bad input: one clear line each, non-zero exit -----------------------------------------

BAD: list[tuple[str, str, str]] = [
    (
        "typo",
        "[thresholds]\nmin_profit_bsp = 3\n",
        "thresholds.min_profit_bsp = 3: unknown key (did you mean 'min_profit_bps'?)",
    ),
    (
        "typo-section",
        "[treshold]\nmin_profit_bps = 3\n",
        "treshold = {'min_profit_bps': 3}: unknown key (did you mean 'thresholds'?)",
    ),
    (
        "nan",
        "[thresholds]\nmin_profit_bps = nan\n",
        "thresholds.min_profit_bps = nan: Input should be a finite number",
    ),
    (
        "inf",
        "[thresholds]\nmax_notional_usd = inf\n",
        "thresholds.max_notional_usd = inf: Input should be a finite number",
    ),
    (
        "negative",
        "[thresholds]\nmin_profit_usd = -1\n",
        "thresholds.min_profit_usd = -1: Input should be greater than or equal to 0",
    ),
    (
        "negative-ttl",
        "[thresholds]\nopportunity_ttl_s = -5\n",
        "thresholds.opportunity_ttl_s = -5: Input should be greater than 0",
    ),
    (
        "exchange-id",
        'mode = "paper"\n[[venues]]\nname = "b"\nkind = "ccxt"\nexchange_id = "binanse"\n'
        'symbols = ["BTC/USDT"]\n',
        "venues[0].exchange_id = 'binanse': unknown ccxt.pro exchange 'binanse'"
        " (did you mean 'binance'?)",
    ),
    (
        "symbol",
        '[[venues]]\nname = "a"\nsymbols = ["BTCUSDT"]\n',
        "venues[0].symbols = ['BTCUSDT']: symbol 'BTCUSDT' is not of the form BASE/QUOTE",
    ),
    (
        "symbol-empty-quote",
        '[[venues]]\nname = "a"\nsymbols = ["BTC/"]\n',
        "venues[0].symbols = ['BTC/']: symbol 'BTC/' is not of the form BASE/QUOTE",
    ),
    (
        "duplicate-venues",
        '[[venues]]\nname = "a"\n[[venues]]\nname = "a"\n',
        "venues = [{'name': 'a'}, {'name': 'a'}]: venue names must be unique; repeated: a",
    ),
    (
        "ccxt-in-sim",
        '[[venues]]\nname = "b"\nkind = "ccxt"\nexchange_id = "binance"\n',
        "venues[0].kind = 'ccxt': mode 'sim' runs only sim venues;"
        " use mode 'paper' for kind 'ccxt' venues",
    ),
    (
        "sim-in-paper",
        'mode = "paper"\n[[venues]]\nname = "s"\n',
        "venues[0].kind = 'sim': mode 'paper' needs kind 'ccxt' venues, not 'sim' ones",
    ),
    (
        "ccxt-without-id",
        'mode = "paper"\n[[venues]]\nname = "b"\nkind = "ccxt"\n',
        "venues[0].exchange_id = '': a ccxt venue needs exchange_id (e.g. 'binance')",
    ),
    (
        "bad-mode",
        'mode = "yolo"\n',
        "mode = 'yolo': Input should be 'sim', 'paper' or 'live'",
    ),
    (
        "feeds-backoff",
        "[feeds]\nbackoff_initial_s = 10\nbackoff_max_s = 1\n",
        "feeds = {'backoff_initial_s': 10, 'backoff_max_s': 1}:"
        " backoff_max_s must be at least backoff_initial_s",
    ),
    (
        "relay-urls-missing",
        'mode = "paper"\n[chain]\nrpc_url = "http://127.0.0.1:8545"\n'
        '[[venues]]\nname = "b"\nkind = "ccxt"\nexchange_id = "binance"\n',
        "chain.relay_urls = []: submission 'relay' needs chain.relay_urls in paper mode (the"
        " embedded relay fronts only the sim devnet); list your relays, or set submission ="
        " 'public' to send on-chain trades to the mempool",
    ),
    (
        "relay-url-scheme",
        '[chain]\nrelay_urls = ["wss://relay.example"]\n',
        "chain.relay_urls = ['wss://relay.example']: relay_urls:"
        " 'wss://relay.example' is not an http(s):// URL",
    ),
    (
        "submission",
        '[chain]\nsubmission = "private"\n',
        "chain.submission = 'private': Input should be 'relay', 'public' or 'relay-then-public'",
    ),
    (
        "grace",
        "[execution]\nunknown_order_grace_s = -1\n",
        "execution.unknown_order_grace_s = -1: Input should be greater than or equal to 0",
    ),
]


@pytest.mark.parametrize(("name", "text", "line"), BAD, ids=[b[0] for b in BAD])
def test_check_config_reports_bad_input(
    name: str, text: str, line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, text)
    code, out, err = check_config(["check-config", "--config", str(path)], capsys)
    assert code != 0
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == f"arbdesk: invalid settings in {path}:"
    assert [x.strip() for x in lines[1:]] == [line]


def test_every_problem_is_listed_not_just_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "[thresholds]\nmin_profit_bps = -1\nmin_profit_usd = nan\ntypo = 1\n")
    code, _, err = check_config(["check-config", "--config", str(path)], capsys)
    assert code != 0
    problems = [x.strip() for x in err.splitlines()[1:]]
    assert [p.split(" = ")[0] for p in problems] == [
        "thresholds.min_profit_bps",
        "thresholds.min_profit_usd",
        "thresholds.typo",
    ]


def test_broken_toml_syntax(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "[thresholds\nmin_profit_bps = 3\n")
    code, _, err = check_config(["check-config", "--config", str(path)], capsys)
    assert code != 0
    (line,) = [x.strip() for x in err.splitlines()[1:]]
    assert line.startswith(f"config = {str(path)!r}: not valid TOML: ")
    assert "line 1" in line


@pytest.mark.parametrize("via", ["flag", "env"])
def test_missing_file(
    via: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.toml"
    if via == "env":
        monkeypatch.setenv("ARBDESK_CONFIG", str(missing))
        args = ["check-config"]
    else:
        args = ["check-config", "--config", str(missing)]
    code, out, err = check_config(args, capsys)
    assert code != 0 and out == ""
    assert f"config = {str(missing)!r}: no such file" in err


def test_a_bad_file_stops_the_other_commands_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "[thresholds]\nmin_profit_bps = -3\n")
    for command in ("scan", "history"):
        code, out, err = check_config([command, "--config", str(path)], capsys)
        assert code != 0 and out == ""
        assert "thresholds.min_profit_bps = -3:" in err


@pytest.mark.parametrize("currencies", ["[]", '["USDT", "BTC/USDT"]', '[""]'])
def test_bad_cycle_start_currencies_are_refused(tmp_path: Path, currencies: str) -> None:
    path = write(tmp_path, f"[cycles]\nstart_currencies = {currencies}\n")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    (line,) = info.value.problems
    assert line.startswith("cycles.start_currencies = ") and "currency codes" in line, line


def test_cycle_start_currencies_are_upper_cased(tmp_path: Path) -> None:
    path = write(tmp_path, '[cycles]\nstart_currencies = [" usdt", "eth"]\n')
    assert load_settings(path).cycles.start_currencies == ["USDT", "ETH"]


def test_bad_bus_settings_are_refused_with_their_keys(tmp_path: Path) -> None:
    path = write(tmp_path, '[feeds]\nsource = "kafka"\n\n[bus]\nstream = "has.dots"\n')
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    text = "\n".join(info.value.problems)
    assert "feeds.source = 'kafka'" in text
    assert "bus.stream = 'has.dots'" in text
    # A timeout no longer than the beat would call every collector silent between beats.
    path = write(tmp_path, "[bus]\nheartbeat_s = 2.0\nheartbeat_timeout_s = 1.0\n", "b.toml")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert "heartbeat_timeout_s must be longer than heartbeat_s" in "\n".join(info.value.problems)
