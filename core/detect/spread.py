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
from core.detect.opportunity import Opportunity, build_opportunity, new_opportunity_id
from core.detect.usd import UsdRates, quote_currency
from core.settings import ThresholdSettings

# Per venue: (buy multiplier 1 + fee, sell multiplier 1 - fee, fee as a fraction).
_Fee = tuple[float, float, float]
# A usable book in a check: (venue, book, buy multiplier, sell multiplier, fee,
# best ask x buy multiplier, best bid x sell multiplier).
_Entry = tuple[str, OrderBook, float, float, float, float, float]
# Per check: (USD per quote unit, notional cap in quote, min_profit_bps, min_profit_usd,
# expires_at).
_Limits = tuple[float, float, float, float, float]

# Net bps after a threshold-limited slice equals the threshold up to rounding; accept that.
_BPS_TOLERANCE = 1e-7
_RESIDUE = 1e-9  # of the size walked: below it a size is subtraction error, not depth


class SpreadDetector:
    """Finds and sizes cross-venue opportunities in live books (symbol -> venue -> book)."""

    def __init__(
        self,
        books: Mapping[str, Mapping[str, OrderBook]],
        taker_fee_bps: Mapping[str, float],
        thresholds: ThresholdSettings,
        max_levels: int,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = new_opportunity_id,
    ) -> None:
        if max_levels < 1:
            raise ValueError(f"max_levels must be >= 1, got {max_levels}")
        self.books = books
        self.thresholds = thresholds
        self.max_levels = max_levels
        self._clock = clock
        self.new_id = new_id
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
        # Rare path: collect the usable books once more (cheaper than building it every time),
        # keeping only those that can be a buy leg (ask under the best bid anywhere) or a sell
        # leg (bid over the best ask anywhere). Every pair the full product would size is in
        # buys x sells, in the same order.
        # The usability test is the early-out's, so both passes see the same books.
        buys: list[_Entry] = []
        sells: list[_Entry] = []
        for venue, book in venues.items():
            if not book.valid or book.received_at < cutoff:
                continue
            bid = book.best_bid_price
            ask = book.best_ask_price
            if bid is None or ask is None or bid >= ask:
                continue
            fee = fees[venue]
            ask_adj = ask * fee[0]
            bid_adj = bid * fee[1]
            entry = (venue, book, fee[0], fee[1], fee[2], ask_adj, bid_adj)
            if ask_adj < best_bid_adj:
                buys.append(entry)
            if bid_adj > best_ask_adj:
                sells.append(entry)
        return self._pairs(symbol, buys, sells, changed_venue, now)

    def _pairs(
        self,
        symbol: str,
        buys: list[_Entry],
        sells: list[_Entry],
        changed_venue: str | None,
        now: float,
    ) -> list[Opportunity]:
        found: list[Opportunity] = []
        limits: _Limits | None = None
        size = self._size
        for buy in buys:
            ask_adj = buy[5]
            for sell in sells:
                if sell is buy or sell[6] <= ask_adj:
                    continue
                if changed_venue is not None and changed_venue not in (buy[0], sell[0]):
                    continue
                if limits is None:
                    # Once per check: thresholds are read live, the USD rate is computed once.
                    th = self.thresholds
                    rate = self._usd.rate(quote_currency(symbol), now, th.stale_after_ms * 1e-3)
                    if rate is None:
                        return []  # no USD price for the quote: cannot prove min_profit_usd
                    limits = (
                        rate,
                        th.max_notional_usd / rate,
                        th.min_profit_bps,
                        th.min_profit_usd,
                        now + th.opportunity_ttl_s,
                    )
                opportunity = size(symbol, buy, sell, limits, now)
                if opportunity is not None:
                    found.append(opportunity)
        return found

    def _size(  # noqa: C901 - one tight loop over two books; splitting it costs calls per slice
        self, symbol: str, buy: _Entry, sell: _Entry, limits: _Limits, now: float
    ) -> Opportunity | None:
        # Hot path: it runs for every profitable pair on every update, so the walk keeps its
        # state in locals and does per-level work once per level, not per slice. Fee-adjusted
        # prices are computed when a level is entered; cost, proceeds and size are running
        # totals that include the whole current level (what is left on it, a_left / b_left, is
        # taken off at the end); the notional cap shrinks the ask level that reaches it and
        # ends the walk there. A slice above min_bps then costs one comparison and a
        # subtraction; ``bid_net <= ask_thr`` sends the rest to the rare path.
        usd_rate, cap_quote, min_bps, min_usd, expires_at = limits
        buy_mult, sell_mult = buy[2], sell[3]
        thr_mult = buy_mult + min_bps * 1e-4  # ask x thr_mult: the bid_net that earns min_bps
        ask_prices, asks = buy[1].levels(False)
        bid_prices, bids = sell[1].levels(True)
        max_levels = self.max_levels
        a_end = len(ask_prices)  # asks: indexes 0 .. a_end - 1, upward
        if a_end > max_levels:
            a_end = max_levels
        bi = len(bid_prices) - 1  # bids: indexes bi down to b_end, downward
        b_end = bi + 1 - max_levels
        if b_end < 0:
            b_end = 0

        ai = 0
        ask = ask_prices[0]
        a_left = asks[ask]
        cost_in = a_left * ask
        if cost_in >= cap_quote:
            a_left = cap_quote / ask
            cost_in = cap_quote
            a_end = 1  # the cap ends the walk with this level
        size_in = a_left
        ask_thr = ask * thr_mult
        bid = bid_prices[bi]
        b_left = bids[bid]
        proceeds_in = b_left * bid
        bid_net = bid * sell_mult
        while True:
            if bid_net <= ask_thr:
                # Rare: this slice loses money (stop), or its own bps is under min_bps: take
                # only what keeps the average at the threshold, net + margin q >= t (cost + ask q).
                if bid_net <= ask * buy_mult:
                    break
                if bid_net < ask_thr:
                    cost = cost_in - a_left * ask
                    proceeds = proceeds_in - b_left * bid
                    room = (proceeds * sell_mult - cost * thr_mult) / (ask_thr - bid_net)
                    if room < (a_left if a_left <= b_left else b_left):
                        if room > 0.0:
                            a_left -= room
                            b_left -= room
                        break
            if a_left <= b_left:  # the ask level runs out first (or both together)
                b_left -= a_left
                ai += 1
                if ai >= a_end:
                    a_left = 0.0
                    break
                ask = ask_prices[ai]
                a_left = asks[ask]
                cost_in += a_left * ask
                if cost_in >= cap_quote:
                    a_left -= (cost_in - cap_quote) / ask
                    cost_in = cap_quote
                    a_end = ai + 1
                size_in += a_left
                ask_thr = ask * thr_mult
                if b_left:
                    continue
            else:
                a_left -= b_left
            # The bid level is used up.
            bi -= 1
            if bi < b_end:
                b_left = 0.0
                break
            bid = bid_prices[bi]
            b_left = bids[bid]
            proceeds_in += b_left * bid
            bid_net = bid * sell_mult

        size = size_in - a_left
        # The running totals include whole levels and take the untaken part off at the end: a
        # size that is a rounding residue of that subtraction (a billionth of the levels walked)
        # has a cost and a VWAP made of cancellation error, so it is no opportunity.
        if size <= size_in * _RESIDUE:
            return None
        cost = cost_in - a_left * ask
        proceeds = proceeds_in - b_left * bid
        fees = cost * buy[4] + proceeds * sell[4]
        gross = proceeds - cost
        net = gross - fees
        net_bps = net / cost * 1e4
        net_usd = net * usd_rate
        # The level walk compares prices one ulp apart as different; after summing, such a
        # "spread" nets to zero or less, and nothing is worth proposing then.
        if net <= 0.0 or net_bps < min_bps - _BPS_TOLERANCE or net_usd < min_usd:
            return None
        return build_opportunity(
            self.new_id(),
            symbol,
            buy[0],
            sell[0],
            size,
            cost / size,
            proceeds / size,
            gross,
            fees,
            net,
            net_bps,
            net_usd,
            now,
            expires_at,
        )
