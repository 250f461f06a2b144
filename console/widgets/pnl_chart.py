"""Realized PnL over time: the journal's cumulative PnL USD at each finished trade, drawn
with plotext in braille dots; times on the axis in UTC, as `arbdesk history` prints them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from decimal import Decimal

from textual_plotext import PlotextPlot

TICKS = 4


def tick_labels(first: float, last: float, count: int = TICKS) -> tuple[list[float], list[str]]:
    """`count` evenly spaced times from `first` to `last` and their UTC labels: seconds
    within an hour, the date past a day."""
    span = last - first
    form = "%H:%M:%S" if span < 3600 else "%H:%M" if span < 86_400 else "%m-%d %H:%M"
    if span <= 0:
        return [first], [time.strftime(form, time.gmtime(first))]
    step = (last - first) / (count - 1)
    ticks = [first + step * i for i in range(count)]
    return ticks, [time.strftime(form, time.gmtime(t)) for t in ticks]


class PnlChart(PlotextPlot):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.series: tuple[tuple[float, Decimal], ...] = ()
        self._draw()

    def set_series(self, series: Sequence[tuple[float, Decimal]]) -> None:
        series = tuple(series)
        if series != self.series:
            self.series = series
            self._draw()
            self.refresh()

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_figure()  # data, title and ticks: render() sets size and theme again
        if not self.series:
            self.border_title = "Realized PnL: no finished trades in the journal yet"
            return
        xs = [at for at, _ in self.series]
        ys = [float(total) for _, total in self.series]
        last = self.series[-1][1]
        # In the border, not plotext's title, which vanishes once wider than the plot.
        self.border_title = f"Realized PnL over time · {last:+,.2f} USD · times UTC"
        plt.plot(xs, ys, marker="braille", color="green" if last >= 0 else "red")
        plt.xticks(*tick_labels(xs[0], xs[-1]))
