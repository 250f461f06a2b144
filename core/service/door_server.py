"""The engine's door served on a unix socket, for `arbdesk attach` (protocol: core.service.wire).

The socket lives in a directory only the owner can enter (0700) and is itself 0600; each
connection's peer uid (SO_PEERCRED) must also be the server's own, so a process of another
user is refused even if the file modes were loosened. A second server on the same path finds
the first one answering and refuses to start; a socket file left by a server that died is
removed.

Each console gets its own event subscription (bounded: a console that stalls loses its oldest
events, never the engine's time), its own view (the books it draws) and one frame per
refresh tick. Commands run as tasks, so a long approval never stalls that console's frames,
and no frame a console sends can raise into the engine: a bad one gets an `error` reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import WSMsgType, web
from loguru import logger

from core.door import ChangeSetting, CommandResult, EngineDoor, EventFeed, SetTheme
from core.service import wire

FRAME_SEND_TIMEOUT_S = 5.0  # a console that cannot take a frame for this long is dropped


class AlreadyServing(RuntimeError):
    """Another engine already answers on this socket."""


def default_socket_path() -> Path:
    """`$XDG_RUNTIME_DIR/arbdesk/engine.sock` (per user, cleared at logout), else a per-uid
    directory under /tmp."""
    # The /tmp fallback is safe: _claim_path refuses a directory another uid owns.
    base = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/arbdesk-{os.getuid()}"  # noqa: S108
    return Path(base) / "arbdesk" / "engine.sock"


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a unix socket (Linux SO_PEERCRED)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


@dataclass(eq=False)
class _Client:
    ws: web.WebSocketResponse
    feed: EventFeed
    view: wire.ViewRequest
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # a new view: frame it now


class DoorServer:
    def __init__(self, door: EngineDoor, path: Path, *, pid: int | None = None) -> None:
        self.door = door
        self.path = path
        self.pid = os.getpid() if pid is None else pid
        self.clients: set[_Client] = set()
        self.refused = 0  # connections of another uid
        self._runner: web.AppRunner | None = None
        self._inode: int | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await self._claim_path()
        app = web.Application()
        app.router.add_get("/door", self._handle)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        old_umask = os.umask(0o177)  # the socket is created 0600, never briefly wider
        try:
            await web.UnixSite(runner, str(self.path)).start()
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)
        self._inode = self.path.stat().st_ino
        self._runner = runner
        logger.info("engine door listening on {}", self.path)

    async def stop(self) -> None:
        for client in list(self.clients):
            await client.ws.close(code=1001, message=b"engine stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        # Remove the socket file only if it is still ours (not a newer server's).
        with contextlib.suppress(FileNotFoundError):
            if self.path.stat().st_ino == self._inode:
                self.path.unlink()

    async def _claim_path(self) -> None:
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
        if info.st_uid != os.getuid():
            raise PermissionError(f"{directory} belongs to uid {info.st_uid}, not to this user")
        if stat.S_IMODE(info.st_mode) != 0o700:
            os.chmod(directory, 0o700)
        if not self.path.exists() and not self.path.is_symlink():
            return
        if not stat.S_ISSOCK(self.path.lstat().st_mode):
            raise AlreadyServing(f"{self.path} exists and is not a socket; not touching it")
        try:
            _reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(self.path)), 2.0
            )
        except (ConnectionRefusedError, FileNotFoundError, TimeoutError):
            self.path.unlink(missing_ok=True)  # left by a server that died
            return
        writer.close()
        raise AlreadyServing(f"an engine is already serving on {self.path}")

    # -- one console -----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        sock = request.transport.get_extra_info("socket") if request.transport else None
        uid = peer_uid(sock) if sock is not None else -1
        if uid != os.getuid():
            self.refused += 1
            logger.warning("engine door: refused a connection from uid {}", uid)
            return web.Response(status=403, text="this engine serves only its own user\n")
        ws = web.WebSocketResponse(max_msg_size=wire.MAX_SOCKET_MESSAGE, heartbeat=10.0)
        await ws.prepare(request)
        first = self.door.snapshot()
        client = _Client(ws, self.door.subscribe(), wire.ViewRequest(first.symbols[:1], 10))
        self.clients.add(client)
        logger.info("console attached ({} now)", len(self.clients))
        try:
            await ws.send_str(wire.hello_frame(self.pid, self.door.setting_fields(), first))
            frames = asyncio.create_task(self._frames(client))
            client.tasks.add(frames)
            await self._read(client)
        except (ConnectionError, RuntimeError) as exc:  # the console went away mid-send
            logger.info("console connection ended: {}", exc)
        finally:
            self.clients.discard(client)
            for task in client.tasks:
                task.cancel()
            client.feed.close()
            logger.info("console detached ({} left)", len(self.clients))
        return ws

    async def _read(self, client: _Client) -> None:
        async for message in client.ws:
            if message.type is WSMsgType.TEXT:
                await self._take(client, message.data)
            elif message.type is WSMsgType.BINARY:
                await self._reply(client, wire.error_frame("binary frames are not part of v1"))
            elif message.type is WSMsgType.ERROR:
                logger.warning("console connection error: {}", client.ws.exception())
                return

    async def _take(self, client: _Client, text: str) -> None:
        try:
            request = wire.parse_client_frame(text)
        except wire.WireError as exc:
            logger.warning("console sent a bad frame: {}", exc)
            await self._reply(client, wire.error_frame(str(exc), exc.frame_id))
            return
        if isinstance(request, wire.ViewRequest):
            client.view = request
            client.wake.set()
            return
        task = asyncio.create_task(self._run_command(client, request))
        client.tasks.add(task)
        task.add_done_callback(client.tasks.discard)

    async def _run_command(self, client: _Client, request: wire.CommandRequest) -> None:
        try:
            result = await self.door.send(request.command)
        except Exception as exc:  # noqa: BLE001 - a failing command answers; the engine runs on
            logger.exception("command {} failed", request.command)
            result = CommandResult(False, f"the engine could not do that: {exc}")
        await self._reply(client, wire.result_frame(request.id, result))
        if result.ok and isinstance(request.command, ChangeSetting | SetTheme):
            update = wire.settings_frame(self.door.setting_fields())
            for other in list(self.clients):
                await self._reply(other, update)

    async def _frames(self, client: _Client) -> None:
        """One frame per refresh tick: the events since the last one and a fresh snapshot."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while not client.ws.closed:
            view = client.view
            snapshot = self.door.snapshot(view.symbols, view.depth)
            frame = wire.snapshot_frame(snapshot, client.feed.drain())
            try:
                await asyncio.wait_for(client.ws.send_str(frame), FRAME_SEND_TIMEOUT_S)
            except (ConnectionError, RuntimeError, TimeoutError) as exc:
                logger.info("dropping a console that cannot take frames: {}", exc)
                await client.ws.close(code=1008, message=b"too slow")
                return
            next_at = max(next_at + 1.0 / max(snapshot.refresh_hz, 0.5), loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.wake.wait(), next_at - loop.time())
            client.wake.clear()

    async def _reply(self, client: _Client, text: str) -> None:
        if client.ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            await client.ws.send_str(text)
