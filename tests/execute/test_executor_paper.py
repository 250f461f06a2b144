"""Paper broker: walks the live book (partial fills where thin), taker fee, no limit-price fills."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import ccxt
import pytest

from core.book import OrderBook
from core.execute.paper import PaperExchange
from core.execute.trades import TradeView
from core.records import TradeStatus
from tests.support.executor import CHEAP, DEAR, SYMBOL, make_rig


def paper_over(real: object, book: OrderBook) -> PaperExchange:
    return PaperExchange(real, lambda symbol: book, {"USDT": "100000", "BTC": "1"})


def live_book() -> OrderBook:
    book = OrderBook("x", SYMBOL)
    book.apply_snapshot(
        [(99.0, 1.0), (98.0, 2.0)],
        [(100.0, 0.5), (100.5, 0.25), (103.0, 9.0)],
        received_at=time.time(),
    )
    return book


async def test_walks_depth_and_fills_partly_where_thin(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    paper = paper_over(rig.exchange(CHEAP), live_book())
    order = await paper.create_order(
        SYMBOL, "limit", "buy", 1.0, 101.0, {"timeInForce": "IOC", "clientOrderId": "c1"}
    )
    assert order["status"] == "canceled"  # IOC: what did not fill is cancelled
    assert order["filled"] == 0.75
    assert order["average"] == Decimal("75.125") / Decimal("0.75")  # exact, not a float
    assert order["average"] != 101.0  # never at the limit price by assumption
    fee = Decimal("75.125") * Decimal("0.001")  # cost x simex taker rate
    assert Decimal(order["info"]["fee"]) == fee
    assert paper.free["USDT"] == Decimal("100000") - Decimal("75.125") - fee
    assert paper.free["BTC"] == Decimal("1.75")
    assert (await paper.fetch_order("", SYMBOL, {"clientOrderId": "c1"}))["id"] == order["id"]

    with pytest.raises(ccxt.InsufficientFunds):
        await paper.create_order(SYMBOL, "market", "sell", 2.5, None, {})
    sell = await paper.create_order(SYMBOL, "market", "sell", 1.5, None, {})
    assert sell["filled"] == Decimal("1.5")
    assert sell["average"] == (Decimal("99") + Decimal("98") * Decimal("0.5")) / Decimal("1.5")
    with pytest.raises(ccxt.InvalidOrder):
        await paper.create_order(SYMBOL, "limit", "buy", 0.1, 100.0, {"timeInForce": "GTC"})
    with pytest.raises(ccxt.OrderNotFound):
        await paper.fetch_order("nope", SYMBOL)


async def test_fok_and_stale_book(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    book = live_book()
    paper = paper_over(rig.exchange(CHEAP), book)
    fok = await paper.create_order(SYMBOL, "limit", "buy", 1.0, 100.6, {"timeInForce": "FOK"})
    assert fok["filled"] == 0 and fok["status"] == "canceled"
    book.received_at -= 60
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await paper.create_order(SYMBOL, "market", "buy", 0.1, None, {})


async def test_executor_runs_unchanged_on_paper_adapters(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    books = rig.books[SYMBOL]

    def book_of(venue: str) -> Callable[[str], OrderBook]:
        return lambda _symbol: books[venue]

    paper = {
        name: PaperExchange(rig.exchange(name), book_of(name), {"USDT": "250000", "BTC": "3"})
        for name in (CHEAP, DEAR)
    }
    rig.executor.exchanges = paper
    result = await rig.executor.execute(rig.opportunity(size=0.05))
    assert isinstance(result, TradeView)
    assert result.status == TradeStatus.COMPLETED, result.reason
    buy = next(leg for leg in result.legs if leg.role == "buy")
    assert buy.average is not None and buy.price is not None and buy.average < buy.price
    fills = rig.journal.fills(result.id)
    expected = sum((f.cost if f.side == "sell" else -f.cost) - f.fee for f in fills)
    assert result.realized_pnl == expected
