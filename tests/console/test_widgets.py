"""Pane rendering from plain data: strips, caching, column dropping, sorting, sparklines."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from textual.app import App, ComposeResult

import console.app
from console.state import BookSide, ConsoleState, OpportunityLine, SpreadLine
from console.widgets.line_table import fit, fmt_price, sparkline
from console.widgets.opportunities import OpportunitiesPane
from console.widgets.order_books import OrderBooksPane, fmt_age
from console.widgets.spreads import SpreadsPane
from console.widgets.status_bar import status_text
from console.widgets.trades import submission_text
from core.door import LegSummary, OpportunityView
from core.events import FeedState
from tests.console.fake_engine import Clock


def spread(symbol: str, net: float | None, usable: bool = True) -> SpreadLine:
    return SpreadLine(symbol, "a", "b", 100.0, 100.1, 10.0, net, usable, (1.0, 2.0, 3.0))


def opp(oid: str, ttl: float) -> OpportunityLine:
    view = OpportunityView(oid, "BTC/USDT", "a", "b", 0.5, 100.0, 100.2, 4.2, 3.5, 1_000.0 + ttl)
    return OpportunityLine(view, ttl)


class Harness(App[None]):
    CSS_PATH = str(Path(console.app.__file__).with_name("app.tcss"))

    def __init__(self, widget: object) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget  # type: ignore[misc]


def lines(widget: object, count: int) -> list[str]:
    return [widget.render_line(y).text for y in range(count)]  # type: ignore[attr-defined]


def test_sparkline_and_formatting() -> None:
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8) == "▁▂▃▄▅▆▇█"
    assert sparkline([5, 5, 5], 10) == "▄▄▄"
    assert len(sparkline(list(range(100)), 12)) == 12
    assert sparkline([], 5) == ""
    assert fit("abcdef", 4, "left") == "abc…"
    assert fit("ab", 4, "right") == "  ab"
    assert fmt_price(65000.123) == "65,000.12"
    assert fmt_price(0.0492) == "0.049200"
    assert fmt_age(None) == "never" and fmt_age(2.34) == "2.3s" and fmt_age(900) == "15m"


async def test_spreads_sort_and_highlight() -> None:
    pane = SpreadsPane()
    async with Harness(pane).run_test(size=(100, 10)):
        pane.set_threshold(5.0)
        pane.set_rows([spread("X/Y", 1.0), spread("Z/Y", 7.0), spread("Q/Y", None)])
        text = lines(pane, 4)
        assert "Net bps▼" in text[0]
        assert [t.split()[0] for t in text[1:4]] == ["Z/Y", "X/Y", "Q/Y"]
        assert pane.row_style(spread("Z/Y", 7.0)) == "table--hot"
        assert pane.row_style(spread("Z/Y", 7.0, usable=False)) == "table--dim"
        pane.action_cycle_sort()
        pane.action_cycle_sort()  # symbol
        assert [t.split()[0] for t in lines(pane, 4)[1:4]] == ["Q/Y", "X/Y", "Z/Y"]


async def test_line_table_reuses_unchanged_strips() -> None:
    pane = OpportunitiesPane()
    async with Harness(pane).run_test(size=(100, 10)):
        pane.set_rows([opp("o1", 3.0), opp("o2", 2.0)])
        first = pane.render_line(1)
        pane.set_rows([opp("o1", 3.0), opp("o2", 1.0)])
        assert pane.render_line(1 + 1) is not None
        pane.move_cursor_to(1)
        assert pane._strips["o1"] is pane._strips.get("o1")  # kept
        assert "3.0s" in first.text
        assert pane.selected_key == "o2"
        pane.set_rows([opp("o2", 0.5)])  # o1 left: the cursor stays on o2
        assert pane.selected_key == "o2" and pane.cursor_row == 0
        assert "o1" not in pane._strips


async def test_narrow_table_drops_low_priority_columns() -> None:
    pane = OpportunitiesPane()
    async with Harness(pane).run_test(size=(60, 6)):
        pane.set_rows([opp("o1", 3.0)])
        header = pane.render_line(0).text
        assert "TTL" in header and "Net $" in header
        assert "Buy @" not in header
        assert len(header) == 60


async def test_order_books_side_by_side_with_bars() -> None:
    pane = OrderBooksPane()
    side = BookSide(
        "simex",
        ((100.0, 2.0), (99.0, 1.0)),
        ((101.0, 4.0),),
        0.4,
        True,
        False,
        FeedState.LIVE,
    )
    other = BookSide("simbit", (), (), None, False, False, FeedState.DOWN)
    async with Harness(pane).run_test(size=(120, 14)):
        pane.set_books("BTC/USDT", [side, other])
        text = lines(pane, 4)
        assert "simex" in text[0] and "simbit" in text[0] and "no book" in text[0]
        assert "0.4s" in text[0] and "never" in text[0]
        assert "100.0000" in text[2] and "101.0000" in text[2]
        # The largest size shown (4.0) gets the full bar.
        bars = [s for s in pane.render_line(2) if s.style and s.style.bgcolor]
        assert bars


def test_status_text_marks_live_and_kill() -> None:
    state = ConsoleState(clock=Clock(), mode="live", killed=True, breaker="OPEN")
    state.pnl_today_usd = Decimal("-3.5")
    text = status_text(state, lambda name: __import__("rich.style").style.Style())
    assert text.plain.startswith(" LIVE ")
    assert "KILLED" in text.plain and "breaker OPEN" in text.plain and "-3.50" in text.plain


def test_status_text_compact_fits_small_terminals() -> None:
    from rich.style import Style

    from console.state import VenueLine

    state = ConsoleState(clock=Clock(), mode="sim")
    state.venue_lines = [
        VenueLine("simex", FeedState.LIVE, 0.2),
        VenueLine("simbit", FeedState.LIVE, 0.5),
        VenueLine("simkra", FeedState.STALE, 4.0),
    ]
    full = status_text(state, lambda _n: Style())
    short = status_text(state, lambda _n: Style(), compact=True)
    assert full.cell_len > 80 >= short.cell_len
    assert "simkra◌ 4.0s" in short.plain and "0.2s" not in short.plain


async def test_spreads_header_click_sorts() -> None:
    pane = SpreadsPane()
    async with Harness(pane).run_test(size=(100, 10)) as pilot:
        pane.set_rows([spread("B/Y", 1.0), spread("A/Y", 7.0)])
        await pilot.click(SpreadsPane, offset=(2, 0))  # the Symbol title
        assert pane.sort == "symbol"
        assert [t.split()[0] for t in lines(pane, 3)[1:3]] == ["A/Y", "B/Y"]
        await pilot.click(SpreadsPane, offset=(2, 2))  # a row: selects it
        assert pane.selected_key == ("B/Y", "a", "b")


def test_on_chain_legs_show_how_they_went_out_and_where_they_landed() -> None:
    def leg(
        status: str,
        submission: str = "",
        target_blocks: tuple[int, ...] = (),
        landed_block: int | None = None,
    ) -> LegSummary:
        amount, none = Decimal(1), Decimal(0)
        return LegSummary(
            "buy",
            "uni-v2",
            "buy",
            amount,
            none,
            None,
            status,
            "WETH/USDC",
            submission,
            target_blocks,
            landed_block,
        )

    assert submission_text(leg("closed")) == ("", "")  # a CEX leg
    landed = leg("closed", submission="relay", target_blocks=(101, 102), landed_block=102)
    assert submission_text(landed) == ("relay 101-102 → 102", "table--good")
    missed = leg("not_included", submission="relay", target_blocks=(101, 102, 103))
    assert submission_text(missed) == ("relay 101-103 ✗", "table--bad")
    pending = leg("open", submission="relay", target_blocks=(101,))
    assert submission_text(pending) == ("relay 101 …", "table--warn")
    public = leg("closed", submission="public", landed_block=57)
    assert submission_text(public) == ("public → 57", "table--good")
