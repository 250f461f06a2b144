"""One CEX leg: journal it, send it, follow it to a final state, learn its real fills.

A leg never raises. Whatever happens (rejection, timeout, a lost connection after the request
left) it returns the last known state of the order: if the send outcome is unknown the order
is looked up by our client order id; if it is still open at the deadline it is cancelled and
fetched once more, so the fill we record is the venue's, never one we assumed.

A request that timed out may still be travelling: the venue can accept it after our first
lookup said "not found". So "not found" is only concluded after `unknown_grace_s` of repeated
lookups (backing off, bounded); an order that shows up in that window is followed like any
other and its fills are counted (the executor then unwinds the imbalance). Binance drops a
signed request older than its `recvWindow` (5 s by default), which is what the default grace
covers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import ccxt

from core.execute.exact import exact_order, needs_trades, with_trades
from core.execute.trades import LegOutcome, Venue
from core.journal import Journal
from core.money import D
from core.records import FillRecord, OrderRecord, OrderStatus

Clock = Callable[[], float]

UNKNOWN_GRACE_S = 6.0
"""How long an order whose send outcome is unknown is looked for before it counts as never
placed, in seconds (a little over Binance's default 5 s recvWindow)."""
LOOKUP_BACKOFF_MAX_S = 1.0
"""Longest pause between two lookups of an order whose send outcome is unknown, in seconds."""

REFUSALS: tuple[type[Exception], ...] = (
    ccxt.InvalidOrder,
    ccxt.InsufficientFunds,
    ccxt.BadRequest,  # BadSymbol too
    ccxt.AuthenticationError,  # PermissionDenied, AccountSuspended too
    ccxt.OperationRejected,
    ccxt.NotSupported,
    ccxt.ArgumentsRequired,
)
"""Errors that say for certain the venue did not take the order (nothing can fill)."""
NOT_REFUSALS: tuple[type[Exception], ...] = (ccxt.DuplicateOrderId,)
"""InvalidOrder subclasses that do not mean "not placed": a duplicate id means it exists."""

_STATUS = {
    "open": OrderStatus.OPEN,
    "closed": OrderStatus.CLOSED,
    "filled": OrderStatus.CLOSED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "rejected": OrderStatus.REJECTED,
    "expired": OrderStatus.EXPIRED,
}


def order_status(raw: dict[str, Any]) -> OrderStatus:
    status = _STATUS.get(str(raw.get("status") or "").lower())
    if status is not None:
        return status
    amount, filled = raw.get("amount"), raw.get("filled")
    if amount is not None and filled is not None and D(filled) >= D(amount) > 0:
        return OrderStatus.CLOSED
    return OrderStatus.OPEN


FeesByCurrency = dict[str | None, Decimal]


def fees_of(raw: dict[str, Any]) -> FeesByCurrency:
    """Fees per currency from `fees` (or `fee`), in the order the venue lists them: a venue
    can charge one order in two currencies (BNB and USDT), which are never added together."""
    entries = raw.get("fees") or ([raw["fee"]] if raw.get("fee") else [])
    fees: FeesByCurrency = {}
    for entry in entries:
        if entry and entry.get("cost") is not None:
            currency = entry.get("currency")
            fees[currency] = fees.get(currency, Decimal(0)) + D(entry["cost"])
    return fees


def split_fees(
    record: OrderRecord, fees: FeesByCurrency
) -> tuple[Decimal, str | None, tuple[tuple[str, Decimal], ...]]:
    """(fee, its currency, the other currencies' fees) for an order record. The main currency
    stays the one the record has once it has one; else the quote's, else the first listed.
    pnl.py counts the quote part as cash, the base part in the position, and notes the rest."""
    quote = record.symbol.split("=")[0].partition("/")[2]
    if record.fee_currency in fees:
        main = record.fee_currency
    elif quote in fees:
        main = quote
    else:
        main = next(iter(fees), record.fee_currency)
    others = tuple((c or quote, f) for c, f in fees.items() if c != main and f)
    return fees.get(main, Decimal(0)), main, others


def apply_order(
    record: OrderRecord, raw: dict[str, Any], at: float
) -> tuple[OrderRecord, list[FillRecord]]:
    """The order's new state from a ccxt order dict, and fills not yet seen (vs `record`).

    Costs come from the individual trades when the venue lists them (price x amount each, exact
    in Decimal), else from the order's filled and average.
    """
    status = order_status(raw)
    fills: list[FillRecord] = []
    if raw.get("filled") is None or D(raw["filled"]) < record.filled:
        # No fill figure (a bare cancel answer) or an older view than ours: a fill never
        # shrinks, so only the status is news; the figures we have stand.
        updated = replace(
            record,
            status=status,
            venue_order_id=str(raw["id"]) if raw.get("id") else record.venue_order_id,
            error=_rejection(raw) if status is OrderStatus.REJECTED else record.error,
            updated_at=at,
        )
        return updated, fills
    filled = D(raw["filled"])
    trades = raw.get("trades") or []
    if trades and sum((D(t.get("amount")) for t in trades), Decimal(0)) == filled:
        cost = Decimal(0)
        fees: FeesByCurrency = {}
        seen = Decimal(0)  # trades up to `record.filled` were turned into fills already
        for t in trades:
            amount, price = D(t.get("amount")), D(t.get("price"))
            t_fee = D((t.get("fee") or {}).get("cost"))
            t_ccy = (t.get("fee") or {}).get("currency")
            cost += amount * price
            if t_fee or t_ccy is not None:
                fees[t_ccy] = fees.get(t_ccy, Decimal(0)) + t_fee
            if seen >= record.filled:
                fills.append(_fill(record, amount, price, amount * price, t_fee, t_ccy, at))
            seen += amount
        average = cost / filled if filled else None
        fee, fee_ccy, other_fees = split_fees(record, fees)
    else:
        average = D(raw["average"]) if raw.get("average") is not None else None
        if raw.get("cost") is not None:
            cost = D(raw["cost"])
        elif average is not None:
            cost = filled * average
        else:  # not said: what we knew stands (same fill), else nothing to price it with
            cost = record.cost if filled == record.filled else Decimal(0)
            average = record.average if filled == record.filled else None
        if average is None and filled:
            average = cost / filled
        if _says_fee(raw):
            fee, fee_ccy, other_fees = split_fees(record, fees_of(raw))
        else:  # not said: what we knew stands
            fee, fee_ccy, other_fees = record.fee, record.fee_currency, record.other_fees
        new_amount = filled - record.filled
        if new_amount > 0:
            new_cost = cost - record.cost
            new_fee = fee - record.fee if fee_ccy == record.fee_currency else fee
            fills.append(
                _fill(record, new_amount, new_cost / new_amount, new_cost, new_fee, fee_ccy, at)
            )
    updated = replace(
        record,
        status=status,
        venue_order_id=str(raw["id"]) if raw.get("id") else record.venue_order_id,
        filled=filled,
        average=average,
        cost=cost,
        fee=fee,
        fee_currency=fee_ccy or record.fee_currency,
        other_fees=other_fees,
        error=_rejection(raw) if status is OrderStatus.REJECTED else record.error,
        updated_at=at,
    )
    return updated, fills


def _rejection(raw: dict[str, Any]) -> str:
    return str((raw.get("info") or {}).get("reason") or "")


def _says_fee(raw: dict[str, Any]) -> bool:
    if (raw.get("fee") or {}).get("cost") is not None:
        return True
    return any((f or {}).get("cost") is not None for f in raw.get("fees") or [])


def _fill(
    record: OrderRecord,
    amount: Decimal,
    price: Decimal,
    cost: Decimal,
    fee: Decimal,
    fee_ccy: str | None,
    at: float,
) -> FillRecord:
    return FillRecord(
        client_order_id=record.client_order_id,
        trade_id=record.trade_id,
        venue=record.venue,
        symbol=record.symbol,
        side=record.side,
        amount=amount,
        price=price,
        cost=cost,
        fee=fee,
        fee_currency=fee_ccy,
        at=at,
    )


async def exact_answer(
    exchange: Venue, record: OrderRecord, raw: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """A venue's order answer made exact (see exact.py) and, when it is final, filled and says
    no fees, completed by the order's trades; the note says why fees are missing, if they are."""
    raw = exact_order(raw)
    if not needs_trades(raw):
        return raw, ""
    fetch = getattr(exchange, "fetch_order_trades", None)
    order_id = str(raw.get("id") or record.venue_order_id or "")
    if fetch is None or not order_id:
        return raw, "fees not reported by the venue"
    try:
        trades = await asyncio.wait_for(fetch(order_id, record.symbol), timeout=5.0)
    except (ccxt.BaseError, TimeoutError, OSError) as exc:
        return raw, f"fees not learned ({type(exc).__name__}: {exc})"
    completed = with_trades(raw, list(trades or []))
    if completed is raw:
        return raw, "fees not learned (trades do not add up to the fill)"
    return completed, ""


class LegRunner:
    """Sends legs and follows them; shared by the executor, unwinds and reconciliation."""

    def __init__(
        self,
        journal: Journal,
        *,
        clock: Clock = time.time,
        poll_interval_s: float = 0.05,
        unknown_grace_s: float = UNKNOWN_GRACE_S,
        on_update: Callable[[OrderRecord], None] | None = None,
    ) -> None:
        self.journal = journal
        self.clock = clock
        self.poll_interval_s = poll_interval_s
        self.unknown_grace_s = unknown_grace_s
        self.on_update = on_update
        self.open_orders: dict[str, tuple[Venue, OrderRecord]] = {}  # for the kill switch

    def new_order(
        self,
        *,
        client_order_id: str,
        trade_id: str,
        role: str,
        venue: str,
        symbol: str,
        side: str,
        type: str,
        amount: str,
        price: str | None,
    ) -> OrderRecord:
        """Build and journal an order (committed when this returns); send it with `run`."""
        now = self.clock()
        record = OrderRecord(
            client_order_id=client_order_id,
            trade_id=trade_id,
            role=role,
            venue=venue,
            symbol=symbol,
            side=side,
            type=type,
            amount=Decimal(amount),
            price=Decimal(price) if price is not None else None,
            status=OrderStatus.PENDING,
            created_at=now,
            updated_at=now,
        )
        self.journal.insert_order(record)
        return record

    async def run(
        self,
        exchange: Venue,
        record: OrderRecord,
        *,
        timeout_s: float,
        params: dict[str, Any] | None = None,
    ) -> LegOutcome:
        """Send a journaled order and follow it to a final state (never raises)."""
        sent_at = time.monotonic()
        deadline = sent_at + timeout_s
        fills: list[FillRecord] = []
        request = {"clientOrderId": record.client_order_id, **(params or {})}
        self.open_orders[record.client_order_id] = (exchange, record)
        try:
            try:
                raw = await asyncio.wait_for(
                    exchange.create_order(
                        record.symbol,
                        record.type,
                        record.side,
                        float(record.amount),
                        float(record.price) if record.price is not None else None,
                        request,
                    ),
                    timeout=max(0.0, deadline - time.monotonic()),
                )
            except Exception as exc:  # noqa: BLE001 - sorted below
                if isinstance(exc, REFUSALS) and not isinstance(exc, NOT_REFUSALS):
                    rejected = replace(
                        record,
                        status=OrderStatus.REJECTED,
                        error=f"{type(exc).__name__}: {exc}",
                        updated_at=self.clock(),
                    )
                    return LegOutcome(self._store(rejected, []), ())
                # Anything but a definite refusal (a network error, Binance -1006 "execution
                # status unknown", -1000/-1001, a bad or empty response, a bug in an adapter)
                # may have left an order at the venue: ask it, never assume nothing filled.
                why = f"send outcome unknown ({type(exc).__name__}: {exc or 'timeout'})"
                record = self._store(replace(record, error=why, updated_at=self.clock()), [])
                return await self._settle_unknown(exchange, record, fills, deadline, sent_at)
            record = await self._learn(exchange, record, raw, fills)
            return await self._follow(exchange, record, fills, deadline)
        finally:
            self.open_orders.pop(record.client_order_id, None)

    async def _learn(
        self, exchange: Venue, record: OrderRecord, raw: dict[str, Any], fills: list[FillRecord]
    ) -> OrderRecord:
        """Absorb a venue answer, exact from its raw strings; a final answer that filled but
        does not say its fees (a Binance query or cancel) is completed by the order's trades."""
        raw, note = await exact_answer(exchange, record, raw)
        if note:
            record = replace(record, error=f"{record.error}; {note}".lstrip("; "))
        return self._absorb(record, raw, fills)

    def _absorb(
        self, record: OrderRecord, raw: dict[str, Any], fills: list[FillRecord]
    ) -> OrderRecord:
        updated, new = apply_order(record, raw, self.clock())
        fills.extend(new)
        return self._store(updated, new)

    def _store(self, record: OrderRecord, new_fills: list[FillRecord]) -> OrderRecord:
        self.journal.update_order(record, new_fills)
        if record.client_order_id in self.open_orders:
            exchange, _ = self.open_orders[record.client_order_id]
            self.open_orders[record.client_order_id] = (exchange, record)
        if self.on_update is not None:
            self.on_update(record)
        return record

    async def _follow(
        self, exchange: Venue, record: OrderRecord, fills: list[FillRecord], deadline: float
    ) -> LegOutcome:
        """Poll an acknowledged order until final; at the deadline cancel it and fetch again."""
        while not record.status.final:
            if time.monotonic() >= deadline:
                return await self._cancel_and_fetch(exchange, record, fills)
            await asyncio.sleep(min(self.poll_interval_s, max(0.0, deadline - time.monotonic())))
            try:
                raw = await asyncio.wait_for(
                    exchange.fetch_order(
                        record.venue_order_id or "", record.symbol, self._ids(record)
                    ),
                    timeout=max(0.05, deadline - time.monotonic()),
                )
            except (ccxt.BaseError, TimeoutError, OSError):
                continue  # keep trying until the deadline, then cancel
            record = await self._learn(exchange, record, raw, fills)
        return LegOutcome(record, tuple(fills))

    async def _cancel_and_fetch(
        self, exchange: Venue, record: OrderRecord, fills: list[FillRecord]
    ) -> LegOutcome:
        ident = record.venue_order_id or record.client_order_id
        try:
            raw = await asyncio.wait_for(
                exchange.cancel_order(ident, record.symbol, self._ids(record)), timeout=5.0
            )
            if isinstance(raw, dict) and raw.get("status"):
                record = await self._learn(exchange, record, raw, fills)
        except (ccxt.BaseError, TimeoutError, OSError):
            pass  # already final, or unreachable: the fetch below tells
        # Fetched even when the cancel answer says "canceled": that answer may not carry the
        # fills (Binance's cancel can say less than the order's final query).
        return await self._fetch_final(exchange, record, fills, attempts=3, force=True)

    async def _settle_unknown(
        self,
        exchange: Venue,
        record: OrderRecord,
        fills: list[FillRecord],
        deadline: float,
        sent_at: float,
    ) -> LegOutcome:
        """The send's outcome is unknown: look the order up by our client order id, again and
        again (backing off) until it is found or the grace period since the send is over."""
        grace_end = sent_at + self.unknown_grace_s
        pause = self.poll_interval_s
        lookups = failures = 0
        while True:
            lookups += 1
            try:
                raw = await asyncio.wait_for(
                    exchange.fetch_order(record.client_order_id, record.symbol, self._ids(record)),
                    timeout=max(0.5, min(5.0, grace_end - time.monotonic())),
                )
            except ccxt.OrderNotFound:
                if time.monotonic() >= grace_end:
                    waited = time.monotonic() - sent_at
                    gone = replace(
                        record,
                        status=OrderStatus.NOT_FOUND,
                        error=f"{record.error}; not found in {lookups} lookups over {waited:.1f}s",
                        updated_at=self.clock(),
                    )
                    return LegOutcome(self._store(gone, []), tuple(fills))
            except (ccxt.BaseError, TimeoutError, OSError) as exc:
                failures += 1
                if failures >= 3 and time.monotonic() >= grace_end:
                    unknown = replace(
                        record,
                        status=OrderStatus.UNKNOWN,
                        error=f"{record.error}; lookup failed: {exc}",
                        updated_at=self.clock(),
                    )
                    return LegOutcome(self._store(unknown, []), tuple(fills))
            else:
                record = await self._learn(exchange, record, raw, fills)
                if lookups > 1:
                    note = f"{record.error}; found on lookup {lookups}"
                    record = self._store(replace(record, error=note), [])
                if record.status.final:
                    return LegOutcome(record, tuple(fills))
                return await self._follow(exchange, record, fills, deadline)
            await asyncio.sleep(max(0.0, min(pause, grace_end - time.monotonic())))
            pause = min(pause * 2, LOOKUP_BACKOFF_MAX_S)

    async def _fetch_final(
        self,
        exchange: Venue,
        record: OrderRecord,
        fills: list[FillRecord],
        attempts: int,
        *,
        force: bool = False,
    ) -> LegOutcome:
        fetched = False
        for _attempt in range(attempts):
            if record.status.final and (fetched or not force):
                break
            try:
                raw = await asyncio.wait_for(
                    exchange.fetch_order(
                        record.venue_order_id or "", record.symbol, self._ids(record)
                    ),
                    timeout=5.0,
                )
            except (ccxt.BaseError, TimeoutError, OSError) as exc:
                record = replace(record, error=f"fetch after cancel failed: {exc}")
                await asyncio.sleep(self.poll_interval_s)
                continue
            fetched = True
            record = await self._learn(exchange, record, raw, fills)
        if not record.status.final:
            record = self._store(
                replace(record, status=OrderStatus.UNKNOWN, updated_at=self.clock()), []
            )
        return LegOutcome(record, tuple(fills))

    @staticmethod
    def _ids(record: OrderRecord) -> dict[str, Any]:
        return {"clientOrderId": record.client_order_id}

    async def cancel_open(self) -> int:
        """Cancel every order we are following that the venue has acknowledged (kill switch)."""
        cancelled = 0
        for exchange, record in list(self.open_orders.values()):
            ident = record.venue_order_id or record.client_order_id
            try:
                await asyncio.wait_for(
                    exchange.cancel_order(ident, record.symbol, self._ids(record)), timeout=5.0
                )
                cancelled += 1
            except (ccxt.BaseError, TimeoutError, OSError):
                continue  # already final or unreachable; its leg follows it to the end
        return cancelled
