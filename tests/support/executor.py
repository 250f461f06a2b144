"""Shared set-up for the executor tests: a sim market with two venues, books, an executor."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ccxt.pro

from core.book import OrderBook
from core.bus import EventBus
from core.detect.opportunity import Opportunity, new_opportunity_id
from core.events import Event
from core.execute.executor import Executor
from core.feeds.sim.market import SimMarket
from core.journal import Journal
from core.risk import CircuitBreaker
from core.settings import (
    ExecutionSettings,
    RiskSettings,
    SimSettings,
    ThresholdSettings,
    VenueKind,
    VenueSettings,
)
from tests.fakes.binance import FakeBinance
from tests.fakes.binance_extra import fake_binance_extra

SYMBOL = "BTC/USDT"
CHEAP, DEAR = "simex", "simbit"
BIN = "binance"


def book_opportunity(
    books: dict[str, OrderBook],
    buy_venue: str,
    sell_venue: str,
    size: float,
    fees_of: Callable[[float, float], float],
    ttl_s: float,
) -> Opportunity:
    """An opportunity to buy `size` on `buy_venue` and sell it on `sell_venue` at the books'
    current depth; `fees_of(buy_vwap, sell_vwap)` is its fee estimate."""
    buy_vwap, _ = books[buy_venue].vwap_for_quantity(True, size)
    sell_vwap, _ = books[sell_venue].vwap_for_quantity(False, size)
    fees = fees_of(buy_vwap, sell_vwap)
    gross = (sell_vwap - buy_vwap) * size
    now = time.time()
    return Opportunity(
        id=new_opportunity_id(),
        symbol=SYMBOL,
        buy_venue=buy_venue,
        sell_venue=sell_venue,
        size=size,
        buy_vwap=buy_vwap,
        sell_vwap=sell_vwap,
        gross_profit=gross,
        fees=fees,
        net_profit=gross - fees,
        net_bps=(gross - fees) / (buy_vwap * size) * 1e4,
        net_profit_usd=gross - fees,
        detected_at=now,
        expires_at=now + ttl_s,
    )


def make_executor(
    exchanges: dict[str, Any],
    books: dict[str, dict[str, OrderBook]],
    journal: Journal,
    bus: EventBus,
    *,
    leg_timeout_s: float,
    poll_interval_s: float,
    unknown_order_grace_s: float,
    risk: RiskSettings | None = None,
) -> tuple[CircuitBreaker, Executor]:
    """The executor every executor test runs: 1 bps / 0.01 USD minimum, 30 bps slippage."""
    thresholds = ThresholdSettings(min_profit_bps=1.0, min_profit_usd=0.01, max_slippage_bps=30.0)
    risk = risk or RiskSettings()
    breaker = CircuitBreaker(risk, thresholds, journal=journal, bus=bus)
    executor = Executor(
        ExecutionSettings(leg_timeout_s=leg_timeout_s),
        risk,
        thresholds,
        exchanges=exchanges,
        books=books,
        journal=journal,
        breaker=breaker,
        bus=bus,
        poll_interval_s=poll_interval_s,
        unknown_order_grace_s=unknown_order_grace_s,
    )
    return breaker, executor


@asynccontextmanager
async def sim_and_binance(
    latency_ms: int, binance_price: Callable[[SimMarket], float], **fake: Any
) -> AsyncIterator[tuple[SimMarket, FakeBinance, Any]]:
    """The sim venue CHEAP and the fake Binance on loopback (frozen: its book holds still
    between our snapshot and our orders) at `binance_price(market)`, reached through the real
    ccxt.pro `binance` class with dummy keys: (market, fake, ccxt binance)."""
    venues = [VenueSettings(name=CHEAP, kind=VenueKind.SIM, taker_fee_bps=10.0, symbols=[SYMBOL])]
    market = SimMarket(
        SimSettings(seed=3, latency_ms=latency_ms, dislocation_rate_per_min=0.0),
        venues,
        start_ms=1_700_000_000_000,
    )
    market.step()
    async with fake_binance_extra(symbols={SYMBOL: binance_price(market)}, **fake) as fake_bin:
        fake_bin.frozen = True
        binance = ccxt.pro.binance(fake_bin.ccxt_options(keys=True))
        try:
            await binance.load_markets()
            yield market, fake_bin, binance
        finally:
            await binance.close()


def refresh_sim_and_binance(
    books: dict[str, dict[str, OrderBook]], market: SimMarket, fake: FakeBinance
) -> None:
    now = time.time()
    sim = market.book(CHEAP, SYMBOL)
    books[SYMBOL][CHEAP].apply_snapshot(sim.bids, sim.asks, received_at=now)
    bids, asks = fake.books[SYMBOL].levels()
    books[SYMBOL][BIN].apply_snapshot(bids, asks, received_at=now)


@dataclass
class Rig:
    market: SimMarket
    books: dict[str, dict[str, OrderBook]]
    journal: Journal
    breaker: CircuitBreaker
    executor: Executor
    bus: EventBus
    events: list[Event] = field(default_factory=list)

    def refresh_books(self) -> None:
        now = time.time()
        for venue, book in self.books[SYMBOL].items():
            sim = self.market.book(venue, SYMBOL)
            book.apply_snapshot(sim.bids, sim.asks, received_at=now)

    def opportunity(self, size: float = 0.05, ttl_s: float = 5.0) -> Opportunity:
        """Buy on CHEAP, sell on DEAR at the books' current depth (after a dislocation)."""
        self.refresh_books()
        return book_opportunity(
            self.books[SYMBOL],
            CHEAP,
            DEAR,
            size,
            lambda buy, sell: buy * size * 0.001 + sell * size * 0.00075,
            ttl_s,
        )

    def exchange(self, name: str) -> Any:
        return self.market.exchange(name)


def make_rig(
    tmp_path: Path,
    *,
    leg_timeout_s: float = 2.0,
    risk: RiskSettings | None = None,
    latency_ms: int = 20,
    dislocation_bps: float = -60.0,
    unknown_order_grace_s: float = 0.3,
) -> Rig:
    venues = [
        VenueSettings(name=CHEAP, kind=VenueKind.SIM, taker_fee_bps=10.0, symbols=[SYMBOL]),
        VenueSettings(name=DEAR, kind=VenueKind.SIM, taker_fee_bps=7.5, symbols=[SYMBOL]),
    ]
    market = SimMarket(
        SimSettings(seed=3, latency_ms=latency_ms, dislocation_rate_per_min=0.0),
        venues,
        start_ms=1_700_000_000_000,
    )
    market.dislocate(CHEAP, SYMBOL, dislocation_bps, hold_s=600.0)
    market.step()
    books = {SYMBOL: {v.name: OrderBook(v.name, SYMBOL) for v in venues}}
    journal = Journal(tmp_path / "journal.sqlite3")
    bus = EventBus()
    breaker, executor = make_executor(
        {v.name: market.exchange(v.name) for v in venues},
        books,
        journal,
        bus,
        leg_timeout_s=leg_timeout_s,
        poll_interval_s=0.01,
        unknown_order_grace_s=unknown_order_grace_s,
        risk=risk,
    )
    rig = Rig(market, books, journal, breaker, executor, bus)
    bus.listen(rig.events.append)
    rig.refresh_books()
    return rig
