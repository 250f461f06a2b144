"""Immutable events the core publishes. Named for what happened; the console only reads them.

Times are epoch seconds (float, `time.time()`), `exchange_ts` is the venue's own timestamp
when it sent one (epoch seconds too), `received_at` is our local receive time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any


class FeedState(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    STALE = "stale"  # no update within stale_after_ms / watchdog; never traded on
    RESYNCING = "resyncing"  # sequence gap or crossed book: waiting for a fresh snapshot
    DOWN = "down"  # errors; reconnecting with backoff


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every core event."""

    at: float = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class BookUpdated(Event):
    venue: str
    symbol: str
    best_bid: float | None
    best_ask: float | None
    exchange_ts: float | None
    received_at: float
    sequence: int | None = None


@dataclass(frozen=True, slots=True)
class FeedHealthChanged(Event):
    venue: str
    symbol: str
    state: FeedState
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FeedMessageDropped(Event):
    """A feed message was rejected (malformed, NaN, negative, crossed); the book was kept."""

    venue: str
    symbol: str
    reason: str
    dropped_total: int


@dataclass(frozen=True, slots=True)
class VenueProblem(Event):
    """A venue-level problem: unreachable, unknown symbol, load_markets failed."""

    venue: str
    message: str
    symbol: str | None = None


@dataclass(frozen=True, slots=True)
class OpportunityFound(Event):
    opportunity: (
        Any  # core.detect.opportunity.Opportunity (Any here to keep this module leaf-level)
    )
    refreshed: bool = False  # True when it re-confirms a pending opportunity (same id)


@dataclass(frozen=True, slots=True)
class OpportunityExpired(Event):
    opportunity_id: str
    reason: str = "ttl"


@dataclass(frozen=True, slots=True)
class EngineMessage(Event):
    """A human-readable line for the log pane / headless output."""

    level: str
    text: str


# -- execution and risk (core/execute, core/risk) -----------------------------------------


@dataclass(frozen=True, slots=True)
class TradeRefused(Event):
    """An opportunity was not traded; `reason` says why in words a trader reads."""

    opportunity_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class TradeStarted(Event):
    trade_id: str
    opportunity_id: str
    symbol: str
    buy_venue: str
    sell_venue: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class LegSent(Event):
    trade_id: str
    role: str  # buy | sell | unwind
    venue: str
    side: str
    client_order_id: str
    amount: Decimal
    price: Decimal | None


@dataclass(frozen=True, slots=True)
class LegFilled(Event):
    """A leg reached its final state with some quantity filled (possibly less than asked)."""

    trade_id: str
    role: str
    venue: str
    client_order_id: str
    filled: Decimal
    average: Decimal | None
    fee: Decimal
    status: str


@dataclass(frozen=True, slots=True)
class LegFailed(Event):
    """A leg ended with nothing filled, or in a state we could not learn."""

    trade_id: str
    role: str
    venue: str
    client_order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class BundleSettled(Event):
    """What became of an on-chain leg's transaction sent as a private-relay bundle (the
    chain's word: its receipt, or the target blocks passing without it)."""

    trade_id: str
    tx_hash: str
    outcome: str  # included | not_included | not_sent (the simulation or the relays said no)
    target_blocks: tuple[int, ...]
    landed_block: int | None
    simulation_s: tuple[float, ...]  # each eth_callBundle round trip
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TradeUnwinding(Event):
    trade_id: str
    venue: str
    side: str
    amount: Decimal
    reason: str


@dataclass(frozen=True, slots=True)
class TradeUpdated(Event):
    trade: Any  # core.execute.trades.TradeView, the latest snapshot of one trade


@dataclass(frozen=True, slots=True)
class TradeFinished(Event):
    trade_id: str
    status: str
    realized_pnl: Decimal
    fees: Decimal
    reason: str = ""


@dataclass(frozen=True, slots=True)
class BreakerTransitioned(Event):
    scope: str  # "global" or a venue name
    from_state: str
    to_state: str
    cause: str
    reason: str


@dataclass(frozen=True, slots=True)
class KillSwitchToggled(Event):
    active: bool
    reason: str
