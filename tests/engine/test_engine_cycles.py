"""The engine on a sim venue whose ETH/BTC is dislocated: the triangle shows on the board and
through the door with its hops, and approving it trades every hop on the order path."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from core.detect.cycle_scan import CycleOpportunity
from core.door import Approve, from_wire, to_wire
from core.engine.engine import Engine
from core.engine.local_door import LocalDoor
from core.records import TradeStatus
from core.settings import (
    ChainSettings,
    CycleSettings,
    ExecutionSettings,
    JournalSettings,
    LoggingSettings,
    Mode,
    Settings,
    SimSettings,
    ThresholdSettings,
    VenueKind,
    VenueSettings,
)

SYMBOLS = ["BTC/USDT", "ETH/USDT", "ETH/BTC"]


async def wait_for(what: Callable[[], object], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not what():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def cycles_on_board(engine: Engine) -> list[CycleOpportunity]:
    return [o for o in engine.pending_opportunities() if isinstance(o, CycleOpportunity)]


async def test_a_dislocated_cross_pair_is_a_cycle_approved_and_traded(tmp_path: Path) -> None:
    settings = Settings(
        venues=[
            VenueSettings(name="simex", kind=VenueKind.SIM, taker_fee_bps=10.0, symbols=SYMBOLS)
        ],
        journal=JournalSettings(path=tmp_path / "journal.sqlite3"),
        sim=SimSettings(speed=1.0, dislocation_rate_per_min=0.0),
        chain=ChainSettings(enabled=False),
        thresholds=ThresholdSettings(max_notional_usd=3000.0, opportunity_ttl_s=10.0),
        cycles=CycleSettings(start_currencies=["USDT"]),
        execution=ExecutionSettings(leg_timeout_s=2.0),
        logging=LoggingSettings(path=tmp_path / "arbdesk.log"),
    )
    engine = Engine(settings)
    await engine.start()
    try:
        assert engine.cycles is not None and len(engine.cycles.cycles) == 2  # both directions
        assert engine.sim_market is not None
        engine.sim_market.dislocate("simex", "ETH/BTC", -90.0, hold_s=600.0)
        await wait_for(lambda: cycles_on_board(engine))
        opp = cycles_on_board(engine)[0]
        assert opp.symbol == "USDT>BTC>ETH>USDT" and opp.net_bps >= 5.0
        door = LocalDoor(engine)
        snap = door.snapshot()
        assert from_wire(to_wire(snap)) == snap  # the hops survive the wire
        view = next(o for o in snap.opportunities if o.id == opp.id)
        assert view.kind == "cycle" and len(view.hops) == 3
        assert view.hops[0].startswith("buy BTC/USDT@simex")
        await wait_for(lambda: engine.executor is not None)
        result = await door.send(Approve(opp.id))
        assert result.ok, result.message
        assert engine.executor is not None
        await wait_for(lambda: engine.finished_trades())
        trade = engine.finished_trades()[0]
        assert trade.symbol == "USDT>BTC>ETH>USDT"
        assert trade.status in (TradeStatus.COMPLETED, TradeStatus.HEDGED), trade.reason
        assert [leg.role for leg in trade.legs][:3] == ["h1", "h2", "h3"]
        assert trade.realized_pnl_usd is not None
        summary = next(t for t in door.snapshot().finished_trades if t.id == trade.id)
        assert len(summary.legs) >= 3
    finally:
        await engine.stop()


async def test_a_real_venue_cycle_uses_only_markets_its_exchange_lists(tmp_path: Path) -> None:
    """ccxt's binance against the fake venue on loopback: it lists BTC/USDT, ETH/USDT and
    ETH/BTC; SOL/BTC and SOL/USDT are configured too but not listed, so once the markets load
    no cycle goes through them."""
    from tests.fakes.binance import FakeBinance

    mids = {"BTC/USDT": 100_000.0, "ETH/USDT": 3_000.0, "ETH/BTC": 0.03}
    async with FakeBinance(mids) as fake:
        settings = Settings(
            mode=Mode.PAPER,
            venues=[
                VenueSettings(
                    name="fb",
                    kind=VenueKind.CCXT,
                    exchange_id="binance",
                    symbols=[*SYMBOLS, "SOL/BTC", "SOL/USDT"],
                    options=fake.ccxt_options(),
                )
            ],
            journal=JournalSettings(path=tmp_path / "journal.sqlite3"),
            chain=ChainSettings(enabled=False),
            cycles=CycleSettings(start_currencies=["USDT"]),
            logging=LoggingSettings(path=tmp_path / "arbdesk.log"),
        )
        engine = Engine(settings)
        await engine.start(trading=False)
        try:
            assert engine.cycles is not None
            await wait_for(lambda: engine.cycles is not None and "fb" in engine.cycles.listed)
            markets = {h.market for c in engine.cycles.cycles for h in c.hops}
            assert markets == set(SYMBOLS)
            assert len(engine.cycles.cycles) == 2  # the one triangle, both directions
        finally:
            await engine.stop()
