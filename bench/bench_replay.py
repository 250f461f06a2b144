"""Replay benchmark (issue 15): one hour of recorded sim market replayed as fast as possible;
the speed-up over real time.

1. Recording, generated without waiting an hour: the `make run` market (default Settings():
   every sim venue and symbol, default sim settings, seed included) is stepped synchronously,
   tick by tick (sim.tick_ms; 36,000 ticks for the hour). After each tick every (venue,
   symbol) book goes through what a collector does with it: the SimBook as the ccxt-style
   book `watch_order_book` returns, applied to an OrderBook as the feed supervisor applies it
   (depth feeds.depth_limit, sequence = the venue's nonce), then BookPublisher.encoded_for:
   a message only when the top levels changed, a snapshot every bus.snapshot_every. Plus one
   heartbeat per bus.heartbeat_s listing every feed live. Every time is the sim clock (a fixed
   start epoch + elapsed simulated time): exchange_ts, received_at, heartbeat time and the
   stored time, so the recording spans one hour of market time. Written with RecordingWriter
   (gzip JSON lines), as `arbdesk record` writes one.
2. Baseline: the time to read the file and decode every message (read_recording +
   decode_book / decode_heartbeat), so the engine's own share of the replay shows.
3. Replay: core.replay.replay(settings, read_recording(path), speed=None, auto=True), the
   engine (detection, risk, paper fills on the replayed books) as `arbdesk replay FILE` runs it,
   logging to a file as the CLI does. If it would run past --budget-s of wall time, the feed of
   messages stops there and the figures are for the part replayed (said so in the output).

Prints figures only; nothing here asserts. Usage:
`.venv/bin/python bench/bench_replay.py [--minutes 60] [--budget-s 420] [--profile]`
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import itertools
import pstats
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from targets import target_line  # noqa: E402

from core.book import OrderBook  # noqa: E402
from core.feeds.book_stream import BookPublisher  # noqa: E402
from core.feeds.book_wire import (  # noqa: E402
    HEARTBEAT_SUBJECT_PREFIX,
    Heartbeat,
    book_subject,
    decode_book,
    decode_heartbeat,
    encode_heartbeat,
    heartbeat_subject,
)
from core.feeds.bus_nats import StoredMessage  # noqa: E402
from core.feeds.recording import RecordingWriter, read_header, read_recording  # noqa: E402
from core.feeds.sim import SimMarket  # noqa: E402
from core.feeds.sim.exchange import _book_dict as sim_book_dict  # noqa: E402 - the venue's own
from core.settings import Settings, VenueKind  # noqa: E402

if TYPE_CHECKING:
    from core.replay import ReplayReport

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: the sim clock's epoch in the recording
TARGET_NAME = "replay: one hour of sim market, speed-up over real time"


# -- 1. the recording ----------------------------------------------------------------------


def generate(settings: Settings, path: Path, minutes: float) -> dict[str, float]:
    """Write `minutes` of the sim market to `path` as a collector of every venue would
    publish it; returns what it wrote."""
    sim_venues = [v for v in settings.venues if v.kind is VenueKind.SIM]
    market = SimMarket(settings.sim, sim_venues, start_ms=START_MS)
    depth = settings.feeds.depth_limit
    keys = [(v.name, s) for v in sim_venues for s in v.symbols]
    streams = [
        (
            key,
            OrderBook(*key),
            BookPublisher(key[0], key[1], depth, settings.bus.snapshot_every),
            book_subject(*key),
        )
        for key in keys
    ]
    collector = "-".join(v.name for v in sim_venues)  # plan_collector's default name
    beat_subject = heartbeat_subject(collector)
    live = tuple((venue, symbol, "live") for venue, symbol in keys)
    beat_every_ms = int(settings.bus.heartbeat_s * 1000)
    ticks = round(minutes * 60_000 / settings.sim.tick_ms)
    seq = itertools.count(1)
    unchanged = 0
    started = time.perf_counter()
    with RecordingWriter(path, source="bench_replay (sim market, stepped)") as writer:

        def publish_books() -> None:
            nonlocal unchanged
            for key, book, publisher, subject in streams:
                raw = sim_book_dict(market.book(*key), None)
                at = market.now_ms / 1000.0  # received now, in market time
                # FeedSupervisor._on_book: top `depth` of each side, the venue's nonce
                book.apply_snapshot(
                    raw["bids"][:depth],
                    raw["asks"][:depth],
                    sequence=raw["nonce"],
                    exchange_ts=raw["timestamp"] / 1000.0,
                    received_at=at,
                )
                data = publisher.encoded_for(book)  # BusCollector.on_update
                if data is None:
                    unchanged += 1
                    continue
                writer.write(StoredMessage(next(seq), subject, data, at))

        def beat() -> None:
            at = market.now_ms / 1000.0
            data = encode_heartbeat(Heartbeat(collector, at, live))
            writer.write(StoredMessage(next(seq), beat_subject, data, at))

        publish_books()  # the first watch_order_book: the books as they are at start
        beat()
        next_beat = market.now_ms + beat_every_ms
        for _ in range(ticks):
            market.step()
            publish_books()
            if market.now_ms >= next_beat:
                beat()
                next_beat += beat_every_ms
        count = writer.count
    return {
        "seconds": time.perf_counter() - started,
        "messages": count,
        "ticks": ticks,
        "books": len(keys),
        "unchanged": unchanged,
        "bytes": path.stat().st_size,
    }


# -- 2. baseline: read + decode ------------------------------------------------------------


def read_and_decode(path: Path) -> tuple[float, Counter[str]]:
    kinds: Counter[str] = Counter()
    started = time.perf_counter()
    heartbeat = HEARTBEAT_SUBJECT_PREFIX + "."
    for message in read_recording(path):
        if message.subject.startswith(heartbeat):
            decode_heartbeat(message.data)
            kinds["heartbeat"] += 1
        else:
            kinds[decode_book(message.data).kind] += 1
    return time.perf_counter() - started, kinds


# -- 3. the replay -------------------------------------------------------------------------


class Budget:
    """The recording's messages until `seconds` of wall time have passed since the first."""

    def __init__(self, path: Path, seconds: float) -> None:
        self.path = path
        self.seconds = seconds
        self.cut = False

    def __iter__(self) -> Iterator[StoredMessage]:
        deadline = time.perf_counter() + self.seconds
        for n, message in enumerate(read_recording(self.path)):
            if n & 1023 == 0 and time.perf_counter() > deadline:
                self.cut = True
                return
            yield message


def run_replay(settings: Settings, path: Path, budget_s: float, profile: bool) -> ReplayReport:
    from core.logsetup import setup_logging, shutdown_logging
    from core.replay import replay

    log = setup_logging(settings)  # as `arbdesk replay` does: to a file, off the loop
    messages = Budget(path, budget_s)
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    report = asyncio.run(
        replay(settings, messages, tag=read_header(path).tag, speed=None, auto=True)
    )
    if profiler is not None:
        profiler.disable()
    shutdown_logging()

    kinds = report.by_kind()
    found = Counter(o.kind for o in report.opportunities)
    executed = sum(r.executed for r in kinds)
    print(f"replay (as fast as possible, auto-execute on){' [cProfile on]' if profile else ''}:")
    if messages.cut:
        print(
            f"  STOPPED at the {budget_s:.0f} s wall budget: the figures below are for the "
            f"part replayed ({report.market_s / 60:.1f} min of market)"
        )
    print(f"  messages       {report.messages:,}")
    print(f"  market time    {report.market_s:,.1f} s")
    print(f"  wall time      {report.wall_s:,.2f} s")
    print(f"  speed-up       {report.speedup:,.1f}x real time")
    print(f"  messages/s     {report.messages / report.wall_s:,.0f}")
    print(
        f"  book updates   {report.book_updates:,}  (gaps {report.gaps}, dropped {report.dropped})"
    )
    detail = ", ".join(f"{k} {n}" for k, n in sorted(found.items()))
    print(f"  opportunities  {len(report.opportunities):,}" + (f" ({detail})" if detail else ""))
    for r in sorted(kinds, key=lambda r: r.key):
        print(
            f"    {r.key:<12} journaled {r.opportunities:>5}  executed {r.executed:>5}  ok "
            f"{r.successful:>5}  failed {r.failed:>4}  volume {r.volume_usd:>14,.2f} USD  "
            f"fees {r.fees_usd:>10,.2f} USD  PnL {r.profit_usd:>+11,.2f} USD"
        )
    print(f"  trades         {executed:,} executed")
    print(f"  PnL            {report.pnl_usd:+,.2f} USD net of {report.fees_usd:,.2f} USD fees")
    print(f"  log            {log.stat().st_size / 1e6:.1f} MB ({log.name})")
    if profiler is not None:
        for key in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(25)
            print(f"\ncProfile, top 25 by {key}:")
            print("\n".join(out.getvalue().splitlines()[6:]))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="market time to record")
    parser.add_argument(
        "--budget-s", type=float, default=420.0, help="longest wall time the replay may take"
    )
    parser.add_argument("--profile", action="store_true", help="run the replay under cProfile")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-replay-") as scratch:
        folder = Path(scratch)
        settings = Settings()
        settings.logging.path = folder / "arbdesk.log"
        settings.journal.path = folder / "journal.sqlite3"
        path = folder / "sim-hour.jsonl.gz"
        books = sum(len(v.symbols) for v in settings.venues if v.kind is VenueKind.SIM)
        print(
            f"recording {args.minutes:g} min of the sim market: {len(settings.venues)} venues, "
            f"{books} books, tick {settings.sim.tick_ms} ms, seed {settings.sim.seed}, depth "
            f"{settings.feeds.depth_limit}, snapshot every {settings.bus.snapshot_every}, "
            f"heartbeat {settings.bus.heartbeat_s:g} s"
        )
        made = generate(settings, path, args.minutes)
        print(
            f"  generated in {made['seconds']:.1f} s: {made['ticks']:,} ticks, "
            f"{made['messages']:,} messages ({made['unchanged']:,} book updates unchanged, "
            f"not published), {made['bytes'] / 1e6:.1f} MB gzip "
            f"({made['bytes'] / made['messages']:.0f} B/message)"
        )

        decode_s, kinds = read_and_decode(path)
        total = sum(kinds.values())
        print(
            f"baseline read + decode: {decode_s:.2f} s for {total:,} messages "
            f"({total / decode_s:,.0f} messages/s; "
            + ", ".join(f"{k} {n:,}" for k, n in sorted(kinds.items()))
            + ")"
        )

        report = run_replay(settings, path, args.budget_s, args.profile)
        if report.wall_s > 0 and report.messages:
            # the baseline for the messages the replay got through (all, unless cut)
            base = decode_s * report.messages / total
            engine = max(0.0, report.wall_s - base)
            print(
                f"  replay / (read + decode): {report.wall_s / base:.1f}x; the engine's own "
                f"share {engine / report.wall_s:.0%} ({engine:.1f} s, "
                f"{engine / report.messages * 1e6:.1f} us/message)"
            )
        print(target_line(TARGET_NAME, report.speedup, 1.0, "x", at_most=False))


if __name__ == "__main__":
    main()
