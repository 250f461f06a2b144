"""A book through the bus and back: the follower's book equals the collector's top levels
after every message of a random walk; a dropped message is a gap that invalidates the book
until the next snapshot; a late follower waits for a snapshot."""

from __future__ import annotations

import random

from core.book import OrderBook
from core.feeds.book_stream import BookFollower, BookPublisher, diff_side
from core.feeds.book_wire import BookMessage, decode_book, encode_book

DEPTH = 10


def _walk(rng: random.Random, book: OrderBook, t: float) -> None:
    """Move the collector's book: a few levels change, appear or go."""
    bids, asks = book.top(40)
    bid_map, ask_map = dict(bids), dict(asks)
    for _ in range(rng.randint(1, 4)):
        side = bid_map if rng.random() < 0.5 else ask_map
        base = 100.0 if side is bid_map else 101.0
        price = round(
            base + (rng.randint(-15, 0) if side is bid_map else rng.randint(0, 15)) / 10, 1
        )
        if rng.random() < 0.3:
            side.pop(price, None)
        else:
            side[price] = round(rng.uniform(0.1, 5.0), 4)
    book.apply_snapshot(sorted(bid_map.items()), sorted(ask_map.items()), received_at=t)


def _next(rng: random.Random, source: OrderBook, publisher: BookPublisher, t: float) -> BookMessage:
    """Walk the book until its top levels change: the message that says so."""
    while (message := publisher.message_for(source)) is None:
        _walk(rng, source, t)
    return message


def _start(rng: random.Random) -> OrderBook:
    book = OrderBook("simex", "BTC/USDT")
    bids = [(round(100.0 - i / 10, 1), 1.0 + i) for i in range(20)]
    asks = [(round(101.0 + i / 10, 1), 1.0 + i) for i in range(20)]
    book.apply_snapshot(bids, asks, received_at=0.0)
    return book


def test_diff_side_sends_changes_and_removals() -> None:
    published = {100.0: 1.0, 99.9: 2.0, 99.8: 3.0}
    changes = diff_side(published, [(100.0, 1.0), (99.9, 2.5), (99.7, 4.0)])
    assert sorted(changes) == [(99.7, 4.0), (99.8, 0.0), (99.9, 2.5)]
    assert published == {100.0: 1.0, 99.9: 2.5, 99.7: 4.0}


def test_the_followers_book_is_the_collectors_top_levels_after_every_message() -> None:
    rng = random.Random(5)
    source = _start(rng)
    publisher = BookPublisher("simex", "BTC/USDT", DEPTH, snapshot_every=50)
    copy = OrderBook("simex", "BTC/USDT")
    follower = BookFollower(copy)
    kinds = set()
    for step in range(400):
        _walk(rng, source, float(step))
        message = publisher.message_for(source)
        if message is None:
            continue
        kinds.add(message.kind)
        assert follower.apply(decode_book(encode_book(message))) == "applied"
        # Deltas keep levels that fell below the top: compare the top the collector sends.
        assert copy.top(DEPTH) == source.top(DEPTH), step
        assert copy.sequence == publisher.sequence and copy.valid
    assert kinds == {"snapshot", "delta"} and follower.gaps == 0


def test_a_dropped_message_is_a_gap_until_the_next_snapshot() -> None:
    rng = random.Random(9)
    source = _start(rng)
    publisher = BookPublisher("simex", "BTC/USDT", DEPTH)
    copy = OrderBook("simex", "BTC/USDT")
    follower = BookFollower(copy)
    messages = []
    for step in range(6):
        _walk(rng, source, float(step))
        messages.append(_next(rng, source, publisher, float(step)))
    for message in messages[:3]:
        assert follower.apply(message) == "applied"
    assert follower.apply(messages[4]) == "gap"  # messages[3] was lost on the way
    assert not copy.valid and "bus gap" in copy.invalid_reason and follower.gaps == 1
    assert follower.apply(messages[5]) == "waiting"  # deltas do not heal it
    publisher.request_snapshot()
    snapshot = publisher.message_for(source)  # due now, changed or not
    assert snapshot is not None and snapshot.kind == "snapshot"
    assert follower.apply(snapshot) == "applied"
    assert copy.valid and copy.top(DEPTH) == source.top(DEPTH)


def test_a_late_follower_waits_for_a_snapshot() -> None:
    rng = random.Random(2)
    source = _start(rng)
    publisher = BookPublisher("simex", "BTC/USDT", DEPTH, snapshot_every=3)
    follower = BookFollower(OrderBook("simex", "BTC/USDT"))
    _walk(rng, source, 0.0)
    publisher.message_for(source)  # the first snapshot, missed
    outcomes = []
    for step in range(1, 6):
        _walk(rng, source, float(step))
        message = publisher.message_for(source)
        if message is not None:
            outcomes.append((message.kind, follower.apply(message)))
    assert outcomes[0] == ("delta", "waiting")
    assert ("snapshot", "applied") in outcomes
    assert follower.book.valid and follower.book.top(DEPTH) == source.top(DEPTH)
