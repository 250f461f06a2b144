"""GET /health and GET /metrics of a running engine on the sim market: healthy at first, 503
once its feeds go stale (the simulator stopped), Prometheus text with the engine's series, and
the server off unless a port is set."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from core.deploy.devnet import free_port
from core.engine.engine import Engine
from core.settings import (
    ChainSettings,
    JournalSettings,
    LoggingSettings,
    ServiceSettings,
    Settings,
    SimSettings,
    ThresholdSettings,
    VenueKind,
    VenueSettings,
)


def _settings(tmp_path: Path, **service: Any) -> Settings:
    return Settings(
        venues=[
            VenueSettings(
                name="simex", kind=VenueKind.SIM, taker_fee_bps=10.0, symbols=["ETH/USDT"]
            ),
            VenueSettings(
                name="simbit", kind=VenueKind.SIM, taker_fee_bps=10.0, symbols=["ETH/USDT"]
            ),
        ],
        journal=JournalSettings(path=tmp_path / "journal.sqlite3"),
        sim=SimSettings(speed=1.0, dislocation_rate_per_min=0.0),
        chain=ChainSettings(enabled=False),
        thresholds=ThresholdSettings(stale_after_ms=300),
        service=ServiceSettings(stale_feed_health_s=0.5, **service),
        logging=LoggingSettings(path=tmp_path / "arbdesk.log"),
    )


async def _wait(what: Callable[[], Any], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await what():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _get(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def _true(value: object) -> bool:
    return bool(value)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_health_is_200_while_feeds_are_live_and_503_once_they_go_stale(
    tmp_path: Path,
) -> None:
    engine = Engine(_settings(tmp_path))
    await engine.start()
    try:
        url = await engine.start_monitor("127.0.0.1", 0)
        assert url.startswith("http://127.0.0.1:")

        async def healthy() -> bool:
            status, body = await _get(f"{url}/health")
            return status == 200 and all(f["state"] == "live" for f in body["feeds"])

        await _wait(healthy)
        status, body = await _get(f"{url}/health")
        assert body["healthy"] is True and body["problems"] == []
        assert {(f["venue"], f["symbol"]) for f in body["feeds"]} == {
            ("simex", "ETH/USDT"),
            ("simbit", "ETH/USDT"),
        }
        assert all(f["age_s"] is not None and f["age_s"] < 5 for f in body["feeds"])
        assert body["journal"]["state"] == "ok"
        assert body["chain"] == {"state": "off"}
        assert {s["name"] for s in body["breaker"]["scopes"]} >= {"global"}

        assert engine.sim_market is not None
        engine.sim_market.stop()  # no more book updates from either venue

        async def unhealthy() -> bool:
            status, _ = await _get(f"{url}/health")
            return status == 503

        await _wait(unhealthy)
        status, body = await _get(f"{url}/health")
        assert body["healthy"] is False
        assert any("feed simex ETH/USDT stale" in p for p in body["problems"]), body["problems"]
    finally:
        await engine.stop()


async def test_metrics_carry_the_engines_series(tmp_path: Path) -> None:
    engine = Engine(_settings(tmp_path))
    await engine.start()
    try:
        url = await engine.start_monitor("127.0.0.1", 0)
        assert engine.sim_market is not None
        engine.sim_market.dislocate("simex", "ETH/USDT", -60.0, hold_s=60.0)

        async def found() -> bool:
            _, text = await _get(f"{url}/metrics")
            return _samples(text).get(("arbdesk_opportunities_total", (("kind", "spread"),)), 0) > 0

        await _wait(found)
        status, text = await _get(f"{url}/metrics")
        assert status == 200
        samples = _samples(text)
        assert samples[("arbdesk_breaker_state", (("scope", "global"),))] == 0.0
        assert samples[("arbdesk_kill_switch", ())] == 0.0
        ages = [v for (name, _), v in samples.items() if name == "arbdesk_feed_age_seconds"]
        assert len(ages) == 2 and all(0 <= a < 5 for a in ages)
        assert samples[("arbdesk_event_loop_lag_seconds_count", ())] > 0
        assert ("arbdesk_opportunities_pending", ()) in samples
        # Every book update's detection is timed; the dislocation's updates found something.
        assert samples[("arbdesk_detector_scan_seconds_count", ())] > 0
        found = samples[("arbdesk_detector_update_to_found_seconds_count", ())]
        assert found >= 1
        assert 0 < samples[("arbdesk_detector_update_to_found_seconds_sum", ())] / found < 0.5
        opportunity = engine.pending_opportunities()[0]
        text_result = await engine.approve(opportunity.id)
        await _wait(lambda: _true(engine.finished_trades()))
        _, text = await _get(f"{url}/metrics")
        after = _samples(text)
        assert after[("arbdesk_trades_started_total", ())] >= 1, text_result
        finished = sum(v for (n, _), v in after.items() if n == "arbdesk_trades_total")
        assert finished >= 1
        assert after[("arbdesk_trade_start_to_first_order_seconds_count", ())] >= 1
        assert after[("arbdesk_trade_approve_to_first_order_seconds_count", ())] == 1
        approve_s = after[("arbdesk_trade_approve_to_first_order_seconds_sum", ())]
        assert approve_s >= after[("arbdesk_trade_start_to_first_order_seconds_sum", ())]
        engine.kill("test")
        _, text = await _get(f"{url}/metrics")
        assert _samples(text)[("arbdesk_kill_switch", ())] == 1.0
        status, _ = await _get(f"{url}/nothing-here")
        assert status == 404
    finally:
        await engine.stop()


async def test_the_server_starts_from_settings_and_is_off_by_default(tmp_path: Path) -> None:
    engine = Engine(_settings(tmp_path / "off"))
    await engine.start()
    try:
        assert engine.monitor is None  # http_port 0: no server
    finally:
        await engine.stop()
    port = free_port()
    engine = Engine(_settings(tmp_path / "on", http_port=port))
    await engine.start()
    try:
        assert engine.monitor is not None and engine.monitor.url == f"http://127.0.0.1:{port}"
        status, _ = await _get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
    finally:
        await engine.stop()
    # Stopped with the engine: nothing listens any more.
    try:
        await _get(f"http://127.0.0.1:{port}/health")
        raise AssertionError("the server outlived the engine")
    except aiohttp.ClientConnectorError:
        pass
