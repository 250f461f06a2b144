"""Prometheus metrics of one engine, in a registry of its own (several engines in one process,
as in tests, never share series).

Counters follow the engine's events (a bus listener: opportunities by kind, trades started and
by outcome, refusals, breaker trips, dropped feed messages, time from a trade's start to its
first order sent and from its approval to its first order sent); the engine reports each book
update's detection run (`detected`) and each approval (`approved`); gauges are read from the
engine when Prometheus scrapes (breaker state per scope, feed age, realized PnL today, trades
in flight, pending opportunities); the event-loop lag histogram is fed by `LoopLagProbe`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from core.events import (
    BreakerTransitioned,
    BundleSettled,
    Event,
    FeedMessageDropped,
    LegSent,
    OpportunityFound,
    TradeFinished,
    TradeRefused,
    TradeStarted,
)
from core.trade_stats import RouteStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BREAKER_LEVEL = {"closed": 0.0, "half_open": 1.0, "open": 2.0}
_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_SENT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_DETECT_BUCKETS = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.05)
_APPROVALS_KEPT = 1_024  # approvals that never became a trade (refused, errors) are forgotten


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
        self.approve_to_sent = Histogram(
            "arbdesk_trade_approve_to_first_order_seconds",
            "From the approve command (Engine.approve) to the trade's first order sent",
            buckets=_SENT_BUCKETS,
            registry=r,
        )
        self.detector_scan = Histogram(
            "arbdesk_detector_scan_seconds",
            "Detection run on one CEX book update (its symbol's venue pairs, touched cycles)",
            buckets=_DETECT_BUCKETS,
            registry=r,
        )
        self.update_to_found = Histogram(
            "arbdesk_detector_update_to_found_seconds",
            "From a CEX book update's local receive time to the opportunities it produced"
            " (book apply and detection; not the network before receipt)",
            buckets=_DETECT_BUCKETS,
            registry=r,
        )
        self.bundles = Counter(
            "arbdesk_bundles",
            "On-chain legs sent as relay bundles, by outcome (included, not_included, not_sent)",
            ["outcome"],
            registry=r,
        )
        self.bundle_simulation = Histogram(
            "arbdesk_bundle_simulation_seconds",
            "Round trip of one eth_callBundle to the relays",
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
        self._approved_at: dict[str, float] = {}  # opportunity id -> approve time
        self._approved_trade: dict[str, float] = {}  # trade id -> its approve time

    def detected(self, scan_s: float, received_at: float, found: int) -> None:
        """One book update's detection took `scan_s` (perf_counter) and found `found`
        opportunities; `received_at` is the feed's time.time() stamp of that update."""
        self.detector_scan.observe(scan_s)
        if found:
            self.update_to_found.observe(max(0.0, time.time() - received_at))

    def approved(self, opportunity_id: str, at: float) -> None:
        """`Engine.approve` is sending the opportunity on (the engine's clock)."""
        self._approved_at[opportunity_id] = at
        while len(self._approved_at) > _APPROVALS_KEPT:
            del self._approved_at[next(iter(self._approved_at))]

    def on_event(self, event: Event) -> None:
        """A bus listener (engine.bus.listen)."""
        if isinstance(event, OpportunityFound):
            if not event.refreshed:
                self.opportunities.labels(getattr(event.opportunity, "kind", "spread")).inc()
        elif isinstance(event, TradeStarted):
            self.trades_started.inc()
            self._started_at[event.trade_id] = event.at
            approved = self._approved_at.pop(event.opportunity_id, None)
            if approved is not None:
                self._approved_trade[event.trade_id] = approved
        elif isinstance(event, LegSent):
            started = self._started_at.pop(event.trade_id, None)
            if started is not None:
                self.start_to_sent.observe(max(0.0, event.at - started))
            approved = self._approved_trade.pop(event.trade_id, None)
            if approved is not None:
                self.approve_to_sent.observe(max(0.0, event.at - approved))
        elif isinstance(event, TradeFinished):
            self.trades.labels(event.status).inc()
            self._started_at.pop(event.trade_id, None)
            self._approved_trade.pop(event.trade_id, None)
        elif isinstance(event, TradeRefused):
            self.refusals.inc()
            self._approved_at.pop(event.opportunity_id, None)
        elif isinstance(event, BreakerTransitioned):
            if event.to_state == "open":
                self.breaker_trips.labels(event.scope).inc()
        elif isinstance(event, FeedMessageDropped):
            self.dropped.labels(event.venue).inc()
        elif isinstance(event, BundleSettled):
            self.bundles.labels(event.outcome).inc()
            for seconds in event.simulation_s:
                self.bundle_simulation.observe(seconds)

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
        yield from route_gauges(engine.trade_stats().routes)


def route_gauges(routes: Iterable[RouteStats]) -> Iterator[Metric]:
    """The journal's trade statistics per route kind and per venue (`group` "kind" or
    "venue", `key` the kind or venue), as the engine last cached them: whole-journal figures,
    so gauges (a new journal starts them again), not counters. Executed trades are the sum of
    the outcomes; an average or a ratio is left out where no trade has finished."""
    labels = ["group", "key"]

    def family(name: str, text: str) -> GaugeMetricFamily:
        return GaugeMetricFamily(f"arbdesk_route_{name}", text, labels=labels)

    opportunities = family("opportunities", "Opportunities journaled")
    trades = GaugeMetricFamily(
        "arbdesk_route_trades",
        "Executed trades by outcome: successful, failed, in_flight",
        labels=[*labels, "outcome"],
    )
    volume = family("volume_usd", "Traded notional of every fill, USD")
    profit = family("profit_usd", "Realized PnL of finished trades, USD")
    fees = family("fees_usd", "Fees paid, USD")
    avg_profit = family("avg_profit_usd", "Realized PnL per finished trade, USD")
    avg_exec = family("avg_execution_seconds", "Start to finish of a finished trade")
    success = family("success_ratio", "Successful over finished trades")
    for r in routes:
        key = [r.group, r.key]
        opportunities.add_metric(key, float(r.opportunities))
        in_flight = r.executed - r.successful - r.failed
        for outcome, count in (
            ("successful", r.successful),
            ("failed", r.failed),
            ("in_flight", in_flight),
        ):
            trades.add_metric([*key, outcome], float(count))
        volume.add_metric(key, float(r.volume_usd))
        profit.add_metric(key, float(r.profit_usd))
        fees.add_metric(key, float(r.fees_usd))
        if r.avg_profit_usd is not None:
            avg_profit.add_metric(key, float(r.avg_profit_usd))
        if r.avg_exec_s is not None:
            avg_exec.add_metric(key, r.avg_exec_s)
        if r.success_rate is not None:
            success.add_metric(key, r.success_rate)
    yield from (opportunities, trades, volume, profit, fees, avg_profit, avg_exec, success)


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
