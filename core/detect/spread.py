"""CEX-CEX spread detector: buy on one venue's asks, sell into another venue's bids.

For every ordered venue pair (A, B) of a symbol it walks A's asks upward and B's bids downward
in slices (a slice ends where either level ends). Every slice's marginal net profit per unit,
``bid x (1 - fee_B) - ask x (1 + fee_A)``, can only fall as the walk goes deeper, so the size
that maximises net profit is the sum of the slices whose marginal profit is positive. The walk
also stops at ``thresholds.max_notional_usd`` of buy notional (converted to the quote currency)
and after ``max_levels`` levels of either book.

One refinement over "take every profitable slice": if taking a whole slice would pull the
average net bps below ``min_profit_bps``, only the part that keeps the average at the threshold
is taken. Because the average can only fall along the walk, this changes nothing when the
profit-maximising size already meets the threshold, and otherwise it finds the largest trade
that does, instead of dropping an opportunity whose first levels are good.

Never sized from a book that is not usable (invalid, crossed, a side empty, or older than
``thresholds.stale_after_ms``). ``thresholds`` is read live on every check: the console edits the
same ThresholdSettings object at run time and the next check uses the new values. Fees and
``max_levels`` are plain attributes too; use :meth:`set_fees` to change fees.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

from core.book import OrderBook
from core.detect.model import Opportunity, new_opportunity_id
from core.detect.usd import UsdRates, quote_currency
from core.settings import ThresholdSettings

# Per venue: (buy multiplier 1 + fee, sell multiplier 1 - fee, fee as a fraction).
_Fee = tuple[float, float, float]
# A usable book in a check: (venue, book, buy multiplier, sell multiplier, fee).
_Entry = tuple[str, OrderBook, float, float, float]

# Net bps after a threshold-limited slice equals the threshold up to rounding; accept that.
_BPS_TOLERANCE = 1e-7


class SpreadDetector:
    """Finds and sizes cross-venue opportunities in live books (symbol -> venue -> book)."""

    def __init__(
        self,
        books: Mapping[str, Mapping[str, OrderBook]],
        taker_fee_bps: Mapping[str, float],
        thresholds: ThresholdSettings,
        max_levels: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_levels < 1:
            raise ValueError(f"max_levels must be >= 1, got {max_levels}")
        self.books = books
        self.thresholds = thresholds
        self.max_levels = max_levels
        self._clock = clock
        self._usd = UsdRates(books)
        self._fees: dict[str, _Fee] = {}
        self.set_fees(taker_fee_bps)

    def set_fees(self, taker_fee_bps: Mapping[str, float]) -> None:
        """Replace the taker fee table (venue -> bps)."""
        fees = {}
        for venue, bps in taker_fee_bps.items():
            if not 0.0 <= bps < 10_000.0:
                raise ValueError(f"taker fee for {venue!r} must be in [0, 10000) bps, got {bps!r}")
            fee = bps * 1e-4
            fees[venue] = (1.0 + fee, 1.0 - fee, fee)
        self._fees = fees

    # -- public checks ---------------------------------------------------------------------

    def check_symbol(self, symbol: str, changed_venue: str | None = None) -> list[Opportunity]:
        """Re-check one symbol after its book on `changed_venue` changed (None: every pair)."""
        venues = self.books.get(symbol)
        if not venues:
            return []
        now = self._clock()
        cutoff = now - self.thresholds.stale_after_ms * 1e-3
        return self._check(symbol, venues, changed_venue, now, cutoff)

    def sweep(self) -> list[Opportunity]:
        """Check every symbol and every ordered venue pair."""
        now = self._clock()
        cutoff = now - self.thresholds.stale_after_ms * 1e-3
        found: list[Opportunity] = []
        check = self._check
        for symbol, venues in self.books.items():
            if len(venues) > 1:
                found += check(symbol, venues, None, now, cutoff)
        return found

    # -- internals -------------------------------------------------------------------------

    def _check(
        self,
        symbol: str,
        venues: Mapping[str, OrderBook],
        changed_venue: str | None,
        now: float,
        cutoff: float,
    ) -> list[Opportunity]:
        # Early out: the best fee-adjusted bid anywhere against the best fee-adjusted ask.
        # A venue's own book is never crossed here, so including it costs no false positive.
        # Books are read from the mapping on every check, so a feed may replace a book object.
        fees = self._fees
        best_bid_adj = 0.0
        best_ask_adj = math.inf
        for venue, book in venues.items():
            if not book.valid or book.received_at < cutoff:
                continue
            bid = book.best_bid_price
            ask = book.best_ask_price
            if bid is None or ask is None or bid >= ask:
                continue
            fee = fees.get(venue)
            if fee is None:
                raise ValueError(f"no taker fee configured for venue {venue!r}")
            bid *= fee[1]
            ask *= fee[0]
            if bid > best_bid_adj:
                best_bid_adj = bid
            if ask < best_ask_adj:
                best_ask_adj = ask
        if best_bid_adj <= best_ask_adj:
            return []
        # Rare path: collect the usable books once more (cheaper than building it every time).
        live: list[_Entry] = []
        for venue, book in venues.items():
            if book.usable(now, now - cutoff):
                fee = fees[venue]
                live.append((venue, book, fee[0], fee[1], fee[2]))
        return self._pairs(symbol, live, changed_venue, now, best_bid_adj)

    def _pairs(
        self,
        symbol: str,
        live: list[_Entry],
        changed_venue: str | None,
        now: float,
        best_bid_adj: float,
    ) -> list[Opportunity]:
        found: list[Opportunity] = []
        rate: float | None = None
        for buy in live:
            ask_adj = buy[1].best_ask_price * buy[2]  # type: ignore[operator]  # live: not None
            if ask_adj >= best_bid_adj:
                continue
            for sell in live:
                if sell is buy or sell[1].best_bid_price * sell[3] <= ask_adj:  # type: ignore[operator]
                    continue
                if changed_venue is not None and changed_venue not in (buy[0], sell[0]):
                    continue
                if rate is None:
                    th = self.thresholds
                    rate = self._usd.rate(quote_currency(symbol), now, th.stale_after_ms * 1e-3)
                    if rate is None:
                        return []  # no USD price for the quote: cannot prove min_profit_usd
                opportunity = self._size(symbol, buy, sell, rate, now)
                if opportunity is not None:
                    found.append(opportunity)
        return found

    def _size(  # noqa: C901 - one tight loop over two books; splitting it costs calls per slice
        self, symbol: str, buy: _Entry, sell: _Entry, usd_rate: float, now: float
    ) -> Opportunity | None:
        th = self.thresholds
        min_bps = th.min_profit_bps
        t = min_bps * 1e-4
        cap_quote = th.max_notional_usd / usd_rate
        max_levels = self.max_levels
        buy_mult, sell_mult = buy[2], sell[3]
        ask_prices, asks = buy[1].levels(False)
        bid_prices, bids = sell[1].levels(True)
        n_asks = min(len(ask_prices), max_levels)
        n_bids = min(len(bid_prices), max_levels)

        ai, bi = 0, 1  # ask index from the bottom, bid index from the top (negative)
        ask = ask_prices[0]
        bid = bid_prices[-1]
        ask_left = asks[ask]
        bid_left = bids[bid]
        size = cost = proceeds = 0.0
        while True:
            margin = bid * sell_mult - ask * buy_mult  # net profit per unit of this slice
            if margin <= 0.0:
                break
            qty = ask_left if ask_left <= bid_left else bid_left
            spend = qty * ask
            if cost + spend >= cap_quote or margin < t * ask:
                # Rare path: the notional cap, or a slice whose own bps is under the threshold
                # (take only what keeps the average at the threshold). Either may end the walk.
                limit = (cap_quote - cost) / ask
                if margin < t * ask:
                    net = proceeds * sell_mult - cost * buy_mult
                    room = (net - t * cost) / (t * ask - margin)
                    if room < limit:
                        limit = room
                if limit < qty:
                    if limit > 0.0:
                        size += limit
                        cost += limit * ask
                        proceeds += limit * bid
                    break
            size += qty
            cost += spend
            proceeds += qty * bid
            if qty == ask_left:
                ai += 1
                if ai >= n_asks:
                    break
                ask = ask_prices[ai]
                ask_left = asks[ask]
            else:
                ask_left -= qty
            if qty == bid_left:
                bi += 1
                if bi > n_bids:
                    break
                bid = bid_prices[-bi]
                bid_left = bids[bid]
            else:
                bid_left -= qty
        if size <= 0.0:
            return None

        fees = cost * buy[4] + proceeds * sell[4]
        gross = proceeds - cost
        net = gross - fees
        net_bps = net / cost * 1e4
        net_usd = net * usd_rate
        if net_bps < min_bps - _BPS_TOLERANCE or net_usd < th.min_profit_usd:
            return None
        return Opportunity(
            id=new_opportunity_id(),
            symbol=symbol,
            buy_venue=buy[0],
            sell_venue=sell[0],
            size=size,
            buy_vwap=cost / size,
            sell_vwap=proceeds / size,
            gross_profit=gross,
            fees=fees,
            net_profit=net,
            net_bps=net_bps,
            net_profit_usd=net_usd,
            detected_at=now,
            expires_at=now + th.opportunity_ttl_s,
        )
