"""Live legs through the real ccxt.pro `binance` class, against the fake Binance on loopback.

Two venues: "binance" (ccxt with dummy keys, talking to tests/fakes over HTTP) sells, the sim
venue "simex" buys. Covered: a normal trade (place, query), a rejection (-2010 ->
InsufficientFunds, the other leg unwound), a partial fill on a thin book then the unwind, a
placement that times out and lands late (found by lookups, fees learned from myTrades), the
kill switch cancelling an order in flight, and restart reconciliation cancelling a resting GTC.
Every realized PnL is checked, exactly, against sums of the venues' own decimal strings.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.book import OrderBook
from core.bus import EventBus
from core.detect.opportunity import Opportunity
from core.events import Event, KillSwitchToggled
from core.execute.executor import Executor, Refused
from core.execute.legs import LegRunner
from core.execute.reconcile import reconcile
from core.execute.trades import TradeView
from core.feeds.sim.market import SimMarket
from core.journal import Journal
from core.records import OrderStatus, TradeRecord, TradeStatus
from core.risk import CircuitBreaker
from tests.fakes.binance import FakeBinance
from tests.fakes.binance_extra import ExtraDesk
from tests.support.executor import (
    BIN,
    CHEAP,
    SYMBOL,
    book_opportunity,
    make_executor,
    refresh_sim_and_binance,
    sim_and_binance,
)

pytestmark = pytest.mark.timeout(30)

SIM = CHEAP
ZERO = Decimal(0)


@dataclass
class LiveRig:
    fake: FakeBinance
    binance: Any  # ccxt.pro.binance
    market: SimMarket
    books: dict[str, dict[str, OrderBook]]
    journal: Journal
    breaker: CircuitBreaker
    executor: Executor
    events: list[Event] = field(default_factory=list)

    @property
    def desk(self) -> ExtraDesk:
        assert isinstance(self.fake.desk, ExtraDesk)
        return self.fake.desk

    def refresh_books(self) -> None:
        refresh_sim_and_binance(self.books, self.market, self.fake)

    def opportunity(self, size: float) -> Opportunity:
        self.refresh_books()
        return book_opportunity(
            self.books[SYMBOL], SIM, BIN, size, lambda b, s: (b + s) * size * 0.001, 10.0
        )

    async def trade(self, size: float) -> TradeView:
        result = await self.executor.execute(self.opportunity(size))
        assert isinstance(result, TradeView), result
        return result

    def bin_order(self, client_order_id: str) -> dict[str, Any]:
        return next(o for o in self.desk.orders.values() if o["clientOrderId"] == client_order_id)

    def pnl_from_venues(self, trade: TradeView) -> Decimal:
        """Sells minus buys minus fees, summed from the venues' own decimal strings."""
        total = ZERO
        for leg in trade.legs:
            if leg.status == "rejected":
                continue  # never reached a book
            if leg.venue == BIN:
                order = self.bin_order(leg.client_order_id)
                cost = Decimal(order["cummulativeQuoteQty"])
                fee = sum(
                    (
                        Decimal(t["commission"])
                        for t in self.desk.trades
                        if t["orderId"] == order["orderId"]
                    ),
                    ZERO,
                )
                assert all(
                    t["commissionAsset"] == "USDT"
                    for t in self.desk.trades
                    if t["orderId"] == order["orderId"]
                )
            else:
                sim_order = self.market.exchange(SIM)._by_client_id[leg.client_order_id]
                info = sim_order.to_ccxt()["info"]
                cost, fee = Decimal(info["cost"]), Decimal(info["fee"])
            total += (cost if leg.side == "sell" else -cost) - fee
        return total


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[LiveRig]:
    # The fake Binance trades 80 bps above the sim venue: buy on the sim, sell on binance.
    def price(market: SimMarket) -> float:
        return round(market.book(SIM, SYMBOL).asks[0][0] * 1.008)

    async with sim_and_binance(20, price) as (market, fake, binance):
        books = {SYMBOL: {SIM: OrderBook(SIM, SYMBOL), BIN: OrderBook(BIN, SYMBOL)}}
        journal = Journal(tmp_path / "journal.sqlite3")
        bus = EventBus()
        breaker, executor = make_executor(
            {SIM: market.exchange(SIM), BIN: binance},
            books,
            journal,
            bus,
            leg_timeout_s=0.3,
            poll_interval_s=0.02,
            unknown_order_grace_s=3.0,
        )
        live = LiveRig(fake, binance, market, books, journal, breaker, executor)
        bus.listen(live.events.append)
        live.refresh_books()
        yield live


def leg(trade: TradeView, role: str) -> Any:
    return next(x for x in trade.legs if x.role == role)


async def test_normal_trade_places_and_queries_through_ccxt(rig: LiveRig) -> None:
    trade = await rig.trade(0.05)
    assert trade.status == TradeStatus.COMPLETED, trade.reason
    sell = leg(trade, "sell")
    placed = rig.bin_order(sell.client_order_id)
    # what ccxt sent: our client id, IOC, amount and price rounded to the venue's step and tick
    assert placed["timeInForce"] == "IOC" and placed["type"] == "LIMIT"
    assert Decimal(placed["origQty"]) == trade.amount == Decimal("0.05")
    assert Decimal(placed["price"]) % Decimal(str(rig.fake.books[SYMBOL].tick_size)) == 0
    fetched = await rig.binance.fetch_order(placed["orderId"], SYMBOL)
    assert fetched["clientOrderId"] == sell.client_order_id and fetched["status"] == "closed"
    # exact Decimal from Binance's strings, not ccxt's floats
    assert sell.filled == Decimal(placed["executedQty"])
    assert sell.average == Decimal(placed["cummulativeQuoteQty"]) / Decimal(placed["executedQty"])
    assert trade.realized_pnl == rig.pnl_from_venues(trade)
    assert trade.realized_pnl is not None and trade.realized_pnl > 0
    fills = rig.journal.fills(trade.id)
    assert sum((f.fee for f in fills), ZERO) == trade.fees


async def test_rejection_is_insufficient_funds_and_the_other_leg_is_unwound(
    rig: LiveRig,
) -> None:
    rig.desk.reject_next()  # -2010
    trade = await rig.trade(0.03)
    sell = leg(trade, "sell")
    assert sell.status == "rejected" and "InsufficientFunds" in sell.error
    unwind = leg(trade, "unwind")
    assert (unwind.venue, unwind.side, unwind.filled) == (SIM, "sell", trade.amount)
    assert trade.status == TradeStatus.HEDGED and trade.residual == 0
    assert trade.unwind_cost > 0
    assert trade.realized_pnl == rig.pnl_from_venues(trade)


async def test_partial_fill_on_a_thin_book_then_unwind(rig: LiveRig) -> None:
    opp = rig.opportunity(0.05)
    book = rig.fake.books[SYMBOL]
    best = max(book.bids)
    book.bids.clear()  # liquidity left after our snapshot: 0.02 at the top, then far away
    book.bids.update({best: 0.02, best - 10_000: 5.0})
    result = await rig.executor.execute(opp)
    assert isinstance(result, TradeView)
    sell = leg(result, "sell")
    assert sell.filled == Decimal("0.02") and sell.status == "expired"  # IOC rest expired
    unwind = leg(result, "unwind")
    assert (unwind.venue, unwind.side, unwind.filled) == (SIM, "sell", Decimal("0.03"))
    assert result.status == TradeStatus.HEDGED and result.residual == 0
    assert result.realized_pnl == rig.pnl_from_venues(result)


async def test_placement_timeout_then_lookup_finds_it_with_fees(rig: LiveRig) -> None:
    # The sell is processed 0.6 s after it was sent: after the 0.3 s leg timeout and after
    # the first lookup by client id. The lookups find it; Binance's query answer has no fills,
    # so the fees come from myTrades.
    rig.desk.place_delay_s = 0.6
    trade = await rig.trade(0.04)
    sell = leg(trade, "sell")
    assert "send outcome unknown" in sell.error and "found on lookup" in sell.error
    placed = rig.bin_order(sell.client_order_id)
    assert sell.filled == Decimal(placed["executedQty"]) == trade.amount
    commissions = [Decimal(t["commission"]) for t in rig.desk.trades]
    assert commissions and sell.fee == sum(commissions, ZERO) > 0
    lookups = [p for m, p in rig.desk.requests if m == "GET /api/v3/order"]
    assert len(lookups) >= 2 and all(p.get("origClientOrderId") for p in lookups)
    assert any(m == "GET /api/v3/myTrades" for m, _ in rig.desk.requests)
    assert trade.status == TradeStatus.COMPLETED, trade.reason
    assert trade.realized_pnl == rig.pnl_from_venues(trade)


async def test_all_requests_slow_timeout_then_lookup(rig: LiveRig) -> None:
    # order_delay_s slows every request (balances and lookups too): the placement outlives
    # the 0.3 s leg timeout, the lookup (itself slow) finds it; never assumed filled.
    opp = rig.opportunity(0.02)
    rig.desk.order_delay_s = 0.4
    result = await rig.executor.execute(opp)
    rig.desk.order_delay_s = 0.0
    assert isinstance(result, TradeView), result
    sell = leg(result, "sell")
    assert sell.error.startswith("send outcome unknown (TimeoutError")
    placed = rig.bin_order(sell.client_order_id)
    assert sell.filled == Decimal(placed["executedQty"]) == result.amount
    assert result.status == TradeStatus.COMPLETED, result.reason
    assert result.realized_pnl == rig.pnl_from_venues(result)


async def test_venue_minimums_come_from_ccxt_markets(rig: LiveRig) -> None:
    market = rig.binance.market(SYMBOL)
    assert market["limits"]["amount"]["min"] == pytest.approx(0.0001)
    assert market["limits"]["cost"]["min"] == pytest.approx(5.0)
    with pytest.raises(Refused, match="below the venue minimum 5"):
        Executor._check_minimums(rig.binance, SYMBOL, 0.0001, 30_000.0)
    assert rig.binance.amount_to_precision(SYMBOL, 0.123456789) == "0.1234"


@pytest.mark.parametrize("cancel_on_kill", [True, False])
async def test_kill_switch_cancels_an_order_in_flight(rig: LiveRig, cancel_on_kill: bool) -> None:
    rig.executor.execution.cancel_on_kill = cancel_on_kill
    best_bid = max(rig.fake.books[SYMBOL].bids) * rig.fake.books[SYMBOL].tick_size
    price = rig.binance.price_to_precision(SYMBOL, best_bid * 0.95)  # rests: far below
    record = rig.executor.legs.new_order(
        client_order_id="arb-kill-b",
        trade_id="t-kill",
        role="buy",
        venue=BIN,
        symbol=SYMBOL,
        side="buy",
        type="limit",
        amount="0.01",
        price=str(price),
    )
    deadline_s = 20.0 if cancel_on_kill else 1.0
    started = time.monotonic()
    running = asyncio.create_task(
        rig.executor.legs.run(
            rig.binance, record, timeout_s=deadline_s, params={"timeInForce": "GTC"}
        )
    )
    while not any(o["clientOrderId"] == "arb-kill-b" for o in rig.desk.orders.values()):
        await asyncio.sleep(0.01)
    assert rig.bin_order("arb-kill-b")["status"] == "NEW"
    rig.breaker.kill("trader pressed K")
    assert any(isinstance(e, KillSwitchToggled) and e.active for e in rig.events)
    if not cancel_on_kill:
        await asyncio.sleep(0.3)
        assert rig.bin_order("arb-kill-b")["status"] == "NEW"  # left alone by the switch
    outcome = await running
    elapsed = time.monotonic() - started
    # cancelled by the switch long before its 20 s deadline, or by the leg at its 1 s deadline
    assert elapsed < 5.0 if cancel_on_kill else elapsed >= 1.0
    assert outcome.order.status is OrderStatus.CANCELED and outcome.filled == 0
    assert rig.bin_order("arb-kill-b")["status"] == "CANCELED"
    assert any(m == "DELETE /api/v3/order" for m, _ in rig.desk.requests)
    stored = rig.journal.order("arb-kill-b")
    assert stored is not None and stored.status is OrderStatus.CANCELED
    sub = await rig.executor.submit(rig.opportunity(0.02))
    assert not sub.accepted and "kill switch" in sub.reason


async def test_restart_reconcile_cancels_a_resting_order(rig: LiveRig, tmp_path: Path) -> None:
    # A GTC order left resting by a process that died: journaled as open, found open on the
    # venue at restart, cancelled there, and its trade shown as needing attention.
    best_bid = max(rig.fake.books[SYMBOL].bids) * rig.fake.books[SYMBOL].tick_size
    price = rig.binance.price_to_precision(SYMBOL, best_bid * 0.95)
    journal = Journal(tmp_path / "restart.sqlite3")
    journal.insert_trade(
        TradeRecord(
            id="t-rest",
            opportunity_id="o-rest",
            symbol=SYMBOL,
            buy_venue=BIN,
            sell_venue=SIM,
            amount=Decimal("0.01"),
            status=TradeStatus.SENDING,
            started_at=time.time(),
        )
    )
    runner = LegRunner(journal)
    record = runner.new_order(
        client_order_id="arb-rest-b",
        trade_id="t-rest",
        role="buy",
        venue=BIN,
        symbol=SYMBOL,
        side="buy",
        type="limit",
        amount="0.01",
        price=str(price),
    )
    placed = await rig.binance.create_order(
        SYMBOL, "limit", "buy", 0.01, float(price), {"clientOrderId": "arb-rest-b"}
    )
    assert placed["status"] == "open"
    # the dead process got as far as recording the acknowledgement
    journal.update_order(replace(record, status=OrderStatus.OPEN, venue_order_id=placed["id"]))
    usdt_free = (await rig.binance.fetch_balance())["USDT"]["free"]

    report = await reconcile(journal, {BIN: rig.binance, SIM: rig.market.exchange(SIM)})
    assert [o.status for o in report.orders] == [OrderStatus.CANCELED]
    assert rig.bin_order("arb-rest-b")["status"] == "CANCELED"
    assert (await rig.binance.fetch_balance())["USDT"]["free"] > usdt_free  # lock released
    assert [t.id for t in report.trades] == ["t-rest"]
    after = journal.trade("t-rest")
    assert after is not None and after.status == TradeStatus.NEEDS_ATTENTION
    assert journal.open_orders() == []
