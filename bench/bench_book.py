"""Order-book benchmark: our list-and-bisect book, a sortedcontainers variant, and the C
`order-book` package (the one cryptofeed uses), measured in the same run on the same deltas.

Prints figures only; nothing here asserts a time. Run: `.venv/bin/python bench/bench_book.py`.
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sortedcontainers import SortedDict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from targets import target_line  # noqa: E402

from core.book import OrderBook  # noqa: E402

N_DELTAS = 1_000_000
BATCH = 200  # ops timed together: perf_counter_ns costs ~50 ns, too much to time one op
MID = 10_000.0
TICK = 0.5
LEVELS = 1_000  # price grid per side; the live book holds a few hundred of them


class SortedDictBook:
    """The losing variant (kept here only to print its figure): one SortedDict per side."""

    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self.sequence = 0

    def apply_delta(self, is_bid: bool, price: float, size: float, sequence: int) -> bool:
        # Same validation and sequence check as core.book, so the comparison is like for like.
        if not (0.0 < price < float("inf") and 0.0 <= size < float("inf")):
            raise ValueError(price)
        if sequence <= self.sequence:
            return False
        self.sequence = sequence
        side = self.bids if is_bid else self.asks
        if size == 0.0:
            side.pop(price, None)
        else:
            side[price] = size
        return True

    def best_bid(self) -> tuple[float, float] | None:
        return self.bids.peekitem(-1) if self.bids else None

    def best_ask(self) -> tuple[float, float] | None:
        return self.asks.peekitem(0) if self.asks else None

    def top(self, n: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        bids, asks = self.bids, self.asks
        bid_keys = bids.keys()[-n:][::-1]
        return [(p, bids[p]) for p in bid_keys], [(p, asks[p]) for p in asks.keys()[:n]]


def make_deltas(n: int, seed: int = 1) -> list[tuple[bool, float, float]]:
    """Random deltas near the top of book (geometric distance), 20 % deletes, never crossing."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        is_bid = rng.random() < 0.5
        ticks = min(int(rng.expovariate(1 / 60)), LEVELS - 1) + 1
        price = MID - ticks * TICK if is_bid else MID + ticks * TICK
        size = 0.0 if rng.random() < 0.2 else round(rng.uniform(0.001, 5.0), 3)
        out.append((is_bid, price, size))
    return out


def seed_levels() -> tuple[list[list[float]], list[list[float]]]:
    bids = [[MID - i * TICK, 1.0] for i in range(1, 301)]
    asks = [[MID + i * TICK, 1.0] for i in range(1, 301)]
    return bids, asks


def batched_median_ns(run_batch: Callable[[int], None], batches: int) -> float:
    """Median over batches of the per-op time, in ns."""
    samples = []
    clock = time.perf_counter_ns
    for i in range(batches):
        t0 = clock()
        run_batch(i)
        samples.append((clock() - t0) / BATCH)
    return statistics.median(samples)


def top20_median_ns(top: Callable[[int], object]) -> float:
    """Median per-call time of `top(20)` (both sides), in ns."""

    def top20(_: int) -> None:
        for _ in range(BATCH):
            top(20)

    return batched_median_ns(top20, 300)


def bench_ours(deltas: list[tuple[bool, float, float]]) -> dict[str, float]:
    bids, asks = seed_levels()
    book = OrderBook("bench", "BTC/USDT")
    book.apply_snapshot(bids, asks, sequence=0, received_at=1.0)
    apply = book.apply_delta
    seq = 0
    t0 = time.perf_counter_ns()
    for is_bid, price, size in deltas:
        seq += 1
        apply(is_bid, price, size, seq, None, 1.0)
    per_delta = (time.perf_counter_ns() - t0) / len(deltas)

    best_bid, best_ask = book.best_bid, book.best_ask
    n = len(deltas)

    # Sequence numbers are precomputed so the timed loop holds only the book calls.
    seq0 = seq
    sequenced = [(b, p, s, seq0 + k + 1) for k, (b, p, s) in enumerate(deltas)]

    def delta_and_best(i: int) -> None:
        base = (i * BATCH) % (n - BATCH)
        if base == 0:  # wrapped around: restart the sequence from a snapshot
            book.apply_snapshot(bids, asks, sequence=seq0, received_at=1.0)
        for is_bid, price, size, s in sequenced[base : base + BATCH]:
            apply(is_bid, price, size, s, None, 1.0)
            best_bid()
            best_ask()

    return {
        "per_delta": per_delta,
        "delta_best": batched_median_ns(delta_and_best, 3000),
        "top20": top20_median_ns(book.top),
        "depth": float(sum(book.depth())),
    }


def bench_sorted(deltas: list[tuple[bool, float, float]]) -> dict[str, float]:
    book = SortedDictBook()
    bids, asks = seed_levels()
    book.bids.update((p, s) for p, s in bids)
    book.asks.update((p, s) for p, s in asks)
    apply = book.apply_delta
    seq = 0
    t0 = time.perf_counter_ns()
    for is_bid, price, size in deltas:
        seq += 1
        apply(is_bid, price, size, seq)
    per_delta = (time.perf_counter_ns() - t0) / len(deltas)
    best_bid, best_ask = book.best_bid, book.best_ask
    n = len(deltas)

    seq0 = seq
    sequenced = [(b, p, s, seq0 + k + 1) for k, (b, p, s) in enumerate(deltas)]

    def delta_and_best(i: int) -> None:
        base = (i * BATCH) % (n - BATCH)
        if base == 0:
            book.sequence = seq0
        for is_bid, price, size, s in sequenced[base : base + BATCH]:
            apply(is_bid, price, size, s)
            best_bid()
            best_ask()

    return {
        "per_delta": per_delta,
        "delta_best": batched_median_ns(delta_and_best, 3000),
        "top20": top20_median_ns(book.top),
    }


def bench_c(deltas: list[tuple[bool, float, float]]) -> dict[str, float] | None:
    try:
        from order_book import OrderBook as COrderBook
    except ImportError:
        return None
    book = COrderBook()
    bids, asks = seed_levels()
    for p, s in bids:
        book.bids[p] = s
    for p, s in asks:
        book.asks[p] = s
    c_bids, c_asks = book.bids, book.asks

    # The C package has no validation or sequence numbers: this is its bare cost.
    def apply(is_bid: bool, price: float, size: float) -> None:
        side = c_bids if is_bid else c_asks
        if size == 0.0:
            if price in side:
                del side[price]
        else:
            side[price] = size

    t0 = time.perf_counter_ns()
    for is_bid, price, size in deltas:
        apply(is_bid, price, size)
    per_delta = (time.perf_counter_ns() - t0) / len(deltas)
    n = len(deltas)

    def delta_and_best(i: int) -> None:
        base = (i * BATCH) % (n - BATCH)
        for is_bid, price, size in deltas[base : base + BATCH]:
            apply(is_bid, price, size)
            c_bids.index(0)
            c_asks.index(0)

    def top20_index(_: int) -> None:
        for _ in range(BATCH):
            [c_bids.index(k) for k in range(20)]
            [c_asks.index(k) for k in range(20)]

    def top20_list(_: int) -> None:
        for _ in range(BATCH):
            c_bids.to_list()[:20]
            c_asks.to_list()[:20]

    return {
        "per_delta": per_delta,
        "delta_best": batched_median_ns(delta_and_best, 3000),
        # Give it its faster of the two ways to read the top 20.
        "top20": min(batched_median_ns(top20_index, 300), batched_median_ns(top20_list, 300)),
    }


def main() -> None:
    deltas = make_deltas(N_DELTAS)
    gc.collect()
    gc.disable()  # keep collector pauses out of the per-op medians
    try:
        ours = bench_ours(deltas)
        sorted_ = bench_sorted(deltas)
        c_pkg = bench_c(deltas)
    finally:
        gc.enable()

    print(f"book: {N_DELTAS:,} random deltas near the top (20 % deletes), validated, sequenced")
    print(f"book: levels at end of run (both sides): {ours['depth']:.0f}")
    variants = [("ours", ours), ("sorteddict", sorted_)]
    if c_pkg is not None:
        variants.append(("C order-book", c_pkg))
    rows = [
        ("per_delta", "apply one delta, mean over 1M", ""),
        ("delta_best", "delta + best bid/ask, median", "target <= 0.5 us"),
        ("top20", "top 20 both sides, median", "target <= 5 us"),
    ]
    for key, label, target in rows:
        for name, figures in variants:
            note = f"   ({target})" if target and name == "ours" else ""
            print(f"book: {label:<32} [{name:<12}] {figures[key] / 1000:7.3f} us{note}")
    print(target_line("book: delta + best bid/ask, median", ours["delta_best"] / 1000, 0.5, "us"))
    print(target_line("book: top 20 levels both sides, median", ours["top20"] / 1000, 5.0, "us"))
    if c_pkg is None:
        print("book: C order-book package not installed (pip install order-book): no ratio")
        print("target: book: ratio to C order-book: not measured (order-book not installed)")
        return
    ratio = ours["delta_best"] / c_pkg["delta_best"]
    print(target_line("book: ratio ours / C order-book, delta + best", ratio, 0.25, "x"))
    ratio = ours["top20"] / c_pkg["top20"]
    print(f"book: ratio ours / C order-book, top 20 both sides:    {ratio:5.2f}x")
    ratio = ours["delta_best"] / sorted_["delta_best"]
    print(f"book: ratio ours / sorteddict,   delta + best bid/ask: {ratio:5.2f}x")


if __name__ == "__main__":
    main()
