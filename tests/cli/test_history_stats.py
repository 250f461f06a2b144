"""`arbdesk history --stats` on a planted journal: the per-kind and per-venue table, the exact
JSON, `--since`, no journal yet, and `--csv` refused."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from console.cli import main
from core.journal import Journal
from tests.support.planted_trades import T0, plant


@pytest.fixture
def journal_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("ARBDESK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no settings.toml here
    path = tmp_path / "journal.sqlite3"
    monkeypatch.setenv("ARBDESK_JOURNAL__PATH", str(path))
    with Journal(path) as journal:
        plant(journal)
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["history", "--stats", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_table_has_a_block_per_kind_and_per_venue(
    journal_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["by", "kind", "opps", "exec"]
    rows = {line.split()[0]: line.split()[1:] for line in lines if line and line[0] != "-"}
    # opps exec ok fail success volume profit fees avg avg-s
    assert rows["spread"] == [
        "7", "5", "2", "2", "50.0%", "34,000.75", "+9.55", "3.40", "+2.39", "0.738",
    ]  # fmt: skip
    assert rows["liquidation"][:5] == ["3", "2", "1", "1", "50.0%"]
    assert rows["liquidation"][-1] == "-"  # no start time journaled: no execution time
    assert rows["simex"][:7] == ["7", "5", "2", "3", "40.0%", "34,000.75", "+9.55"]
    assert lines.index(next(x for x in lines if x.startswith("by venue"))) > lines.index(
        next(x for x in lines if x.startswith("spread"))
    )
    assert lines[-1] == "-- realized PnL +18.80 USD over 7 finished trades"


def test_json_keeps_every_digit(journal_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json")
    assert code == 0
    doc = json.loads(out)
    assert [r["key"] for r in doc["by_kind"]] == ["cycle", "liquidation", "spread"]
    spread = doc["by_kind"][2]
    # Exact: the ETH/BTC trade's quote is valued at its own PnL's rate (pnl USD / pnl BTC).
    assert Decimal(spread["volume_usd"]) == Decimal("34000.75")
    assert Decimal(spread["fees_usd"]) == Decimal("3.40")
    assert spread["avg_profit_usd"] == "2.3875" and spread["success_rate"] == 0.5
    assert spread["avg_exec_s"] == pytest.approx(0.7375)
    assert [r["key"] for r in doc["by_venue"]] == [
        "aave-v3", "simbit", "simex", "simkra", "uniswap-v2",
    ]  # fmt: skip
    assert doc["pnl_series"][-1] == {
        "at": datetime.fromtimestamp(T0 + 80, UTC).isoformat(),
        "cumulative_pnl_usd": "18.80",
    }
    assert len(doc["pnl_series"]) == 6  # every finished trade with a PnL: none thinned


def test_since_narrows_the_figures(journal_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cut = datetime.fromtimestamp(T0 + 65, UTC).isoformat()
    code, out, _ = run(capsys, "--json", "--since", cut)
    assert code == 0
    doc = json.loads(out)
    assert [r["key"] for r in doc["by_kind"]] == ["liquidation"]  # only L1..L3 are that late
    assert doc["by_kind"][0]["profit_usd"] == "9.25"


def test_no_journal_yet_prints_empty_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARBDESK_JOURNAL__PATH", str(tmp_path / "none.sqlite3"))
    code, out, err = run(capsys, "--json")
    assert code == 0 and json.loads(out) == {"by_kind": [], "by_venue": [], "pnl_series": []}
    assert "no journal" in err
    assert not (tmp_path / "none.sqlite3").exists()


def test_stats_as_csv_is_refused(journal_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--csv")
    assert code == 2 and out == ""
    assert "--stats prints a table or --json" in err
