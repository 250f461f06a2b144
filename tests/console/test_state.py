"""ConsoleState on plain data: event folding, snapshots, sparkline history, symbol cycling."""

from __future__ import annotations

from decimal import Decimal

from console.state import ConsoleState, describe
from core.door import Snapshot
from core.door_events import door_events
from core.engine.local_door import LocalDoor, trade_summary
from core.events import (
    BookUpdated,
    BreakerTransitioned,
    EngineMessage,
    KillSwitchToggled,
    OpportunityExpired,
    TradeFinished,
)
from tests.console.fake_engine import T0, Clock, FakeEngine, trade_view


def snapshot(engine: FakeEngine) -> Snapshot:
    """The frame the app would take: the first symbol's books."""
    return LocalDoor(engine).snapshot(engine.symbols[:1])


def book_event(at: float, symbol: str = "BTC/USDT", venue: str = "simex") -> BookUpdated:
    return BookUpdated(venue, symbol, 1.0, 2.0, None, at, at=at)


def test_book_updates_are_merged_not_logged() -> None:
    clock = Clock()
    state = ConsoleState(clock=clock)
    bus_events = [book_event(T0)] * 500 + [book_event(T0, venue="mockex")]
    state.ingest(door_events([*bus_events, EngineMessage("info", "hello", at=T0)], T0))
    assert state.dirty_books == {("BTC/USDT", "simex"), ("BTC/USDT", "mockex")}
    assert [line.text for line in state.log] == ["hello"]
    assert state.new_log[0].level == "INFO"


def test_update_rate_counts_book_events_over_the_window() -> None:
    clock = Clock()
    state = ConsoleState(clock=clock)
    for _ in range(10):
        clock.now += 0.1
        state.ingest(door_events([book_event(clock.now)] * 100, clock.now))
    assert 900 <= state.book_updates_per_s <= 1100


def test_kill_and_breaker_events_update_state() -> None:
    state = ConsoleState(clock=Clock())
    state.ingest(
        [
            KillSwitchToggled(True, "manual", at=T0),
            BreakerTransitioned("global", "CLOSED", "OPEN", "kill", "manual", at=T0),
            BreakerTransitioned("simex", "CLOSED", "OPEN", "stale", "feed", at=T0),
        ]
    )
    assert state.killed
    assert state.breaker == "OPEN"
    assert [line.level for line in state.log] == ["WARNING", "WARNING", "WARNING"]


def test_describe_skips_ttl_expiry_but_logs_rejections() -> None:
    assert describe(OpportunityExpired("op1", "ttl", at=T0)) is None
    line = describe(OpportunityExpired("op1", "rejected", at=T0))
    assert line is not None and "rejected" in line.text
    loss = describe(TradeFinished("t1", "unwound", Decimal("-1.5"), Decimal("0.1"), at=T0))
    assert loss is not None and loss.level == "WARNING" and "-1.50" in loss.text


def test_pull_reads_the_door_snapshot() -> None:
    engine = FakeEngine()
    state = ConsoleState(clock=engine.clock)
    state.pull(snapshot(engine))
    assert state.selected_symbol == "BTC/USDT"
    assert [b.venue for b in state.books] == ["simex", "simbit", "simkra"]
    assert len(state.books[0].bids) == 10 and state.books[0].bids[0][0] > state.books[0].bids[1][0]
    assert state.books[0].age_s is not None and abs(state.books[0].age_s - 0.2) < 1e-6
    assert len(state.spreads) == 18
    assert [o.id for o in state.opportunities] == ["op1", "op2"]
    assert state.opportunities[0].ttl_s == 4.0
    assert state.pnl_today_usd == Decimal("12.34")
    assert {v.venue: v.health.value for v in state.venue_lines}["simkra"] == "stale"


def test_ttl_counts_down_and_expired_opportunities_leave() -> None:
    engine = FakeEngine()
    state = ConsoleState(clock=engine.clock)
    engine.clock.now += 1.5
    state.pull(snapshot(engine))
    assert state.opportunities[0].ttl_s == 2.5
    engine.clock.now += 3.0
    state.pull(snapshot(engine))
    assert state.opportunities == []


def test_spread_history_samples_and_forgets() -> None:
    engine = FakeEngine()
    state = ConsoleState(clock=engine.clock)
    for _ in range(30):
        for by_venue in engine.books.values():  # keep books fresh
            for book in by_venue.values():
                book.received_at = engine.clock.now
        state.pull(snapshot(engine))
        engine.clock.now += 1.0
    first = state.spreads[0]
    assert 14 <= len(first.history) <= 16  # one sample per 2 s
    engine.clock.now += 400
    for by_venue in engine.books.values():
        for book in by_venue.values():
            book.received_at = engine.clock.now
    state.pull(snapshot(engine))
    assert len(state.spreads[0].history) == 1  # older than the window: dropped


def test_cycle_symbol_wraps() -> None:
    state = ConsoleState(clock=Clock(), symbols=["A/B", "C/D"], selected_symbol="C/D")
    assert state.cycle_symbol() == "A/B"
    assert state.cycle_symbol(-1) == "C/D"


def test_trade_line_reads_trade_records() -> None:
    engine = FakeEngine()
    engine.clock.now = T0
    import asyncio

    asyncio.run(engine.approve("op1"))
    line = trade_summary(trade_view(engine.trades[0]))
    assert line.symbol == "BTC/USDT" and line.buy_venue == "simbit"
    assert [leg.status for leg in line.legs] == ["closed", "open"]
    assert line.legs[1].filled == Decimal("0.125")
    assert line.realized_pnl is None
