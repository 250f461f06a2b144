"""Order books pane: the selected symbol on every venue side by side, top levels with size
bars, the spread and the age of the last update. A Line-API widget: the strips are rebuilt
only when the books shown change."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from console.state import BOOK_DEPTH, BookSide
from console.widgets.line_table import fit, fmt_price, fmt_size
from core.events import FeedState

HEALTH_MARK = {
    FeedState.LIVE: ("●", "books--live"),
    FeedState.CONNECTING: ("○", "books--warn"),
    FeedState.STALE: ("◌", "books--warn"),
    FeedState.RESYNCING: ("◐", "books--warn"),
    FeedState.DOWN: ("✕", "books--bad"),
}
HEADER_LINES = 2
MIN_COLUMN = 36  # narrower than this, a venue's prices and sizes no longer fit side by side
MIN_DEPTH = 3


def fmt_age(age_s: float | None) -> str:
    if age_s is None:
        return "never"
    if age_s < 10:
        return f"{age_s:.1f}s"
    if age_s < 600:
        return f"{age_s:.0f}s"
    return f"{age_s / 60:.0f}m"


class OrderBooksPane(Widget, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "books--venue",
        "books--header",
        "books--bid",
        "books--ask",
        "books--bid-bar",
        "books--ask-bar",
        "books--live",
        "books--warn",
        "books--bad",
        "books--dim",
    }

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.symbol = ""
        self.sides: tuple[BookSide, ...] = ()
        self._strips: list[Strip] = []
        self._generation = 0
        self._built_for: tuple[int, int, int] | None = None
        self.frames_drawn = 0
        self._styles: dict[str, Style] = {}

    def set_books(self, symbol: str, sides: Sequence[BookSide]) -> None:
        sides = tuple(sides)
        if symbol == self.symbol and sides == self.sides:
            return
        self.symbol, self.sides = symbol, sides
        self._generation += 1
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._built_for = None
        self._styles.clear()

    def _style(self, name: str) -> Style:
        """The widget's style plus a component class's (cached: both are costly to compute).

        Strips carry their own background, so the widget's style is the base of every segment.
        """
        style = self._styles.get(name)
        if style is None:
            base = self.rich_style
            style = base + self.get_component_rich_style(name, partial=True) if name else base
            self._styles[name] = style
        return style

    def _build(self, width: int, height: int) -> list[Strip]:
        """Venues side by side; when they do not fit across, in rows of as many as fit, each
        showing as many levels as the height allows (at most BOOK_DEPTH)."""
        n = max(len(self.sides), 1)
        per_row = max(1, min(n, (width + 1) // (MIN_COLUMN + 1)))
        groups = -(-n // per_row)
        depth = max(MIN_DEPTH, min(BOOK_DEPTH, height // groups - HEADER_LINES))
        col_width = max((width - (per_row - 1)) // per_row, 8)
        gap = Segment(" ", self._style(""))
        strips = []
        for first in range(0, len(self.sides), per_row):
            columns = [
                self._venue_lines(side, col_width, depth)
                for side in self.sides[first : first + per_row]
            ]
            for y in range(HEADER_LINES + depth):
                segments: list[Segment] = []
                for i, column in enumerate(columns):
                    if i:
                        segments.append(gap)
                    segments.extend(column[y])
                strips.append(Strip(segments).adjust_cell_length(width, self._style("")))
        return strips

    def _venue_lines(self, side: BookSide, width: int, depth: int) -> list[list[Segment]]:
        mark, mark_class = HEALTH_MARK.get(side.health, ("?", "books--warn"))
        spread = side.spread_bps
        note = "crossed" if side.crossed else ("" if side.valid else "no book")
        info = note or ("" if spread is None else f"spr {spread:.1f}bps")
        title = f" {side.venue} "
        age = f" {fmt_age(side.age_s)} "
        rest = max(width - len(title) - 1 - len(age), 0)
        lines: list[list[Segment]] = [
            [
                Segment(title, self._style("books--venue")),
                Segment(mark, self._style(mark_class)),
                Segment(age, self._style("books--dim")),
                Segment(fit(info, rest, "right"), self._style("books--bad" if note else "")),
            ]
        ]
        price_w = min(11, max((width - 3) // 3, 6))
        size_w = max((width - 2 * price_w - 3) // 2, 0)
        extra = width - (2 * price_w + 2 * size_w + 3)
        header = (
            fit("size", size_w, "right")
            + " "
            + fit("bid", price_w, "right")
            + " "
            + fit("ask", price_w, "left")
            + " "
            + fit("size", size_w + extra, "left")
        )
        lines.append([Segment(header, self._style("books--header"))])
        max_size = max((s for _, s in side.bids + side.asks), default=0.0)
        bid_style, ask_style = self._style("books--bid"), self._style("books--ask")
        bid_bar, ask_bar = self._style("books--bid-bar"), self._style("books--ask-bar")
        for i in range(depth):
            bid = side.bids[i] if i < len(side.bids) else None
            ask = side.asks[i] if i < len(side.asks) else None
            segs = self._bar_cell(bid, size_w, max_size, bid_bar, right=True)
            segs.append(Segment(" ", self._style("")))
            segs.append(Segment(fit(fmt_price(bid[0]) if bid else "", price_w, "right"), bid_style))
            segs.append(Segment(" ", self._style("")))
            segs.append(Segment(fit(fmt_price(ask[0]) if ask else "", price_w, "left"), ask_style))
            segs.append(Segment(" ", self._style("")))
            segs.extend(self._bar_cell(ask, size_w + extra, max_size, ask_bar, right=False))
            lines.append(segs)
        return lines

    def _bar_cell(
        self,
        level: tuple[float, float] | None,
        width: int,
        max_size: float,
        bar: Style,
        *,
        right: bool,
    ) -> list[Segment]:
        """The size printed over a bar as long as size / largest size shown; bids grow from
        the right (toward the price), asks from the left."""
        if width <= 0:
            return []
        base = self._style("")
        if level is None or max_size <= 0:
            return [Segment(" " * width, base)]
        text = fit(fmt_size(level[1]), width, "right" if right else "left")
        filled = max(1, round(level[1] / max_size * width))
        if right:
            return [Segment(text[: width - filled], base), Segment(text[width - filled :], bar)]
        return [Segment(text[:filled], bar), Segment(text[filled:], base)]

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        key = (width, height, self._generation)
        if self._built_for != key:
            self._strips = self._build(width, height) if self.sides else []
            self._built_for = key
        if y == 0:
            self.frames_drawn += 1
        if not self.sides and y == 0:
            return Strip(
                [Segment(" waiting for books…", self._style("books--dim"))]
            ).adjust_cell_length(width, self._style(""))
        return self._strips[y] if y < len(self._strips) else Strip.blank(width, self._style(""))
