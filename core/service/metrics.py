"""Prometheus metrics of one engine, in a registry of its own (several engines in one process,
as in tests, never share series).

Counters follow the engine's events (a bus listener: opportunities by kind, trades started and
by outcome, refusals, breaker trips, dropped feed messages, time from a trade's start to its
first order sent); gauges are read from the engine when Prometheus scrapes (breaker state per
scope, feed age, realized PnL today, trades in flight, pending opportunities); the event-loop
lag histogram is fed by `LoopLagProbe`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from core.events import (
    BreakerTransitioned,
    Event,
    FeedMessageDropped,
    LegSent,
    OpportunityFound,
    TradeFinished,
    TradeRefused,
    TradeStarted,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BREAKER_LEVEL = {"closed": 0.0, "half_open": 1.0, "open": 2.0}
_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_SENT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class EngineMetrics:
    def __init__(self, engine: Any, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.opportunities = Counter(
            "arbdesk_opportunities",
            "Opportunities found (not refreshes), by kind",
            ["kind"],
            registry=r,
        )
        self.trades_started = Counter(
            "arbdesk_trades_started", "Trades started (approved or auto)", registry=r
        )
        self.trades = Counter(
            "arbdesk_trades", "Finished trades by outcome", ["outcome"], registry=r
        )
        self.refusals = Counter(
            "arbdesk_refusals", "Opportunities refused before any order", registry=r
        )
        self.breaker_trips = Counter(
            "arbdesk_breaker_trips", "Breaker scopes that opened, by scope", ["scope"], registry=r
        )
        self.dropped = Counter(
            "arbdesk_feed_messages_dropped",
            "Feed messages rejected, by venue",
            ["venue"],
            registry=r,
        )
        self.start_to_sent = Histogram(
            "arbdesk_trade_start_to_first_order_seconds",
            "From a trade's start (the permit) to its first order sent",
            buckets=_SENT_BUCKETS,
            registry=r,
        )
        self.loop_lag = Histogram(
            "arbdesk_event_loop_lag_seconds",
            "How late the event loop ran a timer (a busy loop delays every feed and order)",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        r.register(_ScrapeGauges(self))
        self._started_at: dict[str, float] = {}

    def on_event(self, event: Event) -> None:
        """A bus listener (engine.bus.listen)."""
        if isinstance(event, OpportunityFound):
            if not event.refreshed:
                self.opportunities.labels(getattr(event.opportunity, "kind", "spread")).inc()
        elif isinstance(event, TradeStarted):
            self.trades_started.inc()
            self._started_at[event.trade_id] = event.at
        elif isinstance(event, LegSent):
            started = self._started_at.pop(event.trade_id, None)
            if started is not None:
                self.start_to_sent.observe(max(0.0, event.at - started))
        elif isinstance(event, TradeFinished):
            self.trades.labels(event.status).inc()
            self._started_at.pop(event.trade_id, None)
        elif isinstance(event, TradeRefused):
            self.refusals.inc()
        elif isinstance(event, BreakerTransitioned):
            if event.to_state == "open":
                self.breaker_trips.labels(event.scope).inc()
        elif isinstance(event, FeedMessageDropped):
            self.dropped.labels(event.venue).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _ScrapeGauges(Collector):
    """Gauges computed from the engine's state at scrape time."""

    def __init__(self, metrics: EngineMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        return []  # computed at collect time; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        engine, now = self.metrics.engine, self.metrics.clock()
        breaker = GaugeMetricFamily(
            "arbdesk_breaker_state",
            "Breaker state per scope: 0 closed, 1 half-open, 2 open",
            labels=["scope"],
        )
        view = engine.breaker_view()
        for scope in view.scopes if view is not None else ():
            breaker.add_metric([scope.name], _BREAKER_LEVEL.get(str(scope.state), 2.0))
        yield breaker
        killed = GaugeMetricFamily("arbdesk_kill_switch", "1 while the kill switch is on")
        killed.add_metric([], 1.0 if view is not None and view.killed else 0.0)
        yield killed
        age = GaugeMetricFamily(
            "arbdesk_feed_age_seconds",
            "Seconds since the feed's last book update",
            labels=["venue", "symbol", "state"],
        )
        for f in engine.feed_status():
            if f.last_update_at:
                age.add_metric([f.venue, f.symbol, str(f.state)], max(0.0, now - f.last_update_at))
        yield age
        pnl = GaugeMetricFamily("arbdesk_realized_pnl_today_usd", "Realized PnL today, USD")
        pnl.add_metric([], float(view.daily_pnl_usd) if view is not None else 0.0)
        yield pnl
        flight = GaugeMetricFamily("arbdesk_trades_in_flight", "Trades in flight")
        flight.add_metric([], float(engine.in_flight()))
        yield flight
        pending = GaugeMetricFamily("arbdesk_opportunities_pending", "Opportunities on the board")
        pending.add_metric([], float(len(engine.pending_opportunities())))
        yield pending


class LoopLagProbe:
    """Sleeps `interval_s` again and again and records how late each wake-up was."""

    def __init__(self, histogram: Histogram, interval_s: float = 0.1) -> None:
        self.histogram = histogram
        self.interval_s = interval_s

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.interval_s)
            self.histogram.observe(max(0.0, loop.time() - before - self.interval_s))
