"""The alert webhook against a real aiohttp server on loopback: retried through 5xx / 429 and
delivered once, a 4xx not retried, a full queue dropping the oldest, fills valued in USD and
filtered by size, and a real engine on the sim market sending a trade's fill and a breaker
trip, and running on when the webhook is down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from loguru import logger

from core.deploy.devnet import free_port
from core.detect.opportunity import Opportunity
from core.engine.engine import Engine
from core.events import BreakerTransitioned, OpportunityFound, TradeStarted, TradeUpdated
from core.execute.ledger import usd_per_quote
from core.execute.trades import TradeView
from core.risk import Cause
from core.service.alerts import AlertSender
from core.settings import (
    AlertSettings,
    ChainSettings,
    JournalSettings,
    LoggingSettings,
    Settings,
    SimSettings,
    VenueKind,
    VenueSettings,
)

T0 = 1_763_712_000.0


@dataclass
class Hook:
    """The webhook receiver: answers `statuses` in turn (then 200), records every body."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    bodies: list[Any] = field(default_factory=list)
    gate: asyncio.Event | None = None  # set: requests wait for it before answering


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    receiver = Hook()

    async def handle(request: web.Request) -> web.Response:
        receiver.bodies.append(await request.json())
        if receiver.gate is not None:
            await receiver.gate.wait()
        status = receiver.statuses.pop(0) if receiver.statuses else 200
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/hooks/T0KEN-abc123", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    receiver.url = f"http://{host}:{port}/hooks/T0KEN-abc123"
    yield receiver
    await runner.cleanup()


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING", format="{message}")
    yield lines
    logger.remove(sink)


async def until(what: Callable[[], Any], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not what():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def alerts(url: str, **kw: Any) -> AlertSettings:
    return AlertSettings(
        **{"webhook_url": url, "webhook_backoff_s": 0.01, "webhook_timeout_s": 2.0, **kw}
    )


def trip(scope: str = "simex", at: float = T0) -> BreakerTransitioned:
    return BreakerTransitioned(scope, "closed", "open", "slippage", "fill slipped 40 bps", at=at)


# -- delivery and retries ------------------------------------------------------------------


async def test_5xx_is_retried_with_backoff_and_the_alert_delivered_once(hook: Hook) -> None:
    hook.statuses = [503, 503]
    sender = AlertSender(alerts(hook.url, webhook_retries=3, webhook_backoff_s=0.05))
    await sender.start()
    try:
        started = time.monotonic()
        sender.on_event(trip())
        await until(lambda: sender.sent == 1)
        elapsed = time.monotonic() - started
    finally:
        await sender.stop()
    assert len(hook.bodies) == 3  # two 503s, then the one that was taken
    assert hook.bodies[0] == hook.bodies[2]
    assert elapsed >= 0.05 + 0.1  # backoff 0.05 s, then doubled
    assert sender.failed == 0
    assert hook.bodies[-1] == {
        "source": "arbdesk",
        "kind": "breaker_trip",
        "text": "breaker simex OPEN (slippage): fill slipped 40 bps",
        "at": "2025-11-21T08:00:00.000Z",
        "fields": {
            "scope": "simex",
            "from_state": "closed",
            "to_state": "open",
            "cause": "slippage",
            "reason": "fill slipped 40 bps",
        },
    }


async def test_429_is_retried_too(hook: Hook) -> None:
    hook.statuses = [429]
    sender = AlertSender(alerts(hook.url, webhook_retries=1))
    await sender.start()
    try:
        sender.on_event(trip())
        await until(lambda: sender.sent == 1)
    finally:
        await sender.stop()
    assert len(hook.bodies) == 2


@pytest.mark.parametrize("status", [400, 404])
async def test_a_4xx_is_not_retried(hook: Hook, status: int, log_lines: list[str]) -> None:
    hook.statuses = [status, status, status]
    sender = AlertSender(alerts(hook.url, webhook_retries=3))
    await sender.start()
    try:
        sender.on_event(trip())
        await until(lambda: sender.failed == 1)
    finally:
        await sender.stop()
    assert len(hook.bodies) == 1 and sender.sent == 0
    (line,) = [x for x in log_lines if "gave up" in x]
    assert f"after 1 attempt(s) to 127.0.0.1: HTTP {status}" in line
    assert "T0KEN" not in line


async def test_only_open_transitions_alert(hook: Hook) -> None:
    sender = AlertSender(alerts(hook.url))
    await sender.start()
    try:
        sender.on_event(BreakerTransitioned("global", "open", "half_open", "cooldown", "", at=T0))
        sender.on_event(trip("global"))
        await until(lambda: sender.sent == 1)
    finally:
        await sender.stop()
    assert [b["fields"]["to_state"] for b in hook.bodies] == ["open"]


async def test_a_full_queue_drops_the_oldest_and_counts_it(hook: Hook) -> None:
    hook.gate = asyncio.Event()
    sender = AlertSender(alerts(hook.url), queue_size=2)
    await sender.start()
    try:
        sender.on_event(trip("first"))
        await until(lambda: len(hook.bodies) == 1)  # the drain task holds it, the queue is empty
        for scope in ("a", "b", "c", "d"):  # no await in between: the listener never waits
            sender.on_event(trip(scope))
        assert sender.dropped == 2
        hook.gate.set()
        await until(lambda: sender.sent == 3)
    finally:
        await sender.stop()
    assert [b["fields"]["scope"] for b in hook.bodies] == ["first", "c", "d"]


# -- fills: valued in USD, filtered by size ------------------------------------------------


def _btc_opportunity() -> Opportunity:
    # ETH/BTC: money in BTC; 0.0005 BTC of profit is 32.5 USD, so one BTC is 65,000 USD.
    return Opportunity(
        id="op-eth-btc",
        symbol="ETH/BTC",
        buy_venue="simex",
        sell_venue="simbit",
        size=0.4,
        buy_vwap=0.0492,
        sell_vwap=0.04935,
        gross_profit=0.0006,
        fees=0.0001,
        net_profit=0.0005,
        net_bps=25.0,
        net_profit_usd=32.5,
        detected_at=T0,
        expires_at=T0 + 5,
    )


def _finished(trade_id: str, volume: str) -> TradeView:
    return TradeView(
        id=trade_id,
        opportunity_id="op-eth-btc",
        symbol="ETH/BTC",
        buy_venue="simex",
        sell_venue="simbit",
        amount=Decimal("0.4"),
        status="completed",
        reason="",
        started_at=T0,
        finished_at=T0 + 1,
        legs=(),
        realized_pnl=Decimal("0.0005"),
        realized_pnl_usd=Decimal("32.5"),
        fees=Decimal("0.0001"),
        volume=Decimal(volume),
        unwind_cost=Decimal(0),
        residual=Decimal(0),
        detected_net_profit=0.0005,
    )


def _trade_events(trade_id: str, volume: str) -> list[Any]:
    return [
        OpportunityFound(_btc_opportunity(), at=T0),
        TradeStarted(trade_id, "op-eth-btc", "ETH/BTC", "simex", "simbit", Decimal("0.4"), at=T0),
        TradeUpdated(_finished(trade_id, volume), at=T0 + 1),
    ]


async def test_fills_are_valued_in_usd_and_small_ones_not_sent(hook: Hook) -> None:
    sender = AlertSender(alerts(hook.url, webhook_min_fill_usd=2_500.0))
    await sender.start()
    try:
        for event in _trade_events("t-small", "0.0384"):  # 2,496 USD: below the size
            sender.on_event(event)
        for event in _trade_events("t-big", "0.04"):  # 2,600 USD
            sender.on_event(event)
        sender.on_event(TradeUpdated(_finished("t-big", "0.04"), at=T0 + 2))  # not twice
        sender.on_event(trip())  # queued after them all: once it is in, nothing else is coming
        await until(lambda: sender.sent == 2)
    finally:
        await sender.stop()
    assert [b["kind"] for b in hook.bodies] == ["fill", "breaker_trip"]
    fill = hook.bodies[0]
    assert fill["fields"]["trade_id"] == "t-big"
    assert Decimal(fill["fields"]["volume"]) == Decimal("0.04")
    assert Decimal(fill["fields"]["volume_usd"]) == Decimal(2_600)
    assert fill["text"] == (
        "trade t-big ETH/BTC simex->simbit completed: fills 2,600.00 USD, PnL 32.50 USD"
    )


async def test_a_bad_event_never_raises_into_the_publisher(
    hook: Hook, log_lines: list[str]
) -> None:
    sender = AlertSender(alerts(hook.url))
    await sender.start()
    try:
        sender.on_event(OpportunityFound(object(), at=T0))  # no id, no profit fields
    finally:
        await sender.stop()
    assert any("could not read OpportunityFound" in line for line in log_lines)


# -- a real engine on the sim market -------------------------------------------------------


def _settings(tmp_path: Path, alert_settings: AlertSettings) -> Settings:
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
        logging=LoggingSettings(path=tmp_path / "arbdesk.log"),
        alerts=alert_settings,
    )


async def test_the_engine_sends_a_trades_fill_and_a_breaker_trip(
    hook: Hook, tmp_path: Path
) -> None:
    engine = Engine(_settings(tmp_path, alerts(hook.url, webhook_min_fill_usd=1.0)))
    await engine.start()
    try:
        assert engine.alerts is not None
        assert engine.sim_market is not None and engine.breaker is not None
        engine.sim_market.dislocate("simex", "ETH/USDT", -60.0, hold_s=60.0)
        await until(engine.pending_opportunities)
        opportunity = engine.pending_opportunities()[0]
        said = await engine.approve(opportunity.id)
        await until(engine.finished_trades)
        (trade,) = engine.finished_trades()
        assert trade.volume > 0, said
        engine.breaker.trip("simbit", Cause.SLIPPAGE, "test trip")
        await until(lambda: len(hook.bodies) == 2)
    finally:
        await engine.stop()
    fill, tripped = hook.bodies
    assert fill["kind"] == "fill" and fill["fields"]["trade_id"] == trade.id
    assert Decimal(fill["fields"]["volume"]) == trade.volume
    expected_usd = trade.volume * usd_per_quote(opportunity)  # the ledger's own USD rate
    assert abs(Decimal(fill["fields"]["volume_usd"]) - expected_usd) < Decimal("1e-9")
    assert tripped["kind"] == "breaker_trip"
    assert tripped["fields"] == {
        "scope": "simbit",
        "from_state": "closed",
        "to_state": "open",
        "cause": "slippage",
        "reason": "test trip",
    }


async def test_a_webhook_that_is_down_is_given_up_and_the_engine_runs_on(
    tmp_path: Path, log_lines: list[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    engine = Engine(_settings(tmp_path, alerts(url, webhook_retries=2)))
    await engine.start()
    try:
        assert engine.alerts is not None and engine.breaker is not None
        engine.breaker.trip("simex", Cause.SLIPPAGE, "test trip")
        await until(lambda: engine.alerts is not None and engine.alerts.failed == 1)
        updates = engine.counters["book_updates"]
        await until(lambda: engine.counters["book_updates"] > updates + 5)
        assert engine.alerts.sent == 0
    finally:
        await engine.stop()
    assert engine.alerts is None  # stopped with the engine
    (line,) = [x for x in log_lines if "gave up" in x]
    assert "breaker_trip alert after 3 attempt(s) to 127.0.0.1" in line
    assert "ClientConnectorError" in line


async def test_no_webhook_url_no_sender(tmp_path: Path) -> None:
    engine = Engine(_settings(tmp_path, AlertSettings()))
    await engine.start(trading=False)
    try:
        assert engine.alerts is None
    finally:
        await engine.stop()
