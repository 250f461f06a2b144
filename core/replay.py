"""Replay: the same engine (detector, risk, paper fills) over recorded bus messages, in
market time, and what it would have made.

The messages come from a JetStream window (core.feeds.bus_nats.read_window) or a recording
file (core.feeds.recording); both carry the stream order and sequence, so a replay finds the
opportunities the live run found, with the same ids and figures (core.feeds.bus_books).

The replay never trades for real: live settings run as paper, sim venues fill on paper
against the replayed books, the chain is off (pools and lending are not in the recording),
and the journal is a temporary one unless a path is given. `speed` paces the messages at
N x their recorded spacing; None runs as fast as possible, letting each auto-executed trade
finish before the next message so the fills, too, come out the same every time.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.detect.opportunity import Opportunity
from core.events import Event, OpportunityFound
from core.feeds.bus_books import MarketClock
from core.feeds.bus_nats import StoredMessage
from core.settings import Mode, Settings
from core.trade_stats import RouteStats, trade_stats

SETTLE_LIMIT_S = 5.0
"""Longest real time one message waits for the trades it started (as fast as possible)."""


@dataclass
class ReplayReport:
    messages: int = 0
    first_at: float = 0.0
    last_at: float = 0.0
    wall_s: float = 0.0
    book_updates: int = 0
    gaps: int = 0
    dropped: int = 0
    opportunities: list[Opportunity] = field(default_factory=list)
    routes: tuple[RouteStats, ...] = ()

    @property
    def market_s(self) -> float:
        return max(0.0, self.last_at - self.first_at)

    @property
    def speedup(self) -> float:
        return self.market_s / self.wall_s if self.wall_s > 0 else 0.0

    def by_kind(self) -> list[RouteStats]:
        return [r for r in self.routes if r.group == "kind"]

    @property
    def pnl_usd(self) -> Decimal:
        return sum((r.profit_usd for r in self.by_kind()), Decimal(0))

    @property
    def fees_usd(self) -> Decimal:
        return sum((r.fees_usd for r in self.by_kind()), Decimal(0))


def replay_settings(settings: Settings, *, auto: bool, journal_path: Path) -> Settings:
    """A copy that cannot reach a real venue with an order or the chain with a transaction."""
    out = settings.model_copy(deep=True)
    if out.mode is Mode.LIVE:
        out.mode = Mode.PAPER
    out.chain.enabled = False
    out.service.http_port = 0
    out.alerts.webhook_url = type(out.alerts.webhook_url)("")
    out.execution.auto_execute = auto
    out.journal.path = journal_path
    return out


async def replay(
    settings: Settings,
    messages: AsyncIterator[StoredMessage] | Iterable[StoredMessage],
    *,
    tag: str,
    speed: float | None = None,
    auto: bool = True,
    journal_path: Path | None = None,
    on_opportunity: Callable[[Opportunity], None] | None = None,
) -> ReplayReport:
    with tempfile.TemporaryDirectory(prefix="arbdesk-replay-") as scratch:
        path = journal_path or Path(scratch) / "replay-journal.sqlite3"
        return await _replay(
            replay_settings(settings, auto=auto, journal_path=path),
            _aiter(messages),
            tag,
            speed,
            on_opportunity,
        )


async def _replay(
    settings: Settings,
    messages: AsyncIterator[StoredMessage],
    tag: str,
    speed: float | None,
    on_opportunity: Callable[[Opportunity], None] | None,
) -> ReplayReport:
    from core.engine.engine import Engine

    clock = MarketClock()
    engine = Engine(settings, clock=clock, replay=clock)
    report = ReplayReport()

    def on_event(event: Event) -> None:
        if isinstance(event, OpportunityFound) and not event.refreshed:
            opportunity: Any = event.opportunity
            report.opportunities.append(opportunity)
            if on_opportunity is not None:
                on_opportunity(opportunity)

    engine.bus.listen(on_event)
    await engine.start(trading=True)
    assert engine.message_ids is not None and engine.market is not None
    engine.message_ids.tag = tag
    market = engine.market
    started = time.perf_counter()
    try:
        async for message in messages:
            if report.messages == 0:
                report.first_at = message.stored_at
            report.messages += 1
            report.last_at = message.stored_at
            if speed is not None:
                due = started + (message.stored_at - report.first_at) / speed
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            market.apply(message.seq, message.subject, message.data)
            if engine.busy():
                await _settle(engine)
            elif report.messages % 256 == 0:
                await asyncio.sleep(0)  # the engine's own tasks (journal, stats) get a turn
        await _settle(engine)
        report.wall_s = time.perf_counter() - started
        report.book_updates = engine.counters["book_updates"]
        report.gaps = market.feed.gaps
        report.dropped = market.feed.dropped
        assert engine.journal is not None
        engine.journal.flush()
        report.routes = trade_stats(engine.journal.stats_rows()).routes
    finally:
        await engine.stop()
    return report


async def _settle(engine: Any) -> None:
    deadline = time.perf_counter() + SETTLE_LIMIT_S
    spins = 0
    while engine.busy() and time.perf_counter() < deadline:
        spins += 1
        await asyncio.sleep(0 if spins < 200 else 0.001)


async def _aiter(
    messages: AsyncIterator[StoredMessage] | Iterable[StoredMessage],
) -> AsyncIterator[StoredMessage]:
    if isinstance(messages, AsyncIterator):
        async for message in messages:
            yield message
    else:
        for message in messages:
            yield message
