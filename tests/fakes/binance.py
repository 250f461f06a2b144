"""A fake Binance spot exchange on 127.0.0.1 that the real ccxt.pro `binance` class talks to.

It serves what ccxt calls for public market data (verified against ccxt 4.5):

- ``GET /api/v3/exchangeInfo`` for ``load_markets`` (with ``fetchMarkets.types = ['spot']`` and
  ``fetchCurrencies = False`` nothing else is requested);
- ``GET /api/v3/depth?symbol=BTCUSDT&limit=1000`` for the REST snapshot (``lastUpdateId``);
- a websocket at ``/stream/<n>`` (ccxt appends the stream index to ``urls.api.ws.spot``; the
  path must contain ``/stream`` or ccxt's ``is_spot_url`` takes the market for a swap) that
  answers ``SUBSCRIBE`` / ``UNSUBSCRIBE`` and pushes the diff-depth stream::

      {"e": "depthUpdate", "E": 1700000000123, "s": "BTCUSDT", "U": 157, "u": 160,
       "b": [["30000.50", "1.2500"]], "a": [["30001.00", "0"]]}

Each symbol's book is a seeded random walk on a tick grid; every step changes a few levels and
advances the update id by the number of changes, as Binance does. Test controls break the feed
on purpose: drop every socket, skip update ids (a gap), send one malformed message, or go silent
without closing. ``history`` keeps the book at each recent update id so a test can compare the
client's book with the truth at the same id.

The order endpoints (POST/GET/DELETE ``/api/v3/order``, ``GET /api/v3/account``) live in
:mod:`tests.fakes.binance_orders` (``fake.desk``); they fill against these same books and the
levels they take go out in the next depth update.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.binance_orders import OrderDesk

Levels = list[tuple[float, float]]

MALFORMED_KINDS = (
    "abc_price",  # price "abc"
    "nan_price",  # price "NaN"
    "nan_size",  # size "NaN"
    "negative_size",  # size "-1.5"
    "crossed",  # a bid above the best ask
    "broken_json",  # a truncated JSON text frame
)


@dataclass
class FakeBook:
    """One symbol's book: integer ticks -> size, moved by a seeded random walk."""

    symbol: str  # unified, e.g. BTC/USDT
    mid: float
    tick_size: float
    rng: random.Random
    depth: int = 40
    update_id: int = 1000
    bids: dict[int, float] = field(default_factory=dict)
    asks: dict[int, float] = field(default_factory=dict)
    mid_tick: int = 0
    pending_bids: set[int] = field(default_factory=set)  # levels changed by orders, unsent
    pending_asks: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.mid_tick = round(self.mid / self.tick_size)
        for k in range(1, self.depth + 1):
            self.bids[self.mid_tick - k] = self._size()
            self.asks[self.mid_tick + k] = self._size()

    @property
    def market_id(self) -> str:
        return self.symbol.replace("/", "")

    def _size(self) -> float:
        return round(self.rng.uniform(0.05, 5.0), 4)

    def price_str(self, tick: int) -> str:
        decimals = max(0, len(f"{self.tick_size:.10f}".rstrip("0").split(".")[1]))
        return f"{tick * self.tick_size:.{decimals}f}"

    def step(self) -> tuple[set[int], set[int]]:
        """Move the book one step; return the ticks changed on each side (incl. deletions)."""
        bid_changes: set[int] = set()
        ask_changes: set[int] = set()
        if self.rng.random() < 0.3:
            self.mid_tick += self.rng.choice((-1, 1))
            low, high = self.mid_tick - self.depth, self.mid_tick + self.depth
            for tick in [t for t in self.bids if t >= self.mid_tick or t < low]:
                del self.bids[tick]
                bid_changes.add(tick)
            for tick in [t for t in self.asks if t <= self.mid_tick or t > high]:
                del self.asks[tick]
                ask_changes.add(tick)
        # refill the grid (after a move, or after orders took whole levels)
        for k in range(1, self.depth + 1):
            if self.mid_tick - k not in self.bids and self.mid_tick - k < min(
                self.asks, default=self.mid_tick + 1
            ):
                self.bids[self.mid_tick - k] = self._size()
                bid_changes.add(self.mid_tick - k)
            if self.mid_tick + k not in self.asks and self.mid_tick + k > max(
                self.bids, default=self.mid_tick - 1
            ):
                self.asks[self.mid_tick + k] = self._size()
                ask_changes.add(self.mid_tick + k)
        for _ in range(self.rng.randint(1, 3)):
            side, changes = (
                (self.bids, bid_changes) if self.rng.random() < 0.5 else (self.asks, ask_changes)
            )
            tick = self.rng.choice(list(side))
            side[tick] = self._size()
            changes.add(tick)
        bid_changes |= self.pending_bids
        ask_changes |= self.pending_asks
        self.pending_bids.clear()
        self.pending_asks.clear()
        return bid_changes, ask_changes

    def take(
        self, is_buy: bool, quantity: float, limit_tick: int | None
    ) -> list[tuple[int, float]]:
        """Consume liquidity as a taker: (tick, qty) fills, best first; the changed levels go
        out with the next depth update so subscribers stay in step."""
        side, pending = (self.asks, self.pending_asks) if is_buy else (self.bids, self.pending_bids)
        fills: list[tuple[int, float]] = []
        left = quantity
        for tick in sorted(side, reverse=not is_buy):
            if left <= 1e-12:
                break
            if limit_tick is not None and (tick > limit_tick if is_buy else tick < limit_tick):
                break
            qty = min(left, side[tick])
            fills.append((tick, qty))
            left -= qty
            remaining = round(side[tick] - qty, 8)
            if remaining <= 0:
                del side[tick]
            else:
                side[tick] = remaining
            pending.add(tick)
        return fills

    def wire_changes(self, ticks: set[int], is_bid: bool) -> list[list[str]]:
        side = self.bids if is_bid else self.asks
        return self.wire_levels([(t, side.get(t, 0.0)) for t in sorted(ticks)])

    def levels(self, limit: int | None = None) -> tuple[Levels, Levels]:
        """Float levels, bids descending and asks ascending (ccxt's order)."""
        bids = [(float(self.price_str(t)), s) for t, s in sorted(self.bids.items(), reverse=True)]
        asks = [(float(self.price_str(t)), s) for t, s in sorted(self.asks.items())]
        return (bids[:limit], asks[:limit]) if limit else (bids, asks)

    def wire_levels(self, items: list[tuple[int, float]]) -> list[list[str]]:
        return [[self.price_str(t), f"{s:.4f}"] for t, s in items]


@dataclass
class _Conn:
    ws: web.WebSocketResponse
    streams: set[str] = field(default_factory=set)
    silent: bool = False


class FakeBinance:
    """The server. `async with FakeBinance(...) as fake:` starts it on a free loopback port."""

    def __init__(
        self,
        symbols: dict[str, float] | None = None,
        *,
        seed: int = 1,
        tick_s: float = 0.02,
        history: int = 500,
        balances: dict[str, float] | None = None,
    ) -> None:
        rng = random.Random(seed)
        mids = symbols or {"BTC/USDT": 30_000.0, "ETH/USDT": 2_000.0}
        self.books: dict[str, FakeBook] = {
            sym: FakeBook(sym, mid, _tick_for(mid), random.Random(rng.random()))
            for sym, mid in mids.items()
        }
        self.by_id = {b.market_id: b for b in self.books.values()}
        self.tick_s = tick_s
        self.history: dict[str, OrderedDict[int, tuple[Levels, Levels]]] = {
            s: OrderedDict() for s in self.books
        }
        self._history_len = history
        self._conns: list[_Conn] = []
        self._pending_gap: dict[str, int] = {}
        self._pending_bad: dict[str, str] = {}
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.rest_delay_s = 0.0
        self.frozen = False  # True: the books stop moving (order tests want a fixed book)
        self.desk = OrderDesk(self, balances)
        self.port = 0
        # counters tests assert on
        self.connections_opened = 0
        self.subscribe_requests = 0
        self.depth_requests = 0
        self.exchange_info_requests = 0
        for sym in self.books:
            self._record(sym)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/api/v3/exchangeInfo", self._exchange_info)
        app.router.add_get("/api/v3/depth", self._depth)
        app.router.add_get("/api/v3/ping", self._ping)
        app.router.add_get("/api/v3/time", self._time)
        self.desk.add_routes(app)
        app.router.add_get("/stream/{index}", self._websocket)
        app.router.add_get("/ws/{index}", self._websocket)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._ticker = asyncio.create_task(self._tick_loop(), name="fake-binance-ticker")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for conn in list(self._conns):
            with contextlib.suppress(Exception):
                await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeBinance:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ccxt_options(self, keys: bool = False) -> dict[str, Any]:
        """The venue `options` (ccxt constructor config) that point ccxt.pro binance here;
        with `keys`, dummy API credentials for the order endpoints (any signature passes)."""
        options = ccxt_options_for(self.port)
        if keys:
            options.update(apiKey="fake-key", secret="fake-secret")  # noqa: S106 - not a secret
        return options

    # -- test controls ---------------------------------------------------------------------

    async def drop_connections(self) -> int:
        """Close every websocket (as a server restart would); returns how many were open."""
        conns = list(self._conns)
        for conn in conns:
            await conn.ws.close(code=1001, message=b"going away")
        return len(conns)

    def inject_gap(self, symbol: str, skipped_steps: int = 3) -> None:
        """The next tick applies `skipped_steps` steps without sending them: a sequence gap."""
        self._pending_gap[symbol] = skipped_steps

    def inject_malformed(self, symbol: str, kind: str) -> None:
        """The next tick sends one malformed message of `kind` (see MALFORMED_KINDS)."""
        if kind not in MALFORMED_KINDS:
            raise ValueError(f"unknown malformed kind {kind!r}")
        self._pending_bad[symbol] = kind

    def go_silent(self) -> int:
        """Open sockets stop getting anything, but stay open; new connections are normal."""
        for conn in self._conns:
            conn.silent = True
        return len(self._conns)

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    # -- REST ------------------------------------------------------------------------------

    async def _delay(self) -> None:
        if self.rest_delay_s:
            await asyncio.sleep(self.rest_delay_s)

    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": _now_ms()})

    async def _exchange_info(self, request: web.Request) -> web.Response:
        self.exchange_info_requests += 1
        await self._delay()
        return web.json_response(
            {
                "timezone": "UTC",
                "serverTime": _now_ms(),
                "rateLimits": [],
                "exchangeFilters": [],
                "symbols": [_market_info(b) for b in self.books.values()],
            }
        )

    async def _depth(self, request: web.Request) -> web.Response:
        self.depth_requests += 1
        await self._delay()
        book = self.by_id.get(request.query.get("symbol", ""))
        if book is None:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        limit = int(request.query.get("limit", "100"))
        bids = sorted(book.bids.items(), reverse=True)[:limit]
        asks = sorted(book.asks.items())[:limit]
        return web.json_response(
            {
                "lastUpdateId": book.update_id,
                "bids": book.wire_levels(bids),
                "asks": book.wire_levels(asks),
            }
        )

    # -- websocket -------------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _Conn(ws)
        self._conns.append(conn)
        self.connections_opened += 1
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT or conn.silent:
                    continue
                await self._on_request(conn, json.loads(msg.data))
        finally:
            if conn in self._conns:
                self._conns.remove(conn)
        return ws

    async def _on_request(self, conn: _Conn, req: dict[str, Any]) -> None:
        method, params = req.get("method"), req.get("params") or []
        if method == "SUBSCRIBE":
            self.subscribe_requests += 1
            conn.streams.update(_stream_key(p) for p in params)
        elif method == "UNSUBSCRIBE":
            conn.streams.difference_update(_stream_key(p) for p in params)
        elif method == "LIST_SUBSCRIPTIONS":
            await conn.ws.send_json({"result": sorted(conn.streams), "id": req.get("id")})
            return
        else:
            await conn.ws.send_json({"code": 2, "msg": f"Invalid request {method!r}"})
            return
        await conn.ws.send_json({"result": None, "id": req.get("id")})

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            if self.frozen:
                continue
            for symbol, book in self.books.items():
                text = self._next_message(symbol, book)
                if text is None:
                    continue
                key = book.market_id.lower() + "@depth"
                for conn in list(self._conns):
                    if conn.silent or key not in conn.streams or conn.ws.closed:
                        continue
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await conn.ws.send_str(text)

    def _next_message(self, symbol: str, book: FakeBook) -> str | None:
        skipped = self._pending_gap.pop(symbol, 0)
        for _ in range(skipped):  # moves that nobody hears about
            bid_ch, ask_ch = book.step()
            book.update_id += len(bid_ch) + len(ask_ch)
            self._record(symbol)
        bad = self._pending_bad.pop(symbol, None)
        if bad is not None:
            return self._malformed(book, bad)
        bid_ch, ask_ch = book.step()
        first = book.update_id + 1
        book.update_id += len(bid_ch) + len(ask_ch)
        self._record(symbol)
        return json.dumps(
            {
                "e": "depthUpdate",
                "E": _now_ms(),
                "s": book.market_id,
                "U": first,
                "u": book.update_id,
                "b": book.wire_changes(bid_ch, True),
                "a": book.wire_changes(ask_ch, False),
            }
        )

    def _malformed(self, book: FakeBook, kind: str) -> str:
        """One bad event; it takes one update id so the stream stays contiguous after it."""
        if kind == "broken_json":
            return '{"e": "depthUpdate", "E": ' + str(_now_ms()) + ', "s": "' + book.market_id
        best_bid = max(book.bids)
        best_ask = min(book.asks)
        bids: list[list[str]] = []
        asks: list[list[str]] = []
        if kind == "abc_price":
            asks = [["abc", "1.0000"]]
        elif kind == "nan_price":
            bids = [["NaN", "1.0000"]]
        elif kind == "nan_size":
            bids = [[book.price_str(best_bid), "NaN"]]
        elif kind == "negative_size":
            asks = [[book.price_str(best_ask), "-1.5000"]]
        elif kind == "crossed":
            bids = [[book.price_str(best_ask + 5), "1.0000"]]
        book.update_id += 1
        self._record(book.symbol)
        event = {
            "e": "depthUpdate",
            "E": _now_ms(),
            "s": book.market_id,
            "U": book.update_id,
            "u": book.update_id,
            "b": bids,
            "a": asks,
        }
        return json.dumps(event)

    def _record(self, symbol: str) -> None:
        book = self.books[symbol]
        hist = self.history[symbol]
        hist[book.update_id] = book.levels()
        while len(hist) > self._history_len:
            hist.popitem(last=False)


def ccxt_options_for(port: int) -> dict[str, Any]:
    """ccxt.pro binance config aimed at 127.0.0.1:`port` (usable with nothing listening)."""
    base = f"http://127.0.0.1:{port}"
    return {
        "urls": {
            "api": {
                "public": f"{base}/api/v3",
                "private": f"{base}/api/v3",
                "v1": f"{base}/api/v1",
                "sapi": f"{base}/sapi/v1",
                "ws": {"spot": f"ws://127.0.0.1:{port}/stream"},
            }
        },
        "options": {
            "defaultType": "spot",
            "fetchMarkets": {"types": ["spot"]},
            "fetchCurrencies": False,
            "fetchMargins": False,  # else, with keys, load_markets calls /sapi margin pairs
        },
        "timeout": 2000,
    }


def _stream_key(param: str) -> str:
    # "btcusdt@depth@100ms" and "btcusdt@depth" are the same diff-depth stream here
    parts = param.split("@")
    return "@".join(parts[:2])


def _tick_for(mid: float) -> float:
    tick = 10.0
    while tick > mid * 2e-5:
        tick /= 10
    return round(tick, 10)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _market_info(book: FakeBook) -> dict[str, Any]:
    base, quote = book.symbol.split("/")
    return {
        "symbol": book.market_id,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "MARKET", "LIMIT_MAKER"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": book.price_str(1),
                "maxPrice": "1000000.00",
                "tickSize": book.price_str(1),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": "0.00010000",
                "maxQty": "9000.00000000",
                "stepSize": "0.00010000",
            },
            {"filterType": "NOTIONAL", "minNotional": "5.00000000", "maxNotional": "9000000"},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
    }
