"""The executor: turns an approved opportunity into two IOC legs, and a residual into an unwind.

For each `submit(opportunity)`:
1. refuse at once when draining, at max concurrent trades, on a pair already in flight, past
   its TTL or when the risk gate says no (no network);
2. fetch both balances (quote on the buy venue, base on the sell venue); then, with no await
   until the permit, so nothing moves in between:
3. re-check it against the *current* books: within its TTL, books usable, and still worth it
   after fees at the size the depth allows up to the limit prices (resized down if thinner);
   round amount and prices with the venues' precision helpers, check venue minimums;
4. check the balances less what trades in flight hold there (reserve.py), take the breaker
   permit (through the order gate, gate.py) and hold this trade's funds until it closes;
5. in the trade's task, check the kill switch and breaker once more, journal both orders
   (committed) and send both legs concurrently as IOC limit orders priced at most
   `max_slippage_bps` away from the detected VWAPs.

Each leg is followed to its venue's final state (see legs.py). If the legs filled unequally,
the imbalance is flattened with a market order on the venue where it was taken; its cost is
recorded. Realized PnL comes from the actual fills only (pnl.py). Every step is an event.

Dust: a residual smaller than any order the venue that would flatten it accepts (below its
amount step, minimum amount or minimum notional) cannot be unwound; the usual cause is a buy
fee charged in the base currency (Binance: buying 0.01 BTC delivers 0.00999). It does not make
the trade `needs_attention`: the trade finishes as its legs say (`completed` / `hedged`), and
the dust is reported (`dust`, `dust_value`, the reason text, the journal's `residual`) and
counted in the realized PnL at the price of the leg that created it (the sell VWAP for a
base-fee shortfall). Counting it is the honest choice: the base fee is a real cost, and leaving
it out would overstate the profit by exactly that fee.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.book import OrderBook
from core.bus import EventBus
from core.events import (
    Event,
    KillSwitchToggled,
    TradeUnwinding,
)
from core.execute.ledger import dust_reason, dust_value, usd_per_quote
from core.execute.legs import UNKNOWN_GRACE_S, LegRunner
from core.execute.order_path import IN_FLIGHT, OrderPath, Refused
from core.execute.pnl import account
from core.execute.trades import ExecutorStats, LegOutcome, Submission, Trade, TradeView, Venue
from core.journal import Journal
from core.money import D
from core.records import OrderStatus, TradeStatus
from core.risk import CircuitBreaker, Decision
from core.settings import ExecutionSettings, RiskSettings, ThresholdSettings

Clock = Callable[[], float]
Books = Mapping[str, Mapping[str, OrderBook]]  # symbol -> venue -> book
BPS_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class Plan:
    """A re-checked opportunity, rounded for the venues."""

    amount: str  # base, rounded for both venues
    buy_price: str  # IOC limit on the buy venue
    sell_price: str  # IOC limit on the sell venue
    expected_net: float  # quote, at current depth, after fees
    resized: bool


def taker_rate(exchange: Venue, symbol: str) -> float:
    market = exchange.market(symbol)
    rate = market.get("taker")
    if rate is None:
        rate = getattr(exchange, "fees", {}).get("trading", {}).get("taker", 0.0)
    return float(rate or 0.0)


class Executor:
    def __init__(
        self,
        execution: ExecutionSettings,
        risk: RiskSettings,
        thresholds: ThresholdSettings,
        *,
        exchanges: Mapping[str, Venue],
        books: Books,
        journal: Journal,
        breaker: CircuitBreaker,
        bus: EventBus | None = None,
        clock: Clock = time.time,
        poll_interval_s: float = 0.05,
        unknown_order_grace_s: float = UNKNOWN_GRACE_S,
    ) -> None:
        self.execution = execution
        self.risk = risk
        self.thresholds = thresholds
        self.exchanges = exchanges
        self.books = books
        self.journal = journal
        self.bus = bus
        self.clock = clock
        self.legs = LegRunner(
            journal,
            clock=clock,
            poll_interval_s=poll_interval_s,
            unknown_grace_s=unknown_order_grace_s,
        )
        self.path = OrderPath(journal, breaker, risk, self.legs, self._publish, clock)
        """The lifecycle every route kind shares (the on-chain trader runs on it too)."""
        # Names for the path's parts this adapter uses on every trade.
        self.gate = self.path.gate
        self.ledger = self.path.ledger
        self.reservations = self.path.reservations
        self.active = self.path.active
        self.finished = self.path.finished
        self._kill_tasks: set[asyncio.Task[int]] = set()
        if bus is not None:
            bus.listen(self._on_event)

    # -- the console's view ------------------------------------------------------------------

    def trades(self) -> list[TradeView]:
        return self.path.trades()

    def trade(self, trade_id: str) -> TradeView | None:
        return self.path.trade(trade_id)

    def stats(self) -> ExecutorStats:
        return self.path.stats()

    @property
    def accepting(self) -> bool:
        return self.path.accepting

    # -- submit ----------------------------------------------------------------------------

    async def submit(self, opportunity: Any) -> Submission:
        """Re-check, gate and start a trade; returns once both legs are sent (or why not)."""
        key = self.path.claim(opportunity)
        if key is None:
            return self.path.refuse(opportunity, IN_FLIGHT)
        started = False
        try:
            self.path.precheck(opportunity)
            balances = await self._fetch_balances(opportunity)
            # No await from here to the permit: the TTL, the books and the funds are judged as
            # they are when the trade starts, not as they were before the balance round-trip.
            plan = self._prepare(opportunity)
            need = self._check_balances(opportunity, plan, *balances)
            decision = self.path.admit(opportunity)
            hold = self.reservations.hold(need)
            trade, sent = self.path.launch(
                key,
                decision,
                hold,
                lambda: self._start(opportunity, plan),
                lambda trade, sent: self._run(trade, plan, decision, sent),
                "executor",
            )
            started = True
            # Shielded: a caller that gives up waiting must not cancel the hand-over to _run.
            await asyncio.shield(sent)
            return Submission(True, "legs sent", trade.id)
        except Refused as exc:
            return self.path.refuse(opportunity, str(exc))
        finally:
            if not started:
                self.path.unclaim(key)

    async def execute(self, opportunity: Any) -> TradeView | Submission:
        """Submit and wait for the trade to finish (tests, headless one-shots)."""
        submission = await self.submit(opportunity)
        if not submission.accepted or submission.trade_id is None:
            return submission
        await self.path.wait(submission.trade_id)
        view = self.trade(submission.trade_id)
        assert view is not None
        return view

    async def wait(self, trade_id: str) -> TradeView | None:
        await self.path.wait(trade_id)
        return self.trade(trade_id)

    # -- re-check against the current books ----------------------------------------------------

    def _prepare(self, opp: Any) -> Plan:
        # The gate is asked again by admit, right after this (no await in between).
        now = self.path.check_open(opp)
        buy_ex, sell_ex = self._exchange(opp.buy_venue), self._exchange(opp.sell_venue)
        buy_book, sell_book = (
            self._book(opp.symbol, opp.buy_venue),
            self._book(opp.symbol, opp.sell_venue),
        )
        stale_s = self.thresholds.stale_after_ms / 1000.0
        for book in (buy_book, sell_book):
            if not book.usable(now, stale_s):
                why = book.invalid_reason or "stale, crossed or one-sided"
                raise Refused(f"book {book.venue} {opp.symbol} not usable: {why}")
        slip = self.thresholds.max_slippage_bps / 10_000.0
        buy_limit = float(buy_ex.price_to_precision(opp.symbol, opp.buy_vwap * (1.0 + slip)))
        sell_limit = float(sell_ex.price_to_precision(opp.symbol, opp.sell_vwap * (1.0 - slip)))
        # What an IOC at those limits could take now, never more than detected.
        size = min(
            opp.size,
            buy_book.quantity_up_to_price(True, buy_limit),
            sell_book.quantity_up_to_price(False, sell_limit),
        )
        amount = self._round_amount(opp.symbol, buy_ex, sell_ex, size)
        if amount <= 0:
            raise Refused(
                f"no depth left within {self.thresholds.max_slippage_bps:g} bps "
                "of the detected prices"
            )
        buy_avg, buy_qty = buy_book.vwap_for_quantity(True, amount)
        sell_avg, sell_qty = sell_book.vwap_for_quantity(False, amount)
        if buy_qty < amount or sell_qty < amount:
            raise Refused("depth vanished while re-checking")
        fee_b, fee_s = taker_rate(buy_ex, opp.symbol), taker_rate(sell_ex, opp.symbol)
        notional = buy_avg * amount
        net = (sell_avg - buy_avg) * amount - notional * fee_b - sell_avg * amount * fee_s
        net_bps = net / notional * 10_000.0 if notional else 0.0
        usd = float(usd_per_quote(opp))
        # The detector trims sizes to sit exactly on the threshold; float rounding there must
        # not turn into a refusal, hence the 1e-6 bps tolerance.
        if net <= 0 or net_bps < self.thresholds.min_profit_bps - BPS_TOLERANCE:
            raise Refused(
                f"no longer profitable at current depth: net {net_bps:.1f} bps after fees "
                f"(min {self.thresholds.min_profit_bps:g})"
            )
        if net * usd < self.thresholds.min_profit_usd:
            raise Refused(
                f"no longer worth it at current depth: net {net * usd:.2f} USD "
                f"(min {self.thresholds.min_profit_usd:g})"
            )
        amount_s = sell_ex.amount_to_precision(
            opp.symbol, buy_ex.amount_to_precision(opp.symbol, amount)
        )
        for ex, price in ((buy_ex, buy_limit), (sell_ex, sell_limit)):
            self._check_minimums(ex, opp.symbol, float(amount_s), price)
        return Plan(
            amount=str(amount_s),
            buy_price=str(buy_ex.price_to_precision(opp.symbol, buy_limit)),
            sell_price=str(sell_ex.price_to_precision(opp.symbol, sell_limit)),
            expected_net=net,
            resized=amount < opp.size,
        )

    @staticmethod
    def _round_amount(symbol: str, buy_ex: Venue, sell_ex: Venue, size: float) -> float:
        if size <= 0:
            return 0.0
        try:
            once = buy_ex.amount_to_precision(symbol, size)
            return float(sell_ex.amount_to_precision(symbol, once))
        except Exception:  # noqa: BLE001 - ccxt raises InvalidOrder below the precision step
            return 0.0

    @staticmethod
    def _check_minimums(exchange: Venue, symbol: str, amount: float, price: float) -> None:
        limits = exchange.market(symbol).get("limits") or {}
        min_amount = (limits.get("amount") or {}).get("min")
        min_cost = (limits.get("cost") or {}).get("min")
        if min_amount is not None and amount < float(min_amount):
            raise Refused(f"{exchange.id}: amount {amount} below the venue minimum {min_amount}")
        if min_cost is not None and amount * price < float(min_cost):
            raise Refused(
                f"{exchange.id}: notional {amount * price:.8g} below the venue minimum {min_cost}"
            )

    async def _fetch_balances(self, opp: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        buy_ex, sell_ex = self._exchange(opp.buy_venue), self._exchange(opp.sell_venue)
        try:
            buy_bal, sell_bal = await asyncio.gather(
                buy_ex.fetch_balance(), sell_ex.fetch_balance()
            )
        except Exception as exc:  # noqa: BLE001 - any failure here means: do not trade
            raise Refused(f"balance check failed: {type(exc).__name__}: {exc}") from exc
        return buy_bal, sell_bal

    def _check_balances(
        self, opp: Any, plan: Plan, buy_bal: dict[str, Any], sell_bal: dict[str, Any]
    ) -> list[tuple[str, str, Decimal]]:
        """Refuse unless both venues hold enough free funds beyond what trades in flight
        hold there; returns what this trade needs to hold (venue, currency, amount)."""
        base, _, quote = opp.symbol.partition("/")
        buy_ex = self._exchange(opp.buy_venue)
        need_quote = D(plan.amount) * D(plan.buy_price) * (1 + D(taker_rate(buy_ex, opp.symbol)))
        free_quote = D((buy_bal.get("free") or {}).get(quote))
        have_quote = self.reservations.available(opp.buy_venue, quote, free_quote)
        if have_quote < need_quote:
            held = self.reservations.held(opp.buy_venue, quote)
            extra = f" ({held} held by trades in flight)" if held else ""
            raise Refused(
                f"{opp.buy_venue}: {have_quote} {quote} free{extra}, the buy needs {need_quote:.8f}"
            )
        free_base = D((sell_bal.get("free") or {}).get(base))
        have_base = self.reservations.available(opp.sell_venue, base, free_base)
        if have_base < D(plan.amount):
            held = self.reservations.held(opp.sell_venue, base)
            extra = f" ({held} held by trades in flight)" if held else ""
            raise Refused(
                f"{opp.sell_venue}: {have_base} {base} free{extra}, the sell needs {plan.amount}"
            )
        return [(opp.buy_venue, quote, need_quote), (opp.sell_venue, base, D(plan.amount))]

    def _exchange(self, venue: str) -> Venue:
        exchange = self.exchanges.get(venue)
        if exchange is None:
            raise Refused(f"no exchange adapter for venue {venue}")
        return exchange

    def _book(self, symbol: str, venue: str) -> OrderBook:
        book = self.books.get(symbol, {}).get(venue)
        if book is None:
            raise Refused(f"no book for {venue} {symbol}")
        return book

    # -- running a trade ---------------------------------------------------------------------

    def _start(self, opp: Any, plan: Plan) -> Trade:
        return self.path.start(
            opp,
            D(plan.amount),
            D(plan.buy_price),
            D(plan.sell_price),
            reason="resized to current depth" if plan.resized else "",
        )

    async def _run(
        self, trade: Trade, plan: Plan, decision: Decision, sent: asyncio.Future[None]
    ) -> Trade:
        """Both legs, the flatten and the finish (a raise here is aborted by the path)."""
        # A kill (or a breaker opening) may have come in since the permit: nothing goes out.
        # From here to scheduling both sends there is no await.
        if refusal := self.gate.send_refusal(decision):
            self.ledger.withdraw(trade, decision, f"not sent: {refusal}")
            if not sent.done():
                sent.set_exception(Refused(refusal))
            return trade
        buy = self.ledger.order(
            trade,
            "buy",
            trade.buy_venue,
            trade.symbol,
            "buy",
            "limit",
            plan.amount,
            plan.buy_price,
        )
        sell = self.ledger.order(
            trade,
            "sell",
            trade.sell_venue,
            trade.symbol,
            "sell",
            "limit",
            plan.amount,
            plan.sell_price,
        )
        timeout = self.execution.leg_timeout_s
        ioc = {"timeInForce": "IOC"}
        legs = asyncio.gather(
            self.legs.run(self._exchange(trade.buy_venue), buy, timeout_s=timeout, params=ioc),
            self.legs.run(self._exchange(trade.sell_venue), sell, timeout_s=timeout, params=ioc),
        )
        if not sent.done():  # both create_order calls are scheduled: approval -> sent
            sent.set_result(None)
        buy_out, sell_out = await legs
        for outcome in (buy_out, sell_out):
            self._leg_done(trade, outcome)
        await self._flatten(trade, buy_out, sell_out)
        self._finish(trade, decision, buy_out, sell_out)
        return trade

    def _leg_done(self, trade: Trade, outcome: LegOutcome) -> None:
        self.ledger.leg_done(
            trade,
            outcome.order,
            outcome.fills,
            max_slippage_bps=self.thresholds.max_slippage_bps,
        )

    async def _flatten(self, trade: Trade, buy: LegOutcome, sell: LegOutcome) -> None:
        """Unwind the imbalance between the legs with a market order where it was taken."""
        if not (buy.known and sell.known):
            return  # a leg's state is unknown: unwinding blind could double the position
        base, _, quote = trade.symbol.partition("/")
        position = account(trade.orders.values(), base, quote).base_position
        if position == 0:
            return
        venue = trade.buy_venue if position > 0 else trade.sell_venue
        side = "sell" if position > 0 else "buy"
        exchange = self._exchange(venue)
        if self._dust_reason(trade, position) is not None:
            return  # below what the venue accepts: dust, reported by _finish
        amount = str(exchange.amount_to_precision(trade.symbol, float(abs(position))))
        trade.status = TradeStatus.UNWINDING
        self.journal.update_trade(trade.id, TradeStatus.UNWINDING, trade.reason)
        why = f"legs filled {buy.filled} / {sell.filled}: {side} {amount} {base} on {venue}"
        self._publish(
            TradeUnwinding(
                trade_id=trade.id,
                venue=venue,
                side=side,
                amount=D(amount),
                reason=why,
                at=self.clock(),
            )
        )
        record = self.ledger.order(
            trade, "unwind", venue, trade.symbol, side, "market", amount, None
        )
        outcome = await self.legs.run(exchange, record, timeout_s=self.execution.leg_timeout_s)
        self._leg_done(trade, outcome)

    def _finish(self, trade: Trade, decision: Decision, buy: LegOutcome, sell: LegOutcome) -> None:
        base, _, quote = trade.symbol.partition("/")
        books = account(trade.orders.values(), base, quote)
        unknown = [o for o in trade.orders.values() if not o.status.final]
        notes = list(books.notes)
        if unknown:
            status = TradeStatus.NEEDS_ATTENTION
            notes.insert(0, "order state unknown: " + ", ".join(o.client_order_id for o in unknown))
        elif books.base_position != 0 and (dust := self._dust_reason(trade, books.base_position)):
            # Too small for any order on the venue: dust, not a position a human must flatten.
            # Its value is already in realized_pnl (pnl.py values it at the price of the leg that
            # made it), so the base-currency fee that caused it is paid, not hidden.
            trade.dust = books.base_position
            trade.dust_value = dust_value(trade, books.base_position)
            notes.append(
                f"dust {books.base_position} {base} ({trade.dust_value:.8f} {quote}, "
                f"counted in the PnL) {dust}"
            )
            status = self._legs_status(trade, buy, sell, notes)
        elif books.base_position != 0:
            status = TradeStatus.NEEDS_ATTENTION
            notes.insert(0, f"residual position {books.base_position} {base} left")
        else:
            status = self._legs_status(trade, buy, sell, notes)
        failed_venues = [
            leg.order.venue for leg in (buy, sell) if leg.filled < trade.amount or not leg.known
        ]
        self.ledger.finish(
            trade, decision, books, books.realized_pnl, books.fees, status, notes, failed_venues
        )

    @staticmethod
    def _legs_status(
        trade: Trade, buy: LegOutcome, sell: LegOutcome, notes: list[str]
    ) -> TradeStatus:
        """The status of a trade left flat (or with dust only), from what its legs filled."""
        if buy.filled == trade.amount and sell.filled == trade.amount:
            return TradeStatus.COMPLETED
        if buy.filled == 0 and sell.filled == 0:
            notes.insert(0, f"nothing filled: buy {buy.order.status}, sell {sell.order.status}")
            return TradeStatus.FAILED
        unwound = any(o.role == "unwind" and o.filled > 0 for o in trade.orders.values())
        tail = "imbalance unwound" if unwound else "the difference is dust"
        notes.insert(0, f"legs filled {buy.filled} / {sell.filled}; {tail}")
        return TradeStatus.HEDGED

    def _dust_reason(self, trade: Trade, position: Decimal) -> str | None:
        """Why a residual `position` cannot be flattened on the venue that would take the
        order (below its amount step, its minimum amount or its minimum notional), or None
        when it can be."""
        venue = trade.buy_venue if position > 0 else trade.sell_venue
        price = trade.buy_price if position > 0 else trade.sell_price
        return dust_reason(self._exchange(venue), venue, trade.symbol, float(abs(position)), price)

    # -- kill switch and shutdown ---------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, KillSwitchToggled) and event.active and self.execution.cancel_on_kill:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop (a synchronous caller): nothing of ours is in flight
            task = loop.create_task(self.legs.cancel_open())
            self._kill_tasks.add(task)
            task.add_done_callback(self._kill_tasks.discard)

    async def drain(self, timeout_s: float | None = None) -> list[str]:
        """Take no new trades, let the legs in flight finish or unwind, flush the journal.

        Returns the ids of trades still in flight when `timeout_s` ran out (they stay
        `sending`/`unwinding` in the journal and are reconciled on the next start).
        """
        await self.path.drain(timeout_s)
        if self._kill_tasks:
            await asyncio.wait(list(self._kill_tasks), timeout=timeout_s)
        self.journal.flush()
        return [t.id for t in self.active.values()]

    def stop_accepting(self) -> None:
        """Refuse new trades from now on (shutdown); trades in flight carry on."""
        self.path.stop_accepting()

    def resume_accepting(self) -> None:
        self.path.resume_accepting()

    def _publish(self, event: Event) -> None:
        if self.bus is not None:
            self.bus.publish(event)


__all__ = ["Executor", "Plan", "Refused", "OrderStatus"]
