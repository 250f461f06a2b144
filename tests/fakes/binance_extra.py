"""Extra order-desk endpoints and controls for the fake Binance (executor tests, issue 7).

`ExtraDesk` extends :class:`tests.fakes.binance_orders.OrderDesk` (same books, balances and
orders) with:

- ``GET /api/v3/myTrades`` (by ``symbol``, optionally ``orderId``): the account's trades in
  Binance's shape (``price``, ``qty``, ``quoteQty``, ``commission``, ``commissionAsset``...),
  which ccxt's ``fetch_order_trades`` / ``fetch_my_trades`` read; a query or a cancel of an order
  carries no fills, so this is where a client learns the fees of an order it did not see placed;
- ``place_delay_s``: only order *placement* waits this long before it is processed (queries and
  cancels answer at once), so a placement that timed out on the client can land after the
  client's first lookup, as a request slowed down in transit would.

`fake_binance_extra(...)` starts a FakeBinance with this desk plugged in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from tests.fakes.binance import FakeBinance
from tests.fakes.binance_orders import OrderDesk, _error


class ExtraDesk(OrderDesk):
    def __init__(
        self, fake: FakeBinance, balances: dict[str, float] | None = None, fee_bps: float = 10.0
    ) -> None:
        super().__init__(fake, balances, fee_bps)
        self.place_delay_s = 0.0
        self.trades: list[dict[str, Any]] = []  # Binance myTrades rows, oldest first

    def add_routes(self, app: web.Application) -> None:
        super().add_routes(app)
        app.router.add_get("/api/v3/myTrades", self._my_trades)

    async def _params(self, request: web.Request) -> dict[str, str] | web.Response:
        params = await super()._params(request)  # reads the whole request first
        if self.place_delay_s and request.method == "POST" and request.path == "/api/v3/order":
            await asyncio.sleep(self.place_delay_s)  # received, processed late
        return params

    async def _place(self, request: web.Request) -> web.Response:
        response = await super()._place(request)
        if response.status == 200 and isinstance(response.body, bytes):
            order = json.loads(response.body)
            for fill in order.get("fills", []):
                price, qty = fill["price"], fill["qty"]
                self.trades.append(
                    {
                        "symbol": order["symbol"],
                        "id": fill["tradeId"],
                        "orderId": order["orderId"],
                        "orderListId": -1,
                        "price": price,
                        "qty": qty,
                        "quoteQty": f"{float(price) * float(qty):.8f}",
                        "commission": fill["commission"],
                        "commissionAsset": fill["commissionAsset"],
                        "time": order["transactTime"],
                        "isBuyer": order["side"] == "BUY",
                        "isMaker": False,
                        "isBestMatch": True,
                    }
                )
        return response

    async def _my_trades(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        if isinstance(params, web.Response):
            return params
        symbol = params.get("symbol")
        if symbol is None:
            return _error(-1102, "Mandatory parameter 'symbol' was not sent.")
        order_id = params.get("orderId")
        rows = [
            t
            for t in self.trades
            if t["symbol"] == symbol and (order_id is None or str(t["orderId"]) == order_id)
        ]
        return web.json_response(rows)


@contextlib.asynccontextmanager
async def fake_binance_extra(**kwargs: Any) -> AsyncIterator[FakeBinance]:
    """A FakeBinance (kwargs as its constructor's) with `ExtraDesk` as its `desk`."""
    fake = FakeBinance(**kwargs)
    fake.desk = ExtraDesk(fake, kwargs.get("balances"))
    async with fake:
        yield fake
