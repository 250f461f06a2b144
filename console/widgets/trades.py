"""Trades pane: each trade on one line with its legs below it (state, fills, average price,
and for on-chain legs how the transaction went out: public or relay, the target blocks, the
block it landed in) and realized PnL. Used for the active trades and, in the history screen,
the finished ones."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from console.state import LegLine, TradeLine, block_span
from console.widgets.line_table import Cell, Column, LineTable

GOOD_STATES = {"filled", "closed", "done", "completed", "ok"}
BAD_STATES = {
    "failed",
    "unwound",
    "canceled",
    "cancelled",
    "rejected",
    "error",
    "expired",
    "not_included",
}


@dataclass(frozen=True, slots=True)
class TradeRow:
    """A trade line (leg is None) or one of its legs."""

    trade: TradeLine
    leg: LegLine | None = None
    leg_index: int = -1


def _num(value: Decimal | None, places: int = 6) -> str:
    if value is None:
        return "—"
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return text or "0"


def submission_text(leg: LegLine) -> tuple[str, str]:
    """An on-chain leg's way out: `relay 101-103 → 103`, `relay 101-102 ✗`, `public → 57`;
    '' for CEX legs. The class marks landed, missed and still pending."""
    if not leg.submission:
        return "", ""
    blocks = leg.target_blocks
    text = leg.submission
    if blocks:
        text += f" {block_span(blocks)}"
    if leg.landed_block is not None:
        return f"{text} → {leg.landed_block}", "table--good"
    if leg.status in ("not_included", "rejected"):
        return f"{text} ✗", "table--bad"
    return f"{text} …", "table--warn"


def _state_class(state: str) -> str:
    state = state.lower()
    if state in GOOD_STATES:
        return "table--good"
    if state in BAD_STATES:
        return "table--bad"
    return "table--warn"


class TradesPane(LineTable[TradeRow]):
    COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column("what", "Trade / leg", 18, priority=9, flex=True),
        Column("venue", "Venues", 13, priority=8),
        Column("state", "State", 10, priority=9),
        Column("fill", "Filled / amount", 17, "right", priority=7),
        Column("avg", "Avg price", 11, "right", priority=5),
        Column("sent", "Sent / block", 18, priority=6),
        Column("pnl", "PnL", 9, "right", priority=9),
    )
    EMPTY_TEXT = "no trades"

    def set_trades(self, trades: list[TradeLine]) -> None:
        rows: list[TradeRow] = []
        for trade in trades:
            rows.append(TradeRow(trade))
            rows.extend(TradeRow(trade, leg, i) for i, leg in enumerate(trade.legs))
        self.set_rows(rows)

    def row_key(self, row: TradeRow) -> Hashable:
        return (row.trade.id, row.leg_index)

    def row_cells(self, row: TradeRow) -> tuple[Cell, ...]:
        trade, leg = row.trade, row.leg
        if leg is None:
            pnl = trade.realized_pnl
            pnl_class = "" if pnl is None else ("table--good" if pnl >= 0 else "table--bad")
            return (
                (f"{trade.id} {trade.symbol}", ""),
                (f"{trade.buy_venue}→{trade.sell_venue}", ""),
                (trade.state, _state_class(trade.state)),
                ("", ""),
                ("", ""),
                ("", ""),
                ("—" if pnl is None else f"{pnl:+,.2f}", pnl_class),
            )
        side = f" ({leg.side})" if leg.side != leg.role else ""
        market = f" {leg.symbol}" if leg.symbol and leg.symbol != trade.symbol else ""
        return (
            (f"  └ {leg.role}{side}{market}", "table--dim"),
            (leg.venue, "table--dim"),
            (leg.status, _state_class(leg.status)),
            (f"{_num(leg.filled)} / {_num(leg.amount)}", ""),
            (_num(leg.average, 2), ""),
            submission_text(leg),
            ("", ""),
        )

    def row_style(self, row: TradeRow) -> str:
        return "table--dim" if row.leg is not None else ""

    def row_text(self, row: TradeRow) -> str:
        t = row.trade
        return f"{t.id} {t.symbol} {t.buy_venue} {t.sell_venue} {t.state}".lower()
