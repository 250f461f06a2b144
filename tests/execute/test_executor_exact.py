"""Exact Decimal order figures from a venue's raw strings, where ccxt's floats lose digits."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt

from core.execute.exact import exact_order, fee_known, needs_trades, with_trades
from core.execute.legs import apply_order
from core.records import OrderRecord, OrderStatus

QTY = "123456789.123456789"  # 18 significant digits: no float holds it
PRICE = "30000.00000001"
COST = str(Decimal(QTY) * Decimal(PRICE))
FEE = "3703703.67370370367"


def binance_placed() -> dict[str, Any]:
    """A Binance spot placement answer (FULL), parsed by the real ccxt binance class."""
    return ccxt.binance().parse_order(
        {
            "symbol": "BTCUSDT",
            "orderId": 7,
            "clientOrderId": "arb-t-s",
            "transactTime": 1,
            "price": "0",
            "origQty": QTY,
            "executedQty": QTY,
            "cummulativeQuoteQty": COST,
            "status": "FILLED",
            "timeInForce": "IOC",
            "type": "MARKET",
            "side": "SELL",
            "fills": [
                {
                    "price": PRICE,
                    "qty": QTY,
                    "commission": FEE,
                    "commissionAsset": "USDT",
                    "tradeId": 1,
                }
            ],
        }
    )


def record() -> OrderRecord:
    return OrderRecord(
        client_order_id="arb-t-s",
        trade_id="t",
        role="sell",
        venue="binance",
        symbol="BTC/USDT",
        side="sell",
        type="market",
        amount=Decimal(QTY),
        price=None,
        status=OrderStatus.PENDING,
        created_at=0.0,
        updated_at=0.0,
    )


def test_ccxt_floats_lose_digits_that_exact_order_keeps() -> None:
    raw = binance_placed()
    assert Decimal(repr(raw["filled"])) != Decimal(QTY)  # why this module exists
    exact = exact_order(raw)
    assert exact["filled"] == Decimal(QTY) and exact["cost"] == Decimal(COST)
    assert exact["trades"][0]["fee"] == {"cost": Decimal(FEE), "currency": "USDT"}
    updated, fills = apply_order(record(), exact, 1.0)
    assert updated.status is OrderStatus.CLOSED
    assert (updated.filled, updated.cost, updated.fee) == (
        Decimal(QTY),
        Decimal(COST),
        Decimal(FEE),
    )
    assert updated.average == Decimal(PRICE)
    assert [(f.amount, f.price, f.cost, f.fee) for f in fills] == [
        (Decimal(QTY), Decimal(PRICE), Decimal(COST), Decimal(FEE))
    ]
    assert updated.cost - updated.fee == Decimal(COST) - Decimal(FEE)  # proceeds, exactly


def test_query_answer_has_no_fees_until_completed_by_its_trades() -> None:
    queried = binance_placed()
    queried["info"] = {k: v for k, v in queried["info"].items() if k != "fills"}
    queried["trades"], queried["fee"], queried["fees"] = [], None, []
    exact = exact_order(queried)
    assert exact["filled"] == Decimal(QTY) and not fee_known(exact) and needs_trades(exact)
    my_trade: dict[str, Any] = {
        "amount": float(QTY),
        "price": float(PRICE),
        "fee": {"cost": float(FEE), "currency": "USDT"},
        "info": {"price": PRICE, "qty": QTY, "commission": FEE, "commissionAsset": "USDT"},
    }
    done = with_trades(exact, [my_trade])
    assert fee_known(done) and not needs_trades(done)
    updated, _ = apply_order(record(), done, 1.0)
    assert updated.fee == Decimal(FEE) and updated.fee_currency == "USDT"
    # trades that do not add up to the fill (a page cut short) are not taken for the whole
    half = {**my_trade, "info": {**my_trade["info"], "qty": str(Decimal(QTY) / 2)}}
    assert with_trades(exact, [half]) is exact


def test_other_answers_pass_through() -> None:
    sim_like = {"status": "closed", "filled": 0.5, "fee": {"cost": 1.0, "currency": "USDT"}}
    assert exact_order(sim_like) is sim_like and fee_known(sim_like)
    assert not needs_trades({"status": "open", "filled": 0.5})
    assert not needs_trades({"status": "expired", "filled": 0})
