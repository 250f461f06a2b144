"""Spreads pane: every symbol x ordered venue pair with bid/ask, gross and net bps and a
sparkline of net bps; rows above the profit threshold are highlighted; sortable."""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar

from textual.binding import Binding, BindingType

from console.state import SpreadLine
from console.widgets.line_table import Cell, Column, LineTable, fmt_bps, fmt_price, sparkline

SORTS = ("net", "gross", "symbol")


class SpreadsPane(LineTable[SpreadLine]):
    COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column("symbol", "Symbol", 13, priority=9),  # on-chain rows: ETH/USDT=USDC
        Column("buy", "Buy on", 11, priority=8),  # uni-v3-3000
        Column("sell", "Sell on", 11, priority=8),
        Column("ask", "Ask", 11, "right", priority=5),
        Column("bid", "Bid", 11, "right", priority=5),
        Column("gross", "Gross", 6, "right", priority=6),
        Column("net", "Net bps", 8, "right", priority=9),
        Column("trend", "Net bps, last 3 min", 8, priority=4, flex=True),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "cycle_sort", "Sort"),
    ]
    EMPTY_TEXT = "waiting for books…"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.threshold_bps = 0.0
        self.sort = "net"

    def set_threshold(self, bps: float) -> None:
        if bps != self.threshold_bps:
            self.threshold_bps = bps
            self._apply()

    def row_key(self, row: SpreadLine) -> Hashable:
        return row.key

    def row_cells(self, row: SpreadLine) -> tuple[Cell, ...]:
        net_class = ""
        if row.net_bps is not None:
            net_class = "table--good" if row.net_bps > 0 else "table--bad"
        trend_width = self.column_width("trend")
        return (
            (row.symbol, ""),
            (row.buy_venue, ""),
            (row.sell_venue, ""),
            (fmt_price(row.ask), ""),
            (fmt_price(row.bid), ""),
            (fmt_bps(row.gross_bps), ""),
            (fmt_bps(row.net_bps), net_class),
            (sparkline(row.history, trend_width), "table--dim"),
        )

    def row_style(self, row: SpreadLine) -> str:
        if not row.usable:
            return "table--dim"
        if row.net_bps is not None and row.net_bps >= self.threshold_bps:
            return "table--hot"
        return ""

    def row_text(self, row: SpreadLine) -> str:
        return f"{row.symbol} {row.buy_venue} {row.sell_venue}".lower()

    def sort_rows(self, rows: list[SpreadLine]) -> list[SpreadLine]:
        if self.sort == "symbol":
            return sorted(rows, key=lambda r: r.key)
        field = "gross_bps" if self.sort == "gross" else "net_bps"
        # Highest first; rows without a number (no book yet) go last, stably by name.
        return sorted(
            rows,
            key=lambda r: (getattr(r, field) is None, -(getattr(r, field) or 0.0), r.key),
        )

    def header_title(self, column: Column) -> str:
        marks = {"net": "net", "gross": "gross", "symbol": "symbol"}
        return f"{column.title}▼" if marks.get(self.sort) == column.key else column.title

    def header_clicked(self, key: str) -> None:
        if key in SORTS:
            self.set_sort(key)

    def action_cycle_sort(self) -> None:
        self.set_sort(SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)])

    def set_sort(self, sort: str) -> None:
        self.sort = sort
        self._header = None
        self._apply()
        self.refresh()
