"""CEX cycles on the order path: IOC legs in sequence, each sized from the previous fill, and
an unwind back to the start currency of whatever a short or failed leg leaves behind.

For each `submit(cycle)`, on the engine's `OrderPath` (claim, TTL, breaker permit, funds held,
journal, events, one close hook):
1. refuse when the route is busy, past its TTL, a hop's feed is unhealthy or the breaker says
   no; fetch the venue's balance (one round trip);
2. with no await until the permit, re-walk the current books at the detected input (resized
   down to the free start currency less what trades in flight hold) and refuse unless the
   cycle still clears `cycles.min_profit_bps` and `thresholds.min_profit_usd`;
3. in the trade's task, send hop 1 as an IOC limit `max_slippage_bps` past the current touch,
   journaled before it is sent; hop 2 spends exactly what hop 1 delivered (net of its fee),
   and so on. A hop's unspent input (a partial fill, a refused or failed order) is sold back
   to the start currency at market on the venue's direct market, journaled with its cost; a
   remainder below the venue's minimums is dust, valued and counted in the PnL.
4. the trade ends `completed` (every hop filled, nothing unwound), `hedged` (flat again after
   an unwind), `failed` (nothing filled) or `needs_attention` (an order's state is unknown or a
   residual could not be unwound), with the PnL in the start currency (cycle_pnl.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from decimal import ROUND_DOWN, Decimal

from core.book import OrderBook
from core.detect.cycle_scan import CycleLeg, CycleOpportunity
from core.detect.cycles import Hop, book_hop_out
from core.events import TradeUnwinding
from core.execute.cycle_pnl import account_cycle
from core.execute.executor import taker_rate
from core.execute.ledger import dust_reason, usd_per_quote
from core.execute.order_path import IN_FLIGHT, OrderPath, Refused
from core.execute.trades import ZERO, LegOutcome, Submission, Trade, Venue
from core.money import D
from core.records import OrderStatus, TradeStatus
from core.risk import Decision
from core.settings import CycleSettings, ExecutionSettings, ThresholdSettings

Books = Mapping[str, Mapping[str, OrderBook]]  # symbol -> venue -> book
BPS_TOLERANCE = 1e-6


class CycleTrader:
    def __init__(
        self,
        path: OrderPath,
        exchanges: Mapping[str, Venue],
        books: Books,
        execution: ExecutionSettings,
        thresholds: ThresholdSettings,
        cycles: CycleSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.exchanges = exchanges
        self.books = books
        self.execution = execution
        self.thresholds = thresholds
        self.cycles = cycles
        self.clock = clock

    # -- submit ----------------------------------------------------------------------------

    async def submit(self, opp: CycleOpportunity) -> Submission:
        """Re-check, gate and start a cycle; returns once its first hop is sent (or why not)."""
        key = self.path.claim(opp)
        if key is None:
            return self.path.refuse(opp, IN_FLIGHT)
        started = False
        try:
            now = self.path.precheck(opp)
            for symbol in opp.symbols:
                if refusal := self.path.gate.refusal((opp.buy_venue,), symbol, now):
                    raise Refused(refusal)
            exchange = self._exchange(opp.buy_venue)
            try:
                balance = await exchange.fetch_balance()
            except Exception as exc:  # noqa: BLE001 - any failure here means: do not trade
                raise Refused(f"balance check failed: {type(exc).__name__}: {exc}") from exc
            free = D((balance.get("free") or {}).get(opp.start))
            have = self.path.reservations.available(opp.buy_venue, opp.start, free)
            amount_in = self._recheck(opp, min(D(opp.size), have))
            decision = self.path.admit(opp)
            hold = self.path.reservations.hold([(opp.buy_venue, opp.start, amount_in)])
            resized = amount_in < D(opp.size)
            trade, sent = self.path.launch(
                key,
                decision,
                hold,
                lambda: self.path.start(
                    opp,
                    amount_in,
                    D(opp.buy_vwap),
                    D(opp.sell_vwap),
                    reason="resized to current depth or funds" if resized else "",
                ),
                lambda trade, sent: self._run(trade, opp, amount_in, decision, sent),
                "cycle",
            )
            started = True
            await asyncio.shield(sent)
            return Submission(True, "first hop sent", trade.id)
        except Refused as exc:
            return self.path.refuse(opp, str(exc))
        finally:
            if not started:
                self.path.unclaim(key)

    async def execute(self, opp: CycleOpportunity) -> Trade | Submission:
        """Submit and wait for the cycle to finish (tests, headless one-shots)."""
        submission = await self.submit(opp)
        if not submission.accepted or submission.trade_id is None:
            return submission
        await self.path.wait(submission.trade_id)
        return next(t for t in self.path.finished if t.id == submission.trade_id)

    def _recheck(self, opp: CycleOpportunity, amount_in: Decimal) -> Decimal:
        now = self.path.check_open(opp)
        stale_s = self.thresholds.stale_after_ms / 1000
        amount = float(amount_in)
        if amount <= 0:
            raise Refused(f"{opp.buy_venue}: no free {opp.start} to start the cycle")
        for leg in opp.legs:
            book = self._book(leg)
            if not book.usable(now, stale_s):
                why = book.invalid_reason or "stale, crossed or one-sided"
                raise Refused(f"book {leg.venue} {leg.symbol} not usable: {why}")
            amount = book_hop_out(book, _hop(leg), amount, self._fee(leg))
            if amount <= 0:
                raise Refused(f"{leg.symbol} on {leg.venue} no longer has the depth")
        net = amount - float(amount_in)
        bps = net / float(amount_in) * 1e4
        usd = float(usd_per_quote(opp))
        if bps < self.cycles.min_profit_bps - BPS_TOLERANCE:
            raise Refused(
                f"no longer profitable at current depth: net {bps:.1f} bps after fees "
                f"(min {self.cycles.min_profit_bps:g})"
            )
        if net * usd < self.thresholds.min_profit_usd:
            raise Refused(
                f"no longer worth it at current depth: net {net * usd:.2f} USD "
                f"(min {self.thresholds.min_profit_usd:g})"
            )
        return amount_in

    # -- running a cycle ---------------------------------------------------------------------

    async def _run(
        self,
        trade: Trade,
        opp: CycleOpportunity,
        amount_in: Decimal,
        decision: Decision,
        sent: asyncio.Future[None],
    ) -> Trade:
        """Every hop, any unwind, the finish (a raise here is aborted by the path)."""
        await self._hops(trade, opp, amount_in, decision, sent)
        self._finish(trade, opp, decision)
        return trade

    async def _hops(
        self,
        trade: Trade,
        opp: CycleOpportunity,
        amount_in: Decimal,
        decision: Decision,
        sent: asyncio.Future[None],
    ) -> None:
        have, currency = amount_in, opp.start
        for number, leg in enumerate(opp.legs, start=1):
            if refusal := self.path.gate.send_refusal(decision):
                trade.reason = f"hop {number} not sent: {refusal}"
                break
            order = self._order(leg, have)
            if order is None:
                trade.reason = f"hop {number}: {have} {currency} is too little to trade"
                break
            amount, price = order
            record = self.path.ledger.order(
                trade, f"h{number}", leg.venue, leg.symbol, leg.side, "limit", amount, price
            )
            legs_done = self.path.legs.run(
                self._exchange(leg.venue),
                record,
                timeout_s=self.execution.leg_timeout_s,
                params={"timeInForce": "IOC"},
            )
            task = asyncio.ensure_future(legs_done)
            if not sent.done():  # the first create_order is scheduled: approval -> sent
                sent.set_result(None)
            outcome = await task
            self.path.ledger.leg_done(trade, outcome.order, outcome.fills)
            if not outcome.known:
                trade.reason = f"hop {number} state unknown: nothing more is sent"
                return  # unwinding blind could double a position
            spent, got = _flows(outcome, leg)
            left = have - spent
            if left > 0 and currency != opp.start:
                await self._unwind(trade, opp, currency, left)
            have, currency = got, leg.dst
            if have <= 0:
                break
        if not sent.done():
            sent.set_result(None)  # nothing went out; _finish says why
        if currency != opp.start and have > 0:
            await self._unwind(trade, opp, currency, have)

    def _order(self, leg: CycleLeg, have: Decimal) -> tuple[str, str] | None:
        """(amount, IOC limit) of a hop spending `have` of its source currency now, rounded
        for the venue; None when it is below the venue's minimums."""
        exchange = self._exchange(leg.venue)
        book = self._book(leg)
        slip = self.thresholds.max_slippage_bps / 1e4
        fee = taker_rate(exchange, leg.symbol)
        if leg.side == "buy":
            # The base `have` buys walking the asks, with the quote fee set aside.
            budget = float(have) / (1.0 + fee)
            quantity = book_hop_out(book, _hop(leg), budget, 0.0)
            touch = book.best_ask_price
            limit = (touch or 0.0) * (1.0 + slip)
        else:
            quantity = float(have)
            touch = book.best_bid_price
            limit = (touch or 0.0) * (1.0 - slip)
        if not touch or quantity <= 0:
            return None
        try:
            amount = exchange.amount_to_precision(leg.symbol, quantity)
            price = exchange.price_to_precision(leg.symbol, limit)
        except Exception:  # noqa: BLE001 - ccxt raises InvalidOrder below the precision step
            return None
        if dust_reason(exchange, leg.venue, leg.symbol, amount, D(price)) is not None:
            return None
        return str(amount), str(price)

    async def _unwind(
        self, trade: Trade, opp: CycleOpportunity, currency: str, left: Decimal
    ) -> None:
        """Sell `left` of `currency` back into the start currency at market, on the venue's
        direct market; a remainder it cannot take (dust, no market) stays in the residual."""
        venue = opp.buy_venue
        exchange = self._exchange(venue)
        market = self._start_market(venue, currency, opp.start)
        if market is None:
            return
        symbol, book, currency_is_base = market
        if currency_is_base:  # CUR/START: sell it into the bids
            side, quantity, price = "sell", float(left), book.best_bid_price
        else:  # START/CUR: buy the start currency with it
            ask = book.best_ask_price
            fee = taker_rate(exchange, symbol)
            side, price = "buy", ask
            quantity = float(left) / (ask * (1.0 + fee)) if ask else 0.0
        if not price or quantity <= 0:
            return
        try:
            amount = str(exchange.amount_to_precision(symbol, quantity))
        except Exception:  # noqa: BLE001 - below the amount step: dust
            return
        if dust_reason(exchange, venue, symbol, amount, D(price)) is not None:
            return
        trade.status = TradeStatus.UNWINDING
        self.path.journal.update_trade(trade.id, TradeStatus.UNWINDING, trade.reason)
        why = f"{left} {currency} left mid-cycle: {side} {amount} {symbol} on {venue}"
        self.path.ledger.publish(
            TradeUnwinding(
                trade_id=trade.id,
                venue=venue,
                side=side,
                amount=D(amount),
                reason=why,
                at=self.clock(),
            )
        )
        record = self.path.ledger.order(
            trade, "unwind", venue, symbol, side, "market", amount, None
        )
        outcome = await self.path.legs.run(exchange, record, timeout_s=self.execution.leg_timeout_s)
        self.path.ledger.leg_done(trade, outcome.order, outcome.fills)

    def _finish(self, trade: Trade, opp: CycleOpportunity, decision: Decision) -> None:
        result = account_cycle(trade.orders.values(), opp.start, self._value_fn(opp))
        books = result.books
        hops = [o for o in trade.orders.values() if o.role.startswith("h")]
        unwinds = [o for o in trade.orders.values() if o.role == "unwind" and o.filled > 0]
        unknown = [o for o in trade.orders.values() if not o.status.final]
        notes = list(books.notes)
        if trade.reason:
            notes.append(trade.reason)
            trade.reason = ""
        left = ", ".join(f"{a} {c}" for c, a in result.residual.items())
        if unknown:
            status = TradeStatus.NEEDS_ATTENTION
            notes.insert(0, "order state unknown: " + ", ".join(o.client_order_id for o in unknown))
        elif not any(o.filled > 0 for o in hops):
            status = TradeStatus.FAILED
            notes.insert(0, "nothing filled")
        elif self._residual_tradeable(opp, result.residual):
            status = TradeStatus.NEEDS_ATTENTION
            notes.insert(0, f"residual left: {left}")
        elif (
            len(hops) == len(opp.legs)
            and not unwinds
            and all(o.status is OrderStatus.CLOSED for o in hops)
        ):
            status = TradeStatus.COMPLETED
        else:
            status = TradeStatus.HEDGED
            filled = " / ".join(f"{o.filled}" for o in hops)
            notes.insert(0, f"hops filled {filled}; unwound to {opp.start}")
        if left and status is not TradeStatus.NEEDS_ATTENTION:
            notes.append(f"dust {left} (valued in {opp.start}, counted in the PnL)")
        if books.unwind_cost:
            notes.append(f"unwind cost {books.unwind_cost:.8f} {opp.start}")
        failed = [opp.buy_venue] if status is not TradeStatus.COMPLETED else []
        self.path.ledger.finish(
            trade, decision, books, books.realized_pnl, books.fees, status, notes, failed
        )

    def _residual_tradeable(self, opp: CycleOpportunity, residual: Mapping[str, Decimal]) -> bool:
        """A residual above the venue's minimums on the market that would flatten it: a
        position a human must look at, not dust."""
        exchange = self._exchange(opp.buy_venue)
        for currency, amount in residual.items():
            market = self._start_market(opp.buy_venue, currency, opp.start)
            if market is None:
                return True  # cannot be flattened here at all
            symbol, book, currency_is_base = market
            price = book.mid()
            if price is None:
                return True
            quantity = abs(amount) if currency_is_base else abs(amount) / D(price)
            if dust_reason(exchange, opp.buy_venue, symbol, str(quantity), D(price)) is None:
                return True
        return False

    def _value_fn(self, opp: CycleOpportunity) -> Callable[[str, Decimal], Decimal | None]:
        def value(currency: str, amount: Decimal) -> Decimal | None:
            market = self._start_market(opp.buy_venue, currency, opp.start)
            if market is None:
                return None
            _symbol, book, currency_is_base = market
            mid = book.mid()
            if not mid:
                return None
            return amount * D(mid) if currency_is_base else amount / D(mid)

        return value

    def _start_market(
        self, venue: str, currency: str, start: str
    ) -> tuple[str, OrderBook, bool] | None:
        """The venue's direct market between `currency` and the start currency, as (symbol,
        book, whether `currency` is its base): CUR/START first, else START/CUR; None if
        neither trades there. Unwinds, residual checks and dust values all go through it."""
        pairs = ((f"{currency}/{start}", True), (f"{start}/{currency}", False))
        for symbol, currency_is_base in pairs:
            book = self.books.get(symbol, {}).get(venue)
            if book is not None:
                return symbol, book, currency_is_base
        return None

    # -- lookups -----------------------------------------------------------------------------

    def _fee(self, leg: CycleLeg) -> float:
        return taker_rate(self._exchange(leg.venue), leg.symbol)

    def _exchange(self, venue: str) -> Venue:
        exchange = self.exchanges.get(venue)
        if exchange is None:
            raise Refused(f"no exchange adapter for venue {venue}")
        return exchange

    def _book(self, leg: CycleLeg) -> OrderBook:
        book = self.books.get(leg.symbol, {}).get(leg.venue)
        if book is None:
            raise Refused(f"no book for {leg.venue} {leg.symbol}")
        return book


def _hop(leg: CycleLeg) -> Hop:
    return Hop(leg.venue, leg.symbol, leg.src, leg.dst)


def _flows(outcome: LegOutcome, leg: CycleLeg) -> tuple[Decimal, Decimal]:
    """(spent of the hop's source currency, got of its destination), fees included."""
    order = outcome.order
    fee_in: dict[str | None, Decimal] = {order.fee_currency: order.fee}
    fee_in.update(dict(order.other_fees))
    if leg.side == "buy":  # spends quote, gets base
        spent = order.cost + fee_in.get(leg.src, ZERO)
        got = order.filled - fee_in.get(leg.dst, ZERO)
    else:
        spent = order.filled + fee_in.get(leg.src, ZERO)
        got = order.cost - fee_in.get(leg.dst, ZERO)
    return spent, max(got, ZERO).quantize(Decimal("1e-18"), rounding=ROUND_DOWN)
