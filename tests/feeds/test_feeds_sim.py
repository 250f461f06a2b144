"""The same feed supervisor drives the embedded simulator's venues (sim mode)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from core.book import OrderBook
from core.bus import EventBus
from core.events import FeedHealthChanged, FeedState
from core.feeds.feedset import start_feeds
from core.feeds.sim.market import SimMarket
from core.settings import Settings

pytestmark = pytest.mark.timeout(30)


async def test_sim_venues_stream_through_the_supervisor() -> None:
    settings = Settings()
    market = SimMarket(settings.sim, settings.venues)
    runner = asyncio.create_task(market.run())
    bus = EventBus()
    health = bus.subscribe(FeedHealthChanged)
    updated: set[tuple[str, str]] = set()

    def on_update(venue: str, symbol: str, book: OrderBook) -> None:
        assert book.valid and not book.is_crossed()
        updated.add((venue, symbol))

    feeds = await start_feeds(settings, bus.publish, on_update, sim_market=market)
    try:
        deadline = time.monotonic() + 10
        while len(updated) < len(feeds.supervisors) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await feeds.stop()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    expected = {(v.name, s) for v in settings.venues for s in v.symbols}
    assert updated == expected
    live = {(e.venue, e.symbol) for e in health.drain() if e.state is FeedState.LIVE}  # type: ignore[attr-defined]
    assert live == expected
    now = time.time()
    assert all(b.received_at <= now and b.sequence is not None for b in feeds.books.values())
