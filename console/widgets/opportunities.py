"""Opportunities pane: pending opportunities with a live TTL countdown; expired ones leave
(the engine drops them, and the next frame no longer lists them)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar

from console.state import OpportunityLine
from console.widgets.line_table import Cell, Column, LineTable, fmt_price, fmt_size

TTL_WARN_S = 1.0


class OpportunitiesPane(LineTable[OpportunityLine]):
    COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column("symbol", "Symbol / path", 13, priority=9),
        Column("buy", "Buy on", 7, priority=8),
        Column("sell", "Sell on", 7, priority=8),
        Column("size", "Size", 9, "right", priority=7),
        Column("buy_px", "Buy @", 11, "right", priority=3),
        Column("sell_px", "Sell @", 11, "right", priority=3),
        Column("bps", "Net bps", 7, "right", priority=6),
        Column("usd", "Net $", 9, "right", priority=9),
        Column("ttl", "TTL", 5, "right", priority=9),
    )
    EMPTY_TEXT = "no opportunity above the thresholds"

    def row_key(self, row: OpportunityLine) -> Hashable:
        return row.id

    def row_cells(self, row: OpportunityLine) -> tuple[Cell, ...]:
        ttl, o = max(row.ttl_s, 0.0), row.view
        if o.kind == "cycle":  # path, its venue, each hop's side and market, in -> out
            sides = "".join(h[0].upper() for h in o.hops)  # B B S: buy, buy, sell
            head = (
                (o.symbol.rpartition(">")[0], ""),  # the return to the start is implied
                (o.buy_venue, ""),
                (sides, ""),
                (fmt_size(o.size), ""),
                ("in " + fmt_size(o.buy_vwap), ""),
                ("out " + fmt_size(o.sell_vwap), ""),
            )
        else:
            head = (
                (o.symbol, ""),
                (o.buy_venue, ""),
                (o.sell_venue, ""),
                (fmt_size(o.size), ""),
                (fmt_price(o.buy_vwap), ""),
                (fmt_price(o.sell_vwap), ""),
            )
        return (
            *head,
            (f"{o.net_bps:+.1f}", "table--good" if o.net_bps > 0 else "table--bad"),
            (f"{o.net_profit_usd:,.2f}", "table--good" if o.net_profit_usd > 0 else ""),
            (f"{ttl:.1f}s", "table--warn" if ttl < TTL_WARN_S else ""),
        )

    def row_text(self, row: OpportunityLine) -> str:
        o = row.view
        return f"{o.symbol} {o.buy_venue} {o.sell_venue} {o.id}".lower()
