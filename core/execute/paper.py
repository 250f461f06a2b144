"""The paper broker: a real exchange's market data, simulated fills that walk its live book.

`PaperExchange` wraps a ccxt / ccxt.pro exchange (markets, precision, fees, order books come
from it) and answers the order half of the ccxt API itself, so paper mode only swaps this
adapter in and the executor cannot tell the difference.

Fills: an order walks the live `OrderBook` the feed keeps for that venue (level by level, each
at its own price), up to the amount and, for a limit order, never past its limit price: where
the book is thin the fill is partial. The taker fee is charged in the quote currency. Nothing
is ever assumed to fill at the limit price. IOC and market orders cancel what did not fill;
FOK fills all or nothing. Resting (GTC) orders are refused: a paper order that waits for the
market would need a queue model this broker does not pretend to have.

Known simplification: liquidity a paper order took is not removed from the live book, so two
paper orders in quick succession may both take the same level.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import ccxt

from core.book import OrderBook
from core.money import D

BookSource = Callable[[str], OrderBook | None]  # symbol -> this venue's live book


class PaperExchange:
    def __init__(
        self,
        exchange: Any,
        books: BookSource,
        balances: dict[str, str | Decimal],
        *,
        stale_after_s: float = 3.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._exchange = exchange
        self._books = books
        self.stale_after_s = stale_after_s
        self._clock = clock
        self.id: str = exchange.id
        self.free: dict[str, Decimal] = {c: D(v) for c, v in balances.items()}
        self._orders: dict[str, dict[str, Any]] = {}
        self._by_client_id: dict[str, str] = {}
        self._seq = itertools.count(1)

    # -- market data and precision: the real exchange's ---------------------------------------

    @property
    def markets(self) -> dict[str, Any]:
        return self._exchange.markets

    @property
    def fees(self) -> dict[str, Any]:
        return self._exchange.fees

    async def load_markets(self, reload: bool = False, params: dict[str, Any] | None = None) -> Any:
        return await self._exchange.load_markets(reload)

    def market(self, symbol: str) -> dict[str, Any]:
        return self._exchange.market(symbol)

    def amount_to_precision(self, symbol: str, amount: Any) -> Any:
        return self._exchange.amount_to_precision(symbol, amount)

    def price_to_precision(self, symbol: str, price: Any) -> Any:
        return self._exchange.price_to_precision(symbol, price)

    async def watch_order_book(
        self, symbol: str, limit: int | None = None, params: dict[str, Any] | None = None
    ) -> Any:
        return await self._exchange.watch_order_book(symbol, limit, params or {})

    async def close(self) -> None:
        await self._exchange.close()

    # -- orders: ours ---------------------------------------------------------------------------

    async def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        params = params or {}
        market = self.market(symbol)
        tif = str(params.get("timeInForce", "IOC" if type == "market" else "GTC")).upper()
        if type == "limit" and tif == "GTC":
            raise ccxt.InvalidOrder(
                f"{self.id} (paper): resting GTC orders are not simulated; use IOC"
            )
        if type not in ("limit", "market") or side not in ("buy", "sell"):
            raise ccxt.InvalidOrder(f"{self.id} (paper): {type} {side} is not supported")
        if type == "limit" and price is None:
            raise ccxt.ArgumentsRequired(f"{self.id} (paper): a limit order needs a price")
        qty = D(self.amount_to_precision(symbol, amount))
        limit = (
            D(self.price_to_precision(symbol, price))
            if type == "limit" and price is not None
            else None
        )
        book = self._books(symbol)
        if book is None or not book.usable(self._clock(), self.stale_after_s):
            raise ccxt.ExchangeNotAvailable(f"{self.id} (paper): no live book for {symbol}")
        fills = _walk(book, side == "buy", qty, limit)
        filled = sum((a for _, a in fills), Decimal(0))
        if tif == "FOK" and filled < qty:
            fills, filled = [], Decimal(0)
        cost = sum((p * a for p, a in fills), Decimal(0))
        rate = D(
            market.get("taker")
            if market.get("taker") is not None
            else self.fees["trading"]["taker"]
        )
        fee = sum((p * a * rate for p, a in fills), Decimal(0))  # the trades' fees, summed
        base, quote = market["base"], market["quote"]
        if side == "buy":
            if self.free.get(quote, Decimal(0)) < cost + fee:
                raise ccxt.InsufficientFunds(
                    f"{self.id} (paper): {quote} {self.free.get(quote, 0)} < {cost + fee}"
                )
            self.free[quote] -= cost + fee
            self.free[base] = self.free.get(base, Decimal(0)) + filled
        else:
            if self.free.get(base, Decimal(0)) < qty:
                raise ccxt.InsufficientFunds(
                    f"{self.id} (paper): {base} {self.free.get(base, 0)} < {qty}"
                )
            self.free[base] -= filled
            self.free[quote] = self.free.get(quote, Decimal(0)) + cost - fee
        now_ms = int(self._clock() * 1000)
        order_id = f"paper-{self.id}-{next(self._seq)}"
        client_id = params.get("clientOrderId")
        order = {
            "id": order_id,
            "clientOrderId": client_id,
            "timestamp": now_ms,
            "datetime": ccxt.Exchange.iso8601(now_ms),
            "lastTradeTimestamp": now_ms if fills else None,
            "status": "closed" if filled == qty else "canceled",
            "symbol": symbol,
            "type": type,
            "timeInForce": tif,
            "side": side,
            # Exact Decimals, like the sim venues: what is journaled is what the balances moved.
            "price": limit if limit is not None else (cost / filled if filled else None),
            "average": cost / filled if filled else None,
            "amount": qty,
            "filled": filled,
            "remaining": qty - filled,
            "cost": cost,
            "fee": {"cost": fee, "currency": quote},
            "fees": [{"cost": fee, "currency": quote}],
            "trades": [
                {
                    "order": order_id,
                    "symbol": symbol,
                    "side": side,
                    "price": p,
                    "amount": a,
                    "cost": p * a,
                    "fee": {"cost": p * a * rate, "currency": quote},
                    "timestamp": now_ms,
                }
                for p, a in fills
            ],
            "info": {"paper": True, "filled": str(filled), "cost": str(cost), "fee": str(fee)},
        }
        self._orders[order_id] = order
        if client_id is not None:
            self._by_client_id[str(client_id)] = order_id
        return dict(order)

    def _find(self, id: str, params: dict[str, Any] | None) -> dict[str, Any]:
        client_id = (params or {}).get("clientOrderId")
        order_id = id if id in self._orders else self._by_client_id.get(id)
        if order_id is None and client_id is not None:
            order_id = self._by_client_id.get(str(client_id))
        if order_id is None:
            raise ccxt.OrderNotFound(f"{self.id} (paper): order {id or client_id} not found")
        return self._orders[order_id]

    async def fetch_order(
        self, id: str, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return dict(self._find(id, params))

    async def cancel_order(
        self, id: str, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        order = self._find(id, params)
        raise ccxt.OrderNotFound(
            f"{self.id} (paper): order {order['id']} is {order['status']}, not open"
        )

    async def fetch_open_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        return []  # paper orders never rest (see the module docstring)

    async def fetch_balance(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        free = {c: float(v) for c, v in self.free.items()}
        out: dict[str, Any] = {
            "info": {},
            "free": dict(free),
            "used": {c: 0.0 for c in free},
            "total": dict(free),
        }
        for currency, value in free.items():
            out[currency] = {"free": value, "used": 0.0, "total": value}
        return out


def _walk(
    book: OrderBook, is_buy: bool, amount: Decimal, limit: Decimal | None
) -> list[tuple[Decimal, Decimal]]:
    """Take levels best first (asks for a buy, bids for a sell) up to amount and limit."""
    prices, sizes = book.levels(not is_buy)
    ordered = prices if is_buy else reversed(prices)
    fills: list[tuple[Decimal, Decimal]] = []
    remaining = amount
    for price_f in ordered:
        price = D(price_f)
        if limit is not None and (price > limit if is_buy else price < limit):
            break
        take = min(remaining, D(sizes[price_f]))
        if take > 0:
            fills.append((price, take))
            remaining -= take
        if remaining <= 0:
            break
    return fills
