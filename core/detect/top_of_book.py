"""Top-of-book spread rows: every symbol x ordered venue pair, gross and net of taker fees.

This is the cheap overview the spreads pane shows (best ask on the buy venue against best bid
on the sell venue); the detector's depth walk decides what is actually tradable.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.book import OrderBook


@dataclass(frozen=True, slots=True)
class SpreadRow:
    symbol: str
    buy_venue: str
    sell_venue: str
    ask: float | None  # best ask on the buy venue
    bid: float | None  # best bid on the sell venue
    gross_bps: float | None  # (bid - ask) / ask
    net_bps: float | None  # after the taker fee on both legs
    usable: bool  # both books usable (fresh, valid, not crossed)


def spread_rows(
    books: dict[str, dict[str, OrderBook]],
    taker_fee_bps: dict[str, float],
    now: float,
    stale_after_s: float,
) -> list[SpreadRow]:
    rows: list[SpreadRow] = []
    for symbol, by_venue in books.items():
        for buy_venue, buy_book in by_venue.items():
            for sell_venue, sell_book in by_venue.items():
                if buy_venue == sell_venue:
                    continue
                ask = buy_book.best_ask_price
                bid = sell_book.best_bid_price
                gross = net = None
                if ask is not None and bid is not None and ask > 0:
                    gross = (bid - ask) / ask * 1e4
                    buy_cost = ask * (1 + taker_fee_bps[buy_venue] / 1e4)
                    sell_proceeds = bid * (1 - taker_fee_bps[sell_venue] / 1e4)
                    net = (sell_proceeds - buy_cost) / ask * 1e4
                usable = buy_book.usable(now, stale_after_s) and sell_book.usable(
                    now, stale_after_s
                )
                rows.append(SpreadRow(symbol, buy_venue, sell_venue, ask, bid, gross, net, usable))
    return rows
