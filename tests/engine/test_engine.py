"""The engine in-process on the embedded market (sim mode, sped up): approval, rejection,
auto-execution, the kill switch, live setting edits, opportunity expiry, and scan mode."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest

from core.detect.opportunity import Opportunity
from core.engine.engine import Engine
from core.events import (
    EngineMessage,
    Event,
    FeedState,
    KillSwitchToggled,
    OpportunityExpired,
    TradeFinished,
    TradeStarted,
)
from core.journal import Journal
from core.records import TradeStatus
from core.settings import (
    ChainSettings,
    ExecutionSettings,
    JournalSettings,
    LoggingSettings,
    Settings,
    SettingsError,
    SimSettings,
)

pytestmark = pytest.mark.timeout(40)
E = TypeVar("E", bound=Event)


class Clock:
    """Wall time plus an offset a test can move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def make_settings(tmp_path: Path, auto_execute: bool = False) -> Settings:
    return Settings(
        journal=JournalSettings(path=tmp_path / "journal.sqlite3"),
        sim=SimSettings(speed=5.0),
        chain=ChainSettings(enabled=False),  # CEX engine tests: no devnet needed
        execution=ExecutionSettings(leg_timeout_s=2.0, auto_execute=auto_execute),
        logging=LoggingSettings(path=tmp_path / "arbdesk.log"),
    )


async def wait_for(what: Callable[[], object], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not what():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def next_opportunity(engine: Engine) -> Opportunity:
    await wait_for(lambda: engine.pending_opportunities())
    return engine.pending_opportunities()[0]


class Rig:
    def __init__(self, engine: Engine, clock: Clock, path: Path) -> None:
        self.engine = engine
        self.clock = clock
        self.journal_path = path
        self.events: list[Event] = []
        engine.bus.listen(self.events.append)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    async def approve_until_accepted(self, tries: int = 5) -> str:
        """Approve pending opportunities until one is executed; returns its trade id. (The
        executor may refuse a route whose depth moved since detection: that is its job.)"""
        for _ in range(tries):
            opportunity = await next_opportunity(self.engine)
            text = await self.engine.approve(opportunity.id)
            if "legs sent" in text:
                started = [e for e in self.of(TradeStarted) if e.opportunity_id == opportunity.id]
                assert len(started) == 1
                return started[0].trade_id
        raise AssertionError(f"no approval accepted in {tries} tries")


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = Clock()
    engine = Engine(make_settings(tmp_path), clock=clock)
    live = Rig(engine, clock, tmp_path / "journal.sqlite3")
    await engine.start()
    try:
        yield live
    finally:
        await engine.stop()


async def test_start_and_stop(rig: Rig) -> None:
    engine = rig.engine
    assert engine.journal is not None and engine.executor is not None
    assert engine.venues == ["simex", "simbit", "simkra"]
    await wait_for(lambda: engine.counters["book_updates"] > 50)
    assert {s.venue for s in engine.feed_status()} == set(engine.venues)
    await wait_for(lambda: set(engine.venue_health().values()) == {FeedState.LIVE})
    assert engine.stats()["dropped_messages"] == 0
    assert engine._feeds is not None
    engine._feeds.supervisors[("simex", "BTC/USDT")].health.drop("malformed (test)")
    assert engine.stats()["dropped_messages"] == 1  # read from the feeds, not a copy
    assert engine.breaker_state() == "CLOSED" and not engine.killed
    await engine.stop()
    await engine.stop()  # idempotent
    texts = [e.text for e in rig.of(EngineMessage)]
    assert "engine started in sim mode" in texts and texts[-1] == "engine stopped"


async def test_approve_runs_a_trade_to_realized_pnl(rig: Rig) -> None:
    engine = rig.engine
    trade_id = await rig.approve_until_accepted()
    assert engine.executor is not None
    view = await engine.executor.wait(trade_id)
    assert view is not None and view.finished_at is not None
    assert view.status in (TradeStatus.COMPLETED, TradeStatus.HEDGED), view.reason
    roles = {leg.role for leg in view.legs}
    assert {"buy", "sell"} <= roles
    buy = next(leg for leg in view.legs if leg.role == "buy")
    sell = next(leg for leg in view.legs if leg.role == "sell")
    assert (buy.venue, sell.venue) == (view.buy_venue, view.sell_venue)
    assert buy.filled > 0 and buy.average is not None and buy.fee > 0
    assert view.realized_pnl is not None and view.fees > 0
    # realized = sells - buys - fees (the sim charges fees in quote), exactly in Decimal
    flow = sum(
        (
            (leg.filled * leg.average if leg.side == "sell" else -leg.filled * leg.average)
            - leg.fee
            for leg in view.legs
            if leg.filled > 0 and leg.average is not None
        ),
        Decimal(0),
    )
    assert view.realized_pnl == pytest.approx(flow, abs=Decimal("1e-8"))
    finished = [e for e in rig.of(TradeFinished) if e.trade_id == trade_id]
    assert len(finished) == 1 and finished[0].realized_pnl == view.realized_pnl
    assert engine.finished_trades()[0].id == trade_id and not engine.active_trades()
    await engine.stop()
    with Journal(rig.journal_path) as journal:
        record = journal.trade(trade_id)
        assert record is not None and record.status == view.status
        assert record.realized_pnl == view.realized_pnl
        assert {leg.role for leg in journal.trades()[0].legs} == roles


async def test_reject_removes_and_journals(rig: Rig) -> None:
    engine = rig.engine
    opportunity = await next_opportunity(engine)
    engine.reject(opportunity.id)
    assert engine.board.get(opportunity.id) is None
    assert any(
        isinstance(e, OpportunityExpired) and e.opportunity_id == opportunity.id
        for e in rig.of(OpportunityExpired)
        if getattr(e, "reason", "") == "rejected"
    )
    assert engine.journal is not None
    row = engine.journal.opportunity(opportunity.id)
    assert row is not None and row["status"] == "rejected"
    assert "no longer pending" in await engine.approve(opportunity.id)
    engine.reject(opportunity.id)  # twice: nothing happens, nothing raises


async def test_auto_execute(tmp_path: Path) -> None:
    engine = Engine(make_settings(tmp_path, auto_execute=True))
    finished: list[TradeFinished] = []
    engine.bus.listen(lambda e: finished.append(e) if isinstance(e, TradeFinished) else None)
    await engine.start()
    try:
        assert engine.auto_execute
        await wait_for(lambda: finished, timeout_s=15)
        assert finished[0].status in ("completed", "hedged")
        stats = engine.stats()
        assert stats["executed"] >= 1
    finally:
        await engine.stop()
    with Journal(tmp_path / "journal.sqlite3") as journal:
        assert journal.trades()


async def test_kill_switch_refuses_and_resume_restores(rig: Rig) -> None:
    engine = rig.engine
    engine.kill("test halt")
    assert engine.killed and engine.breaker_state() == "OPEN"  # the console's spelling
    kills = rig.of(KillSwitchToggled)
    assert kills and kills[-1].active and kills[-1].reason == "test halt"
    opportunity = await next_opportunity(engine)
    text = await engine.approve(opportunity.id)
    assert "refused" in text and "kill" in text.lower(), text
    assert not rig.of(TradeStarted)
    assert engine.journal is not None
    row = engine.journal.opportunity(opportunity.id)
    assert row is not None and row["status"] == "refused"
    engine.resume()
    assert not engine.killed and engine.breaker_state() == "CLOSED"
    trade_id = await rig.approve_until_accepted()
    assert trade_id


async def test_update_setting_is_live_and_journaled(rig: Rig) -> None:
    engine = rig.engine
    change = engine.update_setting("thresholds.min_profit_bps", "7")
    assert (change.old, change.new) == (3.0, 7.0)
    assert engine.settings.thresholds.min_profit_bps == 7.0
    assert engine.detector.thresholds.min_profit_bps == 7.0  # the detector reads it live
    with pytest.raises(SettingsError, match="greater than or equal to 0"):
        engine.update_setting("thresholds.min_profit_bps", "-1")
    assert engine.settings.thresholds.min_profit_bps == 7.0
    engine.set_auto_execute(True)
    assert engine.auto_execute
    assert engine.journal is not None
    changes = [(k, old, new) for k, old, new, _ in engine.journal.settings_changes()]
    assert changes == [
        ("thresholds.min_profit_bps", 3.0, 7.0),
        ("execution.auto_execute", False, True),
    ]
    assert any("thresholds.min_profit_bps: 3.0 -> 7.0" in e.text for e in rig.of(EngineMessage))


async def test_opportunities_expire_after_the_ttl(rig: Rig) -> None:
    engine = rig.engine
    opportunity = await next_opportunity(engine)
    ttl = engine.settings.thresholds.opportunity_ttl_s
    assert opportunity.expires_at - opportunity.detected_at == pytest.approx(ttl)
    engine.sweep()
    assert engine.board.get(opportunity.id) is not None  # within its TTL
    # Past the TTL (and past staleness, so nothing is re-detected): the sweep removes it.
    rig.clock.offset = ttl + 10.0
    engine.sweep()
    assert engine.board.get(opportunity.id) is None
    expired = [e for e in rig.of(OpportunityExpired) if e.opportunity_id == opportunity.id]
    assert expired and expired[-1].reason == "ttl"
    assert engine.journal is not None
    row = engine.journal.opportunity(opportunity.id)
    assert row is not None and row["status"] == "expired"


async def test_scan_mode_has_no_journal(tmp_path: Path) -> None:
    engine = Engine(make_settings(tmp_path))
    await engine.start(trading=False)
    try:
        opportunity = await next_opportunity(engine)
        assert engine.journal is None and engine.executor is None and engine.breaker is None
        assert await engine.approve(opportunity.id) == "trading is not running (scan mode)"
        engine.update_setting("thresholds.min_profit_usd", "1")  # no journal: nothing to write
        assert engine.stats()["opportunities"] >= 1
    finally:
        await engine.stop()
    assert not (tmp_path / "journal.sqlite3").exists()
