"""Books over NATS JetStream: a collector publishes the books its feed supervisors keep, and
an engine follows them (the message format is core.feeds.book_wire, the stream logic
core.feeds.book_stream).

Collector (`BusCollector`): an `on_update` hook for a FeedSet. Each update becomes a message
on a bounded queue that one task publishes, so a slow server never blocks a feed; a full
queue drops the message and makes the next one a snapshot. Every `heartbeat_s` it publishes
its feed states; it answers snapshot requests on `arbdesk.snapshot.<venue>.<SYMBOL>`.

Engine (`BusFeed`): an ordered JetStream consumer on `arbdesk.book.>` from new messages on.
Each (venue, symbol) gets a book and a follower; a gap asks the collector for a snapshot. A
collector whose heartbeat stops for `heartbeat_timeout_s` has its feeds marked stale (the
breaker then refuses trades on them) until it beats again. A malformed message is dropped and
reported, never applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from loguru import logger

from core.book import OrderBook
from core.events import BookUpdated, FeedHealthChanged, FeedMessageDropped, FeedState
from core.feeds.book_stream import BookFollower, BookPublisher
from core.feeds.book_wire import (
    BOOK_SUBJECT_PREFIX,
    HEARTBEAT_SUBJECT_PREFIX,
    BadMessage,
    Heartbeat,
    book_subject,
    decode_book,
    decode_heartbeat,
    encode_heartbeat,
    heartbeat_subject,
)
from core.feeds.liveness import Publish

SNAPSHOT_SUBJECT_PREFIX = "arbdesk.snapshot"
QUEUE_SIZE = 10_000
Send = Callable[[str, bytes], Awaitable[Any]]


def snapshot_subject(venue: str, symbol: str) -> str:
    return SNAPSHOT_SUBJECT_PREFIX + book_subject(venue, symbol)[len(BOOK_SUBJECT_PREFIX) :]


class BusCollector:
    def __init__(
        self,
        name: str,
        send: Send,
        depth: int,
        feed_states: Callable[[], list[tuple[str, str, str]]],
        *,
        snapshot_every: int = 500,
        heartbeat_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.send = send
        self.depth = depth
        self.feed_states = feed_states
        self.snapshot_every = snapshot_every
        self.heartbeat_s = heartbeat_s
        self.clock = clock
        self.publishers: dict[tuple[str, str], BookPublisher] = {}
        self.published = 0
        self.dropped = 0
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(QUEUE_SIZE)
        self._by_subject: dict[str, BookPublisher] = {}
        # (venue, symbol) -> (its publisher, its subject): one lookup per update, and the
        # subject (a regex check per token) built once.
        self._streams: dict[tuple[str, str], tuple[BookPublisher, str]] = {}

    def on_update(self, venue: str, symbol: str, book: OrderBook) -> None:
        """FeedSet's on_update: queue the message that brings followers to `book`."""
        stream = self._streams.get((venue, symbol))
        if stream is None:
            stream = self._add_stream(venue, symbol)
        publisher, subject = stream
        data = publisher.encoded_for(book)
        if data is None:
            return
        try:
            self._queue.put_nowait((subject, data))
        except asyncio.QueueFull:  # followers see a gap; the next message repairs it
            self.dropped += 1
            publisher.request_snapshot()

    def _add_stream(self, venue: str, symbol: str) -> tuple[BookPublisher, str]:
        subject = book_subject(venue, symbol)
        publisher = BookPublisher(venue, symbol, self.depth, self.snapshot_every)
        self.publishers[(venue, symbol)] = publisher
        self._by_subject[subject] = publisher
        stream = self._streams[(venue, symbol)] = (publisher, subject)
        return stream

    def request_snapshot(self, venue: str, symbol: str) -> None:
        publisher = self.publishers.get((venue, symbol))
        if publisher is not None:
            publisher.request_snapshot()

    async def run(self) -> None:
        """Publish queued messages and heartbeats until cancelled."""
        beats = asyncio.create_task(self._heartbeats(), name=f"{self.name}-heartbeat")
        try:
            while True:
                subject, data = await self._queue.get()
                try:
                    await self.send(subject, data)
                    self.published += 1
                except Exception as exc:  # noqa: BLE001 - the server is away: resync later
                    self.dropped += 1
                    logger.warning("bus publish on {} failed: {}", subject, exc)
                    publisher = self._by_subject.get(subject)
                    if publisher is not None:
                        publisher.request_snapshot()
        finally:
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beats

    async def _heartbeats(self) -> None:
        while True:
            beat = Heartbeat(self.name, self.clock(), tuple(self.feed_states()))
            try:
                await self.send(heartbeat_subject(self.name), encode_heartbeat(beat))
            except Exception as exc:  # noqa: BLE001 - next beat tries again
                logger.debug("heartbeat failed: {}", exc)
            await asyncio.sleep(self.heartbeat_s)


class BusFeed:
    """The engine's books from the bus; `on_message` takes each raw message of a subject."""

    def __init__(
        self,
        publish: Publish,
        ask_snapshot: Callable[[str, str], Coroutine[Any, Any, Any]],
        *,
        heartbeat_timeout_s: float = 3.0,
        on_update: Callable[[str, str, OrderBook], None] | None = None,
        clock: Callable[[], float] = time.time,
        books: dict[tuple[str, str], OrderBook] | None = None,
        on_time: Callable[[float], None] | None = None,
    ) -> None:
        """`books`: follow only these (the engine's configured venues and symbols), into
        these objects; None follows every book on the bus. `on_update` (the engine's
        detection) replaces the BookUpdated event this feed would publish. `on_time` gets each
        message's own time (receive time, heartbeat time): the market clock of a replay."""
        self.publish = publish
        self.ask_snapshot = ask_snapshot
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.on_update = on_update
        self.clock = clock
        self.only_configured = books is not None
        self.books: dict[tuple[str, str], OrderBook] = books if books is not None else {}
        self.on_time = on_time
        self.ignored = 0
        self.followers: dict[tuple[str, str], BookFollower] = {}
        self.states: dict[tuple[str, str], FeedState] = {}
        self.collector_of: dict[tuple[str, str], str] = {}
        self.last_beat: dict[str, float] = {}
        self.received = 0
        self.gaps = 0
        self.dropped = 0
        self._asks: set[asyncio.Task[Any]] = set()
        self._asked: set[tuple[str, str]] = set()  # a snapshot is on its way: ask once

    def on_message(self, subject: str, data: bytes) -> None:
        self.received += 1
        try:
            if subject.startswith(HEARTBEAT_SUBJECT_PREFIX + "."):
                beat = decode_heartbeat(data)
                if self.on_time is not None:
                    self.on_time(beat.at)
                self._on_heartbeat(beat)
                return
            message = decode_book(data)
        except BadMessage as exc:
            parts = subject.split(".")
            venue = parts[2] if len(parts) > 3 else "bus"
            symbol = parts[3].replace("_", "/") if len(parts) > 3 else ""
            self.dropped += 1
            why = f"bad bus message: {exc}"
            self.publish(FeedMessageDropped(venue, symbol, why, self.dropped, at=self.clock()))
            return
        if self.on_time is not None:
            self.on_time(message.received_at)
        key = (message.venue, message.symbol)
        follower = self.followers.get(key)
        if follower is None:
            book = self.books.get(key)
            if book is None:
                if self.only_configured:  # another engine's venue or symbol
                    self.ignored += 1
                    return
                book = self.books[key] = OrderBook(message.venue, message.symbol)
            follower = self.followers[key] = BookFollower(book)
        outcome = follower.apply(message)
        if outcome == "gap":
            self.gaps += 1
            self._set(key, FeedState.RESYNCING, follower.book.invalid_reason)
            self._ask(key)
            return
        if outcome == "waiting":
            self._ask(key)
            return
        if message.kind == "snapshot":
            self._asked.discard(key)
        book = follower.book
        self._set(key, FeedState.LIVE, "")
        if self.on_update is not None:
            self.on_update(message.venue, message.symbol, book)
            return
        self.publish(
            BookUpdated(
                message.venue,
                message.symbol,
                book.best_bid_price,
                book.best_ask_price,
                message.exchange_ts,
                message.received_at,
                message.sequence,
                at=self.clock(),
            )
        )

    def _on_heartbeat(self, beat: Heartbeat) -> None:
        self.last_beat[beat.collector] = self.clock()
        for venue, symbol, state in beat.feeds:
            key = (venue, symbol)
            if self.only_configured and key not in self.books:
                continue
            self.collector_of[key] = beat.collector
            if state != FeedState.LIVE.value:  # the collector's own feed is not live
                with contextlib.suppress(ValueError):
                    self._set(key, FeedState(state), f"at collector {beat.collector}: {state}")
                continue
            if self.states.get(key) not in (FeedState.LIVE, FeedState.RESYNCING, None):
                book = self.books.get(key)
                if book is not None and book.valid:
                    self._set(key, FeedState.LIVE, f"collector {beat.collector} back")

    def check_heartbeats(self) -> None:
        """Periodic: the feeds of a collector silent past the timeout are stale."""
        now = self.clock()
        for key, collector in self.collector_of.items():
            silent = now - self.last_beat.get(collector, 0.0)
            if silent > self.heartbeat_timeout_s and self.states.get(key) is not FeedState.STALE:
                self._set(key, FeedState.STALE, f"collector {collector} silent {silent:.1f}s")

    def _set(self, key: tuple[str, str], state: FeedState, reason: str) -> None:
        if self.states.get(key) is state:
            return
        self.states[key] = state
        self.publish(FeedHealthChanged(key[0], key[1], state, reason, at=self.clock()))

    def _ask(self, key: tuple[str, str]) -> None:
        if key in self._asked:
            return
        self._asked.add(key)
        task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(self.ask_snapshot(*key))
        self._asks.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            self._asks.discard(finished)
            if finished.cancelled() or finished.exception() is not None:
                self._asked.discard(key)  # not answered: the next message asks again

        task.add_done_callback(done)
