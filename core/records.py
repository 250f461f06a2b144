"""Trade, order, fill and breaker-event records and their statuses: the plain frozen data
the executor, the risk gate and the journal share."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "pending"  # journaled, not yet acknowledged by the venue
    OPEN = "open"
    CLOSED = "closed"  # fully filled
    CANCELED = "canceled"  # IOC remainder or our cancel; may carry a partial fill
    REJECTED = "rejected"
    EXPIRED = "expired"
    NOT_FOUND = "not_found"  # the venue never saw it (send failed before it arrived)
    UNKNOWN = "unknown"  # we could not learn its state; needs a human
    NOT_INCLUDED = "not_included"  # a relay bundle no target block took: nothing paid

    @property
    def final(self) -> bool:
        return self in _FINAL_ORDER


_FINAL_ORDER = frozenset(
    {
        OrderStatus.CLOSED,
        OrderStatus.CANCELED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
        OrderStatus.NOT_FOUND,
        OrderStatus.NOT_INCLUDED,
    }
)


class TradeStatus(StrEnum):
    SENDING = "sending"  # legs being placed / filled
    UNWINDING = "unwinding"  # a residual position is being flattened
    COMPLETED = "completed"  # both legs filled in full
    HEDGED = "hedged"  # legs filled unequally; the imbalance was unwound
    FAILED = "failed"  # nothing filled (rejected, timed out, ...)
    NEEDS_ATTENTION = "needs_attention"  # a position or an order state a human must check

    @property
    def in_flight(self) -> bool:
        return self in (TradeStatus.SENDING, TradeStatus.UNWINDING)


@dataclass(frozen=True, slots=True)
class OrderRecord:
    client_order_id: str
    trade_id: str
    role: str  # buy | sell | unwind
    venue: str
    symbol: str
    side: str
    type: str
    amount: Decimal
    price: Decimal | None
    status: OrderStatus
    created_at: float
    updated_at: float
    venue_order_id: str | None = None
    filled: Decimal = Decimal(0)
    average: Decimal | None = None
    cost: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    fee_currency: str | None = None
    error: str = ""
    other_fees: tuple[tuple[str, Decimal], ...] = ()
    """Fees charged in other currencies than `fee_currency` on the same order (a venue can
    take part in BNB and part in USDT): (currency, amount) pairs, never summed into `fee`."""
    submission: str = ""
    """On-chain legs: how the transaction went out, "public" (mempool) or "relay" (a private
    bundle); '' for CEX orders."""
    target_blocks: tuple[int, ...] = ()
    """A relay leg's target blocks so far, in the order they were tried."""
    landed_block: int | None = None
    """The block the chain says the transaction is in (from its receipt), None until then."""


@dataclass(frozen=True, slots=True)
class FillRecord:
    client_order_id: str
    trade_id: str
    venue: str
    symbol: str
    side: str
    amount: Decimal
    price: Decimal
    cost: Decimal
    fee: Decimal
    fee_currency: str | None
    at: float


@dataclass(frozen=True, slots=True)
class TradeRecord:
    id: str
    opportunity_id: str
    symbol: str
    buy_venue: str
    sell_venue: str
    amount: Decimal
    status: TradeStatus
    started_at: float
    reason: str = ""
    realized_pnl: Decimal | None = None
    realized_pnl_usd: Decimal | None = None
    fees: Decimal = Decimal(0)
    volume: Decimal = Decimal(0)
    unwind_cost: Decimal = Decimal(0)
    residual: Decimal = Decimal(0)
    finished_at: float | None = None
    legs: tuple[OrderRecord, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class BreakerEventRecord:
    scope: str
    from_state: str
    to_state: str
    cause: str
    reason: str
    at: float
