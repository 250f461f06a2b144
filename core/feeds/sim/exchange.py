"""One simulated venue speaking the ccxt unified-API subset the core uses.

Shapes (markets, order books, orders, balances) and exception types are ccxt's own, so the
core code is the same as for a real `ccxt.pro` exchange.

Fills: after `latency_ms` of simulated time an order walks the venue's book at that moment,
level by level at each level's price (never assumed at the limit price), pays the taker fee in
the quote currency and takes the liquidity it used (the book refills over the next ticks).
`timeInForce` IOC (default for market orders) cancels the rest, FOK fills all or nothing, GTC
(default for limit orders) leaves the rest open; an open order fills later, as maker at its
own price, when the book trades through it.

Sim controls, not part of ccxt (for tests and demos): `fail_next_order`, `reject_next_order`,
`set_feed_paused`, `set_feed_disconnected`, `set_balance`, and the `latency_ms` attribute.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt
from ccxt.base.decimal_to_precision import (
    NO_PADDING,
    ROUND,
    TICK_SIZE,
    TRUNCATE,
    decimal_to_precision,
)

from core.feeds.sim.depth import SimBook
from core.feeds.sim.orders import ZERO, Fill, Ledger, SimOrder, consume, dec, iso8601, walk
from core.feeds.sim.params import START_INVENTORY, TAKER_TO_MAKER, symbol_spec
from core.settings import VenueSettings

if TYPE_CHECKING:
    from core.feeds.sim.market import SimMarket

MARKET_BUY_BUFFER = Decimal("1.02")
"""A market buy reserves its estimated cost plus this margin for the move during latency."""


class SimExchange:
    """A ccxt-like venue backed by a `SimMarket`. See the module docstring."""

    precisionMode = TICK_SIZE  # noqa: N815 - ccxt's attribute name
    paddingMode = NO_PADDING  # noqa: N815

    def __init__(self, market: SimMarket, venue: VenueSettings) -> None:
        self._market = market
        self.id = venue.name
        self.name = f"Sim {venue.name}"
        self.options: dict[str, Any] = dict(venue.options)
        taker = venue.taker_fee_bps / 10_000.0
        self._taker = Decimal(str(venue.taker_fee_bps)) / 10_000
        self._maker = self._taker * Decimal(str(TAKER_TO_MAKER))
        self.fees: dict[str, Any] = {
            "trading": {
                "taker": taker,
                "maker": float(self._maker),
                "percentage": True,
                "tierBased": False,
            }
        }
        self.has: dict[str, bool | str] = {
            "spot": True,
            "ws": True,
            "loadMarkets": True,
            "watchOrderBook": True,
            "fetchOrderBook": True,
            "fetchTicker": True,
            "createOrder": True,
            "fetchOrder": True,
            "cancelOrder": True,
            "fetchOpenOrders": True,
            "fetchBalance": True,
            "watchOrders": False,
        }
        self.markets: dict[str, dict[str, Any]] = {s: self._market_dict(s) for s in venue.symbols}
        self.symbols: list[str] = sorted(self.markets)
        self.markets_by_id: dict[str, list[dict[str, Any]]] = {
            m["id"]: [m] for m in self.markets.values()
        }
        self.latency_ms: int = market.settings.latency_ms
        """Simulated order round trip, in milliseconds (settable per venue)."""
        self._ledger = Ledger(START_INVENTORY)
        self._orders: dict[str, SimOrder] = {}
        self._by_client_id: dict[str, SimOrder] = {}
        self._open: dict[str, SimOrder] = {}
        self._order_seq = itertools.count(1)
        self._delivered: dict[str, int] = {}
        self._paused = False
        self._disconnected = False
        self._next_failure: ccxt.BaseError | None = None
        self._next_rejection: str | None = None
        market.add_tick_hook(self._fill_resting)

    def _market_dict(self, symbol: str) -> dict[str, Any]:
        spec = symbol_spec(symbol)
        base, _, quote = symbol.partition("/")
        return {
            "id": f"{base}{quote}",
            "symbol": symbol,
            "base": base,
            "quote": quote,
            "baseId": base,
            "quoteId": quote,
            "settle": None,
            "type": "spot",
            "spot": True,
            "margin": False,
            "swap": False,
            "future": False,
            "option": False,
            "contract": False,
            "active": True,
            "taker": float(self._taker),
            "maker": float(self._maker),
            "percentage": True,
            "tierBased": False,
            "precision": {"amount": spec.lot, "price": spec.tick},
            "limits": {
                "amount": {"min": spec.lot, "max": None},
                "price": {"min": spec.tick, "max": None},
                "cost": {"min": spec.min_cost, "max": None},
                "leverage": {"min": None, "max": None},
            },
            "info": {"symbol": f"{base}{quote}", "tickSize": spec.tick, "stepSize": spec.lot},
        }

    # -- markets and precision ---------------------------------------------------------------

    async def load_markets(
        self, reload: bool = False, params: dict[str, Any] | None = None
    ) -> dict[str, dict[str, Any]]:
        return self.markets

    def market(self, symbol: str) -> dict[str, Any]:
        found = self.markets.get(symbol)
        if found is None:
            raise ccxt.BadSymbol(f"{self.id} does not have market symbol {symbol}")
        return found

    def amount_to_precision(self, symbol: str, amount: float | str) -> str:
        """Truncated to the lot size, as ccxt does; an amount that truncates to 0 is invalid."""
        market = self.market(symbol)
        step = market["precision"]["amount"]
        result = str(decimal_to_precision(amount, TRUNCATE, step, TICK_SIZE, NO_PADDING))
        if dec(result) == 0:
            raise ccxt.InvalidOrder(
                f"{self.id} amount of {symbol} must be greater than minimum amount "
                f"precision of {step}"
            )
        return result

    def price_to_precision(self, symbol: str, price: float | str) -> str:
        """Rounded to the tick size, as ccxt does."""
        step = self.market(symbol)["precision"]["price"]
        return str(decimal_to_precision(price, ROUND, step, TICK_SIZE, NO_PADDING))

    # -- market data --------------------------------------------------------------------------

    async def watch_order_book(
        self, symbol: str, limit: int | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The next book of `symbol` not yet returned by this venue object (first call: the
        current one). Waits while the feed is paused; raises NetworkError while disconnected."""
        self.market(symbol)
        woken = False  # concurrent watchers of one symbol all get the update that woke them
        while True:
            self._check_connected()
            book = self._market.book(self.id, symbol)
            if not self._paused and (woken or book.nonce > self._delivered.get(symbol, 0)):
                self._delivered[symbol] = max(book.nonce, self._delivered.get(symbol, 0))
                return _book_dict(book, limit)
            await self._market.wait_update(self.id, symbol)
            woken = True

    async def fetch_order_book(
        self, symbol: str, limit: int | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        self.market(symbol)
        self._check_connected()
        return _book_dict(self._market.book(self.id, symbol), limit)

    async def fetch_ticker(
        self, symbol: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        self.market(symbol)
        self._check_connected()
        book = self._market.book(self.id, symbol)
        bid, ask = book.bids[0], book.asks[0]
        mid = (bid[0] + ask[0]) / 2
        return {
            "symbol": symbol,
            "timestamp": book.timestamp,
            "datetime": iso8601(book.timestamp),
            "bid": bid[0],
            "bidVolume": bid[1],
            "ask": ask[0],
            "askVolume": ask[1],
            "last": mid,
            "close": mid,
            "high": None,
            "low": None,
            "open": None,
            "baseVolume": None,
            "quoteVolume": None,
            "info": {},
        }

    def _check_connected(self) -> None:
        if self._disconnected:
            raise ccxt.NetworkError(f"{self.id} connection lost (simulated)")

    # -- orders ---------------------------------------------------------------------------

    async def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Place an order; returns once the venue has executed it (after `latency_ms`)."""
        params = dict(params or {})
        order = self._new_order(symbol, type, side, amount, price, params)
        if self._next_failure is not None:
            error, self._next_failure = self._next_failure, None
            raise error
        if self._next_rejection is not None:
            order.status, order.reason = "rejected", self._next_rejection
            self._next_rejection = None
            self._remember(order)
            return order.to_ccxt()
        self._reserve(order)
        executed: list[SimOrder] = []
        due = self._market.now_ms + self.latency_ms
        self._market.schedule(due, lambda: executed.append(self._execute(order)))
        # The venue acts even if the caller stops waiting (a leg timeout does not unsend it).
        while not executed:
            if self._market.running:
                await self._market.wait_tick()
            else:  # nobody is stepping the market: drive the clock ourselves
                self._market.step()
        return order.to_ccxt()

    def _new_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None,
        params: dict[str, Any],
    ) -> SimOrder:
        market = self.market(symbol)
        if type not in ("market", "limit"):
            raise ccxt.InvalidOrder(f"{self.id} order type {type!r} is not supported")
        if side not in ("buy", "sell"):
            raise ccxt.InvalidOrder(f"{self.id} order side {side!r} is not buy or sell")
        if type == "limit" and price is None:
            raise ccxt.ArgumentsRequired(f"{self.id} create_order() requires a price for limit")
        tif = str(params.get("timeInForce", "GTC" if type == "limit" else "IOC")).upper()
        if type == "market":
            tif = "IOC"
        if tif not in ("GTC", "IOC", "FOK"):
            raise ccxt.InvalidOrder(f"{self.id} timeInForce {tif!r} is not supported")
        if not amount or amount <= 0:
            raise ccxt.InvalidOrder(f"{self.id} amount must be positive, got {amount}")
        step = market["precision"]["amount"]
        qty = dec(decimal_to_precision(amount, TRUNCATE, step, TICK_SIZE, NO_PADDING))
        min_amount = dec(market["limits"]["amount"]["min"])
        if qty < min_amount:
            raise ccxt.InvalidOrder(
                f"{self.id} amount of {symbol} must be >= {min_amount}, got {amount}"
            )
        limit = None
        if price is not None and type == "limit":
            if price <= 0:
                raise ccxt.InvalidOrder(f"{self.id} price must be positive, got {price}")
            tick = market["precision"]["price"]
            limit = dec(decimal_to_precision(price, ROUND, tick, TICK_SIZE, NO_PADDING))
        ref = limit if limit is not None else self._reference_price(symbol, side)
        min_cost = dec(market["limits"]["cost"]["min"])
        if qty * ref < min_cost:
            raise ccxt.InvalidOrder(
                f"{self.id} cost of {symbol} must be >= {min_cost} {market['quote']}, "
                f"got {qty * ref}"
            )
        client_id = params.get("clientOrderId")
        return SimOrder(
            id=f"{self.id}-{next(self._order_seq)}",
            client_order_id=str(client_id) if client_id is not None else None,
            symbol=symbol,
            type=type,
            side=side,
            amount=qty,
            price=limit,
            time_in_force=tif,
            timestamp=self._market.now_ms,
            fee_currency=market["quote"],
        )

    def _reference_price(self, symbol: str, side: str) -> Decimal:
        book = self._market.book(self.id, symbol)
        levels = book.asks if side == "buy" else book.bids
        return dec(levels[0][0])

    def _reserve(self, order: SimOrder) -> None:
        base, _, quote = order.symbol.partition("/")
        if order.side == "sell":
            self._ledger.reserve(self.id, base, order.amount)
            order.reserved = order.amount
            return
        if order.price is not None:
            need = order.amount * order.price * (1 + self._taker)
        else:
            need = self._estimate_buy_cost(order) * (1 + self._taker)
            free = self._ledger.free.get(quote, ZERO)
            if need <= free:  # room for the price to move during latency, if there is some
                need = min(need * MARKET_BUY_BUFFER, free)
        self._ledger.reserve(self.id, quote, need)
        order.reserved = need

    def _estimate_buy_cost(self, order: SimOrder) -> Decimal:
        asks = self._market.book(self.id, order.symbol).asks
        lot = dec(self.market(order.symbol)["precision"]["amount"])
        fills = walk(asks, order.amount, is_buy=True, limit=None, lot=lot)
        cost = sum((f.price * f.amount for f in fills), ZERO)
        short = order.amount - sum((f.amount for f in fills), ZERO)
        if short > 0 and asks:
            cost += short * dec(asks[-1][0])
        return cost

    def _execute(self, order: SimOrder) -> SimOrder:
        """At the venue: walk the book now, settle the fills, decide what stays open."""
        book = self._market.book(self.id, order.symbol)
        lot = dec(self.market(order.symbol)["precision"]["amount"])
        is_buy = order.side == "buy"
        fills = walk(
            book.asks if is_buy else book.bids,
            order.amount,
            is_buy=is_buy,
            limit=order.price,
            lot=lot,
            budget=order.reserved if is_buy else None,
            fee_rate=self._taker,
        )
        if order.time_in_force == "FOK" and sum((f.amount for f in fills), ZERO) < order.amount:
            fills = []
        self._settle(order, book, fills, self._taker, taker=True)
        if order.remaining <= 0:
            order.status = "closed"
        elif order.time_in_force == "GTC":
            order.status = "open"
            self._open[order.id] = order
        else:
            order.status = "canceled"
        if order.status != "open":
            self._release(order)
        self._remember(order)
        return order

    def _settle(
        self, order: SimOrder, book: SimBook, fills: list[Fill], rate: Decimal, *, taker: bool
    ) -> None:
        if not fills:
            return
        base, _, quote = order.symbol.partition("/")
        now = self._market.now_ms
        if order.side == "buy":
            book.depleted_ask += float(consume(book.asks, fills)) if taker else 0.0
        else:
            book.depleted_bid += float(consume(book.bids, fills)) if taker else 0.0
        for fill in fills:
            cost = fill.price * fill.amount
            fee = cost * rate
            order.add_trade(fill, fee, rate, taker, now)
            if order.side == "buy":
                self._ledger.spend_used(quote, cost + fee)
                order.reserved -= cost + fee
                self._ledger.credit(base, fill.amount)
            else:
                self._ledger.spend_used(base, fill.amount)
                order.reserved -= fill.amount
                self._ledger.credit(quote, cost - fee)

    def _release(self, order: SimOrder) -> None:
        base, _, quote = order.symbol.partition("/")
        self._ledger.release(quote if order.side == "buy" else base, order.reserved)
        order.reserved = ZERO

    def _remember(self, order: SimOrder) -> None:
        self._orders[order.id] = order
        if order.client_order_id is not None:
            self._by_client_id[order.client_order_id] = order

    def _fill_resting(self) -> None:
        """Open orders fill as maker, at their own price, against levels that cross them."""
        for order in list(self._open.values()):
            book = self._market.book(self.id, order.symbol)
            is_buy = order.side == "buy"
            levels = book.asks if is_buy else book.bids
            lot = dec(self.market(order.symbol)["precision"]["amount"])
            crossing = walk(levels, order.remaining, is_buy=is_buy, limit=order.price, lot=lot)
            if not crossing or order.price is None:
                continue
            consume(levels, crossing)
            taken = sum((f.amount for f in crossing), ZERO)
            self._settle(order, book, [Fill(order.price, taken)], self._maker, taker=False)
            if order.remaining <= 0:
                order.status = "closed"
                del self._open[order.id]
                self._release(order)

    def _find(self, id: str, params: dict[str, Any] | None) -> SimOrder:
        client_id = (params or {}).get("clientOrderId")
        order = self._orders.get(id) or self._by_client_id.get(id)
        if order is None and client_id is not None:
            order = self._by_client_id.get(str(client_id))
        if order is None:
            raise ccxt.OrderNotFound(f"{self.id} order {id} not found")
        return order

    async def fetch_order(
        self, id: str, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """By venue id, or by our client order id (as `id` or params['clientOrderId'])."""
        return self._find(id, params).to_ccxt()

    async def cancel_order(
        self, id: str, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Cancel an open order at once; an order that is not open raises OrderNotFound."""
        order = self._find(id, params)
        if order.status != "open":
            raise ccxt.OrderNotFound(f"{self.id} order {id} is {order.status}, not open")
        order.status = "canceled"
        del self._open[order.id]
        self._release(order)
        return order.to_ccxt()

    async def fetch_open_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        found = [o.to_ccxt() for o in self._open.values() if symbol in (None, o.symbol)]
        return found[:limit] if limit else found

    async def fetch_balance(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._ledger.to_ccxt(self._market.now_ms)

    async def close(self) -> None:
        """Like ccxt.pro: pending watchers end with ExchangeClosedByUser."""
        self._market.fail_waiters(self.id, ccxt.ExchangeClosedByUser(f"{self.id} closed"))

    # -- sim controls (not ccxt) -------------------------------------------------------------

    def fail_next_order(
        self, error: type[ccxt.BaseError] | ccxt.BaseError = ccxt.NetworkError
    ) -> None:
        """The next create_order raises `error` (a ccxt exception class or instance) before
        reaching the venue: nothing is reserved or filled."""
        if isinstance(error, type):
            error = error(f"{self.id} simulated failure")
        self._next_failure = error

    def reject_next_order(self, reason: str = "simulated rejection") -> None:
        """The next create_order returns an order with status 'rejected' and nothing filled."""
        self._next_rejection = reason

    def set_feed_paused(self, paused: bool) -> None:
        """While paused, watch_order_book waits silently (a feed that stops without an error)."""
        self._paused = paused

    def set_feed_disconnected(self, disconnected: bool) -> None:
        """While disconnected, watch_order_book / fetch_* raise ccxt.NetworkError, pending
        watchers included."""
        self._disconnected = disconnected
        if disconnected:
            self._market.fail_waiters(self.id, ccxt.NetworkError(f"{self.id} connection lost"))

    def set_balance(self, currency: str, free: float | str | Decimal) -> None:
        """Set a currency's free balance (used balances held by open orders are kept)."""
        self._ledger.set(currency, free if isinstance(free, Decimal) else dec(free))


def _book_dict(book: SimBook, limit: int | None) -> dict[str, Any]:
    """ccxt's order book structure, lists copied so callers may keep or mutate them."""
    n = limit if limit else None
    return {
        "symbol": book.symbol,
        "bids": [[p, s] for p, s in book.bids[:n]],
        "asks": [[p, s] for p, s in book.asks[:n]],
        "timestamp": book.timestamp,
        "datetime": iso8601(book.timestamp),
        "nonce": book.nonce,
    }
