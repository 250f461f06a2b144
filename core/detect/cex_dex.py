"""CEX-DEX arbitrage: a pool against the CEX books of the same asset pair.

Token -> CEX asset: WETH -> ETH, WBTC -> BTC, and USDC / USDT -> USDT. Assumption, stated
plainly: USDC and USDT are each worth exactly 1 USDT (stablecoin parity, no depeg modelled),
so a WETH/USDC pool trades against the ETH/USDT books; such rows carry the symbol
`ETH/USDT=USDC` to say so.

For each pool and CEX venue, both directions are sized by the same exact math:
  buy on the DEX, sell on the CEX:  net(q) = bids_walk(out(q)) x (1 - taker) - q - gas
  buy on the CEX, sell on the DEX:  net(b) = out(b) - asks_walk(b) x (1 + taker) - gas
where out() is the exact pool output (core.amm integer math on the pool's current state, so
the pool fee and the price impact at that size are exact), the CEX side walks the live book,
and gas = measured swap gas x (EIP-1559 base fee + tip) x ETH price in the quote currency.
The input maximizing net is searched over sizes (core.amm.quote.maximize). A pool
whose marginal price, after both fees, shows no edge is skipped without a search (impact and
gas only make it worse).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from core.amm.pools import DexPool, PoolData, cex_symbol
from core.amm.quote import maximize, mid_price, quote_exact_in
from core.book import OrderBook
from core.detect.opportunity import Opportunity, new_opportunity_id
from core.detect.top_of_book import SpreadRow
from core.settings import ThresholdSettings

PARITY_NOTE = {"USDC": "=USDC"}


def row_symbol(pool: DexPool) -> str:
    """The CEX symbol, marked with the stablecoin-parity assumption where one is made."""
    symbol = cex_symbol(pool) or pool.symbol
    return symbol + PARITY_NOTE.get(pool.symbol.partition("/")[2], "")


@dataclass(frozen=True, slots=True)
class DexPlan:
    """What the DEX leg of an opportunity needs, in raw token units."""

    pool: DexPool
    token_in: str
    amount_in: int
    expected_out: int
    gas_units: int
    cex_venue: str | None = None
    cex_symbol: str | None = None
    cex_side: str | None = None
    cex_amount: float = 0.0


@dataclass(frozen=True, slots=True)
class Found:
    opportunity: Opportunity
    plan: DexPlan


class CexDexDetector:
    """`books` is the engine's symbol -> venue -> OrderBook; `states` the pool feed's map."""

    def __init__(
        self,
        pools: list[DexPool],
        states: Mapping[str, PoolData],
        books: Mapping[str, Mapping[str, OrderBook]],
        taker_fee_bps: Mapping[str, float],
        thresholds: ThresholdSettings,
        *,
        gas_cost_quote: Callable[[str, int], float | None],
        swap_gas: Callable[[DexPool], int],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pools = [p for p in pools if cex_symbol(p) is not None]
        self.states = states
        self.books = books
        self.taker_fee_bps = taker_fee_bps
        self.thresholds = thresholds
        self.gas_cost_quote = gas_cost_quote
        """(quote asset, gas units) -> cost in that asset, or None when unknown."""
        self.swap_gas = swap_gas
        self.clock = clock
        self.rows: dict[tuple[str, str, str], SpreadRow] = {}

    def scan(self) -> list[Found]:
        now = self.clock()
        stale_s = self.thresholds.stale_after_ms / 1000
        out: list[Found] = []
        for pool in self.pools:
            state = self.states.get(pool.address)
            symbol = cex_symbol(pool)
            if state is None or symbol is None:
                continue
            for venue, book in self.books.get(symbol, {}).items():
                if not book.usable(now, stale_s):
                    continue
                out.extend(self._pair(pool, state, symbol, venue, book, now))
        return out

    def _pair(
        self, pool: DexPool, state: PoolData, symbol: str, venue: str, book: OrderBook, now: float
    ) -> list[Found]:
        mid = mid_price(pool, state)
        base_is_0 = pool.symbol.partition("/")[0] == pool.symbol0
        taker = self.taker_fee_bps.get(venue, 0.0) / 1e4
        dex_fee = pool.fee_bps / 1e4
        found: list[Found] = []
        bid, ask = book.best_bid_price, book.best_ask_price
        if mid is None or bid is None or ask is None:
            return found
        price = mid if base_is_0 else 1 / mid  # quote per base, whole units
        gas_units = self.swap_gas(pool)
        gas = self.gas_cost_quote(symbol.partition("/")[2], gas_units)
        if gas is None:
            return found
        dex_ask, dex_bid = price / (1 - dex_fee), price * (1 - dex_fee)
        self._row(pool, pool.venue, venue, dex_ask, bid * (1 - taker), dex_ask, bid, now)
        self._row(pool, venue, pool.venue, ask * (1 + taker), dex_bid, ask, dex_bid, now)
        if bid * (1 - taker) > dex_ask:
            hit = self._buy_dex(pool, state, symbol, venue, book, taker, gas, gas_units, now)
            if hit:
                found.append(hit)
        if dex_bid > ask * (1 + taker):
            hit = self._buy_cex(pool, state, symbol, venue, book, taker, gas, gas_units, now)
            if hit:
                found.append(hit)
        return found

    def _tokens(self, pool: DexPool) -> tuple[str, int, str, int]:
        """(base token, base decimals, quote token, quote decimals)."""
        if pool.symbol.partition("/")[0] == pool.symbol0:
            return pool.token0, pool.decimals0, pool.token1, pool.decimals1
        return pool.token1, pool.decimals1, pool.token0, pool.decimals0

    def _buy_dex(
        self,
        pool: DexPool,
        state: PoolData,
        symbol: str,
        venue: str,
        book: OrderBook,
        taker: float,
        gas: float,
        gas_units: int,
        now: float,
    ) -> Found | None:
        base, bdec, quote, qdec = self._tokens(pool)
        qs, bs = 10**qdec, 10**bdec

        def net(q: int) -> float:
            b = quote_exact_in(pool, state, quote, q)
            if b <= 0:
                return float("-inf")
            vwap, filled = book.vwap_for_quantity(False, b / bs)
            if filled < b / bs * 0.999999:
                return float("-inf")
            return filled * vwap * (1 - taker) - q / qs - gas

        high = int(self.thresholds.max_notional_usd * qs)
        q, value = maximize(net, max(1, high // 10_000), high)
        if value == float("-inf") or q <= 0:
            return None
        b = quote_exact_in(pool, state, quote, q)
        size = b / bs
        sell_vwap, _ = book.vwap_for_quantity(False, size)
        buy_cost = q / qs
        return self._emit(
            symbol,
            pool,
            venue,
            pool.venue,
            venue,
            size,
            buy_cost / size,
            sell_vwap,
            taker * size * sell_vwap + gas,
            now,
            DexPlan(pool, quote, q, b, gas_units, venue, symbol, "sell", size),
        )

    def _buy_cex(
        self,
        pool: DexPool,
        state: PoolData,
        symbol: str,
        venue: str,
        book: OrderBook,
        taker: float,
        gas: float,
        gas_units: int,
        now: float,
    ) -> Found | None:
        base, bdec, quote, qdec = self._tokens(pool)
        qs, bs = 10**qdec, 10**bdec
        ask = book.best_ask_price or 0.0

        def net(b: int) -> float:
            vwap, filled = book.vwap_for_quantity(True, b / bs)
            if filled < b / bs * 0.999999:
                return float("-inf")
            out = quote_exact_in(pool, state, base, b)
            if out <= 0:
                return float("-inf")
            return out / qs - filled * vwap * (1 + taker) - gas

        high = int(self.thresholds.max_notional_usd / max(ask, 1e-18) * bs)
        b, value = maximize(net, max(1, high // 10_000), high)
        if value == float("-inf") or b <= 0:
            return None
        size = b / bs
        buy_vwap, _ = book.vwap_for_quantity(True, size)
        out = quote_exact_in(pool, state, base, b)
        return self._emit(
            symbol,
            pool,
            venue,
            venue,
            pool.venue,
            size,
            buy_vwap,
            out / qs / size,
            taker * size * buy_vwap + gas,
            now,
            DexPlan(pool, base, b, out, gas_units, venue, symbol, "buy", size),
        )

    def _emit(
        self,
        symbol: str,
        pool: DexPool,
        venue: str,
        buy_venue: str,
        sell_venue: str,
        size: float,
        buy_vwap: float,
        sell_vwap: float,
        fees: float,
        now: float,
        plan: DexPlan,
    ) -> Found | None:
        gross = (sell_vwap - buy_vwap) * size
        net = gross - fees
        notional = buy_vwap * size
        if notional <= 0:
            return None
        net_bps = net / notional * 1e4
        # USDT-quoted symbols only (see the module docstring): 1 quote unit = 1 USD.
        if net_bps < self.thresholds.min_profit_bps or net < self.thresholds.min_profit_usd:
            return None
        opportunity = Opportunity(
            new_opportunity_id(),
            row_symbol(pool),
            buy_venue,
            sell_venue,
            size,
            buy_vwap,
            sell_vwap,
            gross,
            fees,
            net,
            net_bps,
            net,
            now,
            now + self.thresholds.opportunity_ttl_s,
        )
        return Found(opportunity, plan)

    def _row(
        self,
        pool: DexPool,
        buy_venue: str,
        sell_venue: str,
        cost: float,
        proceeds: float,
        ask: float,
        bid: float,
        now: float,
    ) -> None:
        """Top-of-pool row: the DEX side at its marginal price with the pool fee (no gas)."""
        gross = (bid - ask) / ask * 1e4 if ask > 0 else None
        net = (proceeds - cost) / ask * 1e4 if ask > 0 else None
        symbol = row_symbol(pool)
        self.rows[(symbol, buy_venue, sell_venue)] = SpreadRow(
            symbol, buy_venue, sell_venue, ask, bid, gross, net, True
        )
