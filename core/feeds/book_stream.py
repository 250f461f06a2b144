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
from itertools import compress
from operator import ne
from typing import Literal

from core.book import OrderBook
from core.feeds.book_wire import BookMessage, Level, encode_book_fields

DEFAULT_SNAPSHOT_EVERY = 500
_NO_CHANGES: list[Level] = []  # a side with nothing to send (never mutated)
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


def _side_changes(
    prices: list[float], sizes: list[float], old_prices: list[float], old_sizes: list[float]
) -> list[Level]:
    """diff_side for one side kept as the book keeps it (ascending prices, their sizes): the
    levels whose size differs from the published one or whose price is new, then the prices
    gone, with size 0."""
    if prices == old_prices:  # the common case: only sizes changed, the lists line up
        return list(compress(zip(prices, sizes, strict=True), map(ne, sizes, old_sizes)))
    # A price came or went (the lists no longer line up). Measured against C-level set and
    # map variants, this plain loop popping the old levels is the fastest here.
    old = dict(zip(old_prices, old_sizes, strict=True))
    pop = old.pop
    changes = [
        (price, size) for price, size in zip(prices, sizes, strict=True) if pop(price, None) != size
    ]
    if old:  # what is left is gone
        changes.extend([(price, 0.0) for price in old])
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
        # What was last published, per side as the book keeps it: the top `depth` prices
        # (ascending) and their sizes. Two list compares find a side that did not change.
        self._bid_prices: list[float] = []
        self._bid_sizes: list[float] = []
        self._ask_prices: list[float] = []
        self._ask_sizes: list[float] = []
        self._since_snapshot = 0
        self._snapshot_due = True

    def request_snapshot(self) -> None:
        """A consumer lost the thread: the next message is a full snapshot."""
        self._snapshot_due = True

    def message_for(self, book: OrderBook) -> BookMessage | None:
        """The message that brings a follower from the last published book to `book`'s top
        `depth` levels; None when nothing in them changed."""
        step = self._step(book)
        if step is None:
            return None
        kind, bids, asks = step
        sequence = self.sequence
        prev = None if kind == "snapshot" else sequence - 1
        return BookMessage(
            self.venue,
            self.symbol,
            kind,
            sequence,
            prev,
            book.exchange_ts,
            book.received_at,
            tuple(bids),
            tuple(asks),
        )

    def encoded_for(self, book: OrderBook) -> bytes | None:
        """`encode_book(self.message_for(book))` without building the message (the
        collector's hot path)."""
        step = self._step(book)
        if step is None:
            return None
        kind, bids, asks = step
        sequence = self.sequence
        prev = None if kind == "snapshot" else sequence - 1
        return encode_book_fields(
            self.venue,
            self.symbol,
            kind,
            sequence,
            prev,
            book.exchange_ts,
            book.received_at,
            bids,
            asks,
        )

    def _step(
        self, book: OrderBook
    ) -> tuple[Literal["snapshot", "delta"], list[Level], list[Level]] | None:
        """Advance to `book`: the next message's kind and levels (self.sequence is its
        sequence), or None when nothing in the top `depth` levels changed."""
        depth = self.depth
        if depth > 0:  # the book's own lists, sliced and looked up in C (no top() tuples)
            all_bids, bid_levels = book.levels(True)
            all_asks, ask_levels = book.levels(False)
            bid_prices, ask_prices = all_bids[-depth:], all_asks[:depth]
            bid_sizes = list(map(bid_levels.__getitem__, bid_prices))
            ask_sizes = list(map(ask_levels.__getitem__, ask_prices))
        else:
            bid_prices, bid_sizes, ask_prices, ask_sizes = [], [], [], []
        kind: Literal["snapshot", "delta"]
        if self._snapshot_due or self._since_snapshot >= self.snapshot_every:
            kind = "snapshot"
            bid_changes, ask_changes = book.top(depth)  # best first, as ever
            self._since_snapshot = 0
            self._snapshot_due = False
        else:
            kind = "delta"
            bid_changes = ask_changes = _NO_CHANGES
            if bid_sizes != self._bid_sizes or bid_prices != self._bid_prices:
                bid_changes = _side_changes(
                    bid_prices, bid_sizes, self._bid_prices, self._bid_sizes
                )
            if ask_sizes != self._ask_sizes or ask_prices != self._ask_prices:
                ask_changes = _side_changes(
                    ask_prices, ask_sizes, self._ask_prices, self._ask_sizes
                )
            if not bid_changes and not ask_changes:
                return None
            self._since_snapshot += 1
        self._bid_prices, self._bid_sizes = bid_prices, bid_sizes
        self._ask_prices, self._ask_sizes = ask_prices, ask_sizes
        self.sequence += 1
        return kind, bid_changes, ask_changes


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
