"""CEX triangles on a sim venue: found on its books, then traded hop by hop on the order path."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.book import OrderBook
from core.bus import EventBus
from core.detect.cycle_scan import BookCycleDetector, CycleOpportunity
from core.events import Event, LegSent, TradeUnwinding
from core.execute.cycle_trader import CycleTrader
from core.execute.trades import Submission, Trade
from core.feeds.sim.market import SimMarket
from core.journal import Journal
from core.money import D
from core.records import TradeStatus
from core.settings import (
    CycleSettings,
    ExecutionSettings,
    SimSettings,
    ThresholdSettings,
    VenueKind,
    VenueSettings,
)
from tests.support.executor import make_executor

VENUE = "simex"
SYMBOLS = ["BTC/USDT", "ETH/USDT", "ETH/BTC"]
LOTS = {"BTC": Decimal("0.00001"), "ETH": Decimal("0.0001")}


class Triangle:
    def __init__(self, tmp_path: Path, dislocation_bps: float, fee_bps: float = 10.0) -> None:
        venues = [
            VenueSettings(name=VENUE, kind=VenueKind.SIM, taker_fee_bps=fee_bps, symbols=SYMBOLS)
        ]
        self.market = SimMarket(
            SimSettings(seed=5, latency_ms=20, dislocation_rate_per_min=0.0),
            venues,
            start_ms=1_700_000_000_000,
        )
        # ETH is cheap in BTC on this venue: USDT -> BTC -> ETH -> USDT returns more.
        self.market.dislocate(VENUE, "ETH/BTC", dislocation_bps, hold_s=600.0)
        self.market.step()
        self.books = {s: {VENUE: OrderBook(VENUE, s)} for s in SYMBOLS}
        self.refresh()
        self.journal = Journal(tmp_path / "journal.sqlite3")
        self.bus = EventBus()
        self.events: list[Event] = []
        self.bus.listen(self.events.append)
        self.exchange = self.market.exchange(VENUE)
        _breaker, executor = make_executor(
            {VENUE: self.exchange},
            self.books,
            self.journal,
            self.bus,
            leg_timeout_s=2.0,
            poll_interval_s=0.01,
            unknown_order_grace_s=0.3,
        )
        self.thresholds = ThresholdSettings(
            min_profit_bps=1.0, min_profit_usd=0.01, max_slippage_bps=30.0, max_notional_usd=5000
        )
        self.cycles = CycleSettings(min_profit_bps=3.0, start_currencies=["USDT"])
        self.detector = BookCycleDetector(
            self.books, {VENUE: fee_bps}, self.thresholds, self.cycles
        )
        self.trader = CycleTrader(
            executor.path,
            {VENUE: self.exchange},
            self.books,
            ExecutionSettings(leg_timeout_s=2.0),
            self.thresholds,
            self.cycles,
        )

    def refresh(self) -> None:
        now = time.time()
        for symbol in SYMBOLS:
            sim = self.market.book(VENUE, symbol)
            self.books[symbol][VENUE].apply_snapshot(sim.bids, sim.asks, received_at=now)

    def found(self) -> list[CycleOpportunity]:
        for symbol in SYMBOLS:
            self.detector.on_book(VENUE, symbol)
        self.detector.index.touch_all()
        return self.detector.scan()

    async def trade(self, opp: CycleOpportunity) -> Trade:
        result = await self.trader.execute(opp)
        assert not isinstance(result, Submission), result
        return result

    def dust_value(self, flows: dict[str, Decimal]) -> Decimal:
        """BTC and ETH left over, at the books' mid in USDT."""
        total = Decimal(0)
        for currency in LOTS:
            mid = self.books[f"{currency}/USDT"][VENUE].mid()
            assert mid is not None
            total += flows.get(currency, Decimal(0)) * D(mid)
        return total

    def flows(self, trade_id: str) -> dict[str, Decimal]:
        """Independent per-currency net flows from the journal's fills (fees included)."""
        out: dict[str, Decimal] = {}
        for fill in self.journal.fills(trade_id):
            base, _, quote = fill.symbol.partition("/")
            sign = 1 if fill.side == "buy" else -1
            out[base] = out.get(base, Decimal(0)) + sign * fill.amount
            out[quote] = out.get(quote, Decimal(0)) - sign * fill.cost
            out[fill.fee_currency] = out[fill.fee_currency] - fill.fee
        return out


def the_cycle(rig: Triangle) -> CycleOpportunity:
    found = rig.found()
    assert len(found) == 1, found
    opp = found[0]
    assert opp.symbol == "USDT>BTC>ETH>USDT"
    assert [leg.side for leg in opp.legs] == ["buy", "buy", "sell"]
    return opp


async def test_triangle_fills_every_hop_and_pnl_is_the_fills(tmp_path: Path) -> None:
    rig = Triangle(tmp_path, dislocation_bps=-80.0)
    opp = the_cycle(rig)
    assert opp.net_bps >= 3.0 and opp.fees > 0
    trade = await rig.trade(opp)
    assert trade.status == TradeStatus.COMPLETED, trade.reason
    hops = sorted((o for o in trade.orders.values()), key=lambda o: o.client_order_id)
    assert [o.role for o in hops] == ["h1", "h2", "h3"]
    assert [o.symbol for o in hops] == ["BTC/USDT", "ETH/BTC", "ETH/USDT"]
    # Each hop spent what the previous one delivered: only rounding dust is left between.
    flows = rig.flows(trade.id)
    for currency, lot in LOTS.items():
        assert abs(flows[currency]) < 2 * lot, (currency, flows[currency])
    # The PnL is the USDT that came back, plus that dust valued at the books' mid.
    assert trade.realized_pnl == flows["USDT"] + rig.dust_value(flows)
    assert trade.realized_pnl > 0
    stored = rig.journal.trade(trade.id)
    assert stored is not None and stored.status == TradeStatus.COMPLETED
    assert stored.realized_pnl == trade.realized_pnl
    # Every leg journaled before it was sent: one order row per LegSent.
    sent = [e for e in rig.events if isinstance(e, LegSent)]
    assert [e.client_order_id for e in sent] == [o.client_order_id for o in hops]
    for order in hops:
        stored_order = rig.journal.order(order.client_order_id)
        assert stored_order is not None and stored_order.filled == order.filled


async def test_partial_middle_leg_is_unwound_to_the_start_currency(tmp_path: Path) -> None:
    rig = Triangle(tmp_path, dislocation_bps=-80.0)
    opp = the_cycle(rig)
    real_create = rig.exchange.create_order

    async def thin_then_create(symbol: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if symbol == "ETH/BTC":  # a third of hop 2's depth vanishes before it executes
            book = rig.market.book(VENUE, symbol)
            want = round(opp.legs[1].amount_out / 3, 4)

            def thin() -> None:
                best = book.asks[0][0]
                book.asks[:] = [[best, want], [round(best * 1.2, 6), 10.0]]

            rig.market.schedule(rig.market.now_ms + rig.exchange.latency_ms, thin)
        return await real_create(symbol, *args, **kwargs)

    rig.exchange.create_order = thin_then_create
    trade = await rig.trade(opp)
    orders = {o.role: o for o in trade.orders.values()}
    assert set(orders) == {"h1", "h2", "h3", "unwind"}
    h1, h2, h3, unwind = orders["h1"], orders["h2"], orders["h3"], orders["unwind"]
    assert h1.filled == h1.amount and 0 < h2.filled < h2.amount
    # hop 3 sold the ETH hop 2 got; the BTC hop 2 could not spend went back to USDT at market
    assert h3.filled == h3.amount and 0 <= h2.filled - h3.filled < LOTS["ETH"]
    assert (unwind.symbol, unwind.side, unwind.type) == ("BTC/USDT", "sell", "market")
    assert unwind.filled > 0
    assert trade.status == TradeStatus.HEDGED, trade.reason
    assert trade.unwind_cost > 0  # the spread and fee of flattening
    assert "unwound to USDT" in trade.reason and "unwind cost" in trade.reason
    flows = rig.flows(trade.id)
    for currency, lot in LOTS.items():
        assert abs(flows[currency]) < 2 * lot, (currency, flows[currency])
    assert trade.realized_pnl == flows["USDT"] + rig.dust_value(flows)
    assert any(isinstance(e, TradeUnwinding) for e in rig.events)
    stored = rig.journal.trade(trade.id)
    assert stored is not None and stored.status == TradeStatus.HEDGED
    assert all(rig.journal.order(o.client_order_id) for o in trade.orders.values())


async def test_first_hop_rejected_sends_nothing_more(tmp_path: Path) -> None:
    rig = Triangle(tmp_path, dislocation_bps=-80.0)
    opp = the_cycle(rig)
    rig.exchange.reject_next_order("venue says no")
    trade = await rig.trade(opp)
    assert trade.status == TradeStatus.FAILED
    assert [o.role for o in trade.orders.values()] == ["h1"]
    assert trade.realized_pnl == 0


async def test_a_cycle_the_fees_eat_is_not_proposed(tmp_path: Path) -> None:
    # A 20 bps dislocation: the loop returns more at the margin before fees, but three taker
    # fees of 10 bps each take more than that.
    rig = Triangle(tmp_path, dislocation_bps=-20.0)
    assert rig.found() == []
    free = Triangle(tmp_path / "nofee", dislocation_bps=-20.0, fee_bps=0.0)
    assert [o.symbol for o in free.found()] == ["USDT>BTC>ETH>USDT"]


async def test_stale_book_refuses_the_cycle(tmp_path: Path) -> None:
    rig = Triangle(tmp_path, dislocation_bps=-80.0)
    opp = the_cycle(rig)
    sim = rig.market.book(VENUE, "ETH/BTC")
    rig.books["ETH/BTC"][VENUE].apply_snapshot(sim.bids, sim.asks, received_at=time.time() - 60)
    result = await rig.trader.submit(opp)
    assert not result.accepted and "not usable" in result.reason
    assert rig.journal.opportunity(opp.id) is not None
