"""The engine: wires feeds, books, detector, risk, executor and journal; the one object the
console (and the headless commands) talk to.

Data flow: feeds -> books -> detector (per update, plus a periodic sweep) -> the opportunity
board -> risk gate -> approval (manual) or executor (auto) -> legs -> journal -> events.

The mode only chooses adapters here at start-up (simulated venues, ccxt.pro venues wrapped in
the paper broker, or live ccxt.pro venues); nothing below branches on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from core.book import OrderBook
from core.bus import EventBus
from core.deploy.devnet import Devnet
from core.detect.cycle_scan import BookCycleDetector, CycleOpportunity
from core.detect.liquidations import LiquidationOpportunity
from core.detect.opportunity import Opportunity, new_opportunity_id
from core.detect.spread import SpreadDetector
from core.detect.top_of_book import SpreadRow, spread_rows
from core.engine.lending import LendingService, WatchlistRow
from core.engine.onchain import OnChain
from core.engine.opportunity_board import OpportunityBoard
from core.engine.stats_cache import TradeStatsCache
from core.events import (
    BookUpdated,
    EngineMessage,
    FeedState,
    OpportunityExpired,
    OpportunityFound,
)
from core.execute.chain_reconcile import ChainLookup
from core.execute.cycle_trader import CycleTrader
from core.execute.executor import Executor
from core.execute.gate import OrderGate
from core.execute.liquidation_gate import liquidate_gated, liquidations_tradeable
from core.execute.paper import PaperExchange
from core.execute.reconcile import reconcile
from core.execute.trades import Submission, TradeView
from core.feeds.bus_books import BusBooks, MarketClock, MessageIds, NatsBooks
from core.feeds.feedset import FeedSet
from core.feeds.sim import SimMarket
from core.journal import Journal
from core.keys import KeyStore, load_relay_key, load_venue_credentials, load_wallet_key
from core.risk import BreakerView, CircuitBreaker
from core.serialize import to_jsonable
from core.service.alerts import AlertSender
from core.service.http import MonitorServer
from core.service.metrics import EngineMetrics, LoopLagProbe
from core.settings import Mode, Settings, VenueKind
from core.settings_edit import (
    EditableField,
    SettingChange,
    apply_setting,
    editable_fields,
    save_setting,
    set_live,
    validate_setting,
    write_toml_value,
)
from core.trade_stats import TradeStats

AUTO_RETRY_AFTER_S = 5.0  # auto mode's pause on a route after the executor refused it

# Worst first: a venue's health is the worst state of its symbols' feeds.
_SEVERITY = {
    FeedState.DOWN: 0,
    FeedState.RESYNCING: 1,
    FeedState.STALE: 2,
    FeedState.CONNECTING: 3,
    FeedState.LIVE: 4,
}


def _log_loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    exc = context.get("exception")
    message = context.get("message", "unhandled error in the event loop")
    if exc is not None:
        logger.opt(exception=exc).error("event loop: {}", message)
    else:
        logger.error("event loop: {}", message)


@dataclass(frozen=True, slots=True)
class FeedStatus:
    venue: str
    symbol: str
    state: FeedState
    reason: str
    last_update_at: float


class Engine:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        passphrase_provider: Callable[[bool], str | None] | None = None,
        devnet: Devnet | None = None,
        replay: MarketClock | None = None,
    ) -> None:
        """`replay`: books come only from messages core.replay hands to `self.market`, in
        that market time (pass the same object as `clock`)."""
        self.settings = settings
        self._devnet = devnet
        """Sim mode: a running devnet to trade on instead of starting one (its owner stops it;
        the tests share one per session and revert it with evm_snapshot / evm_revert)."""
        self._passphrase_provider = passphrase_provider
        self._keys: KeyStore | None = None
        self._trading = False
        self.clock = clock
        self.bus = EventBus()
        self.metrics = EngineMetrics(self, clock)
        self.bus.listen(self.metrics.on_event)
        self.trade_stats_cache = TradeStatsCache(lambda: self.journal)
        self.bus.listen(self.trade_stats_cache.on_event)
        self.monitor: MonitorServer | None = None
        self.alerts: AlertSender | None = None
        """The webhook of `[alerts]`, running while the engine does if webhook_url is set."""
        self.venues: list[str] = [v.name for v in settings.venues]
        self.symbols: list[str] = sorted({s for v in settings.venues for s in v.symbols})
        # symbol -> venue -> book; the same OrderBook objects the feeds write into.
        self.books: dict[str, dict[str, OrderBook]] = {}
        self.taker_fee_bps = {v.name: v.taker_fee_bps for v in settings.venues}
        # On the bus, detection runs in market time (the messages' own times) and names what
        # it finds after the message being applied: a function of the stream alone.
        self._replay = replay
        self.message_ids: MessageIds | None = None
        self.market_clock: Callable[[], float] = clock
        if replay is not None or settings.feeds.source == "nats":
            self.message_ids = MessageIds("bus")
            self.market_clock = replay if replay is not None else MarketClock(clock())
        new_id = self.message_ids or new_opportunity_id
        self.detector = SpreadDetector(
            self.books,
            self.taker_fee_bps,
            settings.thresholds,
            max_levels=settings.detector.max_levels,
            clock=self.market_clock,
            new_id=new_id,
        )
        self.board = OpportunityBoard()
        self.cycles: BookCycleDetector | None = None
        self._listed: dict[str, list[str]] = {}
        """Triangles and longer cycles within one venue, built once the feeds' books exist."""
        self.cycle_trader: CycleTrader | None = None
        self.exchanges: dict[str, Any] = {}
        self.sim_market: Any = None
        self.started_at = 0.0
        self.counters = {"opportunities": 0, "book_updates": 0}
        self._tasks: list[asyncio.Task[None]] = []
        self._feeds: FeedSet | BusBooks | None = None
        self.market: BusBooks | None = None
        """The bus's books (feeds.source = "nats", or a replay); None with embedded feeds."""
        self._next_market_sweep = 0.0
        self._running = False
        self.journal: Journal | None = None
        self.breaker: CircuitBreaker | None = None
        self.gate: OrderGate | None = None
        """Order admission over `breaker` (core.execute.gate); kill/resume use the breaker."""
        self.executor: Executor | None = None
        self._submits: set[asyncio.Task[Any]] = set()
        self._auto_cooldown: dict[tuple[str, str, str], float] = {}
        self.onchain: OnChain | None = None
        self.lending: LendingService | None = None
        self._liquidations_seen: set[str] = set()
        self._settings_write = asyncio.Lock()

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, *, trading: bool = True) -> None:
        """Start feeds and detection; with `trading`, also the journal, risk and executor."""
        self._trading = trading
        self.started_at = self.clock()
        # ccxt's websocket callbacks can fail outside any task (e.g. broken JSON from a venue):
        # route those to the log file instead of asyncio printing over the console.
        asyncio.get_running_loop().set_exception_handler(_log_loop_exception)
        if self.message_ids is not None:
            feeds: FeedSet | BusBooks = self._bus_books()
        else:
            sim_venues = [v for v in self.settings.venues if v.kind is VenueKind.SIM]
            if sim_venues:
                self.sim_market = SimMarket(self.settings.sim, sim_venues)
                self._spawn(self.sim_market.run(), "sim-market")
            feeds = FeedSet(
                self.settings,
                self.bus.publish,
                on_update=self._on_book_update,
                sim_market=self.sim_market,
                on_listed=self._on_listed,
            )
        self._feeds = feeds
        if isinstance(feeds, FeedSet):
            await feeds.start()
        for (venue, symbol), book in feeds.books.items():
            self.books.setdefault(symbol, {})[venue] = book
        self.cycles = BookCycleDetector(
            self.books,
            self.taker_fee_bps,
            self.settings.thresholds,
            self.settings.cycles,
            clock=self.market_clock,
            new_id=self.message_ids or new_opportunity_id,
        )
        if isinstance(feeds, BusBooks):  # a venue lists what the engine was told to watch
            for configured in self.settings.venues:
                self._on_listed(configured.name, list(configured.symbols))
            await feeds.start()  # NATS unreachable: BusUnavailable, with the reason
            self.sim_market = feeds.sim_market
            if isinstance(feeds, NatsBooks):
                self._message("INFO", f"books from collectors on {feeds.url} (NATS JetStream)")
        self.exchanges = feeds.exchanges
        for venue, symbols in self._listed.items():  # venues whose markets came in first
            self.cycles.set_listed(venue, symbols)
        executor = await self._start_trading() if trading else None
        await self._start_onchain()
        if executor is not None:
            await self._open_trading(executor)
        await self._start_lending()
        self._spawn(self._sweep_loop(), "detector-sweep")
        self._spawn(LoopLagProbe(self.metrics.loop_lag).run(), "loop-lag")
        service = self.settings.service
        if service.http_port:
            url = await self.start_monitor(service.http_host, service.http_port)
            self._message("INFO", f"health and metrics on {url}/health and {url}/metrics")
        if self.settings.alerts.webhook_url.get_secret_value():
            self.alerts = AlertSender(self.settings.alerts)
            await self.alerts.start()
            self.bus.listen(self.alerts.on_event)
        self._running = True
        self._message("INFO", f"engine started in {self.settings.mode.value} mode")

    def _bus_books(self) -> BusBooks:
        """The books from the bus (not started yet: the engine wires them up first)."""
        assert self.message_ids is not None and isinstance(self.market_clock, MarketClock)
        if self._replay is not None:
            market = BusBooks(
                self.settings,
                self.bus.publish,
                self._on_book_update,
                market_clock=self._replay,
                ids=self.message_ids,
                clock=self._replay,
            )
        else:
            market = NatsBooks(
                self.settings,
                self.bus.publish,
                self._on_book_update,
                market_clock=self.market_clock,
                ids=self.message_ids,
            )
        market.after_message = self._after_bus_message
        self.market = market
        return market

    def _after_bus_message(self) -> None:
        """The book sweep and expiry run in market time, every sweep interval of it."""
        now = self.market_clock()
        if now < self._next_market_sweep:
            return
        self._next_market_sweep = now + self.settings.detector.sweep_interval_ms / 1000
        if self._replay is not None and self.market is not None:
            self.market.feed.check_heartbeats()
        self._sweep_books()

    async def _start_trading(self) -> Executor:
        settings = self.settings
        self.journal = Journal(settings.resolve_path(settings.journal.path))
        self.breaker = CircuitBreaker(
            settings.risk, settings.thresholds, journal=self.journal, bus=self.bus, clock=self.clock
        )
        self.bus.listen(self.breaker.on_event)
        order_venues = self._order_venues()
        executor = Executor(
            settings.execution,
            settings.risk,
            settings.thresholds,
            exchanges=order_venues,
            books=self.books,
            journal=self.journal,
            breaker=self.breaker,
            bus=self.bus,
            clock=self.clock,
            unknown_order_grace_s=settings.execution.unknown_order_grace_s,
        )
        self.gate = executor.gate  # the one gate of every route kind, liquidations too
        self.cycle_trader = CycleTrader(
            executor.path,
            order_venues,
            self.books,
            settings.execution,
            settings.thresholds,
            settings.cycles,
            clock=self.clock,
        )
        return executor

    async def _open_trading(self, executor: Executor) -> None:
        """Orders a previous run left open are settled with their venues (on-chain legs with
        the chain) before any new trade: the executor becomes visible (to approve and auto
        mode) only after reconciliation."""
        assert self.journal is not None
        chain = None
        if self.onchain is not None and self.onchain.legs is not None:
            chain = ChainLookup(self.onchain.legs.sender._rpc, clock=self.clock)
        report = await reconcile(self.journal, executor.exchanges, clock=self.clock, chain=chain)
        self.executor = executor
        self._spawn(self.trade_stats_cache.run(), "trade-stats")
        for trade in report.trades:
            self._message(
                "WARNING", f"trade {trade.id} was in flight at the last exit: needs attention"
            )
        for order in report.unresolved:
            self._message(
                "WARNING", f"order {order.client_order_id} on {order.venue} is unresolved"
            )

    def _order_venues(self) -> dict[str, Any]:
        """The adapters orders go to: the mode's only effect on trading."""
        if self.settings.mode is Mode.PAPER or (self.market is not None and self.sim_market):
            # On the bus the simulated venues run in the collector: fills are paper fills.
            stale_s = self.settings.thresholds.stale_after_ms / 1000
            return {
                name: PaperExchange(
                    exchange,
                    functools.partial(self._book_of, name),
                    {c: Decimal(str(v)) for c, v in self.settings.execution.paper_balances.items()},
                    stale_after_s=stale_s,
                    clock=self.clock,
                )
                for name, exchange in self.exchanges.items()
            }
        if self.settings.mode is Mode.LIVE:
            store = self._key_store()
            for name, exchange in self.exchanges.items():
                for field, value in load_venue_credentials(name, self.settings, store).items():
                    setattr(exchange, field, value)
        return dict(self.exchanges)

    def _key_store(self) -> KeyStore:
        """One keyring handle per run, so an encrypted keyring's passphrase is asked once."""
        if self._keys is None:
            self._keys = KeyStore(self.settings, self._passphrase_provider)
        return self._keys

    def _wallet_key(self) -> str:
        return load_wallet_key(self.settings, store=self._key_store())

    def _relay_key(self) -> str:
        return load_relay_key(self.settings, store=self._key_store())

    def _book_of(self, venue: str, symbol: str) -> OrderBook | None:
        return self.books.get(symbol, {}).get(venue)

    async def start_monitor(self, host: str, port: int) -> str:
        """Serve GET /health and /metrics (core.service.http); returns the base URL."""
        if self.monitor is None:
            self.monitor = MonitorServer(self, self.metrics, self.clock)
            await self.monitor.start(host, port)
        return self.monitor.url

    async def stop(self) -> None:
        started = self._feeds is not None or self.journal is not None or self._tasks
        if not started:
            return
        self._running = False
        if self.monitor is not None:
            await self.monitor.stop()
            self.monitor = None
        if self.executor is not None:
            self.executor.stop_accepting()  # no new trades from here on, whatever stops first
        # On-chain trades finish first (OnChain.stop waits for them; their CEX legs still need
        # the venues), then the CEX executor drains, then the feeds go.
        await self._stop_lending()
        await self._stop_onchain()
        if self.executor is not None:
            left = await self.executor.drain(timeout_s=self.settings.execution.leg_timeout_s * 3)
            for trade_id in left:
                self._message("WARNING", f"trade {trade_id} still in flight at exit")
        if self.sim_market is not None:
            self.sim_market.stop()
        if self._feeds is not None:
            await self._feeds.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._feeds = self.market = None
        if self.alerts is not None:  # after the drain: the last trades' alerts go out too
            await self.alerts.stop()
            self.alerts = None
        if self.journal is not None:
            self.journal.flush()
            self.journal.close()
            self.journal = None
        self._message("INFO", "engine stopped")

    # -- Aave v3 liquidations: see core.engine.lending --------------------------------------

    async def _start_lending(self) -> None:
        """Needs the on-chain side's manifest with an Aave market (the devnet deploys one).
        Liquidations are signed by the Liquidator owner's key: the devnet account in sim, the
        keyring's wallet in live mode; routes are priced on the pool feed's states."""
        onchain = self.onchain
        if onchain is None or onchain.manifest is None or onchain.manifest.aave is None:
            return
        rpc_url = onchain.devnet.rpc_url if onchain.devnet else self.settings.chain.rpc_url
        feed = onchain.feed
        live = self.settings.mode is Mode.LIVE
        signer_key = None
        if live:
            try:
                signer_key = await asyncio.to_thread(self._wallet_key)
            except Exception as exc:  # no wallet: the watchlist still runs, nothing is signed
                self._message("WARNING", f"liquidations watch only (no wallet key): {exc}")
        try:
            service = LendingService(
                self.settings.lending,
                rpc_url,
                onchain.manifest,
                bus=self.bus,
                clock=self.clock,
                journal=self.journal,
                signer_key=signer_key,
                dev_signer=not live,
                fees=onchain.fees,
                pool_states=(lambda: feed.states) if feed is not None else None,
                relay=onchain.relay_route,
            )
        except Exception as exc:  # liquidations are optional: the rest keeps running
            self._message("WARNING", f"liquidation watchlist not started: {exc}")
            return
        try:
            await service.start(sim_borrowers=self.sim_market is not None)
        except Exception as exc:  # liquidations are optional: the rest keeps running
            with contextlib.suppress(Exception):
                await service.stop()
            self._message("WARNING", f"liquidation watchlist not started: {exc}")
            return
        self.lending = service
        if self.sim_market is not None:
            self._spawn(self._lending_sim_loop(service), "lending-sim")
        self._spawn(self._lending_auto_loop(service), "lending-auto")
        self._message("INFO", "liquidation watchlist: Aave v3")

    async def _stop_lending(self) -> None:
        if self.lending is not None:
            await self.lending.stop()
            self.lending = None

    async def _lending_sim_loop(self, service: LendingService) -> None:
        """Sim: the Aave oracle follows the simulated CEX fair prices."""
        sim = self.sim_market
        assert sim is not None
        reserves = {"WETH": "ETH", "WBTC": "BTC"}  # Aave reserve -> the sim's asset
        while True:
            await asyncio.sleep(1.0)
            prices: dict[str, float] = {"USDC": 1.0}
            for symbol, asset in reserves.items():
                with contextlib.suppress(KeyError):  # an asset no sim venue trades stays put
                    prices[symbol] = sim.usd_price(asset)
            try:
                await service.sim_tick(prices)
            except Exception as exc:  # a failed oracle move must not end the loop
                logger.warning("lending sim tick failed: {}", exc)

    async def _lending_auto_loop(self, service: LendingService) -> None:
        """Auto mode liquidates profitable positions, through the same breaker as trades."""
        while True:
            await asyncio.sleep(1.0)
            if not self.settings.execution.auto_execute or self.gate is None:
                continue
            for opportunity in service.opportunities():
                if not liquidations_tradeable(self.gate):
                    break
                try:
                    self._message("INFO", await self._liquidate(opportunity.id, "auto"))
                except Exception as exc:  # an RPC error must not end auto-liquidation
                    logger.exception("auto liquidation failed")
                    self._message("WARNING", f"auto: liquidation {opportunity.id} failed: {exc}")

    async def _liquidate(self, opportunity_id: str, how: str) -> str:
        """One liquidation through the order gate (core.execute.liquidation_gate)."""
        assert self.lending is not None
        if self.gate is None:
            return "trading is not running (scan mode)"
        opportunity = next(
            (o for o in self.lending.opportunities() if o.id == opportunity_id), None
        )
        if opportunity is None:
            return f"liquidation {opportunity_id} is no longer pending"
        submission = await liquidate_gated(
            self.gate, opportunity, self.lending.execute_opportunity, self.clock()
        )
        return f"{how}: {submission.reason}"

    def _sweep_lending(self) -> None:
        """Publish liquidation opportunities as they appear and leave, like spreads."""
        if self.lending is None:
            return
        now = self.clock()
        current = {o.id: o for o in self.lending.opportunities()}
        for opportunity_id, opportunity in current.items():
            if opportunity_id not in self._liquidations_seen:
                self.counters["opportunities"] += 1
                self.bus.publish(OpportunityFound(opportunity, False, at=now))
        for gone in self._liquidations_seen - current.keys():
            self.bus.publish(OpportunityExpired(gone, "gone", at=now))
        self._liquidations_seen = set(current)

    def liquidation_watchlist(self) -> list[WatchlistRow]:
        return self.lending.watchlist() if self.lending is not None else []

    def pending_liquidations(self) -> list[LiquidationOpportunity]:
        return self.lending.opportunities() if self.lending is not None else []

    # -- on-chain venues (pools, CEX-DEX / DEX-DEX, DEX legs): see core.engine.onchain -------

    async def _start_onchain(self) -> None:
        """Sim mode brings a devnet up; other modes need chain.rpc_url (and its manifest)."""
        if not self.settings.chain.enabled:
            return
        if self.settings.mode is not Mode.SIM and not self.settings.chain.rpc_url:
            return
        onchain = OnChain(
            self.settings,
            self.bus.publish,
            self.books,
            self.taker_fee_bps,
            sim_market=self.sim_market,
            exchanges=lambda: self.executor.exchanges if self.executor else self.exchanges,
            journal=lambda: self.journal,
            breaker=lambda: self.breaker,
            executor=lambda: self.executor,
            clock=self.clock,
            # Live: transactions are signed with the keyring's wallet; the devnet uses its own
            # dev accounts.
            signer_key=self._wallet_key if self.settings.mode is Mode.LIVE else None,
            relay_key=self._relay_key if self.settings.mode is Mode.LIVE else None,
            devnet=self._devnet,
        )
        try:
            await onchain.start()
        except Exception as exc:  # the CEX side keeps running without the chain
            await onchain.stop()
            self._message("WARNING", f"on-chain venues not started: {exc}")
            return
        self.onchain = onchain
        self._message("INFO", f"on-chain venues: {', '.join(onchain.venues)}")

    async def _stop_onchain(self) -> None:
        if self.onchain is not None:
            await self.onchain.stop()
            self.onchain = None

    def _sweep_onchain(self) -> None:
        if self.onchain is not None:
            for opportunity in self.onchain.scan():
                self._on_opportunity(opportunity)

    async def _submit_onchain(self, opportunity: Opportunity, how: str) -> str:
        """On-chain trades go through the same breaker, journal and events as CEX trades
        (core.execute.onchain_trader); this returns when the trade has finished."""
        assert self.onchain is not None
        ok, text = await self.onchain.submit(opportunity)
        return f"{how}: {opportunity.symbol} {'completed' if ok else 'not completed'}: {text}"

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._task_ended)
        self._tasks.append(task)

    def _task_ended(self, task: asyncio.Task[Any]) -> None:
        """A background loop that dies is said out loud, never lost until stop()."""
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        logger.opt(exception=exc).error("engine task {} died", task.get_name())
        self._message("ERROR", f"engine task {task.get_name()} stopped: {exc!r}")

    # -- market data → detection -----------------------------------------------------------

    def _on_book_update(self, venue: str, symbol: str, book: OrderBook) -> None:
        self.counters["book_updates"] += 1
        now = self.clock()
        self.bus.publish(
            BookUpdated(
                venue,
                symbol,
                book.best_bid_price,
                book.best_ask_price,
                book.exchange_ts,
                book.received_at,
                book.sequence,
                at=now,
            )
        )
        # Detection is timed apart from publishing what it found (metrics.detected).
        started = time.perf_counter()
        found: list[Opportunity] = self.detector.check_symbol(symbol, venue)
        if self.cycles is not None:
            self.cycles.on_book(venue, symbol)
            found = [*found, *self.cycles.scan()]
        self.metrics.detected(time.perf_counter() - started, book.received_at, len(found))
        for opportunity in found:
            self._on_opportunity(opportunity)

    def _on_listed(self, venue: str, symbols: list[str]) -> None:
        """A venue's markets loaded: its cycles use only the symbols it lists."""
        self._listed[venue] = symbols
        if self.cycles is not None:
            self.cycles.set_listed(venue, symbols)

    def _on_opportunity(self, opportunity: Opportunity) -> None:
        stored, refreshed = self.board.offer(opportunity)
        if not refreshed:
            self.counters["opportunities"] += 1
            if self.journal is not None:
                self.journal.record_opportunity(stored, "found", at=stored.detected_at)
        self.bus.publish(OpportunityFound(stored, refreshed, at=self.clock()))
        if self.settings.execution.auto_execute and self._auto_allowed(stored):
            self.board.take(stored.id)
            task = asyncio.create_task(self._submit(stored, "auto"), name=f"auto:{stored.id}")
            self._submits.add(task)
            task.add_done_callback(self._submits.discard)

    def _auto_allowed(self, opportunity: Opportunity) -> bool:
        """Auto mode leaves an opportunity on the board while the breaker would refuse it, so
        a persisting spread does not become a stream of refusals."""
        if not self._running or self.executor is None or self.gate is None:
            return False
        if not self.executor.accepting:
            return False
        # Submits still starting count too: one sweep can find several routes at once.
        if self.in_flight() + len(self._submits) >= self.settings.risk.max_concurrent_trades:
            return False
        if self._auto_cooldown.get(opportunity.key, 0.0) > self.clock():
            return False
        venues = (opportunity.buy_venue, opportunity.sell_venue)
        return self.gate.tradeable(venues, opportunity.symbol)

    async def _submit(self, opportunity: Opportunity, how: str) -> str:
        if self.onchain is not None and self.onchain.handles(opportunity):
            return await self._submit_onchain(opportunity, how)
        assert self.executor is not None
        try:
            if isinstance(opportunity, CycleOpportunity):
                assert self.cycle_trader is not None
                submission = await self.cycle_trader.submit(opportunity)
            else:
                submission = await self.executor.submit(opportunity)
        except Exception as exc:  # a venue helper raising must not lose the opportunity silently
            logger.exception("submit failed for {}", opportunity.id)
            submission = Submission(False, f"error: {type(exc).__name__}: {exc}", None)
        status = "executed" if submission.accepted else "refused"
        if self.journal is not None:
            self.journal.record_opportunity(opportunity, status, submission.reason, at=self.clock())
        if submission.accepted:
            text = f"{how}: {opportunity.symbol} trade {submission.trade_id} legs sent"
        else:
            text = f"{how}: {opportunity.symbol} refused: {submission.reason}"
            # Auto mode leaves a refused route alone for a while instead of retrying it on
            # every book update (a short balance or a busy route won't change in 100 ms).
            self._auto_cooldown[opportunity.key] = self.clock() + AUTO_RETRY_AFTER_S
        self._message("INFO" if submission.accepted else "WARNING", text)
        return text

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.detector.sweep_interval_ms / 1000)
            try:
                self.sweep()
            except Exception as exc:  # expiry and on-chain scans must keep running
                logger.exception("detector sweep failed")
                self._message("ERROR", f"detector sweep failed: {exc!r}")

    def sweep(self) -> None:
        """One full detector sweep plus opportunity expiry (also called by tests). On the bus
        the books' part runs in market time instead (_after_bus_message)."""
        if self.market is None:
            self._sweep_books()
        self._sweep_onchain()
        self._sweep_lending()
        if self.market is None:
            self._expire()

    def _sweep_books(self) -> None:
        for opportunity in self.detector.sweep():
            self._on_opportunity(opportunity)
        if self.cycles is not None:
            # Every cycle re-summed: one still open is re-detected, so its TTL restarts.
            self.cycles.index.touch_all()
            for cycle in self.cycles.scan():
                self._on_opportunity(cycle)
        if self.market is not None:
            self._expire()

    def _expire(self) -> None:
        now = self.market_clock()
        for gone in self.board.expire(now):
            if self.journal is not None:
                self.journal.record_opportunity(gone, "expired", at=now)
            self.bus.publish(OpportunityExpired(gone.id, "ttl", at=now))

    def _message(self, level: str, text: str) -> None:
        logger.log(level, text)
        self.bus.publish(EngineMessage(level, text, at=self.clock()))

    # -- what the console reads ------------------------------------------------------------

    def pending_opportunities(self) -> list[Opportunity]:
        return self.board.pending()

    def spread_rows(self) -> list[SpreadRow]:
        rows = spread_rows(
            self.books,
            self.taker_fee_bps,
            self.clock(),
            self.settings.thresholds.stale_after_ms / 1000,
        )
        return rows + (self.onchain.spread_rows() if self.onchain is not None else [])

    def feed_status(self) -> list[FeedStatus]:
        """Read from the supervisors' own health, the one place a feed's state lives."""
        out: list[FeedStatus] = []
        if self._feeds is None:
            return out
        for venue in self.venues:
            for symbol in self.symbols:
                row = self._feeds.status(venue, symbol)
                if row is not None:
                    out.append(FeedStatus(venue, symbol, *row))
        return out

    def venue_health(self) -> dict[str, FeedState]:
        worst: dict[str, FeedState] = {}
        for status in self.feed_status():
            current = worst.get(status.venue)
            if current is None or _SEVERITY[status.state] < _SEVERITY[current]:
                worst[status.venue] = status.state
        return worst

    def breaker_state(self) -> str:
        return self.breaker.state().value.upper() if self.breaker is not None else "CLOSED"

    def breaker_view(self) -> BreakerView | None:
        return self.breaker.view() if self.breaker is not None else None

    @property
    def killed(self) -> bool:
        return self.breaker is not None and self.breaker.killed

    def pnl_today_usd(self) -> Decimal:
        return self.breaker.daily_pnl_usd if self.breaker is not None else Decimal(0)

    def active_trades(self) -> list[TradeView]:
        trades = self.executor.trades() if self.executor is not None else []
        return [t for t in trades if t.finished_at is None]

    def finished_trades(self) -> list[TradeView]:
        trades = self.executor.trades() if self.executor is not None else []
        return [t for t in trades if t.finished_at is not None]

    def in_flight(self) -> int:
        return len(self.executor.active) if self.executor is not None else 0

    def busy(self) -> bool:
        """A trade is being submitted or is in flight (a replay waits for it)."""
        return bool(self._submits) or self.in_flight() > 0

    def trade_stats(self) -> TradeStats:
        """The journal's figures per route kind and venue, as last read (every few seconds)."""
        return self.trade_stats_cache.latest

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.counters)
        out["dropped_messages"] = self._feeds.dropped_total() if self._feeds is not None else 0
        out["pending"] = len(self.board)
        if self.executor is not None:
            out.update(to_jsonable(self.executor.stats()))
        return out

    @property
    def auto_execute(self) -> bool:
        return self.settings.execution.auto_execute

    # -- commands ---------------------------------------------------------------------------

    async def approve(self, opportunity_id: str) -> str:
        """Send an opportunity to the executor; returns a line saying what happened."""
        approved_at = self.clock()
        if self.lending is not None and any(
            o.id == opportunity_id for o in self.lending.opportunities()
        ):
            return await self._liquidate(opportunity_id, "approved")
        opportunity = self.board.take(opportunity_id)
        if opportunity is None:
            return f"opportunity {opportunity_id} is no longer pending"
        self.bus.publish(OpportunityExpired(opportunity_id, "approved", at=self.clock()))
        if self.executor is None:
            if self._trading:
                return "trading starts once the last run's open orders are reconciled"
            return "trading is not running (scan mode)"
        if not self._running:
            return "the engine is stopping: no new trades"
        self.metrics.approved(opportunity_id, approved_at)
        return await self._submit(opportunity, "approved")

    def reject(self, opportunity_id: str) -> None:
        opportunity = self.board.take(opportunity_id)
        if opportunity is not None:
            if self.journal is not None:
                self.journal.record_opportunity(opportunity, "rejected", at=self.clock())
            self.bus.publish(OpportunityExpired(opportunity_id, "rejected", at=self.clock()))
            self._message("INFO", f"rejected {opportunity.symbol} {opportunity.id}")

    def set_auto_execute(self, on: bool) -> None:
        """For this session only: a restart always comes back with the file's value, so auto
        mode switched on in a hurry never survives into the next session unnoticed."""
        self.update_setting("execution.auto_execute", on, write=False)

    def kill(self, reason: str = "kill switch pressed") -> None:
        """Halt new trades at once (feeds keep running); open orders are cancelled when
        execution.cancel_on_kill is set."""
        if self.breaker is not None:
            self.breaker.kill(reason)
        self._message("WARNING", f"KILL SWITCH: {reason}")

    def resume(self) -> None:
        if self.breaker is not None:
            self.breaker.resume()
        self._message("INFO", "trading resumed")

    def _propagate(self, path: str, value: Any) -> None:
        """The few settings that components copied at start-up follow a live edit too."""
        if path in ("cycles.max_hops", "cycles.enabled", "cycles.start_currencies"):
            if self.cycles is not None:
                self.cycles.rebuild()
            if self.onchain is not None:
                self.onchain.rebuild_cycles()
        elif path == "detector.max_levels":
            self.detector.max_levels = value
        elif path == "thresholds.stale_after_ms":
            if self._feeds is not None:
                self._feeds.set_stale_after(value / 1000)
            for venue in self.executor.exchanges.values() if self.executor else ():
                if isinstance(venue, PaperExchange):
                    venue.stale_after_s = value / 1000
        elif path == "execution.unknown_order_grace_s" and self.executor is not None:
            self.executor.legs.unknown_grace_s = value

    def set_theme(self, name: str) -> None:
        """Remember the console theme (written to settings.toml)."""
        self.settings.ui.theme = name
        if self.settings.toml_path is not None:
            write_toml_value(self.settings.toml_path, "ui", "theme", name)

    async def save_theme(self, name: str) -> Path | None:
        """`set_theme` with the file write in a thread, so the loop (feeds, legs) never waits
        on the disk; returns the file written (None: no settings.toml)."""
        async with self._settings_write:
            self.settings.ui.theme = name
            return await asyncio.to_thread(save_setting, self.settings.toml_path, "ui.theme", name)

    async def change_setting(self, path: str, raw: Any) -> SettingChange:
        """`update_setting` with the settings.toml write in a thread: validated first, the
        file written next (a failed write raises SettingsError and changes nothing), then
        applied live and journaled. Writes go one at a time: each rewrites the whole file."""
        async with self._settings_write:
            value = validate_setting(self.settings, path, raw)
            written = await asyncio.to_thread(save_setting, self.settings.toml_path, path, value)
            change = set_live(self.settings, path, value, written)
        self._applied(change)
        return change

    def editable_settings(self) -> list[EditableField]:
        return editable_fields(self.settings)

    def update_setting(self, path: str, raw: Any, *, write: bool = True) -> SettingChange:
        """Validate + apply live + write back; raises SettingsError and changes nothing."""
        change = apply_setting(self.settings, path, raw, write=write)
        self._applied(change)
        return change

    def _applied(self, change: SettingChange) -> None:
        path = change.path
        self._propagate(path, change.new)
        if self.journal is not None:
            self.journal.record_setting_change(path, change.old, change.new, self.clock())
        self._message("INFO", f"setting {path}: {change.old!r} -> {change.new!r}")
