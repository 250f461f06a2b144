"""Market data over NATS JetStream (issue 15): the in-process book path against collector
process -> nats-server (loopback, JetStream, file storage) -> engine process, in one run.

The same pre-generated stream of book updates (20 (venue, symbol) books, 20 levels a side,
each update changing 1-3 levels near the top) is used everywhere; generating it is not timed.

- in process: each update applied to an OrderBook, then the BookUpdated event the engine
  builds for it (what FeedSupervisor + Engine._on_book_update do before detection);
- bus: this process is the collector (a source OrderBook per feed, BusCollector.on_update on
  each update, BusCollector.run publishing); a second interpreter running this script with
  `--engine URL` is the engine (BusFeed fed by an ordered JetStream push consumer). The
  engine counts BookUpdated events; latency is the event's `at` minus the collector's
  `received_at` stamp (both time.time() on this one machine);
- send modes on the collector: core `nc.publish` (the stream stores it, no ack),
  `js.publish` (acked, one round trip each) and `js.publish_async` (acks pipelined);
- backlog drain: the engine catching up on a stream it was not following (its ceiling,
  whatever one collector can send).

Prints figures only; nothing here asserts. Usage: `.venv/bin/python bench/bench_bus.py`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nats  # noqa: E402
from nats.js.api import ConsumerConfig, DeliverPolicy, StorageType  # noqa: E402
from targets import target_line  # noqa: E402

from core.book import OrderBook  # noqa: E402
from core.events import BookUpdated, Event  # noqa: E402
from core.feeds.book_stream import BookFollower, BookPublisher  # noqa: E402
from core.feeds.book_wire import (  # noqa: E402
    BookMessage,
    Heartbeat,
    decode_book,
    encode_book,
    encode_heartbeat,
)
from core.feeds.bus import SNAPSHOT_SUBJECT_PREFIX, BusCollector, BusFeed, snapshot_subject  # noqa: E402
from tests.support.nats import nats_server  # noqa: E402

STREAM = "BOOKS"
STREAM_SUBJECTS = ["arbdesk.book.>", "arbdesk.heartbeat.>"]
CONTROL = "bench.ctl"  # core NATS request/reply between this process and the engine's
VENUES = ("binance", "okx", "bybit", "kraken")
SYMBOLS = {  # mid, tick
    "BTC/USDT": (65_000.0, 0.1),
    "ETH/USDT": (3_200.0, 0.01),
    "SOL/USDT": (150.0, 0.001),
    "XRP/USDT": (0.52, 0.0001),
    "DOGE/USDT": (0.15, 0.00001),
}
DEPTH = 20  # published depth, and the depth the changes stay within
SEED_LEVELS = 25  # levels a side in the starting books (a delete pulls a deeper one in)
N_UPDATES = 300_000  # pre-generated; each phase replays a prefix on fresh books
N_BASELINE = 200_000
N_BREAKDOWN = 50_000
FLAT_OUT_S = 6.0  # cap per flat-out send mode
ACKED_S = 4.0
PACED_RATE = 5_000.0  # updates/s for the latency figure (well under the ceiling: no queueing)
PACED_S = 3.0
N_BACKLOG = 120_000
BATCH = 100  # updates fed between yields to the publishing task
HIGH_WATER = 2_000  # feeding waits while the collector's queue holds more than this
TARGET_RATE = 50_000.0
TARGET_P99_MS = 5.0

Update = tuple[int, tuple[tuple[float, float], ...], tuple[tuple[float, float], ...], int]


# -- the stream of updates ------------------------------------------------------------------


def keys() -> list[tuple[str, str]]:
    return [(v, s) for v in VENUES for s in SYMBOLS]


def price(symbol: str, is_bid: bool, k: int) -> float:
    mid, tick = SYMBOLS[symbol]
    return round(mid - k * tick if is_bid else mid + k * tick, 8)


def seed_sizes(rng: random.Random) -> tuple[dict[int, float], dict[int, float]]:
    side = range(1, SEED_LEVELS + 1)
    return {k: round(rng.uniform(0.01, 5.0), 4) for k in side}, {
        k: round(rng.uniform(0.01, 5.0), 4) for k in side
    }


def make_stream(n: int, seed: int = 15) -> tuple[list[Update], list[Any]]:
    """Seeds (the starting levels of every book) and `n` updates: (book index, bid changes,
    ask changes, sequence). A change sits 1..DEPTH ticks from the mid (mostly within 3), so it
    is always inside the published top DEPTH and every update publishes one message; 15 % of
    changes delete a level that exists."""
    rng = random.Random(seed)
    books = keys()
    seeds = [seed_sizes(rng) for _ in books]
    state = [(dict(b), dict(a)) for b, a in seeds]
    seqs = [0] * len(books)
    out: list[Update] = []
    for _ in range(n):
        i = rng.randrange(len(books))
        symbol = books[i][1]
        changes: tuple[dict[float, float], dict[float, float]] = ({}, {})
        for _ in range(rng.randint(1, 3)):
            is_bid = rng.random() < 0.5
            levels = state[i][0 if is_bid else 1]
            k = 1 + min(int(rng.expovariate(1 / 3)), DEPTH - 1)
            if price(symbol, is_bid, k) in changes[0 if is_bid else 1]:
                continue  # one change per level and update (an insert then delete is none)
            if k in levels and rng.random() < 0.15:
                size = 0.0
                del levels[k]
            else:
                size = levels.get(k, 0.0)
                while size == levels.get(k, 0.0):  # a real change, so every update publishes
                    size = round(rng.uniform(0.01, 5.0), 4)
                levels[k] = size
            changes[0 if is_bid else 1][price(symbol, is_bid, k)] = size
        seqs[i] += 1
        out.append((i, tuple(changes[0].items()), tuple(changes[1].items()), seqs[i]))
    return out, seeds


def fresh_books(seeds: list[Any]) -> list[OrderBook]:
    books = []
    for (venue, symbol), (bids, asks) in zip(keys(), seeds, strict=True):
        book = OrderBook(venue, symbol)
        book.apply_snapshot(
            [(price(symbol, True, k), s) for k, s in bids.items()],
            [(price(symbol, False, k), s) for k, s in asks.items()],
            sequence=0,
            received_at=time.time(),
        )
        books.append(book)
    return books


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Sink:
    """What the engine's event bus is handed, reduced to counting BookUpdated events and the
    collector-receive -> event latency of each (same code in process and in the engine)."""

    def __init__(self) -> None:
        self.applied = 0
        self.first_at = 0.0
        self.last_at = 0.0
        self.latencies: list[float] = []

    def __call__(self, event: Event) -> None:
        if type(event) is BookUpdated:
            if not self.applied:
                self.first_at = event.at
            self.applied += 1
            self.last_at = event.at
            self.latencies.append(event.at - event.received_at)


# -- 1. in process --------------------------------------------------------------------------


def bench_in_process(updates: list[Update], seeds: list[Any]) -> dict[str, float]:
    """Apply + BookUpdated per update: a timed pass for the rate, then a pass timing each."""
    clock = time.time
    figures: dict[str, float] = {}
    for timed_each in (False, True):
        books = fresh_books(seeds)
        sink = Sink()
        each: list[int] = []
        tick = time.perf_counter_ns
        t0 = time.perf_counter()
        for i, bids, asks, seq in updates:
            started = tick() if timed_each else 0
            book = books[i]
            book.apply_update(bids, asks, seq, seq, received_at=clock())
            sink(
                BookUpdated(
                    book.venue,
                    book.symbol,
                    book.best_bid_price,
                    book.best_ask_price,
                    book.exchange_ts,
                    book.received_at,
                    book.sequence,
                    at=clock(),
                )
            )
            if timed_each:
                each.append(tick() - started)
        elapsed = time.perf_counter() - t0
        if timed_each:
            figures["p50_us"] = pct([e / 1000 for e in each], 0.50)
            figures["p99_us"] = pct([e / 1000 for e in each], 0.99)
        else:
            figures["rate"] = sink.applied / elapsed
            figures["mean_us"] = elapsed / sink.applied * 1e6
    return figures


def bench_breakdown(updates: list[Update], seeds: list[Any]) -> dict[str, float]:
    """Where a bus update's CPU goes, stage by stage, in process (us per update)."""
    clock, tick = time.time, time.perf_counter
    books = fresh_books(seeds)
    publishers = [BookPublisher(b.venue, b.symbol, DEPTH) for b in books]
    t_apply = t_diff = t_encode = 0.0
    encoded: list[bytes] = []
    for i, bids, asks, seq in updates:
        book = books[i]
        t0 = tick()
        book.apply_update(bids, asks, seq, seq, received_at=clock())
        t1 = tick()
        message = publishers[i].message_for(book)
        t2 = tick()
        if message is not None:  # always: every change is inside the published depth
            encoded.append(encode_book(message))
        t3 = tick()
        t_apply += t1 - t0
        t_diff += t2 - t1
        t_encode += t3 - t2
    # What BusCollector.on_update runs: the two above in one, without the BookMessage.
    books = fresh_books(seeds)
    publishers = [BookPublisher(b.venue, b.symbol, DEPTH) for b in books]
    t_encoded_for = 0.0
    for i, bids, asks, seq in updates:
        book = books[i]
        book.apply_update(bids, asks, seq, seq, received_at=clock())
        t0 = tick()
        publishers[i].encoded_for(book)
        t_encoded_for += tick() - t0
    t0 = tick()
    decoded: list[BookMessage] = [decode_book(raw) for raw in encoded]
    t_decode = tick() - t0
    followers = {k: BookFollower(OrderBook(*k)) for k in keys()}
    t0 = tick()
    for m in decoded:
        followers[(m.venue, m.symbol)].apply(m)
    t_follow = tick() - t0
    n = len(encoded)
    return {
        "apply": t_apply / n * 1e6,
        "message_for": t_diff / n * 1e6,
        "encode": t_encode / n * 1e6,
        "encoded_for": t_encoded_for / n * 1e6,
        "decode": t_decode / n * 1e6,
        "follow": t_follow / n * 1e6,
        "bytes": sum(map(len, encoded)) / n,
    }


# -- 2. the engine process ------------------------------------------------------------------


class Engine:
    """BusFeed behind an ordered JetStream push consumer, driven over core NATS by the
    benchmark (`CONTROL` requests: sub, unsub, reset, wait, quit)."""

    def __init__(self, nc: Any, js: Any) -> None:
        self.nc, self.js = nc, js
        self.feed = BusFeed(self._publish, self._ask)
        self.sub: Any = None
        self.done = asyncio.Event()
        self._reset()

    def _reset(self) -> None:
        self.sink = Sink()
        self.in_feed = 0.0
        self.cpu0 = time.process_time()
        self.received0 = self.feed.received

    def _publish(self, event: Event) -> None:
        self.sink(event)

    async def _ask(self, venue: str, symbol: str) -> None:
        await self.nc.publish(snapshot_subject(venue, symbol), b"")

    async def _on_bus(self, msg: Any) -> None:
        started = time.perf_counter()
        self.feed.on_message(msg.subject, msg.data)
        self.in_feed += time.perf_counter() - started

    async def subscribe(self, start_seq: int | None) -> None:
        """From new messages on (the engine's live mode), or from a stream sequence."""
        if start_seq is None:
            policy, config = DeliverPolicy.NEW, None
        else:
            policy, config = (
                DeliverPolicy.BY_START_SEQUENCE,
                ConsumerConfig(opt_start_seq=start_seq),
            )
        self.sub = await self.js.subscribe(
            "arbdesk.>",
            cb=self._on_bus,
            stream=STREAM,
            ordered_consumer=True,
            deliver_policy=policy,
            config=config,
        )

    async def on_control(self, msg: Any) -> None:
        request = json.loads(msg.data)
        command = request["cmd"]
        reply: dict[str, Any] = {"ok": True}
        if command == "sub":
            await self.subscribe(request.get("start_seq"))
        elif command == "unsub":
            await self.sub.unsubscribe()
            self.sub = None
        elif command == "reset":
            self._reset()
        elif command == "wait":
            reply = await self._wait(request["count"], request["timeout"])
        elif command == "quit":
            self.done.set()
        await msg.respond(json.dumps(reply).encode())

    async def _wait(self, count: int, timeout_s: float) -> dict[str, Any]:
        """Until `count` BookUpdated events since the last reset (or the timeout): figures."""
        deadline = time.monotonic() + timeout_s
        while self.sink.applied < count and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        sink = self.sink
        return {
            "applied": sink.applied,
            "first_at": sink.first_at,
            "last_at": sink.last_at,
            "p50_ms": pct(sink.latencies, 0.50) * 1000,
            "p99_ms": pct(sink.latencies, 0.99) * 1000,
            "max_ms": max(sink.latencies, default=float("nan")) * 1000,
            "cpu_s": time.process_time() - self.cpu0,
            "in_feed_s": self.in_feed,
            "received": self.feed.received - self.received0,
            "gaps": self.feed.gaps,
            "dropped": self.feed.dropped,
        }


async def engine_main(url: str) -> None:
    nc = await nats.connect(url)
    engine = Engine(nc, nc.jetstream())
    await nc.subscribe(CONTROL, cb=engine.on_control)
    await nc.flush()
    print("ready", flush=True)
    await engine.done.wait()
    await nc.drain()


# -- 2. the collector (this process) --------------------------------------------------------


def server_cpu_s() -> float | None:
    """CPU seconds used so far by our nats-server child (from /proc; None off Linux)."""
    me = str(os.getpid())
    try:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
            fields = rest.split()
            if name == "nats-server" and fields[1] == me:  # fields[1]: ppid
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None
    return None


class Bench:
    def __init__(self, nc: Any, js: Any, updates: list[Update], seeds: list[Any]) -> None:
        self.nc, self.js = nc, js
        self.updates, self.seeds = updates, seeds
        self.collector: BusCollector | None = None

    async def control(self, command: str, timeout_s: float = 10.0, **args: Any) -> dict[str, Any]:
        msg = await self.nc.request(
            CONTROL, json.dumps({"cmd": command, **args}).encode(), timeout=timeout_s
        )
        reply: dict[str, Any] = json.loads(msg.data)
        return reply

    async def on_snapshot_request(self, msg: Any) -> None:
        _, _, venue, symbol = msg.subject.split(".")
        if self.collector is not None:
            self.collector.request_snapshot(venue, symbol.replace("_", "/"))

    def sender(self, mode: str) -> Callable[[str, bytes], Awaitable[Any]]:
        if mode == "core":
            return self.nc.publish
        if mode == "acked":
            return self.js.publish
        return self.js.publish_async

    async def collect(
        self, mode: str, n: int, seconds: float, pace: float | None = None
    ) -> dict[str, Any]:
        """Feed up to `n` updates (or for `seconds`) through a fresh BusCollector publishing in
        `mode`; returns when every message has left this process (and, acked, is stored)."""
        feed_states = [(v, s, "live") for v, s in keys()]
        collector = BusCollector(f"bench-{mode}", self.sender(mode), DEPTH, lambda: feed_states)
        self.collector = collector
        books = fresh_books(self.seeds)
        queue = collector._queue  # read only: the feeding waits while the publisher lags
        runner = asyncio.create_task(collector.run())
        cpu0, srv0 = time.process_time(), server_cpu_s()
        clock = time.time
        t0 = clock()
        deadline = t0 + seconds
        fed = 0
        for i, bids, asks, seq in self.updates[:n]:
            book = books[i]
            book.apply_update(bids, asks, seq, seq, received_at=clock())
            collector.on_update(book.venue, book.symbol, book)
            fed += 1
            if pace is not None:
                delay = t0 + fed / pace - clock()
                if delay > 0.0005:
                    await asyncio.sleep(delay)
                if clock() > deadline:
                    break
            elif fed % BATCH == 0:
                while queue.qsize() > HIGH_WATER:
                    await asyncio.sleep(0.0005)
                await asyncio.sleep(0)
                if clock() > deadline:
                    break
        produced = sum(p.sequence for p in collector.publishers.values())
        while collector.published + collector.dropped < produced:
            await asyncio.sleep(0.001)
        if mode == "async":
            await self.js.publish_async_completed()
        await self.nc.flush()
        sent = clock()
        runner.cancel()
        try:
            await runner
        except asyncio.CancelledError:
            pass
        srv1 = server_cpu_s()
        return {
            "fed": fed,
            "published": collector.published,
            "dropped": collector.dropped,
            "t0": t0,
            "sent": sent,
            "rate": collector.published / (sent - t0),
            "cpu_s": time.process_time() - cpu0,
            "server_cpu_s": None if srv0 is None or srv1 is None else srv1 - srv0,
        }

    async def phase(
        self, mode: str, n: int, seconds: float, pace: float | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Collector and engine running together: (collector figures, engine figures)."""
        await self.control("reset")
        sent = await self.collect(mode, n, seconds, pace)
        got = await self.control("wait", 40.0, count=sent["published"], timeout=30.0)
        return sent, got

    async def backlog(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The engine unsubscribed while N_BACKLOG updates are stored, then drains them."""
        await self.control("unsub")
        start = (await self.js.stream_info(STREAM)).state.last_seq + 1
        sent = await self.collect("core", N_BACKLOG, 30.0)
        # Acked, so every message published before it on this connection is stored too.
        await self.js.publish(
            "arbdesk.heartbeat.bench-end", encode_heartbeat(Heartbeat("bench-end", time.time(), ()))
        )
        await self.control("reset")
        await self.control("sub", start_seq=start)
        got = await self.control("wait", 40.0, count=sent["published"], timeout=30.0)
        return sent, got


# -- printing -------------------------------------------------------------------------------


def engine_rate(got: dict[str, Any]) -> float:
    span = got["last_at"] - got["first_at"]
    return got["applied"] / span if span > 0 else float("nan")


def end_to_end_rate(sent: dict[str, Any], got: dict[str, Any]) -> float:
    return got["applied"] / (got["last_at"] - sent["t0"])


def print_phase(label: str, sent: dict[str, Any], got: dict[str, Any], live: bool = True) -> None:
    n = max(got["applied"], 1)
    server = sent["server_cpu_s"]
    server_txt = "n/a" if server is None else f"{server / max(sent['published'], 1) * 1e6:.1f}"
    print(
        f"bus: [{label}] collector fed {sent['fed']:,} published {sent['published']:,} "
        f"dropped {sent['dropped']} -> {sent['rate']:,.0f} msg/s sent "
        f"(collector CPU {sent['cpu_s'] / max(sent['published'], 1) * 1e6:.1f} us/msg, "
        f"nats-server CPU {server_txt} us/msg)"
    )
    overall = f"{end_to_end_rate(sent, got):,.0f} upd/s first fed -> last applied" if live else ""
    print(
        f"bus: [{label}] engine applied {got['applied']:,} (gaps {got['gaps']}, bad "
        f"{got['dropped']}): {engine_rate(got):,.0f} upd/s while receiving"
        f"{', ' + overall if live else ' (stored before it subscribed)'}; engine CPU "
        f"{got['cpu_s'] / n * 1e6:.1f} us/upd, of which BusFeed.on_message "
        f"{got['in_feed_s'] / n * 1e6:.1f} us"
    )
    if not live:
        return
    print(
        f"bus: [{label}] collector received_at -> engine BookUpdated: p50 {got['p50_ms']:.3f} "
        f"ms  p99 {got['p99_ms']:.3f} ms  max {got['max_ms']:.3f} ms"
    )


def print_cpu_budget(sent: dict[str, Any], got: dict[str, Any]) -> None:
    """Collector + nats-server + engine CPU per message against the machine's CPUs."""
    n = max(sent["published"], 1)
    collector, engine = sent["cpu_s"] / n * 1e6, got["cpu_s"] / max(got["applied"], 1) * 1e6
    server = 0.0 if sent["server_cpu_s"] is None else sent["server_cpu_s"] / n * 1e6
    total, cpus = collector + server + engine, os.cpu_count() or 1
    print(
        f"bus: [core flat out] CPU per message: collector {collector:.1f} + nats-server "
        f"{server:.1f} + engine {engine:.1f} = {total:.1f} us; on {cpus} CPUs the three "
        f"processes together top out near {cpus / total * 1e6:,.0f} msg/s, one collector "
        f"process near {1e6 / collector:,.0f} msg/s"
    )


async def bench_bus(updates: list[Update], seeds: list[Any]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with nats_server() as url:
        nc = await nats.connect(url)
        js = nc.jetstream()
        await js.add_stream(name=STREAM, subjects=STREAM_SUBJECTS, storage=StorageType.FILE)
        bench = Bench(nc, js, updates, seeds)
        await nc.subscribe(f"{SNAPSHOT_SUBJECT_PREFIX}.>", cb=bench.on_snapshot_request)
        engine = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--engine", url, stdout=asyncio.subprocess.PIPE
        )
        if engine.stdout is None:
            raise RuntimeError("no pipe to the engine process")
        try:
            line = await asyncio.wait_for(engine.stdout.readline(), 30.0)
            if line.strip() != b"ready":
                raise RuntimeError(f"engine process did not start: {line!r}")
            await bench.control("sub")  # live: DeliverPolicy.NEW
            print(f"bus: nats-server on loopback, stream {STREAM} {STREAM_SUBJECTS} file storage")
            print("bus: engine = ordered push consumer on 'arbdesk.>' in a second process")
            for mode, seconds in (("core", FLAT_OUT_S), ("async", FLAT_OUT_S), ("acked", ACKED_S)):
                sent, got = await bench.phase(mode, len(updates), seconds)
                results[mode] = (sent, got)
                print_phase(f"{mode} flat out", sent, got)
                if mode == "core":
                    print_cpu_budget(sent, got)
            for mode in ("core", "acked"):
                if results[mode][0]["rate"] < 1.5 * PACED_RATE:
                    print(f"bus: [{mode} paced] skipped: it cannot sustain {PACED_RATE:,.0f}/s")
                    continue
                sent, got = await bench.phase(mode, len(updates), PACED_S, PACED_RATE)
                results[f"{mode}-paced"] = (sent, got)
                print_phase(f"{mode} paced {PACED_RATE:,.0f}/s", sent, got)
            sent, got = await bench.backlog()
            results["backlog"] = (sent, got)
            print_phase("backlog drain", sent, got, live=False)
            await bench.control("quit")
            await asyncio.wait_for(engine.wait(), 10.0)
        finally:
            if engine.returncode is None:
                engine.kill()
                await engine.wait()
            await nc.close()
    return results


def main() -> None:
    t_start = time.perf_counter()
    updates, seeds = make_stream(N_UPDATES)
    changes = sum(len(b) + len(a) for _, b, a, _ in updates) / len(updates)
    print(
        f"bus: {len(updates):,} updates over {len(keys())} books ({len(VENUES)} venues x "
        f"{len(SYMBOLS)} symbols), {SEED_LEVELS} levels a side, published depth {DEPTH}, "
        f"{changes:.2f} levels changed per update; {os.cpu_count()} CPUs"
    )
    base = bench_in_process(updates[:N_BASELINE], seeds)
    print(
        f"in-process: apply + BookUpdated: {base['rate']:,.0f} upd/s, mean "
        f"{base['mean_us']:.2f} us, p50 {base['p50_us']:.2f} us, p99 {base['p99_us']:.2f} us"
    )
    parts = bench_breakdown(updates[:N_BREAKDOWN], seeds)
    print(
        f"in-process breakdown (us/update): collector apply {parts['apply']:.2f}, "
        f"message_for (top {DEPTH} + diff) {parts['message_for']:.2f}, encode_book "
        f"{parts['encode']:.2f} (as one, encoded_for {parts['encoded_for']:.2f}) | engine "
        f"decode_book {parts['decode']:.2f}, follower.apply "
        f"{parts['follow']:.2f} | {parts['bytes']:.0f} bytes/message"
    )

    results = asyncio.run(bench_bus(updates, seeds))

    fast_mode = max(("core", "async", "acked"), key=lambda m: end_to_end_rate(*results[m]))
    acked_rate = end_to_end_rate(*results["acked"])
    if acked_rate < TARGET_RATE:
        print(
            f"bus: acked js.publish reaches {acked_rate:,.0f} upd/s < {TARGET_RATE:,.0f}: "
            f"the main figure uses the fastest mode, {fast_mode}"
        )
    sent, got = results[fast_mode]
    live = end_to_end_rate(sent, got)
    print(
        target_line(
            "bus: book updates/s into one engine", live, TARGET_RATE, "upd/s", at_most=False
        )
    )
    drain = engine_rate(results["backlog"][1])
    print(f"bus: engine ceiling (backlog drain, core-published): {drain:,.0f} upd/s")
    paced = results.get("core-paced")
    if paced is not None:
        p99 = paced[1]["p99_ms"]
        print(target_line("bus: publish -> book updated p99 (paced)", p99, TARGET_P99_MS, "ms"))
        ratio = p99 * 1000 / base["p99_us"]
        print(f"bus: ratio bus / in-process, p99 latency: {ratio:,.0f}x")
    print(f"bus: ratio in-process / bus, updates/s: {base['rate'] / live:.1f}x ({fast_mode})")
    print(f"bus: ratio in-process / engine ceiling:  {base['rate'] / drain:.1f}x")
    print(f"bus: run took {time.perf_counter() - t_start:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", metavar="URL", help="run as the engine process (internal)")
    args = parser.parse_args()
    if args.engine:
        asyncio.run(engine_main(args.engine))
    else:
        main()
