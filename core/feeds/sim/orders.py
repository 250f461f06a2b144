"""Orders of a sim venue: balances, depth walks and ccxt-shaped order dicts.

Money is exact: amounts, costs, fees and balances are `Decimal` built from the book's printed
prices and sizes; the ccxt dicts carry floats like real ccxt, and the exact figures as decimal
strings in `info` (as real venues return them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ccxt

from core.feeds.sim.depth import Level

ZERO = Decimal(0)


def dec(value: float | str | int) -> Decimal:
    """Decimal of a printed float: Decimal(repr(0.1)) is 0.1, not 0.1000000000000000055…"""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def iso8601(ms: int) -> str:
    return str(ccxt.Exchange.iso8601(ms))


@dataclass(frozen=True, slots=True)
class Fill:
    price: Decimal
    amount: Decimal


def walk(
    levels: list[Level],
    amount: Decimal,
    *,
    is_buy: bool,
    limit: Decimal | None,
    lot: Decimal,
    budget: Decimal | None = None,
    fee_rate: Decimal = ZERO,
) -> list[Fill]:
    """Take levels best first up to `amount`, never past `limit`, never spending more than
    `budget` (quote, fees included) on a buy. Each fill is at its level's own price."""
    fills: list[Fill] = []
    remaining = amount
    spent = ZERO
    for price_f, size_f in levels:
        price = dec(price_f)
        if limit is not None and (price > limit if is_buy else price < limit):
            break
        take = min(remaining, dec(size_f))
        if budget is not None:
            affordable = (budget - spent) / (price * (1 + fee_rate))
            take = min(take, (affordable // lot) * lot)
        if take <= 0:
            break
        fills.append(Fill(price, take))
        remaining -= take
        spent += price * take * (1 + fee_rate)
        if remaining <= 0:
            break
    return fills


def consume(levels: list[Level], fills: list[Fill]) -> Decimal:
    """Remove filled amounts from the book side they were walked on; returns the total."""
    total = ZERO
    for fill in fills:
        if not levels:
            break
        left = dec(levels[0][1]) - fill.amount
        if left <= 0:
            levels.pop(0)
        else:
            levels[0][1] = float(left)
        total += fill.amount
    return total


class Ledger:
    """A venue account's balances: free and used (reserved by orders) per currency."""

    def __init__(self, start: dict[str, str]) -> None:
        self.free: dict[str, Decimal] = {c: Decimal(v) for c, v in start.items()}
        self.used: dict[str, Decimal] = {c: ZERO for c in start}

    def set(self, currency: str, free: Decimal) -> None:
        self.free[currency] = free
        self.used.setdefault(currency, ZERO)

    def reserve(self, venue: str, currency: str, amount: Decimal) -> None:
        free = self.free.get(currency, ZERO)
        if amount > free:
            raise ccxt.InsufficientFunds(
                f"{venue} insufficient balance: needs {amount} {currency}, free {free}"
            )
        self.free[currency] = free - amount
        self.used[currency] = self.used.get(currency, ZERO) + amount

    def release(self, currency: str, amount: Decimal) -> None:
        if amount <= 0:
            return
        self.used[currency] -= amount
        self.free[currency] += amount

    def spend_used(self, currency: str, amount: Decimal) -> None:
        self.used[currency] -= amount

    def credit(self, currency: str, amount: Decimal) -> None:
        self.free[currency] = self.free.get(currency, ZERO) + amount
        self.used.setdefault(currency, ZERO)

    def to_ccxt(self, timestamp: int) -> dict[str, Any]:
        """ccxt's balance structure: per-currency dicts plus free/used/total maps."""
        out: dict[str, Any] = {
            "info": {  # exact figures, as decimal strings (real venues send strings too)
                c: {"free": str(v), "used": str(self.used.get(c, ZERO))}
                for c, v in sorted(self.free.items())
            },
            "timestamp": timestamp,
            "datetime": iso8601(timestamp),
            "free": {},
            "used": {},
            "total": {},
        }
        for currency in sorted(self.free):
            free = float(self.free[currency])
            used = float(self.used.get(currency, ZERO))
            total = float(self.free[currency] + self.used.get(currency, ZERO))
            out[currency] = {"free": free, "used": used, "total": total}
            out["free"][currency] = free
            out["used"][currency] = used
            out["total"][currency] = total
        return out


@dataclass(slots=True)
class SimOrder:
    """One order's state; `to_ccxt()` gives ccxt's order structure."""

    id: str
    client_order_id: str | None
    symbol: str
    type: str
    side: str
    amount: Decimal
    price: Decimal | None
    time_in_force: str
    timestamp: int
    fee_currency: str
    status: str = "open"
    filled: Decimal = ZERO
    cost: Decimal = ZERO
    fee: Decimal = ZERO
    reserved: Decimal = ZERO
    """Funds still held in `used` for this order (quote for a buy, base for a sell)."""
    last_trade_timestamp: int | None = None
    reason: str | None = None
    trades: list[dict[str, Any]] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled

    def add_trade(self, fill: Fill, fee: Decimal, fee_rate: Decimal, taker: bool, ts: int) -> None:
        cost = fill.price * fill.amount
        self.filled += fill.amount
        self.cost += cost
        self.fee += fee
        self.last_trade_timestamp = ts
        self.trades.append(
            {
                "id": f"{self.id}-{len(self.trades) + 1}",
                "order": self.id,
                "timestamp": ts,
                "datetime": iso8601(ts),
                "symbol": self.symbol,
                "type": self.type,
                "side": self.side,
                "takerOrMaker": "taker" if taker else "maker",
                "price": float(fill.price),
                "amount": float(fill.amount),
                "cost": float(cost),
                "fee": {"cost": float(fee), "currency": self.fee_currency, "rate": float(fee_rate)},
                "info": {"price": str(fill.price), "amount": str(fill.amount), "fee": str(fee)},
            }
        )

    def to_ccxt(self) -> dict[str, Any]:
        average = self.cost / self.filled if self.filled > 0 else None
        price = self.price if self.price is not None else average
        fee = {"cost": float(self.fee), "currency": self.fee_currency}
        last = self.last_trade_timestamp
        return {
            "id": self.id,
            "clientOrderId": self.client_order_id,
            "timestamp": self.timestamp,
            "datetime": iso8601(self.timestamp),
            "lastTradeTimestamp": last,
            "lastUpdateTimestamp": last if last is not None else self.timestamp,
            "status": self.status,
            "symbol": self.symbol,
            "type": self.type,
            "timeInForce": self.time_in_force,
            "postOnly": False,
            "reduceOnly": None,
            "side": self.side,
            "price": float(price) if price is not None else None,
            "triggerPrice": None,
            "stopPrice": None,
            "takeProfitPrice": None,
            "stopLossPrice": None,
            "average": float(average) if average is not None else None,
            "amount": float(self.amount),
            "filled": float(self.filled),
            "remaining": float(self.remaining),
            "cost": float(self.cost),
            "fee": fee,
            "fees": [dict(fee)],
            "trades": [dict(t) for t in self.trades],
            "info": {
                "amount": str(self.amount),
                "filled": str(self.filled),
                "cost": str(self.cost),
                "fee": str(self.fee),
                "reason": self.reason,
            },
        }
