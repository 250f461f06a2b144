"""Alerts out of the engine: a webhook POST (JSON) for every breaker scope that opens and every
finished trade whose fills reach `alerts.webhook_min_fill_usd`.

`AlertSender.on_event` is a bus listener: it only turns an event into an `Alert` and puts it on
a bounded queue (a full queue drops the oldest alert and counts it), so the engine never waits
on a webhook. One task drains the queue: each alert is POSTed, retried after a connection
error, a timeout, a 5xx or a 429 with a doubling delay, never after another 4xx; a final
failure is one log line, never an exception into the engine.

A fill's size in USD is taken per trade, when it finishes: its last `TradeUpdated` view has
`volume`, every leg's notional as the ledger counts it (in the symbol's quote currency; a
cycle's in its start currency), valued at the rate the ledger values realized PnL in USD
(`core.execute.ledger.usd_per_quote`: the detected opportunity's net_profit_usd / net_profit,
learnt here from the `OpportunityFound` the trade started from). `LegFilled` alone cannot be
valued: it names neither its market (a cycle's hops each trade another) nor a USD rate.
Liquidations do not run through the order path's ledger and send no fill alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from loguru import logger

from core.events import BreakerTransitioned, Event, OpportunityFound, TradeStarted, TradeUpdated
from core.redact import register_secret
from core.serialize import iso_utc, to_jsonable
from core.settings import AlertSettings

QUEUE_SIZE = 256
_RATES_KEPT = 4_096  # opportunities whose USD rate is remembered until a trade starts on one


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # "breaker_trip" | "fill"
    text: str  # one line a person reads
    at: float
    fields: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {
            "source": "arbdesk",
            "kind": self.kind,
            "text": self.text,
            "at": iso_utc(self.at),
            "fields": to_jsonable(self.fields),
        }


def _retryable(status: int) -> bool:
    return status >= 500 or status == 429


class AlertSender:
    def __init__(self, settings: AlertSettings, *, queue_size: int = QUEUE_SIZE) -> None:
        self.settings = settings
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._accepting = False
        self._rates: OrderedDict[str, Decimal] = OrderedDict()  # opportunity id -> USD/quote
        self._trade_rates: dict[str, Decimal] = {}  # trade id -> USD/quote
        self.sent = 0
        self.failed = 0
        self.dropped = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        url = self.settings.webhook_url.get_secret_value()
        register_secret(url)  # an HTTP error that quotes the URL must not log its token
        self._session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._drain(), name="alert-webhook")
        self._accepting = True

    async def stop(self) -> None:
        """Stop taking alerts, give the queued ones one POST timeout to go out, then close."""
        self._accepting = False
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), self.settings.webhook_timeout_s)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if left := self._queue.qsize():
            logger.warning("alert webhook: {} alert(s) not sent at exit", left)

    # -- events -> alerts (a bus listener: never blocks, never raises) ------------------------

    def on_event(self, event: Event) -> None:
        if not self._accepting:
            return
        try:
            alert = self._alert(event)
        except Exception:  # a malformed event must not reach the publisher as an exception
            logger.exception("alert webhook: could not read {}", type(event).__name__)
            return
        if alert is not None:
            self._enqueue(alert)

    def _alert(self, event: Event) -> Alert | None:
        if isinstance(event, BreakerTransitioned):
            return _breaker_alert(event) if event.to_state == "open" else None
        if isinstance(event, OpportunityFound):
            self._remember_rate(event.opportunity)
        elif isinstance(event, TradeStarted):
            rate = self._rates.pop(event.opportunity_id, None)
            if rate is not None:
                self._trade_rates[event.trade_id] = rate
        elif isinstance(event, TradeUpdated) and event.trade.finished_at is not None:
            rate = self._trade_rates.pop(event.trade.id, None)  # popped: one alert per trade
            if rate is not None:
                return self._fill_alert(event.trade, rate, event.at)
        return None

    def _remember_rate(self, opportunity: Any) -> None:
        net = Decimal(str(opportunity.net_profit))
        rate = Decimal(str(opportunity.net_profit_usd)) / net if net else Decimal(1)
        self._rates[str(opportunity.id)] = rate
        self._rates.move_to_end(str(opportunity.id))
        while len(self._rates) > _RATES_KEPT:
            self._rates.popitem(last=False)

    def _fill_alert(self, trade: Any, rate: Decimal, at: float) -> Alert | None:
        volume = Decimal(trade.volume)
        volume_usd = volume * rate
        if volume <= 0 or volume_usd < Decimal(str(self.settings.webhook_min_fill_usd)):
            return None
        pnl_usd = trade.realized_pnl_usd
        pnl = f", PnL {pnl_usd:.2f} USD" if pnl_usd is not None else ""
        return Alert(
            "fill",
            f"trade {trade.id} {trade.symbol} {trade.buy_venue}->{trade.sell_venue}"
            f" {trade.status}: fills {volume_usd:,.2f} USD{pnl}",
            at,
            {
                "trade_id": trade.id,
                "symbol": trade.symbol,
                "buy_venue": trade.buy_venue,
                "sell_venue": trade.sell_venue,
                "status": trade.status,
                "volume": volume,
                "volume_usd": volume_usd,
                "realized_pnl": trade.realized_pnl,
                "realized_pnl_usd": pnl_usd,
            },
        )

    def _enqueue(self, alert: Alert) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self._queue.task_done()
            self.dropped += 1
            logger.warning("alert webhook: queue full, oldest alert dropped ({})", self.dropped)
        self._queue.put_nowait(alert)

    # -- delivery --------------------------------------------------------------------------

    async def _drain(self) -> None:
        while True:
            alert = await self._queue.get()
            try:
                await self._deliver(alert)
            except Exception:  # a bug here must not end alerting for the rest of the run
                self.failed += 1
                logger.exception("alert webhook: {} alert failed", alert.kind)
            finally:
                self._queue.task_done()

    async def _deliver(self, alert: Alert) -> None:
        assert self._session is not None
        settings = self.settings
        url = settings.webhook_url.get_secret_value()
        timeout = aiohttp.ClientTimeout(total=settings.webhook_timeout_s)
        body = alert.body()
        attempts, why = 0, ""
        while attempts <= settings.webhook_retries:
            if attempts:
                await asyncio.sleep(settings.webhook_backoff_s * 2 ** (attempts - 1))
            attempts += 1
            started = time.monotonic()
            try:
                async with self._session.post(
                    url, json=body, timeout=timeout, allow_redirects=False
                ) as response:
                    if 200 <= response.status < 300:
                        self.sent += 1
                        return
                    why = f"HTTP {response.status}"
                    if not _retryable(response.status):
                        break
            except TimeoutError:
                why = f"no answer within {time.monotonic() - started:.1f} s"
            except aiohttp.ClientError as exc:
                why = f"{type(exc).__name__}: {exc}"
        self.failed += 1
        logger.error(
            "alert webhook: gave up on the {} alert after {} attempt(s) to {}: {} ({})",
            alert.kind,
            attempts,
            urlsplit(url).hostname,
            why,
            alert.text,
        )


def _breaker_alert(event: BreakerTransitioned) -> Alert:
    return Alert(
        "breaker_trip",
        f"breaker {event.scope} OPEN ({event.cause}): {event.reason}",
        event.at,
        {
            "scope": event.scope,
            "from_state": event.from_state,
            "to_state": event.to_state,
            "cause": event.cause,
            "reason": event.reason,
        },
    )
