"""GET /metrics carries the journal's trade statistics per route kind and per venue: a real
engine on the sim market makes a trade, and its cached figures (refreshed by the finished
trade, read back from the journal here too) come out as the arbdesk_route_* gauges."""

from __future__ import annotations

from pathlib import Path

from core.engine.engine import Engine
from core.journal import read_stats_rows
from core.trade_stats import RouteStats, trade_stats
from tests.service.test_monitor import _get, _samples, _settings, _true, _wait


def _label(group: str, key: str, **more: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"group": group, "key": key, **more}.items()))


async def test_route_gauges_follow_the_journal(tmp_path: Path) -> None:
    engine = Engine(_settings(tmp_path))
    await engine.start()
    try:
        url = await engine.start_monitor("127.0.0.1", 0)
        _, text = await _get(f"{url}/metrics")
        assert not [n for (n, _) in _samples(text) if n.startswith("arbdesk_route_")]
        assert engine.sim_market is not None
        engine.sim_market.dislocate("simex", "ETH/USDT", -60.0, hold_s=60.0)
        await _wait(lambda: _true(engine.pending_opportunities()))
        await engine.approve(engine.pending_opportunities()[0].id)
        await _wait(lambda: _true(engine.finished_trades()))

        async def counted() -> bool:
            _, text = await _get(f"{url}/metrics")
            samples = _samples(text)
            return any(
                samples.get(("arbdesk_route_trades", _label("kind", "spread", outcome=o)), 0) > 0
                for o in ("successful", "failed")
            )

        await _wait(counted)  # read again once the trade finished
        # The cache the scrape read: unchanged across it (a refresh is at least a second apart).
        for _ in range(10):
            cached = engine.trade_stats()
            _, text = await _get(f"{url}/metrics")
            if engine.trade_stats() is cached:
                break
        else:
            raise AssertionError("the cached figures changed during every scrape")
        samples = _samples(text)
        for route in cached.routes:
            key = _label(route.group, route.key)
            assert samples[("arbdesk_route_opportunities", key)] == route.opportunities
            assert samples[("arbdesk_route_profit_usd", key)] == float(route.profit_usd)
            assert samples[("arbdesk_route_volume_usd", key)] == float(route.volume_usd)
            assert samples[("arbdesk_route_fees_usd", key)] == float(route.fees_usd)
            outcomes = {
                o: samples[("arbdesk_route_trades", _label(route.group, route.key, outcome=o))]
                for o in ("successful", "failed", "in_flight")
            }
            assert sum(outcomes.values()) == route.executed
            assert outcomes["successful"] == route.successful
            if route.success_rate is not None:
                assert samples[("arbdesk_route_success_ratio", key)] == route.success_rate
                assert samples[("arbdesk_route_avg_execution_seconds", key)] > 0
        # The trade figures are the journal's (its opportunities may have grown since).
        assert engine.journal is not None
        now = trade_stats(read_stats_rows(engine.journal.path))
        assert [_trades(r) for r in cached.routes] == [_trades(r) for r in now.routes]
        venues = {r.key for r in cached.routes if r.group == "venue" and r.executed}
        assert venues == {"simex", "simbit"}  # the trade counts for both its venues
        spread = next(r for r in cached.routes if r.key == "spread")
        assert spread.executed == 1 and spread.volume_usd > 0
    finally:
        await engine.stop()


def _trades(route: RouteStats) -> tuple[object, ...]:
    return (route.group, route.key, route.executed, route.successful, route.failed,
            route.volume_usd, route.profit_usd, route.fees_usd)  # fmt: skip
