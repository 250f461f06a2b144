"""The engine's market data from the bus (`feeds.source = "nats"`, and replays): books rebuilt
from collectors' messages instead of feeds run in this process.

`BusBooks` applies stored messages one by one, whoever delivers them: `NatsBooks` follows the
JetStream stream live; core.replay feeds a recorded window. Each message moves the market
clock (its receive or heartbeat time) and names the opportunities found while it is applied
(MessageIds), so detection is a function of the message sequence
alone: a replay of a window finds what the live run found, with the same ids.

Order venues: the engine still needs exchange objects for precision and orders. ccxt venues
are created here and their markets loaded (with the feeds' backoff); sim venues come from a
local, never-stepped SimMarket of the same settings (its markets only: fills are paper fills
on the bus books, since the simulated venues live in the collector's process).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from core.book import OrderBook
from core.events import FeedState
from core.feeds.bus import BusFeed, snapshot_subject
from core.feeds.bus_nats import connect, ensure_stream, follow
from core.feeds.liveness import Publish
from core.feeds.supervisor import OnUpdate
from core.feeds.venues import create_exchange, prepare_venue
from core.settings import Settings, VenueKind

FeedStatusRow = tuple[FeedState, str, float]
"""(state, reason, last receive time) of one venue × symbol."""


class MessageIds:
    """Ids tied to the bus message being handled: `<tag>-<message seq>.<n>`.

    An engine that builds its books from the stream (BusBooks below) finds each
    opportunity while applying one message; naming it after that message makes a replay of
    the stream give the same ids as the live run that recorded it. `tag` names the stream, so
    two streams' ids never collide in one journal.
    """

    __slots__ = ("tag", "seq", "n")

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.seq = 0
        self.n = 0

    def at(self, seq: int) -> None:
        """The message with stream sequence `seq` is being handled from now on."""
        self.seq = seq
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"{self.tag}-{self.seq:x}.{self.n}"


class MarketClock:
    """Market time: the latest message time seen, never going back."""

    __slots__ = ("now",)

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, at: float) -> None:
        if at > self.now:
            self.now = at


class BusBooks:
    """Books of the configured venues × symbols, followed from bus messages."""

    def __init__(
        self,
        settings: Settings,
        publish: Publish,
        on_update: OnUpdate | None,
        *,
        market_clock: MarketClock,
        ids: MessageIds,
        clock: Callable[[], float] = time.time,
        ask_snapshot: Callable[[str, str], Any] | None = None,
    ) -> None:
        self.settings = settings
        self.publish = publish
        self.market_clock = market_clock
        self.ids = ids
        self.books: dict[tuple[str, str], OrderBook] = {
            (v.name, s): OrderBook(v.name, s) for v in settings.venues for s in v.symbols
        }
        self.feed = BusFeed(
            publish,
            ask_snapshot or _no_snapshot,
            heartbeat_timeout_s=settings.bus.heartbeat_timeout_s,
            on_update=on_update,
            clock=clock,
            books=self.books,
            on_time=market_clock.advance,
        )
        self.after_message: Callable[[], None] | None = None
        """Called after each message (the engine's market-time sweep)."""
        self.exchanges: dict[str, Any] = {}
        self.sim_market: Any = None
        self.applied = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    def apply(self, seq: int, subject: str, data: bytes) -> None:
        """One stored message, in stream order."""
        self.ids.at(seq)
        self.applied += 1
        self.feed.on_message(subject, data)
        if self.after_message is not None:
            self.after_message()

    # -- what the engine reads, as from a FeedSet -------------------------------------------

    def status(self, venue: str, symbol: str) -> FeedStatusRow | None:
        book = self.books.get((venue, symbol))
        if book is None:
            return None
        state = self.feed.states.get((venue, symbol), FeedState.CONNECTING)
        reason = "waiting for a snapshot from a collector" if state is FeedState.CONNECTING else ""
        if state is not FeedState.LIVE and state is not FeedState.CONNECTING:
            reason = book.invalid_reason if not book.valid else f"{state.value} on the bus"
        return state, reason, book.received_at

    def dropped_total(self) -> int:
        return self.feed.dropped

    def set_stale_after(self, seconds: float) -> None:
        """Staleness on the bus is the collectors' heartbeat timeout (bus settings); the
        books' age cut-off in detection follows thresholds.stale_after_ms by itself."""

    # -- order venues -----------------------------------------------------------------------

    async def start(self) -> None:
        sim_venues = [v for v in self.settings.venues if v.kind is VenueKind.SIM]
        if sim_venues:
            from core.feeds.sim import SimMarket

            self.sim_market = SimMarket(self.settings.sim, sim_venues)
        for venue in self.settings.venues:
            try:
                exchange = create_exchange(venue, self.sim_market)
            except Exception as exc:  # noqa: BLE001 - one bad venue must not stop the rest
                logger.error("venue {}: cannot create exchange: {}", venue.name, exc)
                continue
            self.exchanges[venue.name] = exchange
            if venue.kind is VenueKind.CCXT:
                self._spawn(
                    prepare_venue(exchange, venue, publish=self.publish, feeds=self.settings.feeds),
                    f"markets:{venue.name}",
                )

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for venue in self.settings.venues:  # a sim venue's exchange has nothing to close
            exchange = self.exchanges.get(venue.name)
            if exchange is not None and venue.kind is VenueKind.CCXT:
                with contextlib.suppress(Exception):
                    await exchange.close()

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class NatsBooks(BusBooks):
    """BusBooks fed live from the JetStream stream on `settings.bus.url`."""

    def __init__(
        self,
        settings: Settings,
        publish: Publish,
        on_update: OnUpdate | None,
        *,
        market_clock: MarketClock,
        ids: MessageIds,
        url: str | None = None,
    ) -> None:
        super().__init__(
            settings,
            publish,
            on_update,
            market_clock=market_clock,
            ids=ids,
            ask_snapshot=self._ask_snapshot,
        )
        self.url = url or settings.bus.url
        self.nc: Any = None
        self._sub: Any = None

    async def start(self) -> None:
        await super().start()
        self.nc = await connect(self.url, "arbdesk-engine")
        js = self.nc.jetstream()
        window = await ensure_stream(js, self.settings.bus)
        self.ids.tag = window.tag
        self._sub = await follow(js, window.name, self.apply)
        for venue, symbol in self.books:  # a collector already running answers at once
            await self._ask_snapshot(venue, symbol)
        self._spawn(self._heartbeat_loop(), "bus:heartbeats")
        logger.info("books from NATS {} (stream {}, tag {})", self.url, window.name, window.tag)

    async def _ask_snapshot(self, venue: str, symbol: str) -> None:
        if self.nc is not None and self.nc.is_connected:
            await self.nc.publish(snapshot_subject(venue, symbol), b"")

    async def _heartbeat_loop(self) -> None:
        interval = min(1.0, self.settings.bus.heartbeat_timeout_s / 4)
        while True:
            await asyncio.sleep(interval)
            self.feed.check_heartbeats()

    async def stop(self) -> None:
        await super().stop()
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()


async def _no_snapshot(venue: str, symbol: str) -> None:
    """A replay cannot ask: a gap waits for the collector's next periodic snapshot."""
