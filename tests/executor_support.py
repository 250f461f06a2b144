"""Shared set-up for the executor tests: a sim market with two venues, books, an executor."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.book import OrderBook
from core.bus import EventBus
from core.detect.model import Opportunity, new_opportunity_id
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

SYMBOL = "BTC/USDT"
CHEAP, DEAR = "simex", "simbit"


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
        buy_book, sell_book = self.books[SYMBOL][CHEAP], self.books[SYMBOL][DEAR]
        buy_vwap, _ = buy_book.vwap_for_quantity(True, size)
        sell_vwap, _ = sell_book.vwap_for_quantity(False, size)
        fees = buy_vwap * size * 0.001 + sell_vwap * size * 0.00075
        gross = (sell_vwap - buy_vwap) * size
        now = time.time()
        return Opportunity(
            id=new_opportunity_id(),
            symbol=SYMBOL,
            buy_venue=CHEAP,
            sell_venue=DEAR,
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
    thresholds = ThresholdSettings(min_profit_bps=1.0, min_profit_usd=0.01, max_slippage_bps=30.0)
    risk = risk or RiskSettings()
    breaker = CircuitBreaker(risk, thresholds, journal=journal, bus=bus)
    executor = Executor(
        ExecutionSettings(leg_timeout_s=leg_timeout_s),
        risk,
        thresholds,
        exchanges={v.name: market.exchange(v.name) for v in venues},
        books=books,
        journal=journal,
        breaker=breaker,
        bus=bus,
        poll_interval_s=0.01,
        unknown_order_grace_s=unknown_order_grace_s,
    )
    rig = Rig(market, books, journal, breaker, executor, bus)
    bus.listen(rig.events.append)
    rig.refresh_books()
    return rig
