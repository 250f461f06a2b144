"""An engine's door reached over its unix socket (`arbdesk attach`): the same
`core.door.EngineDoor` the console uses in-process, fed by the frames `arbdesk serve` streams.

`snapshot()` returns the latest frame's snapshot at once (the console's frame loop never waits
on the socket) and tells the engine which books to send when the console's view changes.
The connection is kept by one task: when the engine goes away the console keeps its last
picture, says so in the log pane and the status bar, and reconnects with backoff; a restarted
engine is picked up on its own. Commands sent while disconnected are refused at once rather
than queued: an approval must never fire later against a market the trader no longer sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import aiohttp

from core.door import Command, CommandResult, SettingField, Snapshot, to_wire
from core.events import EngineMessage, Event
from core.service import wire

CONNECT_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 120.0  # an approval waits for its trade's first legs; a live one can be slow
BACKOFF_S = (0.2, 0.5, 1.0, 2.0)
URL = "http://arbdesk/door"  # the host is ignored on a unix socket


class NotServing(ConnectionError):
    """No engine answers on the socket."""


class RemoteFeed:
    """One console's events from the socket (bounded like a bus subscription)."""

    def __init__(self, maxlen: int) -> None:
        self._events: deque[Event] = deque(maxlen=maxlen)
        self.closed = False

    def push(self, events: Sequence[Event]) -> None:
        if not self.closed:
            self._events.extend(events)

    def drain(self) -> list[Event]:
        out = list(self._events)
        self._events.clear()
        return out

    def close(self) -> None:
        self.closed = True
        self._events.clear()


@contextlib.asynccontextmanager
async def _connect(
    path: Path, wait_s: float, *, receive_s: float | None = None, heartbeat: float | None = None
) -> AsyncIterator[tuple[aiohttp.ClientWebSocketResponse, wire.Hello]]:
    """A websocket to the engine on `path` and the hello it opened with (WireError if it
    closed or said something else first). `receive_s` bounds every later receive too."""
    async with (
        aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(path))) as session,
        session.ws_connect(
            URL,
            max_msg_size=0,
            heartbeat=heartbeat,
            timeout=aiohttp.ClientWSTimeout(receive_s or wait_s),
        ) as ws,
    ):
        first = await ws.receive(timeout=wait_s)
        if first.type is not aiohttp.WSMsgType.TEXT:
            raise wire.WireError(f"the engine closed the connection ({first.extra})")
        hello = wire.parse_server_frame(first.data)
        if not isinstance(hello, wire.Hello):
            raise wire.WireError("the engine did not say hello")
        yield ws, hello


async def fetch_hello(path: Path, wait_s: float = CONNECT_TIMEOUT_S) -> wire.Hello:
    """Connect once and read the engine's hello (what `attach` needs before drawing)."""
    try:
        async with _connect(path, wait_s) as (_ws, hello):
            return hello
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise NotServing(f"no engine is serving on {path} ({_why(exc)})") from exc
    except wire.WireError as exc:
        raise NotServing(f"on {path}: {exc}") from exc


class RemoteDoor:
    stops_engine = False  # quitting an attached console leaves the engine running

    def __init__(
        self, path: Path, hello: wire.Hello, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = path
        self.engine_pid = hello.pid
        self.connected = False
        self.reconnects = 0
        self.frames_received = 0
        self._clock = clock
        self._snapshot = hello.snapshot
        self._fields = hello.fields
        self._feeds: list[RemoteFeed] = []
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._waiting: dict[int, asyncio.Future[CommandResult]] = {}
        self._next_id = 0
        self._view = wire.ViewRequest(hello.snapshot.symbols[:1], 10)
        self._sent_view: wire.ViewRequest | None = None
        self._task: asyncio.Task[None] | None = None
        self._up = asyncio.Event()
        self._frame_in = asyncio.Event()
        self._lost_since: float | None = None

    # -- reads -----------------------------------------------------------------------------

    def snapshot(self, book_symbols: Sequence[str] = (), depth: int = 10) -> Snapshot:
        view = wire.ViewRequest(tuple(book_symbols)[: wire.MAX_VIEW_SYMBOLS], depth)
        if view != self._view:
            self._view = view
            self._push_view()
        if self.connected:
            return dataclasses.replace(self._snapshot, link=self.link())
        # The last picture, aged by the time without word from the engine: books and feeds
        # read stale and TTLs run out instead of looking live.
        at = max(self._snapshot.at, self._clock())
        return dataclasses.replace(self._snapshot, at=at, link=self.link())

    def link(self) -> str:
        if self.connected:
            return "attached"
        if self._lost_since is None:
            return "connecting"
        return f"engine lost {self._clock() - self._lost_since:.0f}s ago: reconnecting"

    async def settled(self, wait_s: float = 1.0) -> None:
        """Return once a frame holds the books of the view last asked for (or after wait_s)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while self.connected and loop.time() < deadline:
            wanted = set(self._view.symbols)
            if wanted <= {book.symbol for book in self._snapshot.books}:
                return
            self._frame_in.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._frame_in.wait(), deadline - loop.time())

    def subscribe(self, maxlen: int = 200_000) -> RemoteFeed:
        feed = RemoteFeed(maxlen)
        self._feeds.append(feed)
        return feed

    def setting_fields(self) -> tuple[SettingField, ...]:
        return self._fields

    # -- commands --------------------------------------------------------------------------

    async def send(self, command: Command) -> CommandResult:
        ws = self._ws
        if ws is None or ws.closed:
            return CommandResult(False, "not connected to the engine (reconnecting); not sent")
        self._next_id += 1
        frame_id = self._next_id
        answer: asyncio.Future[CommandResult] = asyncio.get_running_loop().create_future()
        self._waiting[frame_id] = answer
        try:
            await ws.send_str(wire.encode("command", id=frame_id, command=to_wire(command)))
            return await asyncio.wait_for(answer, COMMAND_TIMEOUT_S)
        except (ConnectionError, RuntimeError) as exc:
            return CommandResult(False, f"not sent: the connection to the engine failed ({exc})")
        except TimeoutError:
            return CommandResult(False, f"no answer from the engine in {COMMAND_TIMEOUT_S:.0f} s")
        finally:
            self._waiting.pop(frame_id, None)

    # -- the connection --------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (waiting a few seconds for the first frame), then keep connected."""
        if self._task is None:
            self._task = asyncio.create_task(self._keep_connected())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), CONNECT_TIMEOUT_S)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for feed in self._feeds:
            feed.close()

    async def _keep_connected(self) -> None:
        attempt = 0
        while True:
            reason = "closed by the engine"
            try:
                await self._session()
                attempt = 0
            except (aiohttp.ClientError, OSError, TimeoutError, wire.WireError) as exc:
                reason = _why(exc)
            self._went_down(reason)
            await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
            attempt += 1

    async def _session(self) -> None:
        connection = _connect(self.path, CONNECT_TIMEOUT_S, receive_s=10.0, heartbeat=10.0)
        async with connection as (ws, hello):
            self._came_up(ws, hello)
            try:
                async for message in ws:
                    if message.type is aiohttp.WSMsgType.TEXT:
                        self._take(wire.parse_server_frame(message.data))
                    elif message.type is aiohttp.WSMsgType.ERROR:
                        return
            finally:
                self._ws = None
                self.connected = False

    def _came_up(self, ws: aiohttp.ClientWebSocketResponse, hello: wire.Hello) -> None:
        self._ws = ws
        self.connected = True
        self._snapshot, self._fields = hello.snapshot, hello.fields
        if self._lost_since is not None:
            self.reconnects += 1
            was = "restarted" if hello.pid != self.engine_pid else "back"
            self._log("info", f"reconnected to the engine (pid {hello.pid}, {was})")
        self.engine_pid = hello.pid
        self._lost_since = None
        self._sent_view = None
        self._push_view()
        self._up.set()

    def _went_down(self, reason: str) -> None:
        for answer in self._waiting.values():
            if not answer.done():
                answer.set_result(CommandResult(False, "the connection to the engine was lost"))
        if self._lost_since is None:
            self._lost_since = self._clock()
            self._log("warning", f"engine connection lost ({reason}); reconnecting")
        self._up.clear()

    def _take(self, frame: wire.ServerFrame) -> None:
        match frame:
            case wire.Frame(snapshot=snapshot, events=events):
                self._snapshot = snapshot
                self.frames_received += 1
                self._frame_in.set()
                for feed in self._feeds:
                    feed.push(events)
            case wire.Result(id=frame_id, result=result):
                answer = self._waiting.get(frame_id)
                if answer is not None and not answer.done():
                    answer.set_result(result)
            case wire.SettingsUpdate(fields=fields):
                self._fields = fields
            case wire.ErrorReply(id=frame_id, error=error):
                answer = self._waiting.get(frame_id) if frame_id is not None else None
                if answer is not None and not answer.done():
                    answer.set_result(CommandResult(False, f"refused by the engine: {error}"))
                else:
                    self._log("warning", f"the engine refused a frame: {error}")
            case wire.Hello():
                self._log("warning", "the engine said hello twice; ignored")

    def _push_view(self) -> None:
        ws, view = self._ws, self._view
        if ws is None or ws.closed or view == self._sent_view:
            return
        self._sent_view = view
        text = wire.encode("view", symbols=list(view.symbols), depth=view.depth)
        task = asyncio.get_running_loop().create_task(ws.send_str(text))
        task.add_done_callback(_ignore_result)

    def _log(self, level: str, text: str) -> None:
        event = EngineMessage(level, text, at=self._clock())
        for feed in self._feeds:
            feed.push((event,))


def _ignore_result(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()  # a view lost with the connection is re-sent on reconnect


def _why(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
