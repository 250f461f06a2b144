"""Realized PnL of a cycle trade from its fills, in its start currency, net of every fee.

Every fill moves two currencies (a buy of B/Q: +B, -Q; a sell: -B, +Q) and its fee comes out
of the currency it is charged in. After the hops and any unwinds, the start currency's net flow
is the profit; anything left in another currency (dust, or a residual that could not be
unwound) is valued into the start currency at `value` (the current books) and counted, never
hidden: `residual` lists it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from core.execute.pnl import Accounting
from core.execute.trades import ZERO
from core.records import OrderRecord

Value = Callable[[str, Decimal], Decimal | None]
"""(currency, amount) -> the amount's worth in the start currency, None when unknown."""


@dataclass(frozen=True, slots=True)
class CycleAccounting:
    books: Accounting  # realized_pnl, fees, volume and unwind cost in the start currency
    positions: dict[str, Decimal]  # net flow per currency (start included)
    residual: dict[str, Decimal]  # non-start currencies left over, non-zero only


def account_cycle(orders: Iterable[OrderRecord], start: str, value: Value) -> CycleAccounting:
    flows: dict[str, Decimal] = {}
    fees = volume = unwind_cost = ZERO
    notes: list[str] = []

    def add(currency: str, amount: Decimal) -> None:
        flows[currency] = flows.get(currency, ZERO) + amount

    def worth(currency: str, amount: Decimal) -> Decimal:
        if currency == start:
            return amount
        got = value(currency, amount)
        if got is None:
            notes.append(f"{amount} {currency} could not be valued in {start}")
            return ZERO
        return got

    for order in orders:
        if order.filled <= 0:
            continue
        base, _, quote = order.symbol.partition("/")
        sign = Decimal(1) if order.side == "buy" else Decimal(-1)
        add(base, sign * order.filled)
        add(quote, -sign * order.cost)
        volume += worth(quote, order.cost)
        for currency, amount in ((order.fee_currency or quote, order.fee), *order.other_fees):
            if amount:
                add(currency, -amount)
                fees += worth(currency, amount)
        if order.role == "unwind":
            # What flattening cost against the mid: the currency given up, valued at the
            # books' mid, less what came back net of the fee.
            given, got = (quote, base) if order.side == "buy" else (base, quote)
            given_amount = order.cost if order.side == "buy" else order.filled
            got_amount = order.filled if order.side == "buy" else order.cost
            unwind_cost += (
                worth(given, given_amount)
                - worth(got, got_amount)
                + worth(order.fee_currency or quote, order.fee)
            )
    residual = {c: a for c, a in flows.items() if c != start and a != 0}
    realized = flows.get(start, ZERO) + sum((worth(c, a) for c, a in residual.items()), ZERO)
    books = Accounting(
        realized_pnl=realized,
        fees=fees,
        volume=volume,
        base_position=sum((worth(c, a) for c, a in residual.items()), ZERO),
        unwind_cost=unwind_cost,
        notes=tuple(dict.fromkeys(notes)),
    )
    return CycleAccounting(books, flows, residual)
