"""Attach benchmark: the console over a served engine in another process, under a burst.

The engine side (a child process) is bench_console's engine with its books filled, `--rate`
book deltas a second applied to them, and its door served on a unix socket (DoorServer). The
console side is the Textual app, headless at 160x48, over a RemoteDoor. Then the same console
over the same engine in one process (LocalDoor) runs as the baseline. Printed, not asserted:

- frames per second the attached console draws, and the cost of one of its frames;
- key press to screen: `s` pressed until the books pane has painted the next symbol (for an
  attached console that is a round trip: the new view goes to the engine, whose next frame
  brings that symbol's books);
- one snapshot frame: bytes, engine-side encode (to_wire + JSON) and console-side decode.

Run: `.venv/bin/python bench/bench_attach.py [--rate 10000] [--seconds 5]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events  # noqa: E402

from bench.bench_console import build_engine, pct, produce  # noqa: E402
from console.app import ArbdeskApp  # noqa: E402
from core.door import EngineDoor  # noqa: E402
from core.engine.local_door import LocalDoor  # noqa: E402
from core.service import wire  # noqa: E402
from core.service.door_server import DoorServer  # noqa: E402
from core.service.remote_door import NotServing, RemoteDoor, fetch_hello  # noqa: E402


async def engine_side(socket: Path, rate: float) -> None:
    engine = build_engine()
    server = DoorServer(LocalDoor(engine), socket)
    await server.start()
    stop = asyncio.Event()
    await produce(engine, rate, stop, [0])


async def drive(app: ArbdeskApp, seconds: float, presses: int) -> dict[str, list[float]]:
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(1.0)
        frames0, t0 = app.frames, time.perf_counter()
        app.frame_ms.clear()
        await asyncio.sleep(seconds)
        fps = (app.frames - frames0) / (time.perf_counter() - t0)
        costs = list(app.frame_ms)
        key_ms: list[float] = []
        books = app.books
        for _ in range(presses):
            before = books.symbol
            started = time.perf_counter()
            app.post_message(events.Key("s", "s"))
            # Painted with the next symbol's books (not just its title).
            while books.symbol == before or not any(
                side.bids for side in app.state.books if app.state.selected_symbol == books.symbol
            ):
                await asyncio.sleep(0.0005)
            key_ms.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.15)
    return {"fps": [fps], "cost": costs, "key": key_ms}


def report(name: str, figures: dict[str, list[float]]) -> None:
    cost, key = figures["cost"], figures["key"]
    print(f"  {name}")
    print(f"    frames              {figures['fps'][0]:.1f} /s   (target >= 10)")
    p50, p99 = statistics.median(cost), pct(cost, 0.99)
    print(f"    frame cost          p50 {p50:.2f} ms   p99 {p99:.2f} ms")
    print(
        f"    key press to screen p50 {statistics.median(key):.1f} ms   p99 {pct(key, 0.99):.1f} ms"
        f"   max {max(key):.1f} ms   ({len(key)} presses of s; target p99 < 100 ms)"
    )


async def console_side(socket: Path, rate: float, seconds: float, presses: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            hello = await fetch_hello(socket, 2.0)
            break
        except NotServing:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
    remote = RemoteDoor(socket, hello)
    attached = await drive(ArbdeskApp(remote), seconds, presses)
    snapshot = remote.snapshot(hello.snapshot.symbols[:1], 10)

    # One frame's cost, as the engine encodes it and the console decodes it.
    text = wire.snapshot_frame(snapshot, [])
    runs = 300
    started = time.perf_counter()
    for _ in range(runs):
        wire.snapshot_frame(snapshot, [])
    encode_ms = (time.perf_counter() - started) / runs * 1000
    started = time.perf_counter()
    for _ in range(runs):
        wire.parse_server_frame(text)
    decode_ms = (time.perf_counter() - started) / runs * 1000

    local_engine = build_engine()
    stop = asyncio.Event()
    producer = asyncio.create_task(produce(local_engine, rate, stop, [0]))
    door: EngineDoor = LocalDoor(local_engine)
    in_process = await drive(ArbdeskApp(door, start_engine=False), seconds, presses)
    stop.set()
    await producer

    print(f"console under {rate:,.0f} book updates/s, {seconds:.0f} s (headless, 160x48)")
    report("attached (engine in another process, unix socket)", attached)
    report("in process (baseline, same run; the engine shares the console's loop)", in_process)
    print(
        f"  snapshot frame        {len(text):,} bytes ({len(snapshot.books)} books,"
        f" {len(snapshot.spreads)} spreads, {len(snapshot.finished_trades)} trades)"
    )
    print(f"    encode (engine)     {encode_ms:.3f} ms   decode (console) {decode_ms:.3f} ms")
    print(f"    frames received     {remote.frames_received}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10_000.0, help="book updates per second")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the burst")
    parser.add_argument("--presses", type=int, default=20, help="key presses timed")
    parser.add_argument("--engine-side", metavar="SOCKET", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine_side:
        asyncio.run(engine_side(Path(args.engine_side), args.rate))
        return
    with tempfile.TemporaryDirectory() as folder:
        socket = Path(folder) / "run" / "engine.sock"
        child = subprocess.Popen(  # noqa: S603 - this script, fixed arguments
            [sys.executable, __file__, "--engine-side", str(socket), "--rate", str(args.rate)]
        )
        try:
            asyncio.run(console_side(socket, args.rate, args.seconds, args.presses))
        finally:
            child.terminate()
            child.wait(10)


if __name__ == "__main__":
    main()
