"""A book as a stream of bus messages, and back: the collector's side turns each update of
its `OrderBook` into a delta against what it last published (a full snapshot first, then every
`snapshot_every` messages so a late consumer needs no request), and the engine's side applies
them to its own `OrderBook`, noticing a gap.

The stream carries its own sequence per (venue, symbol), one per message, because the venue's
may be missing and because the bus, not the venue, is what can drop a message here: a delta
whose `prev` is not the book's sequence is a gap. The follower then marks its book invalid
(so nothing trades on it) until the next snapshot. The venue's own sequence checks stay in the
collector's supervisor, as in the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from core.book import OrderBook
from core.feeds.book_wire import BookMessage, Level

DEFAULT_SNAPSHOT_EVERY = 500
Applied = Literal["applied", "gap", "waiting"]


def diff_side(published: dict[float, float], now: Iterable[Level]) -> list[Level]:
    """The levels to send so `published` becomes `now`: changed or new levels with their size,
    levels gone with size 0. Updates `published` in place."""
    current = dict(now)
    changes = [(p, s) for p, s in current.items() if published.get(p) != s]
    changes.extend((p, 0.0) for p in published if p not in current)
    published.clear()
    published.update(current)
    return changes


class BookPublisher:
    """The collector's side for one (venue, symbol)."""

    def __init__(
        self, venue: str, symbol: str, depth: int, snapshot_every: int = DEFAULT_SNAPSHOT_EVERY
    ) -> None:
        self.venue = venue
        self.symbol = symbol
        self.depth = depth
        self.snapshot_every = snapshot_every
        self.sequence = 0
        self._bids: dict[float, float] = {}
        self._asks: dict[float, float] = {}
        self._since_snapshot = 0
        self._snapshot_due = True

    def request_snapshot(self) -> None:
        """A consumer lost the thread: the next message is a full snapshot."""
        self._snapshot_due = True

    def message_for(self, book: OrderBook) -> BookMessage | None:
        """The message that brings a follower from the last published book to `book`'s top
        `depth` levels; None when nothing in them changed."""
        bids, asks = book.top(self.depth)
        snapshot = self._snapshot_due or self._since_snapshot >= self.snapshot_every
        if snapshot:
            self._bids, self._asks = dict(bids), dict(asks)
            bid_changes, ask_changes = bids, asks
            self._since_snapshot = 0
            self._snapshot_due = False
        else:
            bid_changes = diff_side(self._bids, bids)
            ask_changes = diff_side(self._asks, asks)
            if not bid_changes and not ask_changes:
                return None
            self._since_snapshot += 1
        self.sequence += 1
        return BookMessage(
            venue=self.venue,
            symbol=self.symbol,
            kind="snapshot" if snapshot else "delta",
            sequence=self.sequence,
            prev=None if snapshot else self.sequence - 1,
            exchange_ts=book.exchange_ts,
            received_at=book.received_at,
            bids=tuple(bid_changes),
            asks=tuple(ask_changes),
        )


class BookFollower:
    """The engine's side: applies one (venue, symbol) stream to `book`."""

    def __init__(self, book: OrderBook) -> None:
        self.book = book
        self.gaps = 0

    def apply(self, message: BookMessage) -> Applied:
        """'applied'; 'gap' when a delta does not follow the book (the book is now invalid
        and the caller asks for a snapshot); 'waiting' for a delta while no snapshot came."""
        book = self.book
        if message.kind == "snapshot":
            book.apply_snapshot(
                message.bids,
                message.asks,
                sequence=message.sequence,
                exchange_ts=message.exchange_ts,
                received_at=message.received_at,
            )
            return "applied"
        if not book.valid:
            return "waiting"
        if message.prev is None or book.sequence != message.prev:
            self.gaps += 1
            book.invalidate(
                f"bus gap: delta {message.sequence} follows {message.prev}, the book is at "
                f"{book.sequence}; waiting for a snapshot"
            )
            return "gap"
        book.apply_update(
            message.bids,
            message.asks,
            message.sequence,
            message.sequence,
            exchange_ts=message.exchange_ts,
            received_at=message.received_at,
        )
        return "applied"
