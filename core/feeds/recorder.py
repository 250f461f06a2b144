"""Making recordings (core.feeds.recording): from this process's own feeds, for users without
NATS, or by copying a window of the JetStream stream to a file."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from core.feeds.bus_nats import StoredMessage, connect, read_window, stream_window
from core.feeds.collect import CollectorStats, CollectPlan, run_collector
from core.feeds.recording import RecordingWriter


async def record_feeds(
    plan: CollectPlan,
    path: Path,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> tuple[CollectorStats, int]:
    """Run the plan's feeds as a collector would, writing every message to `path` (numbered
    in order, stamped with the time it was written); returns the stats and messages written."""
    sequence = itertools.count(1)
    with RecordingWriter(path, source=f"arbdesk record ({plan.name})") as writer:

        async def sink(subject: str, data: bytes) -> None:
            writer.write(StoredMessage(next(sequence), subject, data, time.time()))

        stats = await run_collector(plan, None, sink=sink, stop=stop, on_ready=on_ready)
        return stats, writer.count


async def copy_stream(
    url: str,
    stream: str,
    path: Path,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> int:
    """Copy the stream's messages stored in [start, end] to a file with the stream's tag, so
    replaying the file names opportunities as replaying the stream does."""
    nc = await connect(url, "arbdesk-record")
    try:
        js = nc.jetstream()
        window = await stream_window(js, stream)
        with RecordingWriter(path, tag=window.tag, source=f"{url} {stream}") as writer:
            async for message in read_window(js, stream, start=start, end=end):
                writer.write(message)
            return writer.count
    finally:
        with contextlib.suppress(Exception):
            await nc.close()
