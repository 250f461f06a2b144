"""Orders on a sim venue: depth walks, partial fills, fees, balances, errors, precision."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import ccxt
import pytest

from core.feeds.sim import SimExchange, SimMarket
from core.settings import Settings, SimSettings

SYMBOL = "BTC/USDT"


def venue(name: str = "simex", **sim: object) -> tuple[SimMarket, SimExchange]:
    settings = Settings()
    settings.sim = SimSettings(seed=3, dislocation_rate_per_min=0, **sim)  # type: ignore[arg-type]
    market = SimMarket(settings.sim, settings.venues, start_ms=1_735_689_600_000)
    return market, market.exchange(name)


def d(value: object) -> Decimal:
    return Decimal(str(value))


async def balances(ex: SimExchange) -> dict[str, tuple[Decimal, Decimal]]:
    bal = await ex.fetch_balance()
    return {
        c: (d(v["free"]), d(v["used"]))
        for c, v in bal.items()
        if isinstance(v, dict) and "free" in v
    }


async def test_market_buy_walks_the_depth_and_pays_the_taker_fee() -> None:
    market, ex = venue()
    before = await balances(ex)
    top = market.book("simex", SYMBOL).asks
    amount = float(d(top[0][1]) + d(top[1][1]) + d(top[2][1]))  # about three levels' worth
    order = await ex.create_order(SYMBOL, "market", "buy", amount)
    assert order["status"] == "closed"
    assert order["filled"] == pytest.approx(amount)
    assert order["remaining"] == 0
    assert len(order["trades"]) >= 2  # walked more than one level
    prices = [t["price"] for t in order["trades"]]
    assert prices == sorted(prices) and len(set(prices)) == len(prices)
    assert order["average"] > prices[0]  # not filled at the touch, let alone a limit price
    cost = sum(d(t["info"]["price"]) * d(t["info"]["amount"]) for t in order["trades"])
    fee = cost * Decimal("0.001")
    assert d(order["info"]["cost"]) == cost
    assert d(order["info"]["fee"]) == fee
    assert order["fee"] == {"cost": float(fee), "currency": "USDT"}
    after = await balances(ex)
    assert after["USDT"][0] == before["USDT"][0] - cost - fee
    assert after["BTC"][0] == before["BTC"][0] + d(order["info"]["filled"])
    assert after["USDT"][1] == 0 and after["BTC"][1] == 0  # nothing left reserved


async def test_sell_receives_cost_minus_fee_in_quote() -> None:
    _, ex = venue("simbit")
    before = await balances(ex)
    order = await ex.create_order("ETH/USDT", "market", "sell", 1.5)
    cost, fee = d(order["info"]["cost"]), d(order["info"]["fee"])
    assert fee == cost * Decimal("0.00075")
    after = await balances(ex)
    assert after["ETH"][0] == before["ETH"][0] - Decimal("1.5")
    assert after["USDT"][0] == before["USDT"][0] + cost - fee


async def test_thin_ioc_limit_fills_partly_and_cancels_the_rest() -> None:
    market, ex = venue()
    ex.latency_ms = 0
    book = market.book("simex", "SOL/USDT")
    # Executes on the next tick's book; a limit 1 tick above that touch takes its first level.
    market.step()
    best = book.asks[0]
    limit = best[0]
    amount = float(d(best[1]) * 5)
    order = await ex.create_order(
        "SOL/USDT", "limit", "buy", amount, limit, {"timeInForce": "IOC", "clientOrderId": "c1"}
    )
    assert order["clientOrderId"] == "c1"
    assert order["status"] == "canceled"
    assert 0 <= order["filled"] < amount
    assert order["remaining"] == pytest.approx(amount - order["filled"])
    assert all(t["price"] <= limit for t in order["trades"])
    bal = await balances(ex)
    assert bal["USDT"][1] == 0  # the unfilled remainder's reservation came back


async def test_ioc_limit_partial_fill_is_exactly_the_depth_up_to_the_limit() -> None:
    market, ex = venue()
    ex.latency_ms = 0
    captured: dict[str, list[list[float]]] = {}

    def capture() -> None:  # the book as the order meets it: scheduled just before the order
        captured.setdefault("asks", [list(x) for x in market.book("simex", "LINK/USDT").asks])

    market.schedule(market.now_ms, capture)
    asks_now = market.book("simex", "LINK/USDT").asks
    limit = asks_now[1][0]  # roughly two levels of depth at or below the limit
    order = await ex.create_order("LINK/USDT", "limit", "buy", 9_000, limit, {"timeInForce": "IOC"})
    seen = captured["asks"]
    depth = sum(d(size) for price, size in seen if price <= limit)
    assert 0 < depth < 9_000
    assert d(order["info"]["filled"]) == depth
    assert order["status"] == "canceled"


async def test_gtc_remainder_stays_open_and_can_be_cancelled() -> None:
    market, ex = venue()
    bid = market.book("simex", "ETH/USDT").bids[0][0]
    price = round(bid * 0.99, 2)  # well below the market: nothing fills now
    order = await ex.create_order("ETH/USDT", "limit", "buy", 2, price)
    assert order["status"] == "open" and order["filled"] == 0
    assert order["timeInForce"] == "GTC"
    open_orders = await ex.fetch_open_orders("ETH/USDT")
    assert [o["id"] for o in open_orders] == [order["id"]]
    bal = await balances(ex)
    assert bal["USDT"][1] == d(2) * d(price) * Decimal("1.001")
    cancelled = await ex.cancel_order(order["id"], "ETH/USDT")
    assert cancelled["status"] == "canceled"
    assert (await ex.fetch_order(order["id"], "ETH/USDT"))["status"] == "canceled"
    assert (await balances(ex))["USDT"][1] == 0
    assert await ex.fetch_open_orders() == []
    with pytest.raises(ccxt.OrderNotFound):
        await ex.cancel_order(order["id"], "ETH/USDT")
    with pytest.raises(ccxt.OrderNotFound):
        await ex.fetch_order("nope", "ETH/USDT")


async def test_resting_order_fills_as_maker_when_the_market_trades_through() -> None:
    market, ex = venue()
    ask = market.book("simex", "XRP/USDT").asks[0][0]
    price = round(ask * 0.999, 4)  # 10 bps below the ask: rests
    order = await ex.create_order("XRP/USDT", "limit", "buy", 100, price)
    assert order["status"] == "open"
    market.dislocate("simex", "XRP/USDT", -40.0, hold_s=2)  # the asks fall through our bid
    market.advance(1)
    filled = await ex.fetch_order(order["id"])
    assert filled["status"] == "closed"
    assert filled["average"] == pytest.approx(price)  # a maker fills at its own price
    assert filled["trades"][-1]["takerOrMaker"] == "maker"
    assert d(filled["info"]["fee"]) == d(filled["info"]["cost"]) * Decimal("0.0005")


async def test_taking_liquidity_moves_the_book_then_it_refills() -> None:
    market, ex = venue("simkra")
    ex.latency_ms = 0
    depth5 = sum(s for _, s in market.book("simkra", SYMBOL).asks[:5])
    await ex.create_order(SYMBOL, "market", "buy", round(depth5, 5))
    book = market.book("simkra", SYMBOL)
    fair = market.fair_price(SYMBOL)
    assert book.asks[0][0] > fair * 1.0003  # the touch is gone for now
    taken = book.depleted_ask
    assert taken > 0
    market.step()
    assert book.asks[0][0] > fair * 1.0003  # still thin on the next tick
    market.advance(10)
    assert book.depleted_ask < taken * 0.01
    assert book.asks[0][0] < fair * 1.0003 * 1.002


async def test_latency_is_simulated_time_between_submit_and_fill() -> None:
    market, ex = venue(latency_ms=250)
    t0 = market.now_ms
    order = await ex.create_order(SYMBOL, "market", "buy", 0.01)
    assert order["timestamp"] == t0
    assert order["lastTradeTimestamp"] >= t0 + 250
    assert market.now_ms >= t0 + 250


async def test_insufficient_funds_leaves_balances_unchanged() -> None:
    _, ex = venue()
    before = await balances(ex)
    with pytest.raises(ccxt.InsufficientFunds):
        await ex.create_order(SYMBOL, "market", "buy", 5)  # ~475k USDT; we hold 250k
    with pytest.raises(ccxt.InsufficientFunds):
        await ex.create_order(SYMBOL, "limit", "sell", 3.5, 90_000)
    ex.set_balance("USDT", 10)
    with pytest.raises(ccxt.InsufficientFunds):
        await ex.create_order("ETH/USDT", "limit", "buy", 0.01, 3000)
    after = await balances(ex)
    assert after["BTC"] == before["BTC"]
    assert after["USDT"] == (Decimal(10), Decimal(0))


async def test_invalid_orders_are_refused() -> None:
    _, ex = venue()
    with pytest.raises(ccxt.InvalidOrder):
        await ex.create_order(SYMBOL, "market", "buy", 0.000001)  # below the lot
    with pytest.raises(ccxt.InvalidOrder):
        await ex.create_order(SYMBOL, "limit", "buy", 0.00002, 95_000)  # below 5 USDT
    with pytest.raises(ccxt.InvalidOrder):
        await ex.create_order(SYMBOL, "stop", "buy", 0.01)
    with pytest.raises(ccxt.ArgumentsRequired):
        await ex.create_order(SYMBOL, "limit", "buy", 0.01)
    with pytest.raises(ccxt.BadSymbol):
        await ex.create_order("BTC/EUR", "market", "buy", 0.01)
    assert await ex.fetch_open_orders() == []


async def test_injected_failure_and_rejection() -> None:
    _, ex = venue()
    before = await balances(ex)
    ex.fail_next_order(ccxt.RequestTimeout)
    with pytest.raises(ccxt.RequestTimeout):
        await ex.create_order(SYMBOL, "market", "buy", 0.01)
    ex.reject_next_order("risk limits")
    rejected = await ex.create_order(SYMBOL, "market", "buy", 0.01, params={"clientOrderId": "x"})
    assert rejected["status"] == "rejected" and rejected["filled"] == 0
    assert rejected["info"]["reason"] == "risk limits"
    assert await balances(ex) == before
    ok = await ex.create_order(SYMBOL, "market", "buy", 0.01)  # faults are one-shot
    assert ok["status"] == "closed"
    found = await ex.fetch_order("ignored", SYMBOL, {"clientOrderId": "x"})
    assert found["id"] == rejected["id"]


async def test_fok_fills_all_or_nothing() -> None:
    market, ex = venue()
    ask = market.book("simex", SYMBOL).asks[0][0]
    order = await ex.create_order(SYMBOL, "limit", "buy", 2.5, ask, {"timeInForce": "FOK"})
    assert order["status"] == "canceled" and order["filled"] == 0 and order["trades"] == []


async def test_precision_helpers_follow_ccxt() -> None:
    _, ex = venue()
    assert ex.amount_to_precision(SYMBOL, 0.123456789) == "0.12345"  # truncated
    assert ex.amount_to_precision("XRP/USDT", 10.99) == "10.9"
    assert ex.price_to_precision(SYMBOL, 95000.126) == "95000.13"  # rounded
    assert ex.price_to_precision("ETH/BTC", 0.03574449) == "0.035744"
    with pytest.raises(ccxt.InvalidOrder):
        ex.amount_to_precision(SYMBOL, 0.000001)


async def test_orders_fill_while_the_market_runs_in_real_time() -> None:
    market, ex = venue(speed=100, latency_ms=300)
    task = asyncio.create_task(market.run())
    try:
        t0 = market.now_ms
        order = await asyncio.wait_for(ex.create_order(SYMBOL, "market", "sell", 0.05), 2)
        assert order["status"] == "closed" and order["lastTradeTimestamp"] >= t0 + 300
    finally:
        market.stop()
        await asyncio.wait_for(task, 1)
