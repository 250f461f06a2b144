"""`arbdesk history` on a journal written by a real headless `--auto` run (sim, sped up)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from console.cli import main
from core.history_export import HISTORY_CSV_COLUMNS
from core.journal import Journal

pytestmark = pytest.mark.timeout(90)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def journal_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("history")
    path = folder / "journal.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBDESK_")}
    env.update(
        PYTHONPATH=str(REPO),
        ARBDESK_SIM__SPEED="5",
        ARBDESK_CHAIN__ENABLED="false",
        ARBDESK_JOURNAL__PATH=str(path),
        ARBDESK_LOGGING__PATH=str(folder / "arbdesk.log"),
    )
    proc = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "console.cli", "run", "--headless", "--auto", "--seconds", "4"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    with Journal(path) as journal:
        assert len(journal.trades()) >= 2, "the auto run made fewer than two trades"
    return path


@pytest.fixture
def history(journal_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> HistoryRunner:
    for name in list(os.environ):
        if name.startswith("ARBDESK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no settings.toml here
    monkeypatch.setenv("ARBDESK_JOURNAL__PATH", str(journal_path))
    return HistoryRunner()


class HistoryRunner:
    def __call__(self, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
        code = main(["history", *args])
        out, err = capsys.readouterr()
        return code, out, err


def test_json_has_legs_fees_and_realized_pnl(
    history: HistoryRunner, journal_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = history("--json", capsys=capsys)
    assert code == 0
    trades = json.loads(out)
    with Journal(journal_path) as journal:
        records = {t.id: t for t in journal.trades()}
    assert {t["id"] for t in trades} == set(records)
    for trade in trades:
        record = records[trade["id"]]
        assert trade["status"] in ("completed", "hedged", "failed", "needs_attention")
        assert Decimal(trade["fees"]) == record.fees
        assert trade["started_at"] and trade["finished_at"]
        assert trade["realized_pnl"] is not None
        assert Decimal(trade["realized_pnl"]) == record.realized_pnl
        roles = [leg["role"] for leg in trade["legs"]]
        assert {"buy", "sell"} <= set(roles)
        for leg in trade["legs"]:
            assert {"venue", "side", "filled", "average", "fee", "fee_currency"} <= set(leg)
        filled = [leg for leg in trade["legs"] if Decimal(leg["filled"]) > 0]
        if trade["status"] == "completed":
            # the sim charges fees in quote: the trade's fees are its legs' fees
            assert sum((Decimal(leg["fee"]) for leg in filled), Decimal(0)) == Decimal(
                trade["fees"]
            )


def test_csv_has_the_header_and_one_row_per_leg(
    history: HistoryRunner, journal_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = history("--csv", capsys=capsys)
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert tuple(rows[0]) == HISTORY_CSV_COLUMNS
    with Journal(journal_path) as journal:
        trades = journal.trades()
    assert len(rows) - 1 == sum(max(1, len(t.legs)) for t in trades)
    by_id = {t.id: t for t in trades}
    col = {name: i for i, name in enumerate(HISTORY_CSV_COLUMNS)}
    for row in rows[1:]:
        trade = by_id[row[col["trade_id"]]]
        assert row[col["leg_client_order_id"]] in {leg.client_order_id for leg in trade.legs}
        assert Decimal(row[col["realized_pnl"]]) == trade.realized_pnl


def test_since_filters(
    history: HistoryRunner, journal_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Journal(journal_path) as journal:
        starts = sorted(t.started_at for t in journal.trades())
    code, out, _ = history("--json", "--since", "2999-01-01T00:00:00Z", capsys=capsys)
    assert code == 0 and json.loads(out) == []
    code, out, _ = history("--json", "--since", "2000-01-01", capsys=capsys)
    assert code == 0 and len(json.loads(out)) == len(starts)
    # from the last trade's start: exactly the trades at or after it
    # (floored to the millisecond: an ISO string cannot carry every bit of a float timestamp)
    cut = datetime.fromtimestamp(math.floor(starts[-1] * 1000) / 1000, UTC).isoformat()
    code, out, _ = history("--json", "--since", cut, capsys=capsys)
    expected = sum(s >= datetime.fromisoformat(cut).timestamp() for s in starts)
    assert code == 0 and len(json.loads(out)) == expected >= 1
    assert expected < len(starts) or starts[0] == starts[-1]


def test_bad_since_exits_2(history: HistoryRunner, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = history("--since", "last tuesday", capsys=capsys)
    assert code == 2 and out == ""
    assert "--since 'last tuesday' is not an ISO date" in err


def test_table(history: HistoryRunner, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = history(capsys=capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["started", "(UTC)", "trade"]
    count = int(lines[-1].split()[1])
    assert count >= 2 and sum(" buy " in x for x in lines) >= count


def test_no_journal_yet(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARBDESK_JOURNAL__PATH", str(tmp_path / "none.sqlite3"))
    code = main(["history", "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and json.loads(out) == []
    assert "no journal" in err
    assert not (tmp_path / "none.sqlite3").exists()  # reading history creates nothing
