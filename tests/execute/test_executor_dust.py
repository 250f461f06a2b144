"""Fee dust: Binance charges a buy's fee in the base currency, so the buy leg delivers a little
less than the sell leg sells. A residual too small for any order the venue accepts is dust: the
trade still finishes `completed`, the dust is reported (amount and quote value) and counted in
the realized PnL; a residual big enough to trade is flattened as before.

Real ccxt.pro `binance` (dummy keys) against the fake Binance on loopback buys; the sim venue
sells. PnL is checked exactly against the venues' own decimal strings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.book import OrderBook
from core.bus import EventBus
from core.detect.opportunity import Opportunity
from core.execute.executor import Executor
from core.execute.trades import TradeView
from core.feeds.sim.market import SimMarket
from core.journal import Journal
from core.records import TradeStatus
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
class Rig:
    fake: FakeBinance
    binance: Any
    market: SimMarket
    books: dict[str, dict[str, OrderBook]]
    journal: Journal
    executor: Executor

    @property
    def desk(self) -> ExtraDesk:
        assert isinstance(self.fake.desk, ExtraDesk)
        return self.fake.desk

    def refresh_books(self) -> None:
        refresh_sim_and_binance(self.books, self.market, self.fake)

    def opportunity(self, size: float) -> Opportunity:
        """Buy on binance (cheaper), sell on the sim venue."""
        self.refresh_books()
        return book_opportunity(
            self.books[SYMBOL], BIN, SIM, size, lambda b, s: (b + s) * size * 0.001, 10.0
        )

    async def trade(self, size: float) -> TradeView:
        result = await self.executor.execute(self.opportunity(size))
        assert isinstance(result, TradeView), result
        return result

    def pnl_from_venues(self, trade: TradeView) -> tuple[Decimal, Decimal]:
        """(quote cash flow net of quote fees, base fees) from the venues' own strings."""
        cash = base_fees = ZERO
        for leg in trade.legs:
            if leg.venue == BIN:
                order = next(
                    o
                    for o in self.desk.orders.values()
                    if o["clientOrderId"] == leg.client_order_id
                )
                cost = Decimal(order["cummulativeQuoteQty"])
                for fill in (t for t in self.desk.trades if t["orderId"] == order["orderId"]):
                    if fill["commissionAsset"] == "BTC":
                        base_fees += Decimal(fill["commission"])
                    else:
                        cash -= Decimal(fill["commission"])
            else:
                info = self.market.exchange(SIM)._by_client_id[leg.client_order_id].to_ccxt()
                cost = Decimal(info["info"]["cost"])
                cash -= Decimal(info["info"]["fee"])  # the sim charges quote
            cash += cost if leg.side == "sell" else -cost
        return cash, base_fees


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    # The fake Binance trades 80 bps below the sim venue: buy on binance, sell on the sim.
    def price(market: SimMarket) -> float:
        return round(market.book(SIM, SYMBOL).bids[0][0] * 0.992)

    balances = {"USDT": 1_000_000.0, "BTC": 10.0}
    async with sim_and_binance(5, price, balances=balances) as (market, fake, binance):
        books = {SYMBOL: {SIM: OrderBook(SIM, SYMBOL), BIN: OrderBook(BIN, SYMBOL)}}
        journal = Journal(tmp_path / "journal.sqlite3")
        _, executor = make_executor(
            {SIM: market.exchange(SIM), BIN: binance},
            books,
            journal,
            EventBus(),
            leg_timeout_s=0.5,
            poll_interval_s=0.02,
            unknown_order_grace_s=1.0,
        )
        yield Rig(fake, binance, market, books, journal, executor)
        journal.close()


def leg(trade: TradeView, role: str) -> Any:
    return next(x for x in trade.legs if x.role == role)


async def test_base_fee_dust_completes_and_is_reported_in_the_pnl(rig: Rig) -> None:
    # 0.05 BTC bought, 10 bps fee in BTC: 0.00005 BTC short, ~4.8 USDT < the sim's 5 USDT
    # minimum notional, so it cannot be bought back: dust.
    trade = await rig.trade(0.05)
    buy, sell = leg(trade, "buy"), leg(trade, "sell")
    assert (buy.venue, buy.fee_currency, buy.fee) == (BIN, "BTC", Decimal("0.00005"))
    assert buy.filled == sell.filled == trade.amount == Decimal("0.05")
    assert trade.status == TradeStatus.COMPLETED, trade.reason
    assert not [x for x in trade.legs if x.role == "unwind"]  # nothing the venue would take
    assert trade.residual == trade.dust == Decimal("-0.00005")
    assert sell.average is not None
    assert trade.dust_value == Decimal("0.00005") * sell.average  # valued at the sell VWAP
    assert "dust -0.00005" in trade.reason and "minimum notional" in trade.reason
    # Realized PnL = the venues' quote cash flows minus the dust (the base fee) at the sell VWAP.
    cash, base_fees = rig.pnl_from_venues(trade)
    assert base_fees == Decimal("0.00005")
    assert trade.realized_pnl == cash - trade.dust_value
    # The journal says the same: completed, residual kept, not hidden.
    (record,) = rig.journal.trades()
    assert record.status == TradeStatus.COMPLETED
    assert record.residual == Decimal("-0.00005") and "dust" in record.reason
    assert record.realized_pnl == trade.realized_pnl
    assert rig.executor.stats().successful == 1


async def test_base_fee_above_the_minimum_is_flattened_not_dust(rig: Rig) -> None:
    # 0.12 BTC: the 0.00012 BTC fee is worth ~11 USDT, above the 5 USDT minimum: bought back.
    trade = await rig.trade(0.12)
    unwind = leg(trade, "unwind")
    assert (unwind.venue, unwind.side, unwind.filled) == (SIM, "buy", Decimal("0.00012"))
    assert trade.residual == 0 and trade.dust == 0 and trade.dust_value == 0
    assert trade.status == TradeStatus.COMPLETED, trade.reason
    cash, base_fees = rig.pnl_from_venues(trade)
    assert base_fees == Decimal("0.00012")
    assert trade.realized_pnl == cash  # the buy-back is in the cash flows


async def test_dust_is_only_what_the_unwinding_venue_cannot_take(rig: Rig) -> None:
    # Short residuals are bought back on the sell venue (the sim: step 0.00001 BTC, 5 USDT min
    # notional), long ones sold on the buy venue (binance: step/min 0.0001 BTC, 5 USDT).
    trade = await rig.trade(0.05)
    working = next(t for t in rig.executor.finished if t.id == trade.id)
    assert "minimum notional" in (rig.executor._dust_reason(working, Decimal("-0.00005")) or "")
    assert rig.executor._dust_reason(working, Decimal("-0.01")) is None
    assert "amount step" in (rig.executor._dust_reason(working, Decimal("-0.000001")) or "")
    assert "amount step on binance" in (
        rig.executor._dust_reason(working, Decimal("0.00005")) or ""
    )
    assert rig.executor._dust_reason(working, Decimal("0.001")) is None
