"""The engine's door on a unix socket, in process: frames a console could send wrong (not
JSON, another version, too large, binary, an unknown command or opportunity) are answered with
errors and never stop the engine; two consoles see one state; the socket's modes; a second
server refused; a stale socket replaced; a client of another uid refused."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.door import ChangeSetting, Kill, Resume, SetAutoExecute
from core.door_events import BooksTouched
from core.engine.engine import Engine
from core.engine.local_door import LocalDoor
from core.events import KillSwitchToggled
from core.service import wire
from core.service.door_server import AlreadyServing, DoorServer
from core.service.remote_door import URL, RemoteDoor, fetch_hello
from tests.service.test_monitor import _settings
from tests.support.serve import eventually

pytestmark = pytest.mark.timeout(120)


@dataclass
class Served:
    engine: Engine
    server: DoorServer
    path: Path


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    engine = Engine(_settings(tmp_path))
    path = tmp_path / "run" / "engine.sock"
    server = DoorServer(LocalDoor(engine), path)
    await server.start()
    await engine.start()
    try:
        yield Served(engine, server, path)
    finally:
        await server.stop()
        await engine.stop()


async def _raw(path: Path) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse]:
    session = aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(path)))
    ws = await session.ws_connect(URL, max_msg_size=0)
    return session, ws


async def _next(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next frame of `kind`, skipping the snapshot frames streamed meanwhile."""
    while True:
        message = await ws.receive(timeout=10)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        data: dict[str, Any] = json.loads(message.data)
        if data["kind"] == kind:
            return data


async def test_bad_frames_get_error_replies_and_the_engine_runs_on(served: Served) -> None:
    session, ws = await _raw(served.path)
    try:
        hello = await _next(ws, "hello")
        assert hello["v"] == wire.VERSION and hello["pid"] == os.getpid()
        cases = [
            ("{not json", "not JSON"),
            (json.dumps({"v": 99, "kind": "view", "symbols": []}), "version 99"),
            (json.dumps({"kind": "view"}), "version None"),
            (json.dumps({"v": 1, "kind": "dance"}), "unknown frame kind"),
            (json.dumps({"v": 1, "kind": "view", "symbols": "ETH"}), "list of strings"),
            (json.dumps({"v": 1, "kind": "command", "command": {"type": "Kill"}}), "integer id"),
            ("x" * (wire.MAX_CLIENT_FRAME + 1), "over the 65536-byte limit"),
        ]
        for text, why in cases:
            await ws.send_str(text)
            error = await _next(ws, "error")
            assert why in error["error"], (text[:40], error)
        await ws.send_bytes(b"\x00\x01")
        assert "binary" in (await _next(ws, "error"))["error"]

        command = {"v": 1, "kind": "command", "id": 7, "command": {"type": "Launch"}}
        await ws.send_str(json.dumps(command))
        error = await _next(ws, "error")
        assert error["id"] == 7 and "unknown command 'Launch'" in error["error"]

        approve = {"type": "Approve", "opportunity_id": "no-such-id"}
        await ws.send_str(json.dumps({"v": 1, "kind": "command", "id": 8, "command": approve}))
        result = await _next(ws, "result")
        assert result["id"] == 8
        assert result["result"]["ok"] is False
        assert "no pending opportunity no-such-id" in result["result"]["message"]

        # Still connected, still streaming a live engine.
        first = (await _next(ws, "frame"))["snapshot"]["at"]
        later = (await _next(ws, "frame"))["snapshot"]["at"]
        assert later > first
        assert served.engine.feed_status() and not served.engine.killed
    finally:
        await ws.close()
        await session.close()

    # A frame past the socket's own limit ends that connection only; the next console is fine.
    session, ws = await _raw(served.path)
    try:
        await _next(ws, "hello")
        with contextlib.suppress(ConnectionError):  # the engine may hang up mid-write
            await ws.send_str("y" * (wire.MAX_SOCKET_MESSAGE + 10))
        while (message := await ws.receive(timeout=10)).type is aiohttp.WSMsgType.TEXT:
            pass
        assert message.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.ERROR,
        )
    finally:
        await session.close()
    assert (await fetch_hello(served.path)).pid == os.getpid()


async def test_two_consoles_see_one_state_and_each_others_commands(served: Served) -> None:
    hello = await fetch_hello(served.path)
    a, b = RemoteDoor(served.path, hello), RemoteDoor(served.path, hello)
    feed_a, feed_b = a.subscribe(), b.subscribe()
    await a.start()
    await b.start()
    try:
        assert a.connected and b.connected and len(served.server.clients) == 2
        assert (await a.send(SetAutoExecute(True))).ok
        await eventually(lambda: b.snapshot().auto_execute, "B to see auto-execute on")
        assert (await b.send(Kill("from B"))).ok
        await eventually(lambda: a.snapshot().killed, "A to see the kill switch")
        seen: dict[str, list[Any]] = {"a": [], "b": []}

        def both_heard() -> bool:
            seen["a"] += feed_a.drain()
            seen["b"] += feed_b.drain()
            return all(
                any(isinstance(e, KillSwitchToggled) and e.reason == "from B" for e in events)
                for events in seen.values()
            )

        await eventually(both_heard, "the kill switch event in both consoles")
        assert any(isinstance(e, BooksTouched) and e.count > 0 for e in seen["a"])
        assert (await a.send(Resume())).ok

        # A setting changed in one console shows in the other's threshold editor.
        result = await a.send(ChangeSetting("thresholds.min_profit_bps", "7.5"))
        assert result.ok, result

        def b_field() -> str:
            (field,) = [f for f in b.setting_fields() if f.path == "thresholds.min_profit_bps"]
            return field.value

        await eventually(lambda: b_field() == "7.5", "B's settings to update")
        bad = await b.send(ChangeSetting("thresholds.min_profit_bps", "lots"))
        assert not bad.ok and bad.problems
        assert served.engine.settings.thresholds.min_profit_bps == 7.5

        # The console asks for the books it draws; the engine sends those.
        symbol = hello.snapshot.symbols[-1]
        await eventually(
            lambda: {t.symbol for t in a.snapshot((symbol,), 3).books} == {symbol},
            "the books of the console's view",
        )
        assert all(len(t.bids) <= 3 for t in a.snapshot((symbol,), 3).books)
    finally:
        await a.stop()
        await b.stop()
    await eventually(lambda: not served.server.clients, "both consoles to be gone")
    assert not served.engine.killed


async def test_socket_modes_second_server_and_stale_socket(tmp_path: Path) -> None:
    engine = Engine(_settings(tmp_path))
    path = tmp_path / "run" / "engine.sock"
    first = DoorServer(LocalDoor(engine), path)
    await first.start()
    try:
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with pytest.raises(AlreadyServing, match="already serving"):
            await DoorServer(LocalDoor(engine), path).start()
        assert path.exists()  # the refused server left the first one's socket alone
    finally:
        await first.stop()
    assert not path.exists()

    # A socket file left by a server that died (nothing listens) is replaced.
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()
    again = DoorServer(LocalDoor(engine), path)
    await again.start()
    try:
        assert (await fetch_hello(path)).pid == os.getpid()
    finally:
        await again.stop()

    # A plain file in the socket's place is not ours to delete.
    path.write_text("not a socket")
    with pytest.raises(AlreadyServing, match="not a socket"):
        await DoorServer(LocalDoor(engine), path).start()


# The upgrade request a console sends, written out so the other user's client needs nothing
# but the system Python (the repository may not be readable by that user).
_CLIENT = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except OSError as exc:
    print("connect:", type(exc).__name__)
    sys.exit(0)
s.sendall(b"GET /door HTTP/1.1\\r\\nHost: arbdesk\\r\\nUpgrade: websocket\\r\\n"
          b"Connection: Upgrade\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n"
          b"Sec-WebSocket-Version: 13\\r\\n\\r\\n")
print(s.recv(200).split(b"\\r\\n")[0].decode())
"""


async def _as_nobody(path: Path) -> str:
    """Run the client as nobody (without blocking the loop the server answers on)."""
    child = await asyncio.create_subprocess_exec(
        "setpriv",
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        "/usr/bin/python3",
        "-c",
        _CLIENT,
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(child.communicate(), 20)
    assert child.returncode == 0, err.decode()
    return out.decode().strip()


@pytest.mark.skipif(os.getuid() != 0, reason="switching to another uid needs root")
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv is not installed")
async def test_a_client_of_another_uid_is_refused(served: Served) -> None:
    # pytest's own folders are private to root, so this socket lives where nobody can look.
    folder = Path(tempfile.mkdtemp(prefix="arbdesk-uid-"))
    path = folder / "run" / "engine.sock"
    server = DoorServer(served.server.door, path)
    await server.start()
    try:
        os.chmod(folder, 0o755)
        # The file modes stop it first: the socket's directory is 0700.
        assert await _as_nobody(path) == "connect: PermissionError"
        # Loosened modes (a mistaken chmod) still do not let it in: the peer uid is checked.
        os.chmod(path.parent, 0o755)
        os.chmod(path, 0o666)
        assert await _as_nobody(path) == "HTTP/1.1 403 Forbidden"
        assert server.refused == 1
        assert (await fetch_hello(path)).pid == os.getpid()  # the owner still gets in
    finally:
        await server.stop()
        shutil.rmtree(folder)
