"""Detector benchmark: 5 venues x 200 symbols, 50 levels a side.

Measures, with time.perf_counter_ns:
- update -> result latency for one symbol when nothing is found (apply one delta, then
  check_symbol for that symbol and venue), p50 / p99, each op timed alone (timer cost included);
- the same when opportunities are found and sized by walking ~13 levels (v0 cheap vs 4 venues,
  4 opportunities per update), and with one pair only;
- check_symbol alone, nothing found, median over batches (timer cost amortised);
- a full sweep of all 5 x 200 books, median.

Prints figures only; nothing here asserts a time. Run: `.venv/bin/python bench/bench_detect.py`.
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from targets import target_line  # noqa: E402

from core.book import OrderBook  # noqa: E402
from core.detect.spread import SpreadDetector  # noqa: E402
from core.settings import ThresholdSettings  # noqa: E402

VENUES = ["v0", "v1", "v2", "v3", "v4"]
N_SYMBOLS = 200
LEVELS = 50
TICK = 0.01
SIZE = 10.0
FEE_BPS = 10.0


def quiet_book(venue: str, symbol: str, mid: float, now: float) -> OrderBook:
    """A book whose top sits within the fees of every other venue's: nothing to find."""
    book = OrderBook(venue, symbol)
    bids = [[round(mid - (i + 1) * TICK, 2), SIZE] for i in range(LEVELS)]
    asks = [[round(mid + (i + 1) * TICK, 2), SIZE] for i in range(LEVELS)]
    book.apply_snapshot(bids, asks, sequence=0, received_at=now)
    return book


def build(now: float) -> dict[str, dict[str, OrderBook]]:
    rng = random.Random(3)
    books: dict[str, dict[str, OrderBook]] = {}
    for s in range(N_SYMBOLS):
        symbol = f"S{s:03d}/USDT"
        books[symbol] = {
            v: quiet_book(v, symbol, 100.0 + rng.choice([-1, 0, 1]) * TICK, now) for v in VENUES
        }
    return books


def percentile(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


def main() -> None:
    now = time.time()
    books = build(now)
    # Generous staleness so the books stay fresh for the whole run; thresholds at defaults.
    thresholds = ThresholdSettings(stale_after_ms=600_000)
    detector = SpreadDetector(books, dict.fromkeys(VENUES, FEE_BPS), thresholds, max_levels=50)
    clock = time.perf_counter_ns
    rng = random.Random(5)
    symbols = list(books)

    # Deltas a few levels off the top, on a random symbol / venue: nothing is ever found.
    plan = []
    for _ in range(120_000):
        symbol = rng.choice(symbols)
        venue = rng.choice(VENUES)
        is_bid = rng.random() < 0.5
        depth = rng.randint(2, 20) * TICK
        price = round(100.0 - depth if is_bid else 100.0 + depth, 2)
        plan.append((books[symbol][venue], symbol, venue, is_bid, price, rng.uniform(1.0, 20.0)))
    seqs = {id(b): 0 for per in books.values() for b in per.values()}

    gc.collect()
    gc.disable()
    try:
        check = detector.check_symbol
        # Warm-up, then the measured run.
        quiet: list[int] = []
        found_any = 0
        for k, (book, symbol, venue, is_bid, price, size) in enumerate(plan):
            seq = seqs[id(book)] = seqs[id(book)] + 1
            t0 = clock()
            book.apply_delta(is_bid, price, size, seq, None, now)
            result = check(symbol, venue)
            t1 = clock()
            found_any += len(result)
            if k >= 20_000:
                quiet.append(t1 - t0)

        batch = 100
        check_only = []
        for k in range(0, 100_000, batch):
            chunk = plan[k : k + batch]
            t0 = clock()
            for _, symbol, venue, _, _, _ in chunk:
                check(symbol, venue)
            check_only.append((clock() - t0) / batch)

        sweeps = []
        for _ in range(300):
            t0 = clock()
            found_any += len(detector.sweep())
            sweeps.append(clock() - t0)

        # Found case: on symbol S000, v0 is cheap by ~45 bps (past 2 x 10 bps of fees), so
        # every update there finds an opportunity and sizes it over ~25 levels up to the
        # 25,000 USD notional cap.
        hot = "S000/USDT"
        cheap = OrderBook("v0", hot)
        cheap.apply_snapshot(
            [[round(99.45 - (i + 1) * TICK, 2), SIZE] for i in range(LEVELS)],
            [[round(99.55 + i * TICK, 2), SIZE] for i in range(LEVELS)],
            sequence=0,
            received_at=now,
        )
        books[hot]["v0"] = cheap
        found: list[int] = []
        n_found = 0
        for k in range(25_000):
            price = round(99.55 + (10 + k % 30) * TICK, 2)  # resize a level inside the walk
            t0 = clock()
            cheap.apply_delta(False, price, SIZE + (k % 3), k + 1, None, now)
            result = check(hot, "v0")
            t1 = clock()
            if k >= 2_000:
                found.append(t1 - t0)
                opp = result[0]  # keep only the last: a growing list would time page faults
                n_found = len(result)

        # One-pair case: on S001 only v1 is rich; an update on v0 re-checks v0's pairs, and
        # only v0 -> v1 pays, so exactly one opportunity is sized per update.
        hot1 = "S001/USDT"
        rich = OrderBook("v1", hot1)
        rich.apply_snapshot(
            [[round(100.45 - i * TICK, 2), SIZE] for i in range(LEVELS)],
            [[round(100.55 + i * TICK, 2), SIZE] for i in range(LEVELS)],
            sequence=0,
            received_at=now,
        )
        books[hot1]["v1"] = rich
        other = books[hot1]["v0"]
        one_pair: list[int] = []
        per_check = 0
        for k in range(25_000):
            price = round(100.0 + (15 + k % 30) * TICK, 2)
            t0 = clock()
            other.apply_delta(False, price, SIZE + (k % 3), k + 1, None, now)
            result = check(hot1, "v0")
            t1 = clock()
            if k >= 2_000:
                one_pair.append(t1 - t0)
                per_check = len(result)
    finally:
        gc.enable()

    if found_any:
        print(f"detect: WARNING {found_any} opportunities in the nothing-found runs")
    print(f"detect: {len(VENUES)} venues x {N_SYMBOLS} symbols, {LEVELS} levels a side")
    print(
        f"detect: update -> result, nothing found   p50 {percentile(quiet, 0.5):6.2f} us"
        f"   p99 {percentile(quiet, 0.99):6.2f} us   (delta + check_symbol, timed one by one)"
    )
    recheck = statistics.median(check_only) / 1000
    print(f"detect: re-check one symbol, nothing found median {recheck:5.2f} us   (target <= 2 us)")
    print(
        f"detect: update -> opportunity, found+sized p50 {percentile(found, 0.5):6.2f} us"
        f"   p99 {percentile(found, 0.99):6.2f} us   (target p99 <= 50 us;"
        f" v0 cheap vs 4 venues: {n_found} opportunities per update)"
    )
    print(
        f"detect: update -> opportunity, one pair    p50 {percentile(one_pair, 0.5):6.2f} us"
        f"   p99 {percentile(one_pair, 0.99):6.2f} us   ({per_check} opportunity per update)"
    )
    print(
        f"detect:   sized example: {opp.size:.2f} @ {opp.buy_vwap:.4f} -> {opp.sell_vwap:.4f}, "
        f"net {opp.net_profit:.2f} USDT ({opp.net_bps:.1f} bps), "
        f"{opp.size * opp.buy_vwap / (SIZE * 99.6):.0f} ask levels' worth"
    )
    print(
        f"detect: full sweep {len(VENUES)} x {N_SYMBOLS}, nothing found  median "
        f"{statistics.median(sweeps) / 1000:7.1f} us   (target <= 200 us)"
    )
    print(target_line("detect: re-check one symbol, nothing found, median", recheck, 2.0, "us"))
    found_p99 = percentile(found, 0.99)
    print(target_line("detect: update -> 4 opportunities found+sized, p99", found_p99, 50.0, "us"))
    sweep = statistics.median(sweeps) / 1000
    print(target_line("detect: full sweep 5 x 200, median", sweep, 200.0, "us"))


if __name__ == "__main__":
    main()
