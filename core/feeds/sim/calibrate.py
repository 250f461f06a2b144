"""Measure how often the sim market offers net-profitable cross-venue trades.

Used by the calibration test and bench/bench_sim.py to check that, on default settings,
opportunities come several times a minute but are absent most of the time. This is a plain
reference scan (every symbol, every ordered venue pair, every tick), not the core detector.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.feeds.sim.depth import Level
from core.feeds.sim.market import SimMarket
from core.settings import ThresholdSettings


@dataclass(frozen=True, slots=True)
class PairProfit:
    """Best trade buying on A's asks and selling into B's bids, after both taker fees."""

    size: float
    buy_cost: float
    """Quote spent on the buy leg, fee included."""
    profit: float
    """Net profit in the quote currency."""

    @property
    def net_bps(self) -> float:
        return self.profit / self.buy_cost * 1e4 if self.buy_cost > 0 else 0.0


def pair_profit(
    asks: list[Level], bids: list[Level], fee_buy: float, fee_sell: float, max_quote: float
) -> PairProfit:
    """Walk both books while the next unit still earns money, up to `max_quote` of buy notional.

    Marginal profit only falls as we walk, so stopping at the first loss gives the maximum.
    """
    i = j = 0
    ask_left = asks[0][1] if asks else 0.0
    bid_left = bids[0][1] if bids else 0.0
    size = notional = cost = profit = 0.0
    while i < len(asks) and j < len(bids):
        ask, bid = asks[i][0], bids[j][0]
        margin = bid * (1 - fee_sell) - ask * (1 + fee_buy)
        if margin <= 0:
            break
        take = min(ask_left, bid_left, (max_quote - notional) / ask)
        if take <= 0:
            break
        size += take
        notional += take * ask
        cost += take * ask * (1 + fee_buy)
        profit += take * margin
        ask_left -= take
        bid_left -= take
        if ask_left <= 1e-12:
            i += 1
            ask_left = asks[i][1] if i < len(asks) else 0.0
        if bid_left <= 1e-12:
            j += 1
            bid_left = bids[j][1] if j < len(bids) else 0.0
    return PairProfit(size, cost, profit)


OpportunityKey = tuple[str, str, str]  # (symbol, buy venue, sell venue)


def opportunities_now(market: SimMarket, thresholds: ThresholdSettings) -> set[OpportunityKey]:
    """Every (symbol, buy venue, sell venue) meeting both thresholds in the current books."""
    fees = {v.name: v.taker_fee_bps * 1e-4 for v in market.venues}
    found: set[OpportunityKey] = set()
    symbols = sorted({s for v in market.venues for s in v.symbols})
    for symbol in symbols:
        quote = symbol.partition("/")[2]
        quote_usd = market.usd_price(quote)
        max_quote = thresholds.max_notional_usd / quote_usd
        names = [v.name for v in market.venues if symbol in v.symbols]
        for buy in names:
            asks = market.book(buy, symbol).asks
            for sell in names:
                if sell == buy:
                    continue
                bids = market.book(sell, symbol).bids
                if not asks or not bids:
                    continue
                if bids[0][0] * (1 - fees[sell]) <= asks[0][0] * (1 + fees[buy]):
                    continue  # the common case: the touch does not even cover the fees
                best = pair_profit(asks, bids, fees[buy], fees[sell], max_quote)
                if (
                    best.profit > 0
                    and best.net_bps >= thresholds.min_profit_bps
                    and best.profit * quote_usd >= thresholds.min_profit_usd
                ):
                    found.add((symbol, buy, sell))
    return found


@dataclass(slots=True)
class OpportunityStats:
    """What a scan of simulated time saw."""

    ticks: int = 0
    ticks_with_opportunity: int = 0
    episodes: int = 0
    """Distinct opportunities: a key meeting the thresholds after at least `gap_ticks` ticks
    in which it did not (so a quote flickering around the threshold counts once)."""
    episodes_per_minute: list[int] = field(default_factory=list)

    @property
    def busy_fraction(self) -> float:
        """Share of ticks where at least one opportunity existed."""
        return self.ticks_with_opportunity / self.ticks if self.ticks else 0.0


def scan(
    market: SimMarket, minutes: int, thresholds: ThresholdSettings, gap_s: float = 0.5
) -> OpportunityStats:
    """Step `market` through `minutes` simulated minutes, counting opportunity episodes."""
    stats = OpportunityStats()
    ticks_per_minute = round(60_000 / market.settings.tick_ms)
    gap_ticks = max(1, round(gap_s * 1000 / market.settings.tick_ms))
    last_seen: dict[OpportunityKey, int] = {k: 0 for k in opportunities_now(market, thresholds)}
    for _ in range(minutes):
        count = 0
        for _ in range(ticks_per_minute):
            market.step()
            stats.ticks += 1
            now = opportunities_now(market, thresholds)
            for key in now:
                seen = last_seen.get(key)
                if seen is None or stats.ticks - seen > gap_ticks:
                    count += 1
                last_seen[key] = stats.ticks
            stats.ticks_with_opportunity += bool(now)
        stats.episodes += count
        stats.episodes_per_minute.append(count)
    return stats
