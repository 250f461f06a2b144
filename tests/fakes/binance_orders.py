"""The fake Binance's spot order endpoints (issue 7), filling against the fake's own books.

Routes (all signed; any signature is accepted, but the API key header and a ``signature``
parameter must be present, as ccxt always sends them):

- ``POST /api/v3/order``: MARKET, or LIMIT with ``timeInForce`` IOC / GTC. Takers walk the book
  (partial fills when it is thin: a market or IOC remainder expires, as on Binance; a GTC
  remainder rests, never matched later, so it can be queried and cancelled). The taker fee is
  charged in the asset received. A buy or sell beyond the free balance gets Binance's
  ``{"code": -2010, "msg": "Account has insufficient balance for requested action."}``, which
  ccxt maps to ``InsufficientFunds``.
- ``GET /api/v3/order`` by ``orderId`` or ``origClientOrderId`` (``-2013`` if unknown).
- ``DELETE /api/v3/order`` (``-2011`` if unknown or already closed).
- ``GET /api/v3/account`` balances.

Test controls: ``order_delay_s`` (delay before answering, for leg timeouts) and
``reject_next(code, msg)``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tests.fakes.binance import FakeBinance, FakeBook

INSUFFICIENT = (-2010, "Account has insufficient balance for requested action.")


def _fmt(value: float) -> str:
    return f"{value:.8f}"


class OrderDesk:
    """Balances and orders of the one account the fake knows."""

    def __init__(
        self, fake: FakeBinance, balances: dict[str, float] | None = None, fee_bps: float = 10.0
    ) -> None:
        self.fake = fake
        self.balances: dict[str, float] = dict(
            balances or {"USDT": 100_000.0, "BTC": 2.0, "ETH": 20.0}
        )
        self.fee_bps = fee_bps
        self.order_delay_s = 0.0
        self.orders: dict[int, dict[str, Any]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self._reject: tuple[int, str] | None = None

    def reject_next(self, code: int = INSUFFICIENT[0], msg: str = INSUFFICIENT[1]) -> None:
        self._reject = (code, msg)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v3/order", self._place)
        app.router.add_get("/api/v3/order", self._query)
        app.router.add_delete("/api/v3/order", self._cancel)
        app.router.add_get("/api/v3/account", self._account)

    # -- plumbing --------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, str] | web.Response:
        params = dict(request.query)
        if request.can_read_body:
            params.update({k: str(v) for k, v in (await request.post()).items()})
        self.requests.append((f"{request.method} {request.path}", params))
        if not request.headers.get("X-MBX-APIKEY") or "signature" not in params:
            return _error(-2014, "API-key format invalid.", 401)
        if self.order_delay_s:
            await asyncio.sleep(self.order_delay_s)
        return params

    def _book(self, market_id: str) -> FakeBook | None:
        return self.fake.by_id.get(market_id)

    # -- handlers --------------------------------------------------------------------------

    async def _account(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        if isinstance(params, web.Response):
            return params
        locked: dict[str, float] = {}
        for order in self.orders.values():
            if order["status"] in ("NEW", "PARTIALLY_FILLED"):
                asset, amount = order["_locked"]
                locked[asset] = locked.get(asset, 0.0) + amount
        return web.json_response(
            {
                "makerCommission": 10,
                "takerCommission": 10,
                "canTrade": True,
                "canWithdraw": True,
                "canDeposit": True,
                "accountType": "SPOT",
                "updateTime": int(time.time() * 1000),
                "balances": [
                    {"asset": a, "free": _fmt(v), "locked": _fmt(locked.get(a, 0.0))}
                    for a, v in sorted(self.balances.items())
                ],
                "permissions": ["SPOT"],
            }
        )

    async def _place(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        if isinstance(params, web.Response):
            return params
        if self._reject is not None:
            code, msg = self._reject
            self._reject = None
            return _error(code, msg)
        book = self._book(params.get("symbol", ""))
        if book is None:
            return _error(-1121, "Invalid symbol.")
        side, kind = params.get("side", ""), params.get("type", "")
        tif = params.get("timeInForce", "GTC" if kind == "LIMIT" else "")
        try:
            quantity = float(params["quantity"])
            price = float(params["price"]) if kind == "LIMIT" else None
        except (KeyError, ValueError):
            return _error(-1102, "Mandatory parameter 'quantity' was not sent or malformed.")
        if side not in ("BUY", "SELL") or kind not in ("MARKET", "LIMIT") or quantity <= 0:
            return _error(-1116, "Invalid orderType or side.")
        is_buy = side == "BUY"
        base, quote = book.symbol.split("/")
        limit_tick = None if price is None else round(price / book.tick_size)
        # balance check on what the order could cost at most
        preview = book_preview(book, is_buy, quantity, limit_tick)
        need_asset, need = (quote, preview) if is_buy else (base, quantity)
        if kind == "LIMIT" and tif == "GTC" and is_buy and price is not None:
            need = quantity * price
        if self.balances.get(need_asset, 0.0) + 1e-9 < need:
            return _error(*INSUFFICIENT)
        fills = book.take(is_buy, quantity, limit_tick)
        filled = sum(q for _, q in fills)
        cost = sum(book.tick_size * t * q for t, q in fills)
        fee_rate = self.fee_bps / 10_000
        wire_fills = []
        for tick, qty in fills:
            fill_price = float(book.price_str(tick))
            fee = (qty if is_buy else qty * fill_price) * fee_rate
            wire_fills.append(
                {
                    "price": book.price_str(tick),
                    "qty": _fmt(qty),
                    "commission": _fmt(fee),
                    "commissionAsset": base if is_buy else quote,
                    "tradeId": next(self._trade_ids),
                }
            )
        if is_buy:
            self._move(quote, -cost)
            self._move(base, filled * (1 - fee_rate))
        else:
            self._move(base, -filled)
            self._move(quote, cost * (1 - fee_rate))
        rest = quantity - filled
        if rest <= 1e-12:
            status = "FILLED"
        elif kind == "LIMIT" and tif == "GTC":
            status = "PARTIALLY_FILLED" if filled else "NEW"
        else:
            status = "EXPIRED"  # market / IOC remainder
        locked = (quote, rest * (price or 0.0)) if is_buy else (base, rest)
        if status in ("NEW", "PARTIALLY_FILLED"):
            self._move(locked[0], -locked[1])
        order_id = next(self._ids)
        now = int(time.time() * 1000)
        order = {
            "symbol": book.market_id,
            "orderId": order_id,
            "orderListId": -1,
            "clientOrderId": params.get("newClientOrderId") or f"fake{order_id}",
            "transactTime": now,
            "price": _fmt(price or 0.0),
            "origQty": _fmt(quantity),
            "executedQty": _fmt(filled),
            "cummulativeQuoteQty": _fmt(cost),
            "status": status,
            "timeInForce": tif or "GTC",
            "type": kind,
            "side": side,
            "workingTime": now,
            "selfTradePreventionMode": "NONE",
            "_locked": locked,
        }
        self.orders[order_id] = order
        return web.json_response({**_public(order), "fills": wire_fills})

    def _find(self, params: dict[str, str]) -> dict[str, Any] | None:
        if "orderId" in params:
            return self.orders.get(int(params["orderId"]))
        client_id = params.get("origClientOrderId")
        return next((o for o in self.orders.values() if o["clientOrderId"] == client_id), None)

    async def _query(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        if isinstance(params, web.Response):
            return params
        order = self._find(params)
        if order is None or order["symbol"] != params.get("symbol"):
            return _error(-2013, "Order does not exist.")
        updated = {
            "time": order["transactTime"],
            "updateTime": order["transactTime"],
            "isWorking": True,
            "stopPrice": "0.00000000",
            "icebergQty": "0.00000000",
            "origQuoteOrderQty": "0.00000000",
        }
        return web.json_response({**_public(order), **updated})

    async def _cancel(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        if isinstance(params, web.Response):
            return params
        order = self._find(params)
        if order is None or order["status"] not in ("NEW", "PARTIALLY_FILLED"):
            return _error(-2011, "Unknown order sent.")
        order["status"] = "CANCELED"
        asset, amount = order["_locked"]
        self._move(asset, amount)
        return web.json_response({**_public(order), "origClientOrderId": order["clientOrderId"]})

    def _move(self, asset: str, amount: float) -> None:
        self.balances[asset] = round(self.balances.get(asset, 0.0) + amount, 10)


def book_preview(book: FakeBook, is_buy: bool, quantity: float, limit_tick: int | None) -> float:
    """Quote cost of taking `quantity` (as far as the book goes), without touching it."""
    side = book.asks if is_buy else book.bids
    left, cost = quantity, 0.0
    for tick in sorted(side, reverse=not is_buy):
        if left <= 1e-12 or (
            limit_tick is not None and (tick > limit_tick if is_buy else tick < limit_tick)
        ):
            break
        qty = min(left, side[tick])
        cost += qty * tick * book.tick_size
        left -= qty
    return cost


def _public(order: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in order.items() if not k.startswith("_")}


def _error(code: int, msg: str, status: int = 400) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status)
