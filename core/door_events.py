"""The events a console receives through its door: the bus's own plain events, with the two
that cannot cross a socket replaced by plain summaries.

- `BookUpdated` arrives thousands of times a second; a console only needs which books changed
  and how many updates there were, so each drain folds them into one `BooksTouched`.
- `OpportunityFound` carries the detector's live object (legs, funding plans); the console
  only logs it, so it becomes an `OpportunityNotice`. Refreshes of a pending one are dropped.
- `TradeUpdated` carries the executor's view; the snapshot already has every active trade.

`DoorFeed` does this over a bus subscription for an in-process engine; the socket server
sends the same events, so an attached console reads exactly what a local one reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.bus import Subscription
from core.events import (
    BookUpdated,
    BreakerTransitioned,
    BundleSettled,
    EngineMessage,
    Event,
    FeedHealthChanged,
    FeedMessageDropped,
    KillSwitchToggled,
    LegFailed,
    LegFilled,
    LegSent,
    OpportunityExpired,
    OpportunityFound,
    TradeFinished,
    TradeRefused,
    TradeStarted,
    TradeUnwinding,
    VenueProblem,
)


@dataclass(frozen=True, slots=True)
class BooksTouched(Event):
    """Book updates since the last drain: how many, and which (symbol, venue) books."""

    count: int
    books: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class OpportunityNotice(Event):
    """A new opportunity, as the log pane announces it."""

    id: str
    kind: str
    symbol: str
    buy_venue: str
    sell_venue: str
    net_bps: float
    net_profit_usd: float
    user: str = ""  # a liquidation's borrower
    health_factor: float = 0.0


# Events that pass through unchanged: plain data only (str, numbers, Decimal, enums).
PLAIN_EVENTS: tuple[type[Event], ...] = (
    FeedHealthChanged,
    FeedMessageDropped,
    VenueProblem,
    OpportunityExpired,
    EngineMessage,
    TradeRefused,
    TradeStarted,
    LegSent,
    LegFilled,
    LegFailed,
    BundleSettled,
    TradeUnwinding,
    TradeFinished,
    BreakerTransitioned,
    KillSwitchToggled,
)
DOOR_EVENTS: tuple[type[Event], ...] = (*PLAIN_EVENTS, BooksTouched, OpportunityNotice)
_PLAIN = frozenset(PLAIN_EVENTS)


def opportunity_notice(event: OpportunityFound) -> OpportunityNotice:
    o = event.opportunity
    return OpportunityNotice(
        id=str(o.id),
        kind=str(o.kind),
        symbol=str(o.symbol),
        buy_venue=str(o.buy_venue),
        sell_venue=str(o.sell_venue),
        net_bps=float(o.net_bps),
        net_profit_usd=float(o.net_profit_usd),
        user=str(getattr(o, "user", "") or ""),
        health_factor=float(getattr(o, "health_factor", 0.0) or 0.0),
        at=event.at,
    )


def door_events(events: list[Event], now: float) -> list[Event]:
    """The console's view of a batch of bus events (order kept; book updates folded into one
    `BooksTouched` at the end, stamped `now`)."""
    out: list[Event] = []
    count = 0
    touched: dict[tuple[str, str], None] = {}
    for event in events:
        if isinstance(event, BookUpdated):  # the hot path
            count += 1
            touched[(event.symbol, event.venue)] = None
        elif type(event) in _PLAIN:
            out.append(event)
        elif isinstance(event, OpportunityFound) and not event.refreshed:
            out.append(opportunity_notice(event))
    if count:
        out.append(BooksTouched(count, tuple(touched), at=now))
    return out


class DoorFeed:
    """A bus subscription read as door events (`core.door.EventFeed`)."""

    def __init__(self, subscription: Subscription, clock: Callable[[], float]) -> None:
        self._sub = subscription
        self._clock = clock

    def drain(self) -> list[Event]:
        return door_events(self._sub.drain(), self._clock())

    def close(self) -> None:
        self._sub.close()
