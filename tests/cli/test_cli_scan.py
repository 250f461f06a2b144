"""`arbdesk scan` as a user runs it: a subprocess, offline, on the embedded market.

The sim is deterministic under `sim.seed` (default 11 dislocates within seconds); `sim.speed`
runs it faster so a two-second scan sees several opportunities.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

FIELDS = [
    "id",
    "symbol",
    "buy_venue",
    "sell_venue",
    "size",
    "buy_vwap",
    "sell_vwap",
    "gross_profit",
    "fees",
    "net_profit",
    "net_bps",
    "net_profit_usd",
    "detected_at",
    "expires_at",
]
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
SECONDS = 2.0


def run_arbdesk(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 30.0
) -> tuple[subprocess.CompletedProcess[str], float]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARBDESK_")}
    clean.update({"ARBDESK_SIM__SPEED": "5", "ARBDESK_CHAIN__ENABLED": "false", **(env or {})})
    started = time.monotonic()
    proc = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "console.cli", *args],
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return proc, time.monotonic() - started


def parse_iso(text: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_scan_json_lines(tmp_path: Path) -> None:
    before = time.time()
    proc, took = run_arbdesk(["scan", "--seconds", str(SECONDS), "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert took < SECONDS + 10.0  # start-up includes the devnet
    lines = proc.stdout.splitlines()
    assert lines, f"no opportunity in {SECONDS}s at seed 11; stderr: {proc.stderr}"
    objects = [json.loads(line) for line in lines]
    assert all(
        isinstance(o, dict) and o.get("kind") in ("spread", "cycle", "liquidation") for o in objects
    )
    spreads = [o for o in objects if o["kind"] == "spread"]
    assert spreads, "no spread opportunity"
    ids = set()
    for opp in spreads:
        # issue 2's field names, in order, after the `kind` tag scan added for liquidations
        assert list(opp) == ["kind", *FIELDS]
        for name in FIELDS[4:12]:
            assert isinstance(opp[name], int | float) and not isinstance(opp[name], bool), name
            assert math.isfinite(opp[name])
        assert opp["net_profit"] == pytest.approx(opp["gross_profit"] - opp["fees"], rel=1e-9)
        assert opp["net_profit"] > 0 and opp["net_bps"] >= 3.0  # the default min_profit_bps
        assert opp["net_profit_usd"] >= 0.5  # the default min_profit_usd
        assert opp["sell_vwap"] > opp["buy_vwap"] and opp["size"] > 0
        assert opp["buy_venue"] != opp["sell_venue"]
        assert opp["buy_venue"] and opp["sell_venue"]  # sim CEX venues or devnet pools
        assert "/" in opp["symbol"]
        assert ISO_Z.match(opp["detected_at"]) and ISO_Z.match(opp["expires_at"])
        detected, expires = parse_iso(opp["detected_at"]), parse_iso(opp["expires_at"])
        assert before - 1 <= detected <= time.time() + 1  # UTC, not local time
        assert expires - detected == pytest.approx(5.0, abs=0.002)  # opportunity_ttl_s
        assert isinstance(opp["id"], str) and opp["id"] not in ids
        ids.add(opp["id"])
    assert not list(tmp_path.glob("*.sqlite3"))  # scan never opens a journal


def test_scan_respects_thresholds_from_env(tmp_path: Path) -> None:
    proc, _ = run_arbdesk(
        ["scan", "--seconds", str(SECONDS), "--json"],
        tmp_path,
        env={"ARBDESK_THRESHOLDS__MIN_PROFIT_BPS": "25"},
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    rows = [row for row in rows if row["kind"] == "spread"]
    # the detector trims a route to exactly the threshold (within float rounding)
    assert rows and all(row["net_bps"] >= 25 - 1e-6 for row in rows)


def test_scan_table(tmp_path: Path) -> None:
    proc, _ = run_arbdesk(["scan", "--seconds", str(SECONDS)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:3] == ["detected", "(UTC)", "symbol"]
    summary = re.fullmatch(r"-- (\d+) opportunities from (\d+) book updates", lines[-1])
    assert summary, lines[-1]
    rows = [x for x in lines[1:-1] if not x.startswith("detected")]
    assert int(summary.group(1)) == len(rows) > 0
    assert int(summary.group(2)) > 0
    for row in rows:
        cells = row.split()
        assert ISO_Z.match(cells[0]) and "/" in cells[1]
        assert float(cells[-2]) >= 3.0  # net bps


def test_scan_bad_seconds_and_bad_config(tmp_path: Path) -> None:
    proc, _ = run_arbdesk(["scan", "--seconds", "0"], tmp_path)
    assert proc.returncode == 2 and "--seconds must be positive" in proc.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[thresholds]\nmin_profit_bps = -1\n", encoding="utf-8")
    proc, _ = run_arbdesk(["scan", "--seconds", "1", "--config", str(bad)], tmp_path)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "thresholds.min_profit_bps = -1:" in proc.stderr
