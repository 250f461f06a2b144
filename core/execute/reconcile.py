"""Restart safety: bring the journal in line with the venues before trading again.

Orders the journal last saw pending, open or unknown are queried on their venue (by our client
order id, which every order carried) and their real state and fills are stored; a `pending`
order the venue never saw becomes `not_found`. Every trade the journal last saw in flight is
marked `needs_attention` with what was learned (legs, fills, the residual position), so it is
shown to the trader and never dropped; nothing is unwound automatically after a crash.
On-chain legs (those with a `submission`) are settled from the chain instead
(core.execute.chain_reconcile); a trade whose every leg is a bundle no block took is `failed`
with nothing paid, not left for a human.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

import ccxt

from core.execute.legs import UNKNOWN_GRACE_S, apply_order, exact_answer
from core.execute.pnl import account
from core.execute.trades import Venue
from core.journal import Journal
from core.money import D
from core.records import OrderRecord, OrderStatus, TradeRecord, TradeStatus


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    orders: tuple[OrderRecord, ...]  # their state after reconciliation
    unresolved: tuple[OrderRecord, ...]  # venue unreachable or unknown: still to check
    trades: tuple[TradeRecord, ...]  # in-flight trades and those of re-queried orders, now
    # needs_attention with their figures from the legs as the venues report them


async def reconcile(
    journal: Journal,
    exchanges: Mapping[str, Venue],
    *,
    clock: Callable[[], float] = time.time,
    timeout_s: float = 10.0,
    unknown_grace_s: float = UNKNOWN_GRACE_S,
    chain: Callable[[OrderRecord], Awaitable[OrderRecord]] | None = None,
) -> ReconcileReport:
    """Query every order the journal left open; `unknown_grace_s`: an order journaled less
    than this long ago that the venue does not have yet is looked up again once the grace is
    over (its request may still be on its way, see legs.py)."""
    orders: list[OrderRecord] = []
    unresolved: list[OrderRecord] = []
    for record in journal.open_orders():
        if record.submission and chain is not None:
            updated = await chain(record)
            journal.update_order(updated)
        else:
            updated = await _reconcile_order(
                journal, exchanges.get(record.venue), record, clock, timeout_s, unknown_grace_s
            )
        orders.append(updated)
        if not updated.status.final:
            unresolved.append(updated)
    # Trades in flight at the stop, and any finished trade whose order was just re-queried
    # (it ended as needs_attention with that order unknown): both are accounted again from
    # what the venues say now.
    in_flight = journal.in_flight_trades()
    touched = {o.trade_id for o in orders} - {t.id for t in in_flight}
    finished = [t for t in (journal.trade(i) for i in sorted(touched)) if t is not None]
    trades: list[TradeRecord] = []
    for trade in [*in_flight, *finished]:
        _reaccount(journal, trade, in_flight=trade in in_flight, now=clock())
        found = journal.trade(trade.id)
        if found is not None:
            trades.append(found)
    return ReconcileReport(tuple(orders), tuple(unresolved), tuple(trades))


def _reaccount(journal: Journal, trade: TradeRecord, *, in_flight: bool, now: float) -> None:
    """A trade's figures and reason from its legs as they are now; `needs_attention`."""
    base, _, quote = trade.symbol.split("=")[0].partition("/")
    books = account(trade.legs, base, quote)
    legs = ", ".join(
        f"{leg.role} {leg.venue} {leg.status} filled {leg.filled}" for leg in trade.legs
    )
    open_legs = [leg.client_order_id for leg in trade.legs if not leg.status.final]
    if trade.legs and all(leg.status is OrderStatus.NOT_INCLUDED for leg in trade.legs):
        journal.update_trade(
            trade.id,
            TradeStatus.FAILED,
            f"{trade.legs[0].error} (in flight when arbdesk stopped)",
            realized_pnl=Decimal(0),
            realized_pnl_usd=Decimal(0),
            finished_at=trade.finished_at if trade.finished_at is not None else now,
        )
        return
    if in_flight:
        reason = f"in flight when arbdesk stopped ({trade.status}); legs: {legs or 'none sent'}"
    else:
        reason = f"{trade.reason}; re-queried at restart, legs: {legs}".lstrip("; ")
    if books.base_position:
        reason += f"; residual position {books.base_position} {base} not unwound"
    if open_legs:
        reason += f"; order state still unknown: {', '.join(open_legs)}"
    if books.notes:
        reason += "; " + "; ".join(books.notes)
    journal.update_trade(
        trade.id,
        TradeStatus.NEEDS_ATTENTION,
        reason,
        realized_pnl=books.realized_pnl,
        realized_pnl_usd=books.realized_pnl * _usd_per_quote(journal, trade),
        fees=books.fees,
        volume=books.volume,
        unwind_cost=books.unwind_cost,
        residual=books.base_position,
        finished_at=trade.finished_at if trade.finished_at is not None else now,
    )


def _usd_per_quote(journal: Journal, trade: TradeRecord) -> Decimal:
    """USD per quote unit as the trade was valued when it started (see ledger.usd_per_quote):
    the detector's USD figure of its opportunity, else the trade's own PnL ratio, else 1."""
    found = journal.opportunity(trade.opportunity_id)
    data = found["data"] if found is not None else {}
    if isinstance(data, dict) and data.get("net_profit"):
        return D(data.get("net_profit_usd")) / D(data["net_profit"])
    if trade.realized_pnl and trade.realized_pnl_usd is not None:
        return trade.realized_pnl_usd / trade.realized_pnl
    return Decimal(1)


async def _reconcile_order(
    journal: Journal,
    exchange: Venue | None,
    record: OrderRecord,
    clock: Callable[[], float],
    timeout_s: float,
    unknown_grace_s: float,
) -> OrderRecord:
    if exchange is None:
        unknown = replace(
            record, status=OrderStatus.UNKNOWN, error=f"no adapter for venue {record.venue}"
        )
        journal.update_order(unknown)
        return unknown
    ident = record.venue_order_id or record.client_order_id
    params = {"clientOrderId": record.client_order_id}
    try:
        try:
            raw = await asyncio.wait_for(
                exchange.fetch_order(ident, record.symbol, params), timeout_s
            )
        except ccxt.OrderNotFound:
            young = unknown_grace_s - (clock() - record.created_at)
            if record.venue_order_id or young <= 0:
                raise
            await asyncio.sleep(young)  # sent moments before the stop: it may still land
            raw = await asyncio.wait_for(
                exchange.fetch_order(ident, record.symbol, params), timeout_s
            )
    except ccxt.OrderNotFound:
        gone = replace(
            record, status=OrderStatus.NOT_FOUND, updated_at=clock(), error="venue never saw it"
        )
        journal.update_order(gone)
        return gone
    except (ccxt.BaseError, TimeoutError, OSError) as exc:
        unknown = replace(
            record, status=OrderStatus.UNKNOWN, updated_at=clock(), error=f"reconcile failed: {exc}"
        )
        journal.update_order(unknown)
        return unknown
    raw, note = await exact_answer(exchange, record, raw)
    updated, fills = apply_order(_noted(record, note), raw, clock())
    journal.update_order(updated, fills)
    if updated.status is OrderStatus.OPEN:
        # Left open by a crash: cancel it (a trade from a dead process must not keep going).
        try:
            raw = await asyncio.wait_for(
                exchange.cancel_order(ident, record.symbol, params), timeout_s
            )
            raw = await asyncio.wait_for(
                exchange.fetch_order(ident, record.symbol, params), timeout_s
            )
        except (ccxt.BaseError, TimeoutError, OSError):
            return updated
        raw, note = await exact_answer(exchange, updated, raw)
        updated, fills = apply_order(_noted(updated, note), raw, clock())
        journal.update_order(updated, fills)
    return updated


def _noted(record: OrderRecord, note: str) -> OrderRecord:
    return replace(record, error=f"{record.error}; {note}".lstrip("; ")) if note else record
