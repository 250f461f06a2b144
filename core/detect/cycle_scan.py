"""Triangular (and longer) cycles within one CEX venue, found on the live books.

Each venue's markets are the edges of its own graph (core.detect.cycles). Cycles stay on one
venue: a hop's output is the next hop's input, so they can only follow each other where the
funds are; a cross-venue cycle would need inventory at every hop, which the two-leg spread
route already covers for its pair.

Per book update, only that book's two hops get a new rate (`on_book`); `scan` re-sums the
cycles through changed hops, sizes each one that beats the threshold at the margin through the
books' depth, and returns the ones whose exact net profit clears both thresholds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from core.book import OrderBook
from core.detect.cycles import (
    Cycle,
    CycleIndex,
    Hop,
    book_hops,
    book_rate,
    enumerate_cycles,
    size_book_cycle,
    walk_books,
)
from core.detect.opportunity import Opportunity, iso_utc, new_opportunity_id
from core.detect.usd import UsdRates
from core.settings import CycleSettings, ThresholdSettings

ARROW = ">"


@dataclass(frozen=True, slots=True)
class CycleLeg:
    """One hop of a sized cycle: spend `amount_in` of `src` for `amount_out` of `dst` (after
    the taker fee) on `symbol` at `venue`, as a `side` order."""

    venue: str
    symbol: str
    side: str  # "buy" (spends the quote) or "sell" (spends the base)
    src: str
    dst: str
    amount_in: float
    amount_out: float

    @property
    def label(self) -> str:
        return f"{self.side} {self.symbol}@{self.venue}"


@dataclass(frozen=True, slots=True)
class CycleOpportunity(Opportunity):
    """A cycle from `start` back to it. The Opportunity fields read: `symbol` the path
    ("USDT>BTC>ETH>USDT"), `buy_venue` / `sell_venue` the venue of the first / last hop,
    `size` and `buy_vwap` the start amount put in, `sell_vwap` what comes back after every
    fee; `gross_profit`, `fees` and `net_profit` in the start currency."""

    start: str = ""
    legs: tuple[CycleLeg, ...] = ()
    kind: ClassVar[str] = "cycle"

    @property
    def key(self) -> tuple[str, str, str]:
        """The loop, whichever currency it starts from: its rotations are one board row."""
        venues = ",".join(sorted({leg.venue for leg in self.legs}))
        return ("cycle", venues, ",".join(sorted(leg.label for leg in self.legs)))

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(leg.symbol for leg in self.legs))

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "path": self.symbol,
            "start": self.start,
            "venue": self.buy_venue,
            "hops": [
                {
                    "venue": leg.venue,
                    "market": leg.symbol,
                    "side": leg.side,
                    "from": leg.src,
                    "to": leg.dst,
                    "amount_in": leg.amount_in,
                    "amount_out": leg.amount_out,
                }
                for leg in self.legs
            ],
            "size": self.size,
            "amount_out": self.sell_vwap,
            "gross_profit": self.gross_profit,
            "fees": self.fees,
            "net_profit": self.net_profit,
            "net_bps": self.net_bps,
            "net_profit_usd": self.net_profit_usd,
            "detected_at": iso_utc(self.detected_at),
            "expires_at": iso_utc(self.expires_at),
        }


def path_label(cycle: Cycle) -> str:
    return ARROW.join([cycle.start, *(h.dst for h in cycle.hops)])


class BookCycleDetector:
    """`books` is the engine's symbol -> venue -> OrderBook; `taker_fee_bps` per venue."""

    def __init__(
        self,
        books: Mapping[str, Mapping[str, OrderBook]],
        taker_fee_bps: Mapping[str, float],
        thresholds: ThresholdSettings,
        settings: CycleSettings,
        *,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = new_opportunity_id,
    ) -> None:
        self.books = books
        self.new_id = new_id
        self.taker_fee_bps = taker_fee_bps
        self.thresholds = thresholds
        self.settings = settings
        self.clock = clock
        self.usd = UsdRates(books)
        self.index = CycleIndex([])
        self._hops: dict[tuple[str, str], tuple[Hop, Hop]] = {}
        self.listed: dict[str, set[str]] = {}
        """Venue -> the symbols its exchange lists (once its markets are loaded): a cycle uses
        only markets the venue really has."""
        self.rebuild()

    def set_listed(self, venue: str, symbols: list[str]) -> None:
        """The venue's markets are loaded: drop the configured symbols it does not list."""
        self.listed[venue] = set(symbols)
        self.rebuild()

    def rebuild(self) -> None:
        """Enumerate the cycles again (start-up; a change of max hops or start currencies)."""
        cycles: list[Cycle] = []
        venues = sorted({v for per in self.books.values() for v in per})
        self._hops = {}
        for venue in venues:
            hops: list[Hop] = []
            listed = self.listed.get(venue)
            for symbol, per in self.books.items():
                if venue in per and (listed is None or symbol in listed):
                    pair = book_hops(venue, symbol)
                    self._hops[(venue, symbol)] = pair
                    hops.extend(pair)
            cycles.extend(
                enumerate_cycles(
                    hops, self.settings.start_currencies, self.settings.max_hops, min_hops=3
                )
            )
        self.index = CycleIndex(cycles)
        for venue, symbol in self._hops:
            self.on_book(venue, symbol)

    @property
    def cycles(self) -> list[Cycle]:
        return self.index.cycles

    def on_book(self, venue: str, symbol: str) -> None:
        """A book changed: its two hops' marginal rates (nothing else is touched)."""
        pair = self._hops.get((venue, symbol))
        if pair is None:
            return
        book = self.books[symbol][venue]
        fee = self.taker_fee_bps.get(venue, 0.0) / 1e4
        now = self.clock()
        usable = book.usable(now, self.thresholds.stale_after_ms / 1000)
        for hop in pair:
            self.index.set_rate(hop.key, book_rate(book, hop, fee) if usable else None)

    def scan(self) -> list[CycleOpportunity]:
        """Cycles touched since the last scan that clear the thresholds after exact sizing."""
        if not self.settings.enabled:
            return []
        best: dict[tuple[str, str, str], CycleOpportunity] = {}
        for cycle, _margin_bps in self.index.profitable(self.settings.min_profit_bps):
            found = self._size(cycle)
            if found is None:
                continue
            # One loop from several start currencies: the one worth most in USD is kept.
            held = best.get(found.key)
            if held is None or found.net_profit_usd > held.net_profit_usd:
                best[found.key] = found
        return list(best.values())

    def _size(self, cycle: Cycle) -> CycleOpportunity | None:
        now = self.clock()
        stale_s = self.thresholds.stale_after_ms / 1000
        usd = self.usd.rate(cycle.start, now, stale_s)
        if usd is None or usd <= 0:
            return None
        books: dict[tuple[str, str], OrderBook] = {}
        for hop in cycle.hops:
            book = self.books[hop.market][hop.venue]
            if not book.usable(now, stale_s):
                return None
            books[(hop.venue, hop.market)] = book
        fees = {v: self.taker_fee_bps.get(v, 0.0) / 1e4 for v in cycle.venues}
        max_in = self.thresholds.max_notional_usd / usd
        sized = size_book_cycle(cycle, books, fees, max_in, unit=max_in * 1e-9)
        if sized is None:
            return None
        amounts = [float(a) for a in sized.amounts]
        net = amounts[-1] - amounts[0]
        bps = net / amounts[0] * 1e4
        if bps < self.settings.min_profit_bps or net * usd < self.thresholds.min_profit_usd:
            return None
        # Gross: the same walk with no fees, so fees = gross - net in the start currency.
        no_fee = dict.fromkeys(fees, 0.0)
        gross_out = walk_books(cycle, books, no_fee, amounts[0])[-1]
        legs = tuple(
            CycleLeg(h.venue, h.market, h.side, h.src, h.dst, amounts[i], amounts[i + 1])
            for i, h in enumerate(cycle.hops)
        )
        return CycleOpportunity(
            id=self.new_id(),
            symbol=path_label(cycle),
            buy_venue=cycle.hops[0].venue,
            sell_venue=cycle.hops[-1].venue,
            size=amounts[0],
            buy_vwap=amounts[0],
            sell_vwap=amounts[-1],
            gross_profit=gross_out - amounts[0],
            fees=gross_out - amounts[-1],
            net_profit=net,
            net_bps=bps,
            net_profit_usd=net * usd,
            detected_at=now,
            expires_at=now + self.thresholds.opportunity_ttl_s,
            start=cycle.start,
            legs=legs,
        )
