"""A trade's bookkeeping, shared by the CEX executor and the on-chain trader.

Both run trades to the same standard, so what they write and announce at each step is one
piece of code: the opportunity and trade rows, each order journaled (committed) before it is
sent, the leg events, the breaker's slippage and result, and the end of a trade (journal,
opportunity, breaker, `TradeFinished`). What differs is passed in: how a trade is registered
and closed (the order path's lists and counters), which venues failed, and the status and
notes each adapter derives from its legs.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, Literal

from core.events import (
    Event,
    LegFailed,
    LegFilled,
    LegSent,
    TradeFinished,
    TradeRefused,
    TradeStarted,
    TradeUpdated,
)
from core.execute.gate import OrderGate
from core.execute.legs import LegRunner
from core.execute.pnl import Accounting
from core.execute.trades import ZERO, Trade, Venue
from core.journal import Journal
from core.money import D
from core.records import FillRecord, OrderRecord, TradeRecord, TradeStatus
from core.risk import Decision

Ending = Literal["completed", "failed", "aborted", "withdrawn"]
"""How a trade ended: finished completed, finished otherwise, stopped mid-trade, or withdrawn
before anything was sent."""
Close = Callable[[Trade, Ending], None]
"""Takes an ended trade off the order path's books (before its end is announced)."""


def dust_reason(
    exchange: Venue, venue: str, symbol: str, quantity: float | str, price: Decimal
) -> str | None:
    """Why `quantity` (a residual's size, as handed to ccxt) cannot be flattened on `venue`
    (below its amount step, minimum amount or minimum notional at `price`), or None when it
    can be."""
    try:
        amount = D(exchange.amount_to_precision(symbol, quantity))
    except Exception:  # noqa: BLE001 - ccxt raises InvalidOrder below the precision step
        amount = ZERO
    limits = exchange.market(symbol).get("limits") or {}
    min_amount = (limits.get("amount") or {}).get("min")
    min_cost = (limits.get("cost") or {}).get("min")
    if amount <= 0:
        return f"is below the amount step on {venue}"
    if min_amount is not None and amount < D(min_amount):
        return f"is below the minimum amount {min_amount} on {venue}"
    if min_cost is not None and amount * price < D(min_cost):
        return f"is below the minimum notional {min_cost} on {venue}"
    return None


def dust_value(trade: Trade, position: Decimal) -> Decimal:
    """|position| valued in quote at the average price of the leg that created it (the price
    pnl.py values a residual at): the buy legs' for a long residual, the sell legs' for a short."""
    side = "buy" if position > 0 else "sell"
    legs = [o for o in trade.orders.values() if o.role == side and o.filled > 0]
    filled = sum((o.filled for o in legs), ZERO)
    cost = sum((o.cost for o in legs), ZERO)
    return abs(position) * cost / filled if filled else ZERO


def usd_per_quote(opportunity: Any) -> Decimal:
    """USD value of one quote unit, from the detector's own USD figure of this opportunity."""
    if opportunity.net_profit:
        return D(opportunity.net_profit_usd) / D(opportunity.net_profit)
    return Decimal(1)


class TradeLedger:
    """Journal rows, events and breaker records (through the order gate) of trades, in the
    order both runners need."""

    def __init__(
        self,
        journal: Journal,
        gate: OrderGate,
        runner: LegRunner,
        publish: Callable[[Event], None],
        clock: Callable[[], float],
        close: Close,
    ) -> None:
        self.journal = journal
        self.close = close
        self.gate = gate
        self.runner = runner
        self.publish = publish
        self.clock = clock

    def refuse(self, opportunity: Any, reason: str) -> None:
        now = self.clock()
        self.journal.record_opportunity(opportunity, "refused", reason, now)
        self.publish(TradeRefused(opportunity_id=opportunity.id, reason=reason, at=now))

    def start(
        self,
        opp: Any,
        amount: Decimal,
        buy_price: Decimal,
        sell_price: Decimal,
        register: Callable[[Trade], None],
        *,
        reason: str = "",
    ) -> Trade:
        """A new trade on `opp`: journaled (`sending`), `register`ed with the caller, announced."""
        now = self.clock()
        trade = Trade(
            id=secrets.token_hex(6),
            opportunity=opp,
            symbol=opp.symbol,
            buy_venue=opp.buy_venue,
            sell_venue=opp.sell_venue,
            amount=amount,
            buy_price=buy_price,
            sell_price=sell_price,
            started_at=now,
            reason=reason,
        )
        self.journal.record_opportunity(opp, "executing", "", now)
        self.journal.insert_trade(
            TradeRecord(
                id=trade.id,
                opportunity_id=opp.id,
                symbol=trade.symbol,
                buy_venue=trade.buy_venue,
                sell_venue=trade.sell_venue,
                amount=trade.amount,
                status=TradeStatus.SENDING,
                started_at=now,
                reason=trade.reason,
            )
        )
        register(trade)
        self.publish(
            TradeStarted(
                trade_id=trade.id,
                opportunity_id=opp.id,
                symbol=trade.symbol,
                buy_venue=trade.buy_venue,
                sell_venue=trade.sell_venue,
                amount=trade.amount,
                at=now,
            )
        )
        return trade

    def order(
        self,
        trade: Trade,
        role: str,
        venue: str,
        symbol: str,
        side: str,
        type_: str,
        amount: str,
        price: str | None,
    ) -> OrderRecord:
        """Journal an order (committed) and say it is being sent."""
        unwinds = sum(o.role == "unwind" for o in trade.orders.values())
        # buy -> b, sell -> s, unwinds u1, u2, ...; a cycle's numbered hops h1, h2, ... as named.
        suffix = role if role[1:].isdigit() else role[0]
        if role == "unwind":
            suffix = f"u{unwinds + 1}"
        record = self.runner.new_order(
            client_order_id=f"arb-{trade.id}-{suffix}",
            trade_id=trade.id,
            role=role,
            venue=venue,
            symbol=symbol,
            side=side,
            type=type_,
            amount=amount,
            price=price,
        )
        trade.orders[record.client_order_id] = record
        self.publish(
            LegSent(
                trade_id=trade.id,
                role=role,
                venue=venue,
                side=side,
                client_order_id=record.client_order_id,
                amount=record.amount,
                price=record.price,
                at=record.created_at,
            )
        )
        return record

    def leg_done(
        self,
        trade: Trade,
        order: OrderRecord,
        fills: tuple[FillRecord, ...],
        *,
        max_slippage_bps: float | None = None,
    ) -> None:
        """Record a leg's final (or last known) state and announce it. With
        `max_slippage_bps`, a buy or sell leg's slippage goes to the breaker before the
        trade's update is published (the executor); without, the caller records it."""
        trade.orders[order.client_order_id] = order
        trade.fills.extend(fills)
        now = self.clock()
        if order.filled > 0:
            self.publish(
                LegFilled(
                    trade_id=trade.id,
                    role=order.role,
                    venue=order.venue,
                    client_order_id=order.client_order_id,
                    filled=order.filled,
                    average=order.average,
                    fee=order.fee,
                    status=str(order.status),
                    at=now,
                )
            )
        known = order.status.final
        if order.filled == 0 or not known:
            reason = order.error or f"{order.status}, nothing filled"
            if not known:
                reason = f"state unknown: {order.error}"
            self.publish(
                LegFailed(
                    trade_id=trade.id,
                    role=order.role,
                    venue=order.venue,
                    client_order_id=order.client_order_id,
                    reason=reason,
                    at=now,
                )
            )
        if max_slippage_bps is not None and order.role != "unwind":
            self.record_slippage(trade, order, max_slippage_bps, now)
        self.publish(TradeUpdated(trade=trade.view(), at=now))

    def record_slippage(
        self, trade: Trade, order: OrderRecord, max_slippage_bps: float, now: float | None = None
    ) -> None:
        """A leg's slippage against the detected VWAP, in bps, to the breaker (at `now`, or
        the clock's time)."""
        if order.average is None:
            return
        opp = trade.opportunity
        if order.side == "buy":
            slip = (float(order.average) / opp.buy_vwap - 1.0) * 10_000.0
            within = order.price is None or order.average <= order.price
        else:
            slip = (1.0 - float(order.average) / opp.sell_vwap) * 10_000.0
            within = order.price is None or order.average >= order.price
        if within:  # at or inside our own limit: only tick rounding can exceed the bound
            slip = min(slip, max_slippage_bps)
        self.gate.record_slippage(order.venue, slip, self.clock() if now is None else now)

    def finish(
        self,
        trade: Trade,
        decision: Decision,
        books: Accounting,
        realized_pnl: Decimal,
        fees: Decimal,
        status: TradeStatus,
        notes: list[str],
        failed_venues: Iterable[str],
    ) -> None:
        """End a trade: its money figures (`realized_pnl` and `fees` as the caller counts
        them, the rest from the fills' `books`), status and notes (plus the reason it carried)
        to the journal and the opportunity row, the result to the breaker, then close it and
        announce it."""
        trade.realized_pnl = realized_pnl
        trade.realized_pnl_usd = realized_pnl * usd_per_quote(trade.opportunity)
        trade.fees = fees
        trade.volume = books.volume
        trade.unwind_cost = books.unwind_cost
        trade.residual = books.base_position
        if trade.reason and trade.reason not in notes:
            notes.append(trade.reason)
        trade.status = status
        trade.reason = "; ".join(notes)
        trade.finished_at = now = self.clock()
        self.journal.update_trade(
            trade.id,
            status,
            trade.reason,
            realized_pnl=trade.realized_pnl,
            realized_pnl_usd=trade.realized_pnl_usd,
            fees=trade.fees,
            volume=trade.volume,
            unwind_cost=trade.unwind_cost,
            residual=trade.residual,
            finished_at=trade.finished_at,
        )
        self.journal.record_opportunity(
            trade.opportunity, str(status), trade.reason, trade.finished_at
        )
        ok = status is TradeStatus.COMPLETED
        self.gate.record_trade(
            decision, ok, trade.realized_pnl_usd, failed_venues, trade.finished_at
        )
        self.close(trade, "completed" if ok else "failed")
        self._finished(trade, realized_pnl, fees, now)

    def abort(self, trade: Trade, decision: Decision, reason: str) -> None:
        """A bug or a cancellation mid-trade: `needs_attention`, never silent, never dropped."""
        trade.status = TradeStatus.NEEDS_ATTENTION
        trade.reason = reason
        trade.finished_at = now = self.clock()
        with contextlib.suppress(Exception):
            self.journal.update_trade(
                trade.id, trade.status, trade.reason, finished_at=trade.finished_at
            )
        self.gate.record_trade(
            decision, False, ZERO, (trade.buy_venue, trade.sell_venue), trade.finished_at
        )
        self.close(trade, "aborted")
        self._finished(trade, ZERO, ZERO, now)

    def withdraw(
        self, trade: Trade, decision: Decision, reason: str, outcome: str = "refused"
    ) -> None:
        """End a trade that sent nothing (refused between its permit and its send), or whose
        bundles no block took (`outcome` "not_included"): `failed` with the reason, the permit
        given back rather than counted as a failure, since nothing happened on any venue."""
        trade.status = TradeStatus.FAILED
        trade.reason = reason
        trade.realized_pnl = trade.realized_pnl_usd = trade.fees = ZERO
        trade.finished_at = now = self.clock()
        self.journal.update_trade(
            trade.id,
            trade.status,
            trade.reason,
            realized_pnl=ZERO,
            realized_pnl_usd=ZERO,
            fees=ZERO,
            finished_at=now,
        )
        self.journal.record_opportunity(trade.opportunity, outcome, reason, now)
        self.gate.release(decision)
        self.close(trade, "withdrawn")
        self._finished(trade, ZERO, ZERO, now)

    def closed(self, trade: Trade) -> None:
        """Announce a trade's last state once the caller has moved it to its finished list."""
        self.publish(TradeUpdated(trade=trade.view(), at=trade.finished_at or self.clock()))

    def _finished(self, trade: Trade, realized_pnl: Decimal, fees: Decimal, now: float) -> None:
        self.publish(
            TradeFinished(
                trade_id=trade.id,
                status=str(trade.status),
                realized_pnl=realized_pnl,
                fees=fees,
                reason=trade.reason,
                at=now,
            )
        )
