"""Log pane: the engine's events as lines (a toggle). Written once per frame with the lines
that arrived since the last one, never once per event."""

from __future__ import annotations

import time
from collections.abc import Iterable

from rich.text import Text
from textual.widgets import RichLog

from console.state import LogLine

LEVEL_STYLE = {"WARNING": "bold yellow", "ERROR": "bold red", "CRITICAL": "bold red reverse"}


def log_text(line: LogLine) -> Text:
    stamp = time.strftime("%H:%M:%S", time.localtime(line.at))
    text = Text(no_wrap=True)
    text.append(f"{stamp} ", "dim")
    text.append(f"{line.level[:4]:<4} ", LEVEL_STYLE.get(line.level, "dim"))
    text.append(line.text)
    return text


class LogPane(RichLog):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=2_000, wrap=False, markup=False, auto_scroll=True)

    def add_lines(self, lines: Iterable[LogLine]) -> None:
        for line in lines:
            self.write(log_text(line))
