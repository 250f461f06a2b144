"""The committed contracts/out artifacts are exactly what the pinned solc makes of contracts/src."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_committed_artifacts_match_sources() -> None:
    if not (REPO / "node_modules" / "solc").is_dir():
        pytest.skip("node_modules/solc missing: run `make setup` (npm ci) to check the artifacts")
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    result = subprocess.run(
        [node, "contracts/build.mjs", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"contracts/out is stale; run `node contracts/build.mjs`:\n{result.stderr}"
    )
    assert list((REPO / "contracts" / "out").glob("*.json")), "no artifacts in contracts/out"
