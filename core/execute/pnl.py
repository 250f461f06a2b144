"""Realized PnL of a trade from its actual fills, in Decimal, net of every fee.

    realized = sum(sell costs) - sum(buy costs) - quote fees [+ residual at its own price]

Fees charged in the quote currency are cash and count as they are. Fees charged in the base
currency reduce the base position instead (a buy delivers less, a sell takes more), so their cost
shows up through the position that has to be unwound, not twice; `fees` still reports them,
valued at the order's average price.
A fee in a third currency (an exchange token) cannot be valued here: it is listed in `notes`
and left out of the figure, which says so.

If a residual base position is left (it could not be unwound), it is valued at the average price
of the leg that created it, so the figure is the PnL of the matched part only and the position
itself is reported separately (`base_position`), never hidden in the number. That is also how
dust (a residual below the venue's minimums, e.g. from a buy fee charged in base) is counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from core.execute.trades import ZERO
from core.records import OrderRecord


@dataclass(frozen=True, slots=True)
class Accounting:
    realized_pnl: Decimal
    fees: Decimal  # in quote
    volume: Decimal  # quote notional of all fills
    base_position: Decimal  # base bought minus base sold (fees in base included)
    unwind_cost: Decimal  # what flattening the residual cost versus the price it was taken at
    notes: tuple[str, ...]


def account(orders: Iterable[OrderRecord], base: str, quote: str) -> Accounting:
    bought = sold = buy_cost = sell_cost = fees = cash_fees = ZERO
    unwind_flow = ZERO  # quote cash flow of unwind orders, fees included
    unwind_base = ZERO
    leg_buy = leg_sell = ZERO
    leg_buy_cost = leg_sell_cost = ZERO
    notes: list[str] = []
    for order in orders:
        if order.filled <= 0:
            continue
        cash_fee = fee_base = ZERO
        for currency, amount in ((order.fee_currency, order.fee), *order.other_fees):
            if not amount:
                continue
            if currency in (None, quote):
                cash_fee += amount
            elif currency == base:
                fee_base += amount
            else:
                notes.append(f"fee {amount} {currency} on {order.client_order_id} not valued")
        fees += cash_fee + fee_base * (order.average or ZERO)
        cash_fees += cash_fee
        if order.side == "buy":
            bought += order.filled - fee_base
            buy_cost += order.cost
            flow = -order.cost - cash_fee
        else:
            sold += order.filled + fee_base
            sell_cost += order.cost
            flow = order.cost - cash_fee
        if order.role == "unwind":
            unwind_flow += flow
            unwind_base += order.filled if order.side == "buy" else -order.filled
        elif order.side == "buy":
            leg_buy += order.filled
            leg_buy_cost += order.cost
        else:
            leg_sell += order.filled
            leg_sell_cost += order.cost
    position = bought - sold
    realized = sell_cost - buy_cost - cash_fees
    if position > 0 and leg_buy:
        realized += position * (leg_buy_cost / leg_buy)
    elif position < 0 and leg_sell:
        realized += position * (leg_sell_cost / leg_sell)
    unwind_cost = ZERO
    if unwind_base:
        # The residual was taken at the leg's average; unwinding it turned it into cash.
        if unwind_base < 0 and leg_buy:  # sold a long residual
            unwind_cost = -unwind_base * (leg_buy_cost / leg_buy) - unwind_flow
        elif unwind_base > 0 and leg_sell:  # bought back a short residual
            unwind_cost = -unwind_flow - unwind_base * (leg_sell_cost / leg_sell)
    return Accounting(
        realized_pnl=realized,
        fees=fees,
        volume=buy_cost + sell_cost,
        base_position=position,
        unwind_cost=unwind_cost,
        notes=tuple(notes),
    )
