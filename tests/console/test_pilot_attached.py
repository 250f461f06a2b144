"""The console attached over a socket (RemoteDoor to a DoorServer in this loop, in front of
the fake engine): live mode asks the same confirmations as in process, commands reach the
served engine, and quitting detaches without stopping it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from console.app import ArbdeskApp
from console.screens.confirm import ConfirmScreen, TypedConfirmScreen
from core.engine.local_door import LocalDoor
from core.service.door_server import DoorServer
from core.service.remote_door import RemoteDoor, fetch_hello
from core.settings import Mode
from tests.console.fake_engine import FakeEngine

SIZE = (160, 48)


@pytest.fixture
async def socket(engine: FakeEngine, tmp_path: Path) -> AsyncIterator[Path]:
    object.__setattr__(engine.settings, "mode", Mode.LIVE)  # skip the venue-kind validator
    path = tmp_path / "run" / "engine.sock"
    server = DoorServer(LocalDoor(engine), path)
    await server.start()
    try:
        yield path
    finally:
        await server.stop()


async def _app(socket: Path, engine: FakeEngine) -> ArbdeskApp:
    return ArbdeskApp(RemoteDoor(socket, await fetch_hello(socket)), clock=engine.clock)


async def test_attaching_to_a_live_engine_asks_for_live(socket: Path, engine: FakeEngine) -> None:
    app = await _app(socket, engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, TypedConfirmScreen)
        await pilot.press("escape")
        await pilot.pause()
    assert app.return_code == 2
    assert not engine.stopped  # refusing to attach leaves the served engine alone


async def test_live_confirmations_over_the_socket_then_detach(
    socket: Path, engine: FakeEngine
) -> None:
    app = await _app(socket, engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("L", "I", "V", "E", "enter")
        for _ in range(100):
            await pilot.pause(0.02)
            if app.state.link == "attached":
                break
        assert app.state.link == "attached"
        await pilot.press("A")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)  # auto-execute in live asks first
        assert not engine.auto_execute
        await pilot.press("y")
        for _ in range(100):
            await pilot.pause(0.02)
            if engine.auto_execute:
                break
        assert engine.auto_execute
        await pilot.press("q")
        await pilot.pause(0.2)
    assert not engine.stopped and not engine.started  # detached: the engine was never ours
