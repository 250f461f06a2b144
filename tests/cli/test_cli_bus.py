"""`arbdesk collect`, `record` and `replay` as a user runs them: bad input gets one clear
line and a non-zero exit; a recording replays the same twice."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.bus_rig import write_settings

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


def arbdesk(config: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBDESK_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "console.cli", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=config.parent,
        check=False,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_settings(tmp_path)


def test_bad_arguments_are_refused_clearly(config: Path, tmp_path: Path) -> None:
    done = arbdesk(config, "collect", "--venues", "nosuch")
    assert done.returncode == 2 and "unknown venue(s) nosuch" in done.stderr
    done = arbdesk(config, "scan", "--nats", "nats://127.0.0.1:9", "--seconds", "1")
    assert done.returncode == 1 and "cannot reach NATS at nats://127.0.0.1:9" in done.stderr
    done = arbdesk(config, "replay", "x.gz", "--speed", "fast")
    assert done.returncode == 2 and "--speed 'fast'" in done.stderr
    done = arbdesk(config, "replay", "x.gz", "--from", "yesterday")
    assert done.returncode == 2 and "not an ISO-8601 time" in done.stderr
    junk = tmp_path / "junk.gz"
    junk.write_bytes(b"not gzip at all")
    done = arbdesk(config, "replay", str(junk))
    assert done.returncode == 1 and "not an arbdesk recording" in done.stderr
    assert "Traceback" not in done.stderr


def test_record_then_replay_twice_gives_the_same_report(config: Path, tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl.gz"
    done = arbdesk(config, "record", "--to", str(path), "--seconds", "5")
    assert done.returncode == 0, done.stderr
    assert "messages in" in done.stdout
    again = arbdesk(config, "record", "--to", str(path), "--seconds", "1")
    assert again.returncode == 2 and "not overwriting" in again.stderr

    runs = [arbdesk(config, "replay", str(path), "--json") for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
    outputs = [[json.loads(line) for line in run.stdout.splitlines()] for run in runs]
    for lines in outputs:  # the real time it took is the only thing allowed to differ
        lines[-1].pop("wall_s")
        lines[-1].pop("speedup")
    assert outputs[0] == outputs[1]
    summary = outputs[0][-1]
    assert summary["kind"] == "summary" and summary["messages"] > 100
    assert summary["book_updates"] > 0 and summary["gaps"] == 0

    # Cut short, as a recorder killed mid-write leaves it: the whole lines still replay.
    whole = gzip.decompress(path.read_bytes())
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(whole[: len(whole) // 2]))
    done = arbdesk(config, "replay", str(cut), "--json", "--no-auto")
    assert done.returncode == 0, done.stderr
    partial = json.loads(done.stdout.splitlines()[-1])
    assert 0 < partial["messages"] < summary["messages"]
