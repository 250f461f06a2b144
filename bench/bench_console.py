"""Console benchmark: the Textual app under a synthetic burst of book updates.

The real `Engine` (not started, so no feeds or devnet) has its books filled and a producer task
applies `--rate` book deltas per second to them, publishing a `BookUpdated` on the engine's bus
for each, the way the feeds do. The app runs headless (`run_test`) at 160x48 and redraws at
settings.ui.refresh_hz. Measured, and printed (nothing is asserted):

- event-loop lag: a probe sleeps 5 ms in a loop; lag = how late it wakes (p50 / p99 / max);
- frames per second drawn by the console, and the cost of one frame (drain + pull + hand-off);
- key press to screen: `s` pressed until the order-books pane has repainted the next symbol.

Run: `.venv/bin/python bench/bench_console.py [--rate 10000] [--seconds 5]`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events  # noqa: E402

from console.app import ArbdeskApp  # noqa: E402
from core.book import OrderBook  # noqa: E402
from core.engine.engine import Engine  # noqa: E402
from core.engine.local_door import LocalDoor  # noqa: E402
from core.events import BookUpdated  # noqa: E402
from core.settings import Settings  # noqa: E402

PROBE_S = 0.005
TICK_S = 0.005  # the producer publishes in 5 ms slices: 50 updates a slice at 10k/s
MIDS = {"BTC/USDT": 95_000.0, "ETH/USDT": 3_400.0, "SOL/USDT": 180.0}


def build_engine() -> Engine:
    settings = Settings()
    engine = Engine(settings)
    now = time.time()
    for symbol in engine.symbols:
        mid = MIDS.get(symbol, 10.0)
        for venue in engine.venues:
            book = OrderBook(venue, symbol)
            tick = mid * 0.00005
            book.apply_snapshot(
                [(mid - tick * (i + 1), 1.0 + i % 5) for i in range(50)],
                [(mid + tick * (i + 1), 1.0 + i % 7) for i in range(50)],
                received_at=now,
            )
            engine.books.setdefault(symbol, {})[venue] = book
    return engine


async def produce(engine: Engine, rate: float, stop: asyncio.Event, counter: list[int]) -> None:
    """`rate` deltas a second, spread over 5 ms slices, each with a BookUpdated event."""
    rng = random.Random(7)
    books = [b for by_venue in engine.books.values() for b in by_venue.values()]
    loop = asyncio.get_running_loop()
    started = loop.time()
    sent = 0
    while not stop.is_set():
        due = int((loop.time() - started) * rate)
        now = time.time()
        for _ in range(due - sent):
            book = rng.choice(books)
            is_bid = rng.random() < 0.5
            best = book.best_bid_price if is_bid else book.best_ask_price
            assert best is not None
            step = best * 0.00005 * rng.randint(0, 9)
            price = round(best - step if is_bid else best + step, 8)
            book.apply_delta(is_bid, price, float(rng.randint(1, 40)) / 8, received_at=now)
            engine.bus.publish(
                BookUpdated(
                    book.venue,
                    book.symbol,
                    book.best_bid_price,
                    book.best_ask_price,
                    None,
                    now,
                    at=now,
                )
            )
        counter[0] += due - sent
        sent = due
        await asyncio.sleep(TICK_S)


async def probe_lag(stop: asyncio.Event, lags_ms: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(PROBE_S)
        lags_ms.append((time.perf_counter() - started - PROBE_S) * 1000)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


async def main(rate: float, seconds: float, presses: int) -> None:
    engine = build_engine()
    app = ArbdeskApp(LocalDoor(engine), start_engine=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.5)
        stop = asyncio.Event()
        lags: list[float] = []
        produced = [0]
        producer = asyncio.create_task(produce(engine, rate, stop, produced))
        await asyncio.sleep(0.5)  # warm up under load
        probe_stop = asyncio.Event()
        prober = asyncio.create_task(probe_lag(probe_stop, lags))
        frames0, produced0, t0 = app.frames, produced[0], time.perf_counter()
        app.frame_ms.clear()
        await asyncio.sleep(seconds)
        frames, elapsed = app.frames - frames0, time.perf_counter() - t0
        published = produced[0] - produced0
        frame_costs = list(app.frame_ms)
        probe_stop.set()
        await prober

        # Key to screen: the key event is posted the way the terminal driver posts it (Pilot's
        # own press() also waits for the app to go idle, which a 10k/s burst never lets it do),
        # then the clock runs until the order-books pane has painted the next symbol.
        key_ms: list[float] = []
        books = app.books
        for _ in range(presses):
            before_symbol, before_draws = books.symbol, books.frames_drawn
            started = time.perf_counter()
            app.post_message(events.Key("s", "s"))
            while books.symbol == before_symbol or books.frames_drawn == before_draws:
                await asyncio.sleep(0.0005)
            key_ms.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.1)
        stop.set()
        await producer

    print(f"console under {rate:,.0f} book updates/s for {seconds:.0f} s (headless, 160x48)")
    print(f"  updates published     {published / elapsed:,.0f} /s")
    print(
        f"  event-loop lag        p50 {statistics.median(lags):.2f} ms   "
        f"p99 {pct(lags, 0.99):.2f} ms   max {max(lags):.2f} ms   (target p99 <= 10 ms)"
    )
    print(
        f"  frames                {frames / elapsed:.1f} /s at refresh_hz "
        f"{engine.settings.ui.refresh_hz:g}   (target >= 10)"
    )
    print(
        f"  frame cost            p50 {statistics.median(frame_costs):.2f} ms   "
        f"p99 {pct(frame_costs, 0.99):.2f} ms   (drain + pull + panes)"
    )
    print(
        f"  key press to screen   p50 {statistics.median(key_ms):.1f} ms   "
        f"p99 {pct(key_ms, 0.99):.1f} ms   max {max(key_ms):.1f} ms   "
        f"({presses} presses of s; target < 100 ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10_000.0, help="book updates per second")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the burst")
    parser.add_argument("--presses", type=int, default=20, help="key presses timed")
    args = parser.parse_args()
    asyncio.run(main(args.rate, args.seconds, args.presses))
