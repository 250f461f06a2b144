"""OrderBook: property tests against a naive dict reference, plus each kind of bad input."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.book import BookDataError, OrderBook


class NaiveBook:
    """Reference: two dicts, everything recomputed by sorting on every read."""

    def __init__(self) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}

    def snapshot(self, bids: list[list[float]], asks: list[list[float]]) -> None:
        self.bids = {p: s for p, s in bids if s > 0}
        self.asks = {p: s for p, s in asks if s > 0}

    def delta(self, is_bid: bool, price: float, size: float) -> None:
        side = self.bids if is_bid else self.asks
        if size == 0:
            side.pop(price, None)
        else:
            side[price] = size

    def top(self, n: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        return (
            sorted(self.bids.items(), reverse=True)[:n],
            sorted(self.asks.items())[:n],
        )

    def vwap(self, is_buy: bool, qty: float) -> tuple[float, float]:
        levels = sorted(self.asks.items()) if is_buy else sorted(self.bids.items(), reverse=True)
        cost = filled = 0.0
        for price, size in levels:
            take = min(size, qty - filled)
            if take <= 0:
                break
            cost += take * price
            filled += take
        return (cost / filled, filled) if filled > 0 else (0.0, 0.0)

    def qty_up_to(self, is_buy: bool, limit: float) -> float:
        if is_buy:
            return sum(s for p, s in self.asks.items() if p <= limit)
        return sum(s for p, s in self.bids.items() if p >= limit)


prices = st.integers(min_value=1, max_value=400).map(lambda t: t * 0.25)
sizes = st.integers(min_value=0, max_value=50).map(lambda t: t * 0.5)
level = st.tuples(prices, sizes).map(list)
delta = st.tuples(st.booleans(), prices, sizes)


@settings(max_examples=150, deadline=None)
@given(
    bids=st.lists(level, max_size=30),
    asks=st.lists(level, max_size=30),
    deltas=st.lists(delta, max_size=80),
    n=st.integers(min_value=0, max_value=40),
    qty=st.integers(min_value=0, max_value=200).map(lambda t: t * 0.75),
    limit=prices,
)
def test_matches_naive_reference(
    bids: list[list[float]],
    asks: list[list[float]],
    deltas: list[tuple[bool, float, float]],
    n: int,
    qty: float,
    limit: float,
) -> None:
    book = OrderBook("v", "X/Y")
    ref = NaiveBook()
    book.apply_snapshot(bids, asks, sequence=10, received_at=1.0)
    ref.snapshot(bids, asks)
    for seq, (is_bid, price, size) in enumerate(deltas, start=11):
        assert book.apply_delta(is_bid, price, size, sequence=seq, received_at=2.0)
        ref.delta(is_bid, price, size)

    ref_bids, ref_asks = ref.top(10_000)
    assert book.best_bid() == (ref_bids[0] if ref_bids else None)
    assert book.best_ask() == (ref_asks[0] if ref_asks else None)
    assert book.best_bid_price == (ref_bids[0][0] if ref_bids else None)
    assert book.best_ask_price == (ref_asks[0][0] if ref_asks else None)
    assert book.top(n) == ref.top(n)
    assert book.is_crossed() == bool(ref_bids and ref_asks and ref_bids[0][0] >= ref_asks[0][0])
    for is_buy in (True, False):
        got_px, got_qty = book.vwap_for_quantity(is_buy, qty)
        want_px, want_qty = ref.vwap(is_buy, qty)
        assert got_qty == pytest.approx(want_qty)
        assert got_px == pytest.approx(want_px)
        assert book.quantity_up_to_price(is_buy, limit) == pytest.approx(
            ref.qty_up_to(is_buy, limit)
        )
    assert book.sequence == 10 + len(deltas)
    assert book.updates == 1 + len(deltas)


@settings(max_examples=80, deadline=None)
@given(batches=st.lists(st.tuples(st.lists(level, max_size=5), st.lists(level, max_size=5))))
def test_batch_updates_match_reference(
    batches: list[tuple[list[list[float]], list[list[float]]]],
) -> None:
    book = OrderBook("v", "X/Y")
    ref = NaiveBook()
    book.apply_snapshot([[1.0, 1.0]], [[100.0, 1.0]], sequence=100)
    ref.snapshot([[1.0, 1.0]], [[100.0, 1.0]])
    seq = 100
    for bids, asks in batches:
        assert book.apply_update(bids, asks, seq + 1, seq + 3)
        seq += 3
        for p, s in bids:
            ref.delta(True, p, s)
        for p, s in asks:
            ref.delta(False, p, s)
    assert book.top(1000) == ref.top(1000)
    assert book.sequence == seq


def fresh_book() -> OrderBook:
    book = OrderBook("v", "BTC/USDT")
    book.apply_snapshot(
        [[100.0, 1.0], [99.0, 2.0], [98.0, 3.0]],
        [[101.0, 1.5], [102.0, 2.5]],
        sequence=5,
        exchange_ts=1000.0,
        received_at=1000.5,
    )
    return book


def test_snapshot_sorts_any_order_and_skips_zero_levels() -> None:
    book = OrderBook("v", "X/Y")
    assert not book.valid and book.invalid_reason
    book.apply_snapshot([[98, 3], [100, 1], [99, 0]], [["102", "2"], [101.0, 1.0]])
    assert book.valid
    assert book.top(5) == ([(100.0, 1.0), (98.0, 3.0)], [(101.0, 1.0), (102.0, 2.0)])
    assert book.mid() == 100.5


@pytest.mark.parametrize(
    "price, size",
    [
        (math.nan, 1.0),
        (100.0, math.nan),
        (math.inf, 1.0),
        (100.0, math.inf),
        (-100.0, 1.0),
        (100.0, -1.0),
        (0.0, 1.0),
        ("abc", 1.0),
        (100.0, "1.0x"),
        (None, 1.0),
        (True, 1.0),
        ("nan", 1.0),
    ],
)
def test_bad_delta_raises_and_leaves_book_unchanged(price: object, size: object) -> None:
    book = fresh_book()
    before = (book.top(10), book.sequence, book.updates, book.received_at)
    with pytest.raises(BookDataError):
        book.apply_delta(True, price, size, sequence=6)  # type: ignore[arg-type]
    assert (book.top(10), book.sequence, book.updates, book.received_at) == before
    assert book.valid


@pytest.mark.parametrize(
    "bids, asks",
    [
        ([[100.0, 1.0], [math.nan, 1.0]], []),
        ([], [[101.0, -2.0]]),
        ([[100.0]], []),
        ([5], []),
        ([["x", 1]], []),
    ],
)
def test_bad_snapshot_leaves_book_unchanged(bids: list, asks: list) -> None:
    book = fresh_book()
    before = book.top(10)
    with pytest.raises(BookDataError):
        book.apply_snapshot(bids, asks, sequence=99)
    assert book.top(10) == before and book.sequence == 5 and book.valid


def test_bad_batch_update_is_rejected_whole() -> None:
    book = fresh_book()
    before = book.top(10)
    with pytest.raises(BookDataError):
        book.apply_update([[97.0, 1.0]], [[103.0, math.inf]], 6, 6)
    assert book.top(10) == before and book.sequence == 5


def test_numeric_strings_are_accepted() -> None:
    book = fresh_book()
    assert book.apply_delta(True, "100.5", "4", sequence=6)  # type: ignore[arg-type]
    assert book.best_bid() == (100.5, 4.0)


def test_size_zero_deletes_level_and_moves_best() -> None:
    book = fresh_book()
    assert book.apply_delta(True, 100.0, 0.0, sequence=6)
    assert book.best_bid() == (99.0, 2.0)
    assert book.apply_delta(False, 101.0, 0.0, sequence=7)
    assert book.best_ask() == (102.0, 2.5)
    assert book.apply_delta(False, 150.0, 0.0, sequence=8)  # deleting an absent level: no-op
    assert book.depth() == (2, 1)
    assert book.apply_delta(False, 102.0, 0.0, sequence=9)
    assert book.best_ask() is None and book.best_ask_price is None and book.mid() is None
    assert not book.usable(1000.6, 10.0)


def test_out_of_order_sequence_is_ignored() -> None:
    book = fresh_book()
    assert not book.apply_delta(True, 100.0, 9.0, sequence=5)
    assert not book.apply_delta(True, 100.0, 9.0, sequence=3)
    assert book.out_of_order == 2
    assert book.best_bid() == (100.0, 1.0) and book.valid and book.sequence == 5
    assert not book.apply_update([[100.0, 9.0]], [], 2, 5)
    assert book.out_of_order == 3 and book.best_bid() == (100.0, 1.0)


def test_gap_invalidates_until_next_snapshot() -> None:
    book = fresh_book()
    assert not book.apply_delta(True, 100.5, 1.0, sequence=8)
    assert not book.valid
    assert book.invalid_reason == "sequence gap: expected 6, got 8"
    assert book.best_bid() == (100.0, 1.0)  # the gapped update was not applied
    assert not book.usable(1000.6, 10.0)
    assert not book.apply_delta(True, 100.5, 1.0, sequence=9)  # dropped while invalid
    book.apply_snapshot([[100.0, 1.0]], [[101.0, 1.0]], sequence=20, received_at=1001.0)
    assert book.valid and book.invalid_reason == "" and book.sequence == 20
    assert book.apply_delta(True, 100.5, 1.0, sequence=21)


def test_batch_gap_and_overlap() -> None:
    book = fresh_book()  # sequence 5
    assert book.apply_update([[100.0, 7.0]], [], 3, 7)  # overlaps 5: first batch after snapshot
    assert book.sequence == 7 and book.best_bid() == (100.0, 7.0)
    assert not book.apply_update([[100.0, 8.0]], [], 9, 12)
    assert book.invalid_reason == "sequence gap: expected 8, got 9"


def test_no_delta_before_first_snapshot() -> None:
    book = OrderBook("v", "X/Y")
    assert not book.apply_delta(True, 1.0, 1.0)
    assert book.best_bid() is None


def test_crossed_detection() -> None:
    book = fresh_book()
    assert not book.is_crossed()
    assert book.apply_delta(True, 101.0, 1.0, sequence=6)  # bid == best ask
    assert book.is_crossed()
    assert not book.usable(1000.6, 10.0)
    assert book.apply_delta(True, 101.0, 0.0, sequence=7)
    assert not book.is_crossed()
    assert book.apply_delta(False, 99.5, 1.0, sequence=8)  # ask below best bid
    assert book.is_crossed()


def test_staleness_and_usable() -> None:
    book = fresh_book()
    assert book.usable(1001.0, 1.0)
    assert not book.is_stale(1001.5, 1.0)
    assert book.is_stale(1001.6, 1.0)
    assert not book.usable(1001.6, 1.0)
    assert OrderBook("v", "X/Y").is_stale(1.0, 0.5)


def test_depth_walks() -> None:
    book = fresh_book()
    assert book.vwap_for_quantity(True, 2.0) == pytest.approx((101.25, 2.0))
    assert book.vwap_for_quantity(True, 10.0) == pytest.approx(((151.5 + 255.0) / 4.0, 4.0))
    assert book.vwap_for_quantity(False, 3.0) == pytest.approx(((100.0 + 198.0) / 3.0, 3.0))
    assert book.vwap_for_quantity(False, 0.0) == (0.0, 0.0)
    assert book.quantity_up_to_price(True, 101.0) == 1.5
    assert book.quantity_up_to_price(True, 101.9) == 1.5
    assert book.quantity_up_to_price(True, 100.0) == 0.0
    assert book.quantity_up_to_price(False, 99.0) == 3.0
    assert book.quantity_up_to_price(False, 200.0) == 0.0
    with pytest.raises(ValueError):
        book.vwap_for_quantity(True, math.nan)


def test_timestamps_and_invalidate() -> None:
    book = fresh_book()
    assert book.exchange_ts == 1000.0 and book.received_at == 1000.5
    book.apply_delta(True, 97.0, 1.0, sequence=6, exchange_ts=1002.0, received_at=1002.5)
    assert book.exchange_ts == 1002.0 and book.received_at == 1002.5 and book.updates == 2
    book.invalidate("watchdog: silent feed")
    assert not book.valid and book.invalid_reason == "watchdog: silent feed"
