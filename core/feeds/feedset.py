"""All the feeds of a run: one task per venue (prepare), then one supervisor per symbol.

A venue that cannot be built, reached or that lists none of our symbols is reported and left
retrying on its own; it never stops the other venues. `stop()` cancels everything and closes
every exchange.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from core.book import OrderBook
from core.events import FeedState, VenueProblem
from core.feeds.liveness import Publish
from core.feeds.supervisor import FeedSupervisor, OnUpdate
from core.feeds.venues import create_exchange, prepare_venue
from core.settings import Settings, VenueSettings


class FeedSet:
    """Owns the exchanges, books and supervisor tasks of every configured venue."""

    def __init__(
        self,
        settings: Settings,
        publish: Publish,
        on_update: OnUpdate | None = None,
        sim_market: Any | None = None,
        on_listed: Callable[[str, list[str]], None] | None = None,
    ) -> None:
        self.settings = settings
        self.on_listed = on_listed
        """(venue, the configured symbols it lists) once its markets are loaded."""
        self.publish = publish
        self.on_update = on_update
        self.sim_market = sim_market
        self.exchanges: dict[str, Any] = {}
        self.books: dict[tuple[str, str], OrderBook] = {}
        self.supervisors: dict[tuple[str, str], FeedSupervisor] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stale_s = settings.thresholds.stale_after_ms / 1000.0

    async def start(self) -> None:
        for venue in self.settings.venues:
            try:
                exchange = create_exchange(venue, self.sim_market)
            except Exception as exc:  # noqa: BLE001 - one bad venue must not stop the rest
                message = f"cannot create exchange: {type(exc).__name__}: {exc}"
                logger.error("venue {}: {}", venue.name, message)
                self.publish(VenueProblem(venue.name, message, at=time.time()))
                continue
            self.exchanges[venue.name] = exchange
            for symbol in venue.symbols:
                self._add_supervisor(exchange, venue, symbol)
            self._spawn(self._run_venue(exchange, venue), f"venue:{venue.name}")
        self._spawn(self._stale_loop(), "feeds:stale-check")

    def _add_supervisor(self, exchange: Any, venue: VenueSettings, symbol: str) -> None:
        book = OrderBook(venue.name, symbol)
        self.books[(venue.name, symbol)] = book
        sup = FeedSupervisor(
            exchange,
            venue.name,
            symbol,
            book,
            self.settings.feeds,
            self._stale_s,
            self.publish,
            self.on_update,
            venue_alive=self._venue_alive,
        )
        self.supervisors[(venue.name, symbol)] = sup
        sup.health.set(FeedState.CONNECTING, "loading markets")

    async def _run_venue(self, exchange: Any, venue: VenueSettings) -> None:
        mine = [s for (v, _), s in self.supervisors.items() if v == venue.name]

        def venue_down(message: str) -> None:
            for sup in mine:
                sup.health.set(FeedState.DOWN, message)

        symbols = await prepare_venue(
            exchange,
            venue,
            publish=self.publish,
            feeds=self.settings.feeds,
            on_failure=venue_down,
        )
        if self.on_listed is not None:
            self.on_listed(venue.name, symbols)
        for sup in mine:
            if sup.symbol in symbols:
                self._spawn(sup.run(), f"feed:{venue.name}:{sup.symbol}")
            else:
                sup.book.invalidate("unknown symbol")
                sup.health.set(FeedState.DOWN, "unknown symbol on this venue")

    def _venue_alive(self, quiet: FeedSupervisor, now: float) -> bool:
        """Whether another symbol of the same venue had an update within the watchdog time."""
        for (venue, _), sup in self.supervisors.items():
            if venue == quiet.venue and sup is not quiet:
                last = sup.health.last_update_at
                if last and now - last < sup.watchdog_s:
                    return True
        return False

    def status(self, venue: str, symbol: str) -> tuple[FeedState, str, float] | None:
        """(state, reason, last receive time) from the supervisor's own health."""
        sup = self.supervisors.get((venue, symbol))
        if sup is None:
            return None
        return sup.health.state or FeedState.CONNECTING, sup.health.reason, sup.book.received_at

    def dropped_total(self) -> int:
        return sum(sup.health.dropped for sup in self.supervisors.values())

    def set_stale_after(self, seconds: float) -> None:
        """A live edit of thresholds.stale_after_ms reaches every supervisor."""
        self._stale_s = seconds
        for sup in self.supervisors.values():
            sup.stale_after_s = seconds

    async def _stale_loop(self) -> None:
        interval = min(1.0, max(0.05, self._stale_s / 4))
        while True:
            await asyncio.sleep(interval)
            now = time.time()
            for sup in self.supervisors.values():
                sup.check_stale(now)

    def _spawn(self, coro: Any, name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.opt(exception=task.exception()).error("feed task {} died", task.get_name())

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for name, exchange in self.exchanges.items():
            close = getattr(exchange, "close", None)
            if close is None:
                continue
            try:
                await close()
            except Exception as exc:  # noqa: BLE001 - closing must reach every venue
                logger.warning("venue {}: close failed: {}", name, exc)

    async def __aenter__(self) -> FeedSet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await self.stop()


async def start_feeds(
    settings: Settings,
    publish: Publish,
    on_update: OnUpdate | None = None,
    sim_market: Any | None = None,
) -> FeedSet:
    """Start every feed of `settings`; call `await feeds.stop()` to end them all."""
    feeds = FeedSet(settings, publish, on_update, sim_market)
    await feeds.start()
    return feeds
