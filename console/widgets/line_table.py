"""A read-only table on Textual's Line API: a row is a cached `Strip`, redrawn only when its
cells change.

`DataTable` re-renders every cell on any change (25-40 ms a frame for 20x6 here); this draws a
frame by comparing a few tuples and re-using strips, well under a millisecond. Subclasses say
which columns exist and turn a row object into cells; the table does layout (dropping
low-priority columns when narrow), the cursor, scrolling, filtering and header-click sorting.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

RowT = TypeVar("RowT")


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    width: int
    align: str = "left"  # left | right
    priority: int = 0  # higher survives longer when the pane is narrow
    flex: bool = False  # takes the width left over (one per table)


# A cell: its text and the component class that styles it ("" = the row's style).
Cell = tuple[str, str]


def fit(text: str, width: int, align: str) -> str:
    if len(text) > width:
        return text[: max(width - 1, 0)] + "…" if width > 1 else text[:width]
    return text.rjust(width) if align == "right" else text.ljust(width)


class LineTable(ScrollView, Generic[RowT], can_focus=True):
    """Rows of `RowT` drawn as cached strips under a one-line header."""

    COLUMNS: ClassVar[tuple[Column, ...]] = ()
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "table--header",
        "table--cursor",
        "table--cursor-blurred",
        "table--dim",
        "table--good",
        "table--bad",
        "table--hot",
        "table--warn",
        "table--empty",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor(-10)", show=False),
        Binding("pagedown", "cursor(10)", show=False),
        Binding("home", "cursor_to(0)", show=False),
        Binding("end", "cursor_to(-1)", show=False),
    ]
    EMPTY_TEXT: ClassVar[str] = "nothing yet"

    @dataclass
    class CursorMoved(Message):
        """The highlighted row changed (key None: the table is empty)."""

        table: LineTable[Any]
        key: Hashable | None

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._all_rows: list[RowT] = []
        self._rows: list[RowT] = []
        self._keys: list[Hashable] = []
        self._cells: dict[Hashable, tuple[Cell, ...]] = {}
        self._strips: dict[Hashable, Strip] = {}
        self._header: Strip | None = None
        self._layout: tuple[int, tuple[Column, ...], tuple[int, ...]] | None = None
        self._filter = ""
        self.cursor_row = 0
        self.selected_key: Hashable | None = None
        self.frames_drawn = 0
        self._base: Style | None = None
        self._styles: dict[str, Style] = {}

    # -- what subclasses provide -----------------------------------------------------------

    def row_key(self, row: RowT) -> Hashable:
        raise NotImplementedError

    def row_cells(self, row: RowT) -> tuple[Cell, ...]:
        """One cell per column in COLUMNS order."""
        raise NotImplementedError

    def row_style(self, row: RowT) -> str:
        """The component class for the whole row ("" for none)."""
        return ""

    def row_text(self, row: RowT) -> str:
        """What `/` filters on."""
        return " ".join(text for text, _ in self.row_cells(row)).lower()

    def sort_rows(self, rows: list[RowT]) -> list[RowT]:
        return rows

    # -- data in ---------------------------------------------------------------------------

    def set_rows(self, rows: Sequence[RowT]) -> None:
        """Replace the rows; only rows whose cells changed get a new strip."""
        self._all_rows = list(rows)
        self._apply()

    def set_filter(self, text: str) -> None:
        self._filter = text.strip().lower()
        self._apply()

    def _apply(self) -> None:
        rows = self._all_rows
        if self._filter:
            rows = [r for r in rows if self._filter in self.row_text(r)]
        rows = self.sort_rows(list(rows))
        keys = [self.row_key(r) for r in rows]
        changed = keys != self._keys
        cells: dict[Hashable, tuple[Cell, ...]] = {}
        for key, row in zip(keys, rows, strict=True):
            new = (*self.row_cells(row), ("", self.row_style(row)))
            if self._cells.get(key) != new:
                self._strips.pop(key, None)
                changed = True
            cells[key] = new
        self._cells = cells
        for gone in set(self._strips) - set(cells):
            del self._strips[gone]
        self._rows, self._keys = rows, keys
        self._restore_cursor()
        self.virtual_size = Size(self.size.width, len(rows) + 1)
        if changed:
            self.refresh()

    def _restore_cursor(self) -> None:
        if self.selected_key in self._cells:
            self.cursor_row = self._keys.index(self.selected_key)
        else:
            self.cursor_row = min(self.cursor_row, max(len(self._rows) - 1, 0))
            self._select(self.cursor_row)

    def _select(self, index: int) -> None:
        key = self._keys[index] if 0 <= index < len(self._keys) else None
        if key != self.selected_key:
            self.selected_key = key
            self.post_message(self.CursorMoved(self, key))

    @property
    def selected_row(self) -> RowT | None:
        if 0 <= self.cursor_row < len(self._rows):
            return self._rows[self.cursor_row]
        return None

    @property
    def row_count(self) -> int:
        return len(self._rows)

    # -- cursor ----------------------------------------------------------------------------

    def action_cursor(self, step: int) -> None:
        self.move_cursor_to(self.cursor_row + step)

    def action_cursor_to(self, index: int) -> None:
        self.move_cursor_to(index if index >= 0 else len(self._rows) - 1)

    def move_cursor_to(self, index: int) -> None:
        if not self._rows:
            return
        old = self.cursor_row
        self.cursor_row = max(0, min(index, len(self._rows) - 1))
        self._select(self.cursor_row)
        self._scroll_to_cursor()
        self.refresh_lines(old + 1)
        self.refresh_lines(self.cursor_row + 1)

    def _scroll_to_cursor(self) -> None:
        visible = max(self.scrollable_content_region.height - 1, 1)
        top = int(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False)

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            self._header_clicked(event.x + int(self.scroll_x))
        else:
            self.move_cursor_to(event.y - 1 + int(self.scroll_y))

    def _header_clicked(self, x: int) -> None:
        _, columns, widths = self._columns_for(self.size.width)
        edge = 0
        for column, width in zip(columns, widths, strict=True):
            edge += width + 1
            if x < edge:
                self.header_clicked(column.key)
                return

    def header_clicked(self, key: str) -> None:
        """A click on a column title (sortable tables override this)."""

    # -- drawing ---------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        # A theme change restyles every component class: drop every cached strip.
        super().notify_style_update()
        self._strips.clear()
        self._header = None
        self._base = None
        self._styles.clear()

    def on_resize(self, event: events.Resize) -> None:
        self._strips.clear()
        self._header = None
        # The content width: the event's size includes a border, which would add a scrollbar.
        self.virtual_size = Size(self.size.width, len(self._rows) + 1)

    def _columns_for(self, width: int) -> tuple[int, tuple[Column, ...], tuple[int, ...]]:
        if self._layout is not None and self._layout[0] == width:
            return self._layout
        columns = list(self.COLUMNS)
        # Drop the lowest-priority columns until the fixed widths fit.
        while len(columns) > 1 and sum(c.width + 1 for c in columns) - 1 > width:
            columns.remove(min(columns, key=lambda c: c.priority))
        spare = max(width - (sum(c.width + 1 for c in columns) - 1), 0)
        widths = tuple(c.width + (spare if c.flex else 0) for c in columns)
        self._layout = (width, tuple(columns), widths)
        return self._layout

    def column_width(self, key: str) -> int:
        """The drawn width of a column now (0 when dropped), for cells that fill their column."""
        _, columns, widths = self._columns_for(self.size.width)
        for column, width in zip(columns, widths, strict=True):
            if column.key == key:
                return width
        return 0

    @property
    def base_style(self) -> Style:
        """The widget's own style (cached: `rich_style` walks every ancestor on each call)."""
        if self._base is None:
            self._base = self.rich_style
        return self._base

    def _style(self, name: str) -> Style:
        if not name:
            return Style()
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(name, partial=True)
        return style

    def _build_strip(self, cells: tuple[Cell, ...], width: int) -> Strip:
        *row_cells, (_, row_class) = cells
        # Strips carry their own background: the widget's style is the base of every cell.
        base = self.base_style + self._style(row_class)
        _, columns, widths = self._columns_for(width)
        by_key = {c.key: i for i, c in enumerate(self.COLUMNS)}
        segments = []
        for n, (column, col_width) in enumerate(zip(columns, widths, strict=True)):
            text, cell_class = row_cells[by_key[column.key]]
            style = base + self._style(cell_class) if cell_class else base
            segments.append(Segment(fit(text, col_width, column.align), style))
            if n < len(columns) - 1:
                segments.append(Segment(" ", base))
        return Strip(segments).adjust_cell_length(width, base)

    def _header_strip(self, width: int) -> Strip:
        if self._header is None or self._header.cell_length != width:
            _, columns, widths = self._columns_for(width)
            title_cells = tuple((self.header_title(c), "") for c in columns)
            style = self.base_style + self._style("table--header")
            text = " ".join(
                fit(t, w, c.align)
                for (t, _), w, c in zip(title_cells, widths, columns, strict=True)
            )
            self._header = Strip([Segment(text, style)]).adjust_cell_length(width, style)
        return self._header

    def header_title(self, column: Column) -> str:
        return column.title

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:
            self.frames_drawn += 1
            return self._header_strip(width)
        index = y - 1 + scroll_y
        if index >= len(self._rows):
            if index == 0 and not self._rows:
                style = self.base_style + self._style("table--empty")
                return Strip([Segment(f" {self.EMPTY_TEXT}", style)]).adjust_cell_length(
                    width, self.base_style
                )
            return Strip.blank(width, self.base_style)
        key = self._keys[index]
        strip = self._strips.get(key)
        if strip is None or strip.cell_length != width:
            strip = self._strips[key] = self._build_strip(self._cells[key], width)
        if index == self.cursor_row:
            name = "table--cursor" if self.has_focus else "table--cursor-blurred"
            # Applied over the cells' own styles, so the cursor shows on every theme.
            strip = Strip(Segment.apply_style(iter(strip), None, self._style(name)), width)
        return strip.crop(scroll_x, scroll_x + width)

    def on_focus(self) -> None:
        self.refresh_lines(self.cursor_row + 1)

    def on_blur(self) -> None:
        self.refresh_lines(self.cursor_row + 1)


def sparkline(values: Sequence[float], width: int, *, floor: float | None = None) -> str:
    """Values as block characters, newest at the right, scaled to their own range."""
    if width <= 0:
        return ""
    values = list(values)[-width:]
    if not values:
        return ""
    low = min(values) if floor is None else min(min(values), floor)
    high = max(values)
    ticks = "▁▂▃▄▅▆▇█"
    if high - low < 1e-12:
        return ticks[3] * len(values)
    scale = (len(ticks) - 1) / (high - low)
    return "".join(ticks[int((v - low) * scale)] for v in values)


def fmt_price(price: float | None) -> str:
    if price is None:
        return "—"
    if price >= 1000:
        return f"{price:,.2f}"
    if price >= 1:
        return f"{price:.4f}"
    return f"{price:.6f}"


def fmt_size(size: float) -> str:
    if size >= 1000:
        return f"{size:,.0f}"
    if size >= 10:
        return f"{size:.2f}"
    return f"{size:.4f}"


def fmt_bps(bps: float | None) -> str:
    return "—" if bps is None else f"{bps:+.1f}"
