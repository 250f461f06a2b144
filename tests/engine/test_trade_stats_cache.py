"""The engine's cached trade statistics: read off the loop from a real journal, refreshed soon
after a trade finishes (not only on the cadence), kept when a read fails, and carried by the
door's snapshot through the wire form unchanged."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from core.door import from_wire, to_wire
from core.engine.local_door import LocalDoor
from core.engine.stats_cache import TradeStatsCache
from core.events import TradeFinished
from core.journal import Journal
from core.records import TradeRecord, TradeStatus
from core.trade_stats import StatsRows, TradeStats, trade_stats
from tests.console.fake_engine import FakeEngine
from tests.support.planted_trades import T0, plant


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    journal = Journal(tmp_path / "journal.sqlite3")
    plant(journal)
    return journal


def test_the_snapshot_carries_the_figures_through_the_wire_form(journal: Journal) -> None:
    engine = FakeEngine()
    engine.figures = trade_stats(journal.stats_rows())
    snap = LocalDoor(engine).snapshot(["BTC/USDT"])
    assert snap.route_stats == engine.figures.routes and len(snap.route_stats) == 8
    assert snap.pnl_series[-1] == (T0 + 80, Decimal("18.80"))
    back = from_wire(json.loads(json.dumps(to_wire(snap))))
    assert back == snap
    assert isinstance(back.route_stats[0].volume_usd, Decimal)  # not a float on the way


async def _until(what: Callable[[], object], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not what():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_reads_off_the_loop_and_again_right_after_a_trade_finishes(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    import core.engine.stats_cache as stats_cache

    real = stats_cache.read_stats_rows

    def spy(path: str) -> StatsRows:
        threads.append(threading.current_thread().name)
        return real(path)

    monkeypatch.setattr(stats_cache, "read_stats_rows", spy)
    cache = TradeStatsCache(lambda: journal, every_s=60.0, min_gap_s=0.01)
    task = asyncio.create_task(cache.run())
    try:
        await _until(lambda: cache.latest.routes)
        assert cache.latest == trade_stats(journal.stats_rows())
        assert threads and threading.main_thread().name not in threads
        # t7 finishes: the next read comes with the event, not a minute later
        journal.update_trade(
            "t7",
            TradeStatus.COMPLETED,
            realized_pnl=Decimal("1.25"),
            realized_pnl_usd=Decimal("1.25"),
            finished_at=T0 + 90,
        )
        cache.on_event(TradeFinished("t7", "completed", Decimal("1.25"), Decimal(0), at=T0))
        await _until(lambda: cache.latest.pnl_series[-1] == (T0 + 90, Decimal("20.05")))
    finally:
        task.cancel()
    spread = next(r for r in cache.latest.routes if r.key == "spread")
    assert (spread.successful, spread.profit_usd) == (3, Decimal("10.80"))


async def test_an_in_memory_journal_is_read_on_the_loop() -> None:
    journal = Journal(":memory:")
    plant(journal)
    cache = TradeStatsCache(lambda: journal)
    await cache.refresh()
    assert cache.latest == trade_stats(journal.stats_rows())


async def test_a_failed_read_keeps_the_last_figures(tmp_path: Path, journal: Journal) -> None:
    cache = TradeStatsCache(lambda: journal)
    await cache.refresh()
    kept = cache.latest
    assert kept.routes
    journal.insert_trade(
        TradeRecord("t9", "o1", "X", "a", "b", Decimal(1), TradeStatus.SENDING, T0 + 100)
    )
    journal.path = tmp_path / "gone" / "journal.sqlite3"  # the reader cannot open this one
    await cache.refresh()
    assert cache.latest is kept


async def test_no_journal_no_figures() -> None:
    cache = TradeStatsCache(lambda: None)
    await cache.refresh()
    assert cache.latest == TradeStats()
