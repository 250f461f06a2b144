"""A deterministic stand-in for core.engine.engine.Engine, for console tests and snapshots.

Real OrderBooks, the real EventBus, real Opportunity records and the real settings editor;
trading is modelled just enough for the console's flows (approve makes a trade, kill / resume
flip a flag). A frozen clock makes every TTL and age the same on every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.book import OrderBook
from core.bus import EventBus
from core.detect.opportunity import Opportunity
from core.detect.top_of_book import spread_rows
from core.events import EngineMessage, FeedState, KillSwitchToggled, OpportunityExpired
from core.execute.trades import LegView, TradeView
from core.settings import Settings
from core.settings_edit import EditableField, SettingChange, apply_setting, editable_fields
from core.trade_stats import TradeStats

T0 = 1_763_712_000.0  # 2025-11-21 08:00:00 UTC
VENUES = ("simex", "simbit", "simkra")
SYMBOLS = ("BTC/USDT", "ETH/USDT", "ETH/BTC")
MIDS = {"BTC/USDT": 65_000.0, "ETH/USDT": 3_200.0, "ETH/BTC": 0.0492}
FEES = {"simex": 10.0, "simbit": 7.5, "simkra": 16.0}


@dataclass(frozen=True)
class FeedStatus:
    """Same fields as core.engine.engine.FeedStatus (not imported: the fake needs no engine)."""

    venue: str
    symbol: str
    state: FeedState
    reason: str
    last_update_at: float


@dataclass
class FakeLeg:
    role: str
    venue: str
    side: str
    amount: Decimal
    filled: Decimal
    average: Decimal | None
    status: str


@dataclass
class FakeTrade:
    id: str
    opportunity: Opportunity
    state: str
    legs: list[FakeLeg]
    realized_pnl: Decimal | None
    started_at: float
    finished_at: float | None = None


@dataclass
class Clock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeEngine:
    settings: Settings = field(default_factory=Settings)
    clock: Clock = field(default_factory=Clock)

    def __post_init__(self) -> None:
        self.bus = EventBus()
        self.venues = list(VENUES)
        self.symbols = list(SYMBOLS)
        self.books: dict[str, dict[str, OrderBook]] = {}
        self.opportunities: dict[str, Opportunity] = {}
        self.trades: list[FakeTrade] = []
        self.killed = False
        self.auto_execute = self.settings.execution.auto_execute
        self.started = False
        self.stopped = False
        self.theme_saved: str | None = None
        self.approved: list[str] = []
        self.lending: object | None = None  # set to anything to run the watchlist
        self.watchlist: list[Any] = []
        self.figures = TradeStats()  # what the real engine caches from its journal
        for s_i, symbol in enumerate(SYMBOLS):
            for v_i, venue in enumerate(VENUES):
                self.books.setdefault(symbol, {})[venue] = self._book(symbol, venue, s_i, v_i)
        self.add_opportunity("BTC/USDT", "simbit", "simex", 0.25, 64_990.0, 65_040.0, 4.1, 6.9)
        self.add_opportunity("ETH/USDT", "simex", "simkra", 3.0, 3_199.0, 3_202.6, 3.2, 3.1)

    def _book(self, symbol: str, venue: str, s_i: int, v_i: int) -> OrderBook:
        mid = MIDS[symbol] * (1 + (v_i - 1) * 0.0004)
        if (symbol, venue) == ("BTC/USDT", "simkra"):
            mid *= 1.0035  # a dislocation: buying elsewhere and selling here clears the fees
        tick = MIDS[symbol] * 0.00005
        book = OrderBook(venue, symbol)
        bids = [(mid - tick * (i + 1), 0.1 + ((i * 7 + v_i * 3 + s_i) % 11) / 4) for i in range(15)]
        asks = [(mid + tick * (i + 1), 0.1 + ((i * 5 + v_i * 2 + s_i) % 9) / 3) for i in range(15)]
        book.apply_snapshot(bids, asks, sequence=1, received_at=T0 - 0.2 - v_i * 0.3)
        return book

    def add_opportunity(
        self,
        symbol: str,
        buy: str,
        sell: str,
        size: float,
        buy_px: float,
        sell_px: float,
        bps: float,
        usd: float,
        ttl_s: float = 4.0,
    ) -> Opportunity:
        opp = Opportunity(
            id=f"op{len(self.opportunities) + 1}",
            symbol=symbol,
            buy_venue=buy,
            sell_venue=sell,
            size=size,
            buy_vwap=buy_px,
            sell_vwap=sell_px,
            gross_profit=usd * 1.5,
            fees=usd * 0.5,
            net_profit=usd,
            net_bps=bps,
            net_profit_usd=usd,
            detected_at=self.clock(),
            expires_at=self.clock() + ttl_s,
        )
        self.opportunities[opp.id] = opp
        return opp

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self.started = True
        self.bus.publish(EngineMessage("INFO", "engine started in sim mode", at=self.clock()))

    async def stop(self) -> None:
        self.stopped = True

    # -- reads ----------------------------------------------------------------------------

    def spread_rows(self) -> list[Any]:
        stale = self.settings.thresholds.stale_after_ms / 1000
        return spread_rows(self.books, FEES, self.clock(), stale)

    def pending_opportunities(self) -> list[Opportunity]:
        now = self.clock()
        return [o for o in self.opportunities.values() if o.expires_at > now]

    def feed_status(self) -> list[FeedStatus]:
        return [
            FeedStatus(v, s, FeedState.LIVE, "", self.books[s][v].received_at)
            for v in self.venues
            for s in self.symbols
        ]

    def venue_health(self) -> dict[str, FeedState]:
        return {v: (FeedState.STALE if v == "simkra" else FeedState.LIVE) for v in self.venues}

    def breaker_state(self) -> str:
        return "OPEN" if self.killed else "CLOSED"

    def pnl_today_usd(self) -> Decimal:
        return sum((t.realized_pnl or Decimal(0) for t in self.trades), start=Decimal("12.34"))

    def active_trades(self) -> list[TradeView]:
        return [trade_view(t) for t in self.trades if t.finished_at is None]

    def finished_trades(self) -> list[TradeView]:
        return [trade_view(t) for t in self.trades if t.finished_at is not None]

    def stats(self) -> dict[str, Any]:
        return {"opportunities": len(self.opportunities), "trades": len(self.trades)}

    def trade_stats(self) -> TradeStats:
        return self.figures

    def liquidation_watchlist(self) -> list[Any]:
        return list(self.watchlist)

    def in_flight(self) -> int:
        return sum(1 for t in self.trades if t.finished_at is None)

    # -- commands -------------------------------------------------------------------------

    async def approve(self, opportunity_id: str) -> str:
        if any(row.opportunity_id == opportunity_id for row in self.watchlist):
            self.approved.append(opportunity_id)
            return f"liquidation {opportunity_id} sent"
        opp = self.opportunities.pop(opportunity_id, None)
        if opp is None:
            return f"{opportunity_id}: no longer pending"
        if self.killed:
            return f"{opportunity_id}: refused, kill switch engaged"
        self.approved.append(opportunity_id)
        amount = Decimal(str(opp.size))
        legs = [
            FakeLeg(
                "buy", opp.buy_venue, "buy", amount, amount, Decimal(str(opp.buy_vwap)), "closed"
            ),
            FakeLeg("sell", opp.sell_venue, "sell", amount, amount / 2, None, "open"),
        ]
        self.trades.append(
            FakeTrade(f"t{len(self.trades) + 1}", opp, "legging", legs, None, self.clock())
        )
        return f"trade t{len(self.trades)} started for {opp.symbol}"

    def reject(self, opportunity_id: str) -> None:
        if self.opportunities.pop(opportunity_id, None) is not None:
            self.bus.publish(OpportunityExpired(opportunity_id, "rejected", at=self.clock()))

    def set_auto_execute(self, on: bool) -> None:
        self.auto_execute = on

    def kill(self, reason: str = "kill switch pressed") -> None:
        self.killed = True
        self.bus.publish(KillSwitchToggled(True, "manual", at=self.clock()))

    def resume(self) -> None:
        self.killed = False
        self.bus.publish(KillSwitchToggled(False, "manual", at=self.clock()))

    def editable_settings(self) -> list[EditableField]:
        return editable_fields(self.settings)

    def update_setting(self, path: str, raw: Any) -> SettingChange:
        return apply_setting(self.settings, path, raw)

    async def change_setting(self, path: str, raw: Any) -> SettingChange:
        return self.update_setting(path, raw)

    async def save_theme(self, name: str) -> Path | None:
        self.theme_saved = name
        self.settings.ui.theme = name
        return None

    def finish(self, trade_id: str, pnl: str) -> None:
        for trade in self.trades:
            if trade.id == trade_id:
                trade.state = "filled"
                trade.realized_pnl = Decimal(pnl)
                trade.finished_at = self.clock()
                for leg in trade.legs:
                    leg.filled, leg.status = leg.amount, "closed"
                    leg.average = leg.average or Decimal(str(trade.opportunity.sell_vwap))


def trade_view(t: FakeTrade) -> TradeView:
    """The executor's view of a fake trade, so the door reads it as it reads a real one."""
    o = t.opportunity
    legs = tuple(
        LegView(
            client_order_id=f"{t.id}-{leg.role}",
            role=leg.role,
            venue=leg.venue,
            side=leg.side,
            type="limit",
            amount=leg.amount,
            price=None,
            status=leg.status,
            filled=leg.filled,
            average=leg.average,
            fee=Decimal(0),
            fee_currency=None,
            error="",
        )
        for leg in t.legs
    )
    return TradeView(
        id=t.id,
        opportunity_id=o.id,
        symbol=o.symbol,
        buy_venue=o.buy_venue,
        sell_venue=o.sell_venue,
        amount=Decimal(str(o.size)),
        status=t.state,
        reason="",
        started_at=t.started_at,
        finished_at=t.finished_at,
        legs=legs,
        realized_pnl=t.realized_pnl,
        realized_pnl_usd=None,
        fees=Decimal(0),
        volume=Decimal(0),
        unwind_cost=Decimal(0),
        residual=Decimal(0),
        detected_net_profit=float(o.net_profit),
    )
