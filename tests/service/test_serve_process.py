"""`arbdesk serve` as a real process and consoles attached over its socket: a second serve
refused, detach and reattach while it auto-trades with nothing lost from the journal, a
console killed with SIGKILL, and the engine restarted under an attached console."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.deploy.devnet import free_port
from core.door import SetAutoExecute
from core.events import EngineMessage, Event, TradeFinished, TradeStarted
from core.journal import Journal
from core.records import TradeStatus
from core.service.remote_door import RemoteDoor, RemoteFeed, fetch_hello
from tests.support.serve import Served, eventually, serve_env

pytestmark = pytest.mark.timeout(180)

FINAL = {TradeStatus.COMPLETED, TradeStatus.HEDGED, TradeStatus.FAILED}


@pytest.fixture
def socket_path(tmp_path: Path) -> Path:
    return tmp_path / "run" / "engine.sock"


@pytest.fixture
def servers() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for server in started:
        server.kill()


def _collect(feed: RemoteFeed, into: list[Event]) -> list[Event]:
    into += feed.drain()
    return into


async def test_second_serve_refused_and_attach_while_auto_trading_loses_nothing(
    tmp_path: Path, socket_path: Path, servers: list[Served]
) -> None:
    served = Served(tmp_path, socket_path, "--auto")
    servers.append(served)
    hello = await served.ready()

    (tmp_path / "second").mkdir()
    code, _out, err = Served(tmp_path / "second", socket_path).wait()
    assert code == 1 and f"already serving on {socket_path}" in err, err
    assert not (tmp_path / "second" / "journal.sqlite3").exists()  # refused before the engine

    seen: list[Event] = []
    for _visit in range(2):  # attach, watch trades, detach; twice
        door = RemoteDoor(socket_path, hello)
        feed = door.subscribe()
        await door.start()
        assert door.connected, [getattr(e, "text", "") for e in feed.drain()]
        await eventually(
            lambda feed=feed: any(isinstance(e, TradeFinished) for e in _collect(feed, seen)),
            "a finished trade while attached",
            timeout_s=60,
        )
        await door.stop()
        await asyncio.sleep(1.0)  # detached: the engine trades on
    code, out, err = served.stop()
    assert code == 0, err
    assert "Traceback" not in err and "arbdesk serve: stopped" in out

    started = {e.trade_id for e in seen if isinstance(e, TradeStarted)}
    finished = {e.trade_id: e for e in seen if isinstance(e, TradeFinished)}
    with Journal(tmp_path / "journal.sqlite3") as journal:
        trades = {t.id: t for t in journal.trades()}
    assert started and finished
    assert started | set(finished) <= set(trades)  # every trade a console saw is journaled
    assert all(t.status in FINAL for t in trades.values()), {t.status for t in trades.values()}
    for trade_id, event in finished.items():
        assert trades[trade_id].realized_pnl == event.realized_pnl
    assert len(trades) > len(started & set(finished))  # it also traded while no one watched


_KILLED_CONSOLE = """
import asyncio, sys
from pathlib import Path
from core.door import Kill
from core.service.remote_door import RemoteDoor, fetch_hello

async def main():
    path = Path(sys.argv[1])
    door = RemoteDoor(path, await fetch_hello(path))
    await door.start()
    door.snapshot(("ETH/USDT", "BTC/USDT"), 20)
    print("attached", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_a_console_killed_with_sigkill_changes_nothing(
    tmp_path: Path, socket_path: Path, servers: list[Served]
) -> None:
    port = free_port()
    served = Served(tmp_path, socket_path, http_port=port)
    servers.append(served)
    hello = await served.ready()
    watcher = RemoteDoor(socket_path, hello)
    await watcher.start()
    try:
        victim = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _KILLED_CONSOLE,
            str(socket_path),
            env=serve_env(tmp_path),
            stdout=asyncio.subprocess.PIPE,
        )
        assert victim.stdout is not None
        assert (await asyncio.wait_for(victim.stdout.readline(), 30)).strip() == b"attached"
        assert (await watcher.send(SetAutoExecute(True))).ok
        os.kill(victim.pid, signal.SIGKILL)
        await victim.wait()

        before = watcher.snapshot().at
        await eventually(lambda: watcher.snapshot().at > before + 1.0, "frames to keep coming")
        snap = watcher.snapshot()
        assert snap.auto_execute and not snap.killed and watcher.connected
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/health") as response,
        ):
            body: dict[str, Any] = await response.json()
        assert response.status == 200, body
        assert served.process.poll() is None
    finally:
        await watcher.stop()
    code, _out, err = served.stop()
    assert code == 0 and "Traceback" not in err, err


async def test_serve_restarted_under_an_attached_console(
    tmp_path: Path, socket_path: Path, servers: list[Served]
) -> None:
    first = Served(tmp_path, socket_path)
    servers.append(first)
    hello = await first.ready()
    door = RemoteDoor(socket_path, hello)
    feed = door.subscribe()
    await door.start()
    lines: list[Event] = []

    def said(text: str) -> bool:
        _collect(feed, lines)
        return any(isinstance(e, EngineMessage) and text in e.text for e in lines)

    try:
        assert door.link() == "attached"
        code, _out, err = first.stop()
        assert code == 0, err
        assert not socket_path.exists()  # the stopped engine removed its socket
        await eventually(lambda: said("engine connection lost"), "the console to notice")
        assert door.link().startswith("engine lost")
        refused = await door.send(SetAutoExecute(True))
        assert not refused.ok and "not connected" in refused.message

        second = Served(tmp_path, socket_path)
        servers.append(second)
        await second.ready()
        await eventually(lambda: said("reconnected to the engine"), "the reconnect", 30)
        assert any(
            isinstance(e, EngineMessage) and f"pid {second.process.pid}, restarted" in e.text
            for e in lines
        )
        assert door.connected and door.reconnects == 1 and door.link() == "attached"
        assert (await door.send(SetAutoExecute(True))).ok
        await eventually(lambda: door.snapshot().auto_execute, "the new engine's state")
        assert (await fetch_hello(socket_path)).pid == second.process.pid
    finally:
        await door.stop()
