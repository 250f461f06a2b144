"""Real ccxt.pro `binance` order calls against the fake's order endpoints (for issue 7)."""

from __future__ import annotations

import ccxt
import ccxt.pro
import pytest

from tests.fakes.binance import FakeBinance

pytestmark = pytest.mark.timeout(30)


def _walk(levels: list[tuple[float, float]], quantity: float) -> tuple[float, float]:
    """(filled, cost) of taking `quantity` from `levels`, best first."""
    filled = cost = 0.0
    for price, size in levels:
        qty = min(size, quantity - filled)
        if qty <= 0:
            break
        filled += qty
        cost += qty * price
    return filled, cost


async def test_market_buy_fills_by_walking_the_book(fake_binance: FakeBinance) -> None:
    fake_binance.frozen = True
    ex = ccxt.pro.binance(fake_binance.ccxt_options(keys=True))
    try:
        await ex.load_markets()
        asks = fake_binance.books["BTC/USDT"].levels()[1]
        amount = round(asks[0][1] + asks[1][1] / 2, 4)  # crosses into the second level
        _, cost = _walk(asks, amount)
        order = await ex.create_order("BTC/USDT", "market", "buy", amount)
        assert order["status"] == "closed"
        assert order["filled"] == pytest.approx(amount)
        assert order["cost"] == pytest.approx(cost)
        assert order["average"] > asks[0][0]  # never assumed at the top price
        assert len(order["trades"]) == 2
        fee = sum(t["fee"]["cost"] for t in order["trades"])
        assert fee == pytest.approx(amount * 0.001)
        balance = await ex.fetch_balance()
        assert balance["USDT"]["free"] == pytest.approx(100_000 - cost)
        assert balance["BTC"]["free"] == pytest.approx(2 + amount * 0.999)
    finally:
        await ex.close()


async def test_thin_book_gives_a_partial_fill(fake_binance: FakeBinance) -> None:
    fake_binance.frozen = True
    fake_binance.desk.balances["ETH"] = 10_000.0
    ex = ccxt.pro.binance(fake_binance.ccxt_options(keys=True))
    try:
        await ex.load_markets()
        bids = fake_binance.books["ETH/USDT"].levels()[0]
        total = sum(size for _, size in bids)
        order = await ex.create_order("ETH/USDT", "market", "sell", total + 5)
        assert order["status"] == "expired"
        assert order["filled"] == pytest.approx(total)
        assert order["remaining"] == pytest.approx(5)
        assert fake_binance.books["ETH/USDT"].bids == {}  # the walk took every level
    finally:
        await ex.close()


async def test_limit_ioc_query_and_cancel(fake_binance: FakeBinance) -> None:
    ex = ccxt.pro.binance(fake_binance.ccxt_options(keys=True))
    try:
        await ex.load_markets()
        best_ask = fake_binance.books["BTC/USDT"].levels()[1][0][0]
        below = best_ask - 50 * fake_binance.books["BTC/USDT"].tick_size
        ioc = await ex.create_order("BTC/USDT", "limit", "buy", 0.01, below, {"timeInForce": "IOC"})
        assert ioc["status"] == "expired" and ioc["filled"] == 0
        resting = await ex.create_order(
            "BTC/USDT", "limit", "buy", 0.01, below, {"clientOrderId": "arb-1"}
        )
        assert resting["status"] == "open" and resting["clientOrderId"] == "arb-1"
        fetched = await ex.fetch_order(resting["id"], "BTC/USDT")
        assert fetched["status"] == "open" and fetched["amount"] == pytest.approx(0.01)
        cancelled = await ex.cancel_order(resting["id"], "BTC/USDT")
        assert cancelled["status"] == "canceled"
        with pytest.raises(ccxt.OrderNotFound):
            await ex.cancel_order(resting["id"], "BTC/USDT")
        with pytest.raises(ccxt.OrderNotFound):
            await ex.fetch_order("999", "BTC/USDT")
    finally:
        await ex.close()


async def test_insufficient_balance_is_rejected(fake_binance: FakeBinance) -> None:
    ex = ccxt.pro.binance(fake_binance.ccxt_options(keys=True))
    try:
        await ex.load_markets()
        with pytest.raises(ccxt.InsufficientFunds):
            await ex.create_order("BTC/USDT", "market", "sell", 3.0)  # holds 2 BTC
        fake_binance.desk.reject_next()
        with pytest.raises(ccxt.InsufficientFunds):
            await ex.create_order("BTC/USDT", "market", "buy", 0.001)
        assert fake_binance.desk.orders == {}
    finally:
        await ex.close()


async def test_slow_venue_times_out(fake_binance: FakeBinance) -> None:
    ex = ccxt.pro.binance({**fake_binance.ccxt_options(keys=True), "timeout": 300})
    try:
        await ex.load_markets()
        fake_binance.desk.order_delay_s = 1.0
        with pytest.raises(ccxt.RequestTimeout):
            await ex.create_order("BTC/USDT", "market", "buy", 0.001)
    finally:
        await ex.close()


async def test_unsigned_requests_are_refused(fake_binance: FakeBinance) -> None:
    ex = ccxt.pro.binance(fake_binance.ccxt_options())
    try:
        await ex.load_markets()
        with pytest.raises(ccxt.AuthenticationError):
            await ex.create_order("BTC/USDT", "market", "buy", 0.001)  # ccxt wants keys first
    finally:
        await ex.close()


async def test_levels_taken_by_orders_reach_the_feed(fake_binance: FakeBinance) -> None:
    """The fake sends the levels an order consumed in its next diff: subscribers stay exact."""
    fake_binance.desk.balances["USDT"] = 1_000_000.0
    ex = ccxt.pro.binance(fake_binance.ccxt_options(keys=True))
    try:
        await ex.watch_order_book("BTC/USDT")
        asks = fake_binance.books["BTC/USDT"].levels()[1]
        await ex.create_order("BTC/USDT", "market", "buy", round(asks[0][1] + asks[1][1], 4))
        for _ in range(5):
            book = await ex.watch_order_book("BTC/USDT")
        bids, asks = fake_binance.history["BTC/USDT"][book["nonce"]]
        assert [tuple(x) for x in book["asks"]] == asks
        assert [tuple(x) for x in book["bids"]] == bids
    finally:
        await ex.close()
