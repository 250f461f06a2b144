"""The embedded market: determinism, ccxt book shapes, opportunity rate, real-time run()."""

from __future__ import annotations

import asyncio
import math

import ccxt
import pytest

from core.feeds.sim import SimMarket
from core.feeds.sim.calibrate import opportunities_now, pair_profit, scan
from core.settings import Settings, SimSettings, ThresholdSettings, VenueSettings


def make_market(seed: int = 7, **sim: object) -> tuple[Settings, SimMarket]:
    settings = Settings()
    settings.sim = SimSettings(seed=seed, **sim)  # type: ignore[arg-type]
    return settings, SimMarket(settings.sim, settings.venues, start_ms=1_735_689_600_000)


def snapshot(market: SimMarket) -> list[object]:
    return [(k, market.book(*k).bids, market.book(*k).asks) for k in market.keys]


def test_same_seed_same_books_different_seed_different_books() -> None:
    _, a = make_market(7)
    _, b = make_market(7)
    _, c = make_market(8)
    seq_a, seq_b, seq_c = [], [], []
    for _ in range(120):
        for m, seq in ((a, seq_a), (b, seq_b), (c, seq_c)):
            m.step()
            seq.append(repr(snapshot(m)))
    assert seq_a == seq_b
    assert seq_a != seq_c


def test_defaults_three_venues_six_symbols_and_realistic_prices() -> None:
    _, m = make_market()
    assert {v for v, _ in m.keys} == {"simex", "simbit", "simkra"}
    assert len(m.keys) == 18
    for symbol, expected in [("BTC/USDT", 95_000), ("ETH/USDT", 3_400), ("XRP/USDT", 2.3)]:
        assert m.fair_price(symbol) == pytest.approx(expected, rel=0.01)


def test_cross_pair_follows_its_legs() -> None:
    _, m = make_market()
    m.advance(60)
    eth_btc = m.fair_price("ETH/BTC")
    assert eth_btc == pytest.approx(m.fair_price("ETH/USDT") / m.fair_price("BTC/USDT"))
    for venue in ("simex", "simbit", "simkra"):
        if (venue, "ETH/BTC") in m.dislocations:
            continue
        book = m.book(venue, "ETH/BTC")
        mid = (book.bids[0][0] + book.asks[0][0]) / 2
        assert abs(mid / eth_btc - 1) < 10e-4  # within 10 bps when not dislocated


async def test_books_have_ccxt_shape_and_sane_levels() -> None:
    _, m = make_market()
    for _ in range(100):
        m.step()
        for venue in ("simex", "simbit", "simkra"):
            ex = m.exchange(venue)
            for symbol in ex.symbols:
                book = await ex.watch_order_book(symbol)
                assert set(book) == {"symbol", "bids", "asks", "timestamp", "datetime", "nonce"}
                assert book["symbol"] == symbol
                assert book["timestamp"] == m.now_ms
                assert book["datetime"].endswith("Z")
                bids, asks = book["bids"], book["asks"]
                assert len(bids) >= 10 and len(asks) >= 10
                assert bids[0][0] < asks[0][0]
                assert all(a[0] > b[0] for a, b in zip(bids, bids[1:], strict=False))
                assert all(a[0] < b[0] for a, b in zip(asks, asks[1:], strict=False))
                assert all(size > 0 for _, size in bids + asks)
                tick = ex.market(symbol)["precision"]["price"]
                assert all(abs(p / tick - round(p / tick)) < 1e-6 for p, _ in bids[:5] + asks[:5])


async def test_level_sizes_grow_away_from_the_touch() -> None:
    _, m = make_market()
    near = far = 0.0
    for _ in range(50):
        m.step()
        book = m.book("simbit", "BTC/USDT")
        near += sum(s for _, s in book.bids[:3])
        far += sum(s for _, s in book.bids[-3:])
    assert far > 3 * near


async def test_watch_returns_each_update_once_and_nonce_increases() -> None:
    _, m = make_market()
    ex = m.exchange("simex")
    first = await ex.watch_order_book("BTC/USDT", limit=5)
    assert len(first["bids"]) == 5
    waiter = asyncio.ensure_future(ex.watch_order_book("BTC/USDT"))
    await asyncio.sleep(0)
    assert not waiter.done()  # nothing new yet
    other = asyncio.ensure_future(ex.watch_order_book("BTC/USDT"))
    await asyncio.sleep(0)
    m.step()
    second = await asyncio.wait_for(waiter, 1)
    assert second["nonce"] == first["nonce"] + 1
    assert (await asyncio.wait_for(other, 1))["nonce"] == second["nonce"]  # both woken


def test_pair_profit_walks_both_books() -> None:
    asks = [[100.0, 1.0], [100.5, 2.0]]
    bids = [[101.0, 1.5], [100.0, 5.0]]
    # unit 1: 101 - 100 = 1.0; next 0.5 at 101 - 100.5 = 0.5; then bid 100 < ask: stop
    best = pair_profit(asks, bids, 0.0, 0.0, max_quote=1e9)
    assert best.size == pytest.approx(1.5)
    assert best.profit == pytest.approx(1.0 + 0.25)
    capped = pair_profit(asks, bids, 0.0, 0.0, max_quote=50.0)
    assert capped.size == pytest.approx(0.5) and capped.profit == pytest.approx(0.5)
    with_fees = pair_profit(asks, bids, 0.004, 0.004, max_quote=1e9)  # 100.4 vs 100.596
    assert with_fees.size == pytest.approx(1.0)
    assert with_fees.profit == pytest.approx(101 * 0.996 - 100 * 1.004)


def test_forced_dislocation_is_an_opportunity() -> None:
    settings, m = make_market(dislocation_rate_per_min=0)
    m.advance(5)
    assert opportunities_now(m, settings.thresholds) == set()
    m.dislocate("simex", "ETH/USDT", 45.0, hold_s=3)
    m.advance(1)
    found = opportunities_now(m, settings.thresholds)
    assert ("ETH/USDT", "simbit", "simex") in found  # buy cheap on simbit, sell rich on simex
    m.advance(10)
    assert opportunities_now(m, settings.thresholds) == set()


def test_without_dislocations_fees_keep_the_market_closed() -> None:
    settings, m = make_market(dislocation_rate_per_min=0)
    stats = scan(m, 1, settings.thresholds)
    assert stats.episodes == 0


def test_default_settings_give_several_opportunities_per_minute_but_not_constantly() -> None:
    settings, m = make_market(7)
    stats = scan(m, 4, settings.thresholds)
    per_minute = stats.episodes / len(stats.episodes_per_minute)
    assert 2 <= per_minute <= 20, stats.episodes_per_minute
    assert 0.02 < stats.busy_fraction < 0.35, stats.busy_fraction


def test_stricter_thresholds_mean_fewer_opportunities() -> None:
    settings, m = make_market(7)
    strict = ThresholdSettings(min_profit_bps=25, min_profit_usd=0.5)
    assert scan(m, 1, strict).episodes < scan(make_market(7)[1], 1, settings.thresholds).episodes


async def test_run_delivers_updates_in_real_time_and_stops() -> None:
    _, m = make_market(speed=200)  # one 100 ms tick every 0.5 ms of wall clock
    ex = m.exchange("simbit")
    task = asyncio.create_task(m.run())
    nonces = []
    for _ in range(20):
        book = await asyncio.wait_for(ex.watch_order_book("SOL/USDT"), 1)
        nonces.append(book["nonce"])
    assert m.running
    assert nonces == sorted(set(nonces))
    m.stop()
    await asyncio.wait_for(task, 1)
    assert not m.running


async def test_run_task_cancellation_is_clean() -> None:
    _, m = make_market(speed=100)
    task = asyncio.create_task(m.run())
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not m.running
    second = asyncio.create_task(m.run())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError):  # a second concurrent run is refused
        await m.run()
    m.stop()
    await asyncio.wait_for(second, 1)


async def test_paused_feed_is_silent_and_disconnected_feed_raises() -> None:
    _, m = make_market()
    ex = m.exchange("simkra")
    await ex.watch_order_book("BTC/USDT")
    ex.set_feed_paused(True)
    waiter = asyncio.ensure_future(ex.watch_order_book("BTC/USDT"))
    for _ in range(5):
        m.step()
        await asyncio.sleep(0)
    assert not waiter.done()
    ex.set_feed_paused(False)
    m.step()
    assert (await asyncio.wait_for(waiter, 1))["symbol"] == "BTC/USDT"

    waiter = asyncio.ensure_future(ex.watch_order_book("BTC/USDT"))
    await asyncio.sleep(0)
    ex.set_feed_disconnected(True)
    with pytest.raises(ccxt.NetworkError):
        await asyncio.wait_for(waiter, 1)
    with pytest.raises(ccxt.NetworkError):
        await ex.watch_order_book("ETH/USDT")
    ex.set_feed_disconnected(False)
    m.step()
    assert (await ex.watch_order_book("ETH/USDT"))["bids"]
    other = m.exchange("simex")  # one venue's outage is not the others'
    assert (await other.watch_order_book("ETH/USDT"))["asks"]


async def test_unknown_symbol_and_venue_and_asset() -> None:
    _, m = make_market()
    ex = m.exchange("simex")
    with pytest.raises(ccxt.BadSymbol):
        await ex.watch_order_book("DOGE/EUR")
    with pytest.raises(ccxt.BadSymbol):
        ex.market("BTC/EUR")
    with pytest.raises(KeyError, match="simex"):
        m.exchange("binance")
    venue = VenueSettings(name="odd", symbols=["FOO/USDT"])
    with pytest.raises(ValueError, match="FOO"):
        SimMarket(SimSettings(), [venue])


async def test_markets_have_ccxt_shape() -> None:
    _, m = make_market()
    ex = m.exchange("simbit")
    markets = await ex.load_markets()
    assert ex.symbols == sorted(markets)
    btc = markets["BTC/USDT"]
    assert btc["id"] == "BTCUSDT" and btc["base"] == "BTC" and btc["quote"] == "USDT"
    assert btc["spot"] is True and btc["active"] is True and btc["type"] == "spot"
    assert btc["precision"] == {"amount": 0.00001, "price": 0.01}
    assert btc["limits"]["amount"]["min"] == 0.00001 and btc["limits"]["cost"]["min"] == 5.0
    assert btc["taker"] == pytest.approx(0.00075)
    assert ex.fees["trading"]["taker"] == pytest.approx(0.00075)
    assert ex.has["watchOrderBook"] and ex.has["createOrder"]
    assert math.isclose(markets["ETH/BTC"]["precision"]["price"], 0.000001)
