"""The door between engine and console: snapshots and commands survive the wire form, bad
messages are refused whole, setting and theme writes go through the engine off the loop, and
the console reaches the core through nothing else."""

from __future__ import annotations

import ast
import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest

from core.door import (
    COMMANDS,
    Approve,
    ChangeSetting,
    CommandResult,
    Kill,
    Reject,
    Resume,
    SetAutoExecute,
    SetTheme,
    from_wire,
    to_wire,
)
from core.engine.engine import Engine
from core.engine.local_door import LocalDoor
from core.settings import load_settings
from tests.console.fake_engine import FakeEngine
from tests.console.test_pilot import watch_row

ROOT = Path(__file__).resolve().parents[2]


def wire_trip(value: object) -> object:
    return from_wire(json.loads(json.dumps(to_wire(value))))


def test_a_snapshot_survives_the_wire_form() -> None:
    engine = FakeEngine()
    asyncio.run(engine.approve("op1"))
    engine.finish("t1", "5.25")
    asyncio.run(engine.approve("op2"))
    engine.lending = object()
    engine.watchlist = [watch_row("0x" + "a" * 40, 0.97, "liq-1")]
    snap = LocalDoor(engine).snapshot(["BTC/USDT", "ETH/USDT"], depth=5)
    assert len(snap.books) == 6 and all(len(b.bids) == 5 for b in snap.books)
    assert snap.finished_trades[0].realized_pnl == Decimal("5.25")
    assert snap.active_trades[0].legs[1].filled == Decimal("1.5")
    assert snap.watchlist[0].opportunity_id == "liq-1"
    assert wire_trip(snap) == snap


def test_the_snapshot_is_a_copy_not_a_view() -> None:
    engine = FakeEngine()
    door = LocalDoor(engine)
    before = door.snapshot(["BTC/USDT"])
    book = engine.books["BTC/USDT"]["simex"]
    book.apply_snapshot([(1.0, 1.0)], [(2.0, 1.0)], sequence=2, received_at=before.at)
    assert before.books[0].bids[0][0] != 1.0  # the frame already taken did not move
    assert door.snapshot(["BTC/USDT"]).books[0].bids == ((1.0, 1.0),)


@pytest.mark.parametrize(
    "command",
    [
        Approve("op1"),
        Reject("op2"),
        SetAutoExecute(True),
        Kill("manual"),
        Resume(),
        ChangeSetting("thresholds.min_profit_bps", "4"),
        SetTheme("arbdesk-light"),
    ],
)
def test_every_command_survives_the_wire_form(command: object) -> None:
    assert wire_trip(command) == command


def test_every_command_type_has_a_case_in_the_local_door() -> None:
    source = (ROOT / "core/engine/local_door.py").read_text(encoding="utf-8")
    for cls in COMMANDS:
        assert f"case {cls.__name__}(" in source, cls.__name__


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ([1, 2], "not a door message"),
        ({"type": "Explode"}, "not a door message"),
        ({"type": "Approve"}, "Approve"),  # a missing field
        ({"type": "SetAutoExecute", "on": "yes"}, "expected bool"),
        ({"type": "CommandResult", "ok": True, "message": 5}, "expected str"),
        ({"type": "CommandResult", "ok": True, "message": "", "problems": "x"}, "a list"),
    ],
)
def test_a_bad_message_is_refused_whole(message: object, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        from_wire(message)


def test_a_result_survives_the_wire_form() -> None:
    result = CommandResult(False, "not changed", ("must be >= 0",), saved_to=None)
    assert wire_trip(result) == result


@pytest.fixture
def real_engine(tmp_path: Path) -> Engine:
    path = tmp_path / "settings.toml"
    path.write_text(
        '# keep this comment\n[thresholds]\nmin_profit_bps = 3.0\n\n[ui]\ntheme = "arbdesk-dark"\n',
        encoding="utf-8",
    )
    return Engine(load_settings(path))


async def test_settings_and_theme_are_written_through_the_door(real_engine: Engine) -> None:
    door = LocalDoor(real_engine)
    path = real_engine.settings.toml_path
    assert path is not None
    # Sent together: the engine writes one at a time, so neither write loses the other.
    bps, hz, theme = await asyncio.gather(
        door.send(ChangeSetting("thresholds.min_profit_bps", "7.5")),
        door.send(ChangeSetting("risk.cooldown_s", "45")),
        door.send(SetTheme("arbdesk-light")),
    )
    assert bps.ok and (bps.old, bps.new, bps.saved_to) == ("3.0", "7.5", "settings.toml")
    assert hz.ok and theme.ok and theme.saved_to == "settings.toml"
    text = path.read_text(encoding="utf-8")
    assert "# keep this comment" in text
    assert "min_profit_bps = 7.5" in text and "cooldown_s = 45" in text
    assert 'theme = "arbdesk-light"' in text
    assert real_engine.settings.thresholds.min_profit_bps == 7.5
    assert real_engine.detector.thresholds.min_profit_bps == 7.5
    assert door.snapshot().theme == "arbdesk-light"


async def test_a_bad_value_changes_nothing(real_engine: Engine) -> None:
    door = LocalDoor(real_engine)
    result = await door.send(ChangeSetting("thresholds.min_profit_bps", "lots"))
    assert not result.ok and result.problems and "min_profit_bps" in result.problems[0]
    assert real_engine.settings.thresholds.min_profit_bps == 3.0
    assert door.snapshot().min_profit_bps == 3.0


async def test_a_failed_write_leaves_the_running_value(real_engine: Engine) -> None:
    path = real_engine.settings.toml_path
    assert path is not None
    path.unlink()
    path.mkdir()  # the file became a folder under the running engine: the write fails
    result = await LocalDoor(real_engine).send(ChangeSetting("thresholds.min_profit_bps", "9"))
    assert not result.ok and "not saved" in result.problems[0]
    assert real_engine.settings.thresholds.min_profit_bps == 3.0


# -- the console reaches the core through the door only -----------------------------------------

CONSOLE_MAY_IMPORT = {"core.door", "core.door_events", "core.events"}


def _console_sources() -> list[Path]:
    return [p for p in (ROOT / "console").rglob("*.py") if "cli_commands" not in p.parts]


def test_the_console_imports_nothing_of_the_core_but_the_door_and_events() -> None:
    wrong = []
    for path in _console_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("core"):
                if node.module not in CONSOLE_MAY_IMPORT:
                    wrong.append(f"{path.relative_to(ROOT)}: {node.module}")
    assert not wrong


def test_the_console_never_probes_the_engine() -> None:
    probes = []
    for path in _console_sources():
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"getattr", "hasattr"}
                and node.args
                and any(w in ast.unparse(node.args[0]) for w in ("engine", "door"))
            ):
                probes.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        probes += [
            f"{path.relative_to(ROOT)}: {line.strip()}"
            for line in text.splitlines()
            if "type: ignore" in line and ("engine" in line or "door" in line)
        ]
    assert not probes
