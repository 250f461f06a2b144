"""Console test fixtures: a fake engine on a frozen clock and an app around it."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.app import ArbdeskApp
from core.engine.local_door import LocalDoor
from tests.console.fake_engine import FakeEngine

SETTINGS_TOML = """\
# thresholds the console edits live (this comment must survive the write-back)
[thresholds]
min_profit_bps = 3.0  # keep
"""


@pytest.fixture
def engine(tmp_path: Path) -> FakeEngine:
    from core.settings import load_settings

    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS_TOML, encoding="utf-8")
    return FakeEngine(settings=load_settings(path))


@pytest.fixture
def app(engine: FakeEngine) -> ArbdeskApp:
    return ArbdeskApp(LocalDoor(engine), clock=engine.clock)
