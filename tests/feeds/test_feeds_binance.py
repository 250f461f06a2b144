"""Feed supervision with real ccxt.pro `binance` code against the fake Binance on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from core.book import OrderBook
from core.bus import EventBus
from core.events import Event, FeedHealthChanged, FeedMessageDropped, FeedState, VenueProblem
from core.feeds.feedset import FeedSet
from core.settings import FeedSettings, Mode, Settings, ThresholdSettings, VenueKind, VenueSettings
from tests.fakes.binance import FakeBinance, ccxt_options_for

pytestmark = pytest.mark.timeout(30)

DEPTH = 20


def make_settings(*venues: tuple[str, dict[str, Any], list[str]]) -> Settings:
    return Settings(
        mode=Mode.PAPER,
        venues=[
            VenueSettings(
                name=name, kind=VenueKind.CCXT, exchange_id="binance", symbols=syms, options=opts
            )
            for name, opts, syms in venues
        ],
        feeds=FeedSettings(
            backoff_initial_s=0.05, backoff_max_s=0.3, watchdog_s=0.8, depth_limit=DEPTH
        ),
        thresholds=ThresholdSettings(stale_after_ms=300),
    )


@dataclass
class Recorder:
    """Keeps every event and, per update, what the book looked like."""

    events: list[Event] = field(default_factory=list)
    updates: list[tuple[str, str, int | None, Any]] = field(default_factory=list)
    at_drop: list[tuple[Any, bool]] = field(default_factory=list)
    books: dict[tuple[str, str], OrderBook] = field(default_factory=dict)

    def on_event(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, FeedMessageDropped):
            book = self.books[(event.venue, event.symbol)]
            self.at_drop.append((book.top(DEPTH), book.valid))

    def on_update(self, venue: str, symbol: str, book: OrderBook) -> None:
        self.books[(venue, symbol)] = book
        self.updates.append((venue, symbol, book.sequence, book.top(DEPTH)))

    def states(self, venue: str, symbol: str) -> list[FeedState]:
        return [
            e.state
            for e in self.events
            if isinstance(e, FeedHealthChanged) and e.venue == venue and e.symbol == symbol
        ]

    def of(self, kind: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


async def until(cond: Callable[[], bool], timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def start(settings: Settings) -> tuple[FeedSet, Recorder]:
    rec = Recorder()
    bus = EventBus()
    bus.listen(rec.on_event)
    feeds = FeedSet(settings, bus.publish, rec.on_update)
    rec.books = feeds.books
    await feeds.start()
    return feeds, rec


def matches_truth(fake: FakeBinance, symbol: str, seq: int | None, top: Any) -> bool:
    truth = fake.history[symbol].get(seq) if seq is not None else None
    assert truth is not None, f"no server state for update id {seq}"
    bids, asks = truth
    return (list(top[0]), list(top[1])) == (bids[:DEPTH], asks[:DEPTH])


async def n_more_updates(rec: Recorder, n: int) -> None:
    target = len(rec.updates) + n
    await until(lambda: len(rec.updates) >= target)


async def test_snapshot_and_diffs_build_the_venue_book(fake_binance: FakeBinance) -> None:
    feeds, rec = await start(make_settings(("fb", fake_binance.ccxt_options(), ["BTC/USDT"])))
    try:
        await until(lambda: len(rec.updates) >= 30)
    finally:
        await feeds.stop()
    seqs = [u[2] or 0 for u in rec.updates]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for _, symbol, seq, top in rec.updates:
        assert matches_truth(fake_binance, symbol, seq, top)
    assert rec.states("fb", "BTC/USDT")[-1] is FeedState.LIVE
    assert fake_binance.depth_requests == 1  # one REST snapshot, then diffs only
    assert feeds.books[("fb", "BTC/USDT")].received_at > 0


async def test_dropped_socket_reconnects_and_resyncs(fake_binance: FakeBinance) -> None:
    feeds, rec = await start(make_settings(("fb", fake_binance.ccxt_options(), ["BTC/USDT"])))
    try:
        await until(lambda: len(rec.updates) >= 5)
        assert await fake_binance.drop_connections() == 1
        await until(lambda: FeedState.DOWN in rec.states("fb", "BTC/USDT"))
        assert not feeds.books[("fb", "BTC/USDT")].valid
        await until(lambda: rec.states("fb", "BTC/USDT")[-1] is FeedState.LIVE)
        await n_more_updates(rec, 10)
    finally:
        await feeds.stop()
    assert fake_binance.connections_opened >= 2
    assert fake_binance.depth_requests >= 2  # a fresh snapshot after the reconnect
    for _, symbol, seq, top in rec.updates[-10:]:
        assert matches_truth(fake_binance, symbol, seq, top)


async def test_sequence_gap_invalidates_then_resyncs(fake_binance: FakeBinance) -> None:
    feeds, rec = await start(make_settings(("fb", fake_binance.ccxt_options(), ["BTC/USDT"])))
    book_at_resync: list[tuple[bool, bool]] = []

    def watch(event: Event) -> None:
        if isinstance(event, FeedHealthChanged) and event.state is FeedState.RESYNCING:
            book = feeds.books[("fb", "BTC/USDT")]
            book_at_resync.append((book.valid, book.usable(time.time(), 10.0)))

    try:
        await until(lambda: len(rec.updates) >= 5)
        feeds.publish = _tee(feeds.publish, watch)
        for sup in feeds.supervisors.values():
            sup.health._publish = feeds.publish
        fake_binance.inject_gap("BTC/USDT")
        await until(lambda: bool(book_at_resync))
        await until(lambda: rec.states("fb", "BTC/USDT")[-1] is FeedState.LIVE)
        await n_more_updates(rec, 10)
    finally:
        await feeds.stop()
    assert book_at_resync[0] == (False, False)  # never tradable in between
    assert feeds.books[("fb", "BTC/USDT")].valid
    assert fake_binance.depth_requests >= 2
    for _, symbol, seq, top in rec.updates[-10:]:
        assert matches_truth(fake_binance, symbol, seq, top)


def _tee(first: Callable[[Event], None], second: Callable[[Event], None]) -> Any:
    def both(event: Event) -> None:
        first(event)
        second(event)

    return both


@pytest.mark.parametrize("kind", ["nan_price", "nan_size", "negative_size", "crossed"])
async def test_malformed_update_is_dropped_counted_and_book_kept(
    fake_binance: FakeBinance, kind: str
) -> None:
    """ccxt passes these through: we drop them with the book intact, then resync ccxt."""
    feeds, rec = await start(make_settings(("fb", fake_binance.ccxt_options(), ["BTC/USDT"])))
    try:
        await until(lambda: len(rec.updates) >= 5)
        fake_binance.inject_malformed("BTC/USDT", kind)
        await until(lambda: bool(rec.of(FeedMessageDropped)))
        last_good_top = rec.updates[-1][3]
        await until(lambda: rec.states("fb", "BTC/USDT")[-1] is FeedState.LIVE)
        await n_more_updates(rec, 10)
    finally:
        await feeds.stop()
    dropped = rec.of(FeedMessageDropped)
    assert dropped[0].dropped_total == 1 and dropped[0].symbol == "BTC/USDT"
    top_at_drop, _ = rec.at_drop[0]
    assert top_at_drop == last_good_top  # the bad update never touched our book
    assert FeedState.RESYNCING in rec.states("fb", "BTC/USDT")
    for _, symbol, seq, top in rec.updates[-10:]:
        assert matches_truth(fake_binance, symbol, seq, top)


async def test_non_numeric_price_makes_ccxt_fail_and_we_resync(fake_binance: FakeBinance) -> None:
    """ccxt raises on a price of "abc" and drops its book: counted, resynced."""
    feeds, rec = await start(make_settings(("fb", fake_binance.ccxt_options(), ["BTC/USDT"])))
    try:
        await until(lambda: len(rec.updates) >= 5)
        fake_binance.inject_malformed("BTC/USDT", "abc_price")
        await until(lambda: bool(rec.of(FeedMessageDropped)))
        top_before = rec.updates[-1][3]
        assert rec.at_drop[0][0] == top_before
        await until(lambda: rec.states("fb", "BTC/USDT")[-1] is FeedState.LIVE)
        await n_more_updates(rec, 10)
    finally:
        await feeds.stop()
    assert "TypeError" in rec.of(FeedMessageDropped)[0].reason
    for _, symbol, seq, top in rec.updates[-10:]:
        assert matches_truth(fake_binance, symbol, seq, top)


async def test_silent_feed_goes_stale_and_watchdog_reconnects(fake_binance: FakeBinance) -> None:
    feeds, rec = await start(make_settings(("fb", fake_binance.ccxt_options(), ["BTC/USDT"])))
    try:
        await until(lambda: len(rec.updates) >= 5)
        fake_binance.go_silent()
        await until(lambda: any("watchdog" in e.reason for e in rec.of(FeedHealthChanged)))
        assert not feeds.books[("fb", "BTC/USDT")].valid
        await until(lambda: rec.states("fb", "BTC/USDT")[-1] is FeedState.LIVE)
        await n_more_updates(rec, 5)
    finally:
        await feeds.stop()
    stale = [e for e in rec.of(FeedHealthChanged) if e.state is FeedState.STALE]
    assert "ms" in stale[0].reason  # the staleness check noticed before the watchdog fired
    assert fake_binance.connections_opened == 2
    assert rec.states("fb", "BTC/USDT")[-3:] == [
        FeedState.STALE,
        FeedState.CONNECTING,
        FeedState.LIVE,
    ]


async def test_broken_json_silences_ccxt_and_watchdog_recovers(fake_binance: FakeBinance) -> None:
    """A truncated JSON frame kills ccxt's receive loop without an error reaching us."""
    feeds, rec = await start(make_settings(("fb", fake_binance.ccxt_options(), ["BTC/USDT"])))
    try:
        await until(lambda: len(rec.updates) >= 5)
        fake_binance.inject_malformed("BTC/USDT", "broken_json")
        await until(lambda: any("watchdog" in e.reason for e in rec.of(FeedHealthChanged)))
        await until(lambda: rec.states("fb", "BTC/USDT")[-1] is FeedState.LIVE)
        await n_more_updates(rec, 5)
    finally:
        await feeds.stop()
    assert fake_binance.connections_opened == 2
    for _, symbol, seq, top in rec.updates[-5:]:
        assert matches_truth(fake_binance, symbol, seq, top)


async def test_unknown_symbol_is_reported_and_others_run(fake_binance: FakeBinance) -> None:
    settings = make_settings(("fb", fake_binance.ccxt_options(), ["BTC/USDT", "BTC/USTD"]))
    feeds, rec = await start(settings)
    try:
        await until(lambda: len(rec.updates) >= 10)
    finally:
        await feeds.stop()
    problems = rec.of(VenueProblem)
    assert len(problems) == 1
    assert problems[0].venue == "fb" and problems[0].symbol == "BTC/USTD"
    assert "did you mean BTC/USDT" in problems[0].message
    assert rec.states("fb", "BTC/USTD")[-1] is FeedState.DOWN
    assert {u[1] for u in rec.updates} == {"BTC/USDT"}


async def test_unreachable_venue_is_retried_and_others_run(
    fake_binance: FakeBinance, dead_port: int
) -> None:
    settings = make_settings(
        ("fb", fake_binance.ccxt_options(), ["ETH/USDT"]),
        ("dead", ccxt_options_for(dead_port), ["BTC/USDT"]),
    )
    feeds, rec = await start(settings)
    try:
        await until(lambda: len([p for p in rec.of(VenueProblem) if p.venue == "dead"]) >= 3)
        await until(lambda: len(rec.updates) >= 10)
    finally:
        await feeds.stop()
    dead = [p for p in rec.of(VenueProblem) if p.venue == "dead"]
    assert all("cannot load markets" in p.message for p in dead)
    assert [p.message.split("retry ")[1].split(" ")[0] for p in dead[:3]] == ["1", "2", "3"]
    assert rec.states("dead", "BTC/USDT")[-1] is FeedState.DOWN
    assert {u[0] for u in rec.updates} == {"fb"}
    assert rec.states("fb", "ETH/USDT")[-1] is FeedState.LIVE
