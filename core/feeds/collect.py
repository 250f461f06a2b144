"""`arbdesk collect`: only the feed supervisors (the engine's own FeedSet: ccxt.pro or the sim
venues, watchdog, backoff, staleness), publishing their books to NATS JetStream.

A collector is a FeedSet whose `on_update` hook is a BusCollector: each update becomes a
snapshot or delta on `arbdesk.book.<venue>.<SYMBOL>`, and every `bus.heartbeat_s` its feed
states go out on `arbdesk.heartbeat.<name>`. It answers the engines' snapshot requests for
its own books. On the sim market it builds the same SimMarket an embedded engine would (all
the configured sim venues, the same seed) and publishes the venues it was given, so two
collectors of one settings file show one market.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loguru import logger

from core.events import Event, FeedHealthChanged, VenueProblem
from core.feeds.bus import SNAPSHOT_SUBJECT_PREFIX, BusCollector, Send, snapshot_subject
from core.feeds.bus_nats import connect, ensure_stream, publisher, wait_flushed
from core.feeds.feedset import FeedSet
from core.settings import Settings, VenueKind, VenueSettings


class CollectError(ValueError):
    """The collector's arguments do not fit the settings (an unknown venue, no symbols)."""


@dataclass(frozen=True, slots=True)
class CollectPlan:
    name: str
    settings: Settings
    """The settings with only the venues (and symbols) this collector publishes."""
    all_sim_venues: list[VenueSettings]
    """Every sim venue of the settings: the market the collector simulates."""


def plan_collector(
    settings: Settings,
    venues: list[str] | None = None,
    symbols: list[str] | None = None,
    name: str | None = None,
) -> CollectPlan:
    known = {v.name: v for v in settings.venues}
    chosen = venues or list(known)
    unknown = [v for v in chosen if v not in known]
    if unknown:
        raise CollectError(
            f"unknown venue(s) {', '.join(unknown)}; the settings have {', '.join(known)}"
        )
    selected = []
    for venue_name in chosen:
        venue = known[venue_name]
        if symbols:
            venue = venue.model_copy(update={"symbols": list(symbols)})
        selected.append(venue)
    sim_venues = [
        next((s for s in selected if s.name == v.name), v)
        for v in settings.venues
        if v.kind is VenueKind.SIM
    ]
    name = name or "-".join(chosen)
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise CollectError(f"collector name {name!r}: letters, digits, _ and - only")
    return CollectPlan(name, settings.model_copy(update={"venues": selected}), sim_venues)


@dataclass
class CollectorStats:
    published: int = 0
    dropped: int = 0
    snapshots_asked: int = 0


async def run_collector(
    plan: CollectPlan,
    url: str | None,
    *,
    sink: Send | None = None,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[str], None] | None = None,
    on_event: Callable[[Event], None] | None = None,
    status_every_s: float = 10.0,
) -> CollectorStats:
    """Publish to NATS at `url` until `stop` is set (or the task is cancelled); returns what
    was sent. With `sink` instead of a URL, every message goes there (`arbdesk record`)."""
    settings = plan.settings
    nc = await connect(url, f"arbdesk-collect-{plan.name}") if url is not None else None
    market: Any = None
    feeds: FeedSet | None = None
    tasks: list[asyncio.Task[Any]] = []
    try:
        if nc is not None:
            window = await ensure_stream(nc.jetstream(), settings.bus)
            sink, where = publisher(nc), f"{url} (stream {window.name})"
        else:
            where = "a recording"
        assert sink is not None, "run_collector needs a NATS url or a sink"
        if plan.all_sim_venues:
            from core.feeds.sim import SimMarket

            market = SimMarket(settings.sim, plan.all_sim_venues)
            tasks.append(asyncio.create_task(market.run(), name="sim-market"))

        def feed_states() -> list[tuple[str, str, str]]:
            assert feeds is not None
            return [
                (venue, symbol, (sup.health.state.value if sup.health.state else "connecting"))
                for (venue, symbol), sup in feeds.supervisors.items()
            ]

        collector = BusCollector(
            plan.name,
            sink,
            settings.feeds.depth_limit,
            feed_states,
            snapshot_every=settings.bus.snapshot_every,
            heartbeat_s=settings.bus.heartbeat_s,
        )
        feeds = FeedSet(
            settings, _logged(on_event), on_update=collector.on_update, sim_market=market
        )
        stats = CollectorStats()
        if nc is not None:
            await _answer_snapshots(nc, settings, collector, stats)
        tasks.append(asyncio.create_task(collector.run(), name="bus-collector"))
        await feeds.start()
        books = ", ".join(f"{v.name} {' '.join(v.symbols)}" for v in settings.venues)
        logger.info("collector {} publishing {} to {}", plan.name, books, where)
        if on_ready is not None:
            on_ready(f"collector {plan.name}: {books} -> {where}")
        await _until(stop or asyncio.Event(), plan.name, collector, stats, status_every_s)
        return stats
    finally:
        if feeds is not None:
            await feeds.stop()
        if market is not None:
            market.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if nc is not None:
            with contextlib.suppress(Exception):
                await wait_flushed(nc, 2.0)
            with contextlib.suppress(Exception):
                await nc.close()


def _logged(on_event: Callable[[Event], None] | None) -> Callable[[Event], None]:
    """The feeds' events: problems and state changes to the log, all to `on_event`."""

    def publish(event: Event) -> None:
        if isinstance(event, VenueProblem):
            logger.warning("venue {}: {}", event.venue, event.message)
        elif isinstance(event, FeedHealthChanged):
            logger.info("{} {}: {} {}", event.venue, event.symbol, event.state, event.reason)
        if on_event is not None:
            on_event(event)

    return publish


async def _answer_snapshots(
    nc: Any, settings: Settings, collector: BusCollector, stats: CollectorStats
) -> None:
    """An engine that saw a gap (or just started) asks for a book's snapshot."""
    asks = {snapshot_subject(v.name, s): (v.name, s) for v in settings.venues for s in v.symbols}

    async def on_request(msg: Any) -> None:
        key = asks.get(msg.subject)
        if key is not None:
            stats.snapshots_asked += 1
            collector.request_snapshot(*key)

    await nc.subscribe(SNAPSHOT_SUBJECT_PREFIX + ".>", cb=on_request)


async def _until(
    stop: asyncio.Event,
    name: str,
    collector: BusCollector,
    stats: CollectorStats,
    status_every_s: float,
) -> None:
    next_status = time.monotonic() + status_every_s
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)
        stats.published, stats.dropped = collector.published, collector.dropped
        if time.monotonic() >= next_status:
            next_status += status_every_s
            logger.info(
                "collector {}: {} published, {} dropped, {} snapshots asked",
                name,
                stats.published,
                stats.dropped,
                stats.snapshots_asked,
            )
