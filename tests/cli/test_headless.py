"""`arbdesk run --headless`: JSON event lines on stdout, a timed run, and a graceful exit on
SIGTERM / SIGHUP (an SSH session dropping) with the journal flushed and no traceback."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import pytest

from core.journal import Journal
from tests.support.serve import serve_env as headless_env

pytestmark = pytest.mark.timeout(90)


def start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "console.cli", "run", "--headless", *args],
        cwd=tmp_path,
        env=headless_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_until(stream: IO[str], predicate: Any, timeout_s: float) -> list[dict[str, Any]]:
    """Parse JSON lines until one satisfies `predicate` (or the stream ends)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(json.loads(line))
        if predicate(seen[-1]):
            return seen
    raise AssertionError(f"never saw the line; got {[e.get('event') for e in seen]}")


def is_message(text: str) -> Any:
    return lambda e: e.get("event") == "EngineMessage" and e.get("text") == text


def test_timed_auto_run_prints_json_events(tmp_path: Path) -> None:
    proc = start(tmp_path, "--auto", "--seconds", "3")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    events = [json.loads(line) for line in out.splitlines()]
    assert events and all(isinstance(e, dict) and "event" in e for e in events)
    names = {e["event"] for e in events}
    assert "BookUpdated" not in names  # too many for a line each
    assert {"EngineMessage", "OpportunityFound"} <= names
    texts = [e["text"] for e in events if e["event"] == "EngineMessage"]
    assert "engine started in sim mode" in texts and texts[-1] == "engine stopped"
    assert all(e["at"].endswith("Z") for e in events if "at" in e)
    finished = [e for e in events if e["event"] == "TradeFinished"]
    assert finished, f"no trade in an auto run; events: {sorted(names)}"
    with Journal(tmp_path / "journal.sqlite3") as journal:
        trades = journal.trades()
        finished_ids = {e["trade_id"] for e in finished}
        assert finished_ids <= {t.id for t in trades}
        assert all(t.status.in_flight is False for t in trades if t.id in finished_ids)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_signal_stops_gracefully(tmp_path: Path, sig: signal.Signals) -> None:
    proc = start(tmp_path, "--auto")  # no --seconds: only the signal ends it
    try:
        assert proc.stdout is not None and proc.stderr is not None
        read_until(proc.stdout, is_message("engine started in sim mode"), timeout_s=40)
        # let trading happen so there is something in flight to finish and flush
        read_until(proc.stdout, lambda e: e["event"] == "TradeStarted", timeout_s=30)
        proc.send_signal(sig)
        rest = proc.stdout.read()
        code = proc.wait(timeout=30)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0, err
    assert "Traceback" not in err
    tail = [json.loads(line) for line in rest.splitlines()]
    assert tail[-1]["event"] == "EngineMessage" and tail[-1]["text"] == "engine stopped"
    # Flushed and closed: a fresh reader sees every trade finished, none left in flight.
    with Journal(tmp_path / "journal.sqlite3") as journal:
        trades = journal.trades()
        assert trades
        assert not journal.in_flight_trades()
        assert all(t.finished_at is not None for t in trades)
    assert not (tmp_path / "journal.sqlite3-wal").exists() or (
        (tmp_path / "journal.sqlite3-wal").stat().st_size == 0
    )
