"""What the executor keeps per trade, and the frozen views of it the console reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from core.records import FillRecord, OrderRecord, OrderStatus, TradeStatus

ZERO = Decimal(0)


class Venue(Protocol):
    """The subset of the ccxt unified API the executor uses (ccxt.pro, SimExchange, paper)."""

    id: str

    def market(self, symbol: str) -> dict[str, Any]: ...
    def amount_to_precision(self, symbol: str, amount: Any) -> Any: ...
    def price_to_precision(self, symbol: str, price: Any) -> Any: ...
    async def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]: ...
    async def fetch_order(
        self, id: str, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]: ...
    async def cancel_order(
        self, id: str, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> Any: ...
    async def fetch_balance(self, params: dict[str, Any] | None = None) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class LegOutcome:
    """A leg's final (or last known) order state and the fills it produced."""

    order: OrderRecord
    fills: tuple[FillRecord, ...]

    @property
    def known(self) -> bool:
        return self.order.status.final

    @property
    def filled(self) -> Decimal:
        return self.order.filled


@dataclass(frozen=True, slots=True)
class LegView:
    client_order_id: str
    role: str
    venue: str
    side: str
    type: str
    amount: Decimal
    price: Decimal | None
    status: str
    filled: Decimal
    average: Decimal | None
    fee: Decimal
    fee_currency: str | None
    error: str
    symbol: str = ""
    submission: str = ""  # on-chain legs: "public" or "relay"
    target_blocks: tuple[int, ...] = ()
    landed_block: int | None = None


@dataclass(frozen=True, slots=True)
class TradeView:
    """One trade as the console shows it: legs, state, fills, realized PnL."""

    id: str
    opportunity_id: str
    symbol: str
    buy_venue: str
    sell_venue: str
    amount: Decimal
    status: str
    reason: str
    started_at: float
    finished_at: float | None
    legs: tuple[LegView, ...]
    realized_pnl: Decimal | None
    realized_pnl_usd: Decimal | None
    fees: Decimal
    volume: Decimal
    unwind_cost: Decimal
    residual: Decimal
    detected_net_profit: float
    dust: Decimal = ZERO
    """Base left over that is below every order the venue accepts (e.g. a buy fee charged in
    the base currency); included in `realized_pnl`, valued in `dust_value`. Signed as
    `residual`."""
    dust_value: Decimal = ZERO
    """|dust| valued in quote at the average price of the leg that created it."""


@dataclass(slots=True)
class Trade:
    """Working state of one trade (mutable; only the executor touches it)."""

    id: str
    opportunity: Any
    symbol: str
    buy_venue: str
    sell_venue: str
    amount: Decimal
    buy_price: Decimal
    sell_price: Decimal
    started_at: float
    status: TradeStatus = TradeStatus.SENDING
    reason: str = ""
    finished_at: float | None = None
    orders: dict[str, OrderRecord] = field(default_factory=dict)  # client id -> latest
    fills: list[FillRecord] = field(default_factory=list)
    realized_pnl: Decimal | None = None
    realized_pnl_usd: Decimal | None = None
    fees: Decimal = ZERO
    volume: Decimal = ZERO
    unwind_cost: Decimal = ZERO
    residual: Decimal = ZERO
    dust: Decimal = ZERO
    dust_value: Decimal = ZERO

    def view(self) -> TradeView:
        return TradeView(
            id=self.id,
            opportunity_id=self.opportunity.id,
            symbol=self.symbol,
            buy_venue=self.buy_venue,
            sell_venue=self.sell_venue,
            amount=self.amount,
            status=str(self.status),
            reason=self.reason,
            started_at=self.started_at,
            finished_at=self.finished_at,
            legs=tuple(_leg_view(o) for o in self.orders.values()),
            realized_pnl=self.realized_pnl,
            realized_pnl_usd=self.realized_pnl_usd,
            fees=self.fees,
            volume=self.volume,
            unwind_cost=self.unwind_cost,
            residual=self.residual,
            detected_net_profit=float(self.opportunity.net_profit),
            dust=self.dust,
            dust_value=self.dust_value,
        )


def _leg_view(o: OrderRecord) -> LegView:
    return LegView(
        client_order_id=o.client_order_id,
        role=o.role,
        venue=o.venue,
        side=o.side,
        type=o.type,
        amount=o.amount,
        price=o.price,
        status=str(o.status),
        filled=o.filled,
        average=o.average,
        fee=o.fee,
        fee_currency=o.fee_currency,
        error=o.error,
        symbol=o.symbol,
        submission=o.submission,
        target_blocks=o.target_blocks,
        landed_block=o.landed_block,
    )


@dataclass(frozen=True, slots=True)
class Submission:
    """The executor's answer to `submit`: started (with its trade id) or refused (why)."""

    accepted: bool
    reason: str
    trade_id: str | None = None


@dataclass(frozen=True, slots=True)
class ExecutorStats:
    opportunities: int  # submitted to the executor
    refused: int
    executed: int  # trades started (legs sent)
    successful: int  # both legs filled in full
    failed: int  # anything else that finished (failed, hedged, needs attention)
    volume: Decimal  # quote notional of every fill, both legs and unwinds
    profit: Decimal  # sum of realized PnL (quote units summed as they are)
    profit_usd: Decimal
    fees: Decimal
    avg_profit_per_trade: Decimal
    avg_execution_s: float
    success_rate: float  # successful / finished


FINAL_FAILED_STATES = (OrderStatus.REJECTED, OrderStatus.NOT_FOUND, OrderStatus.EXPIRED)
