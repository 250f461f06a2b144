"""DEX-DEX atomic arbitrage between two pools of the same token pair.

Buy the base on pool A with quote X, sell it on pool B for X, in one FlashArbitrage call.
Sizing: two V2 pairs use the closed form (core.amm.v2.optimal_two_pool_arbitrage, exact);
any pair with a V3 pool searches the input with exact swaps on both states. The profit is in
raw X, net of the funding choice (wallet gas, or flash premium + extra gas;
core.detect.capital_source) converted at the gas price in X.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import permutations
from math import ceil

from core.amm.pools import DexPool, PoolData, V2State
from core.amm.quote import maximize, mid_price, quote_exact_in
from core.amm.v2 import optimal_two_pool_arbitrage
from core.detect.capital_source import FundingChoice, choose_funding, v3_lenders_by_token
from core.detect.cex_dex import DexPlan
from core.detect.opportunity import Opportunity, new_opportunity_id
from core.detect.top_of_book import SpreadRow
from core.settings import ThresholdSettings


@dataclass(frozen=True, slots=True)
class DexDexPlan:
    token_x: str
    amount_in: int
    amount_mid: int
    amount_out: int
    buy: DexPool
    sell: DexPool
    funding: FundingChoice
    min_profit: int
    """Raw X the contract must clear: the gas (which the contract's profit does not include,
    rounded up) plus half the forecast net, so a trade that lands after the pools moved never
    clears the contract and then loses to gas."""


@dataclass(frozen=True, slots=True)
class DexDexFound:
    opportunity: Opportunity
    plan: DexDexPlan


class DexDexDetector:
    def __init__(
        self,
        pools: list[DexPool],
        states: Mapping[str, PoolData],
        thresholds: ThresholdSettings,
        *,
        gas_price_in: Callable[[str], float | None],
        usd_price: Callable[[str], float | None],
        wallet_balance: Callable[[str], int],
        route_gas: Callable[[], dict[str, int]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.states = states
        self.thresholds = thresholds
        self.gas_price_in = gas_price_in
        """token symbol -> one gas unit's cost in raw units of it (None: unknown)."""
        self.usd_price = usd_price
        """token symbol -> USD per whole token."""
        self.wallet_balance = wallet_balance
        self.route_gas = route_gas
        """() -> gas per funding route ('wallet', 'flash_v2', 'flash_v3'); None: the fallback
        constants."""
        self.clock = clock
        self.groups: dict[frozenset[str], list[DexPool]] = {}
        for pool in pools:
            self.groups.setdefault(frozenset((pool.token0, pool.token1)), []).append(pool)
        self.v3_by_token = v3_lenders_by_token(pools)
        self.rows: dict[tuple[str, str, str], SpreadRow] = {}

    def scan(self) -> list[DexDexFound]:
        now = self.clock()
        out: list[DexDexFound] = []
        for group in self.groups.values():
            for a, b in permutations(group, 2):
                found = self._pair(a, b, now)
                if found:
                    out.append(found)
        return out

    def _pair(self, buy: DexPool, sell: DexPool, now: float) -> DexDexFound | None:
        sa, sb = self.states.get(buy.address), self.states.get(sell.address)
        if sa is None or sb is None:
            return None
        base_sym, _, quote_sym = buy.symbol.partition("/")
        x = buy.token1 if buy.symbol1 == quote_sym else buy.token0
        y = buy.token0 if x == buy.token1 else buy.token1
        xdec = buy.decimals1 if x == buy.token1 else buy.decimals0
        pa, pb = mid_price(buy, sa), mid_price(sell, sb)
        if pa is None or pb is None:
            return None
        # Marginal prices (quote per base, fee-adjusted): no edge, no search.
        base_is_0 = buy.symbol0 == base_sym
        ask = (pa if base_is_0 else 1 / pa) / (1 - buy.fee_bps / 1e4)
        bid = (pb if sell.symbol0 == base_sym else 1 / pb) * (1 - sell.fee_bps / 1e4)
        symbol = buy.symbol
        self.rows[(symbol, buy.venue, sell.venue)] = SpreadRow(
            symbol, buy.venue, sell.venue, ask, bid, (bid - ask) / ask * 1e4, None, True
        )
        if bid <= ask:
            return None
        gas_x = self.gas_price_in(quote_sym)
        usd = self.usd_price(quote_sym)
        if gas_x is None or usd is None:
            return None
        if isinstance(sa, V2State) and isinstance(sb, V2State):
            ra_x, ra_y = (
                (sa.reserve0, sa.reserve1) if x == buy.token0 else (sa.reserve1, sa.reserve0)
            )
            rb_x, rb_y = (
                (sb.reserve0, sb.reserve1) if x == sell.token0 else (sb.reserve1, sb.reserve0)
            )
            arb = optimal_two_pool_arbitrage(ra_x, ra_y, rb_y, rb_x, int(buy.fee), int(sell.fee))
            amount_in, mid, out = arb.amount_in, arb.amount_mid, arb.amount_out
        else:

            def gross(q: int) -> float:
                m = quote_exact_in(buy, sa, x, q)
                return quote_exact_in(sell, sb, y, m) - q if m > 0 else float("-inf")

            cap = int(self.thresholds.max_notional_usd / usd * 10**xdec)
            amount_in, _ = maximize(gross, max(1, cap // 10_000), cap)
            mid = quote_exact_in(buy, sa, x, amount_in)
            out = quote_exact_in(sell, sb, y, mid) if mid > 0 else 0
        if amount_in <= 0 or out <= amount_in:
            return None
        lenders = [
            p for p in self.v3_by_token.get(x, []) if p.address not in (buy.address, sell.address)
        ]
        gas_kw: dict[str, int] = {}
        if self.route_gas is not None:
            gas_kw = {f"{mode}_gas": units for mode, units in self.route_gas().items()}
        funding = choose_funding(amount_in, self.wallet_balance(x), buy, lenders, gas_x, **gas_kw)
        if funding is None:
            return None
        net_raw = out - amount_in - funding.cost
        scale = 10**xdec
        net = net_raw / scale
        notional = amount_in / scale
        net_bps = net / notional * 1e4
        if net_bps < self.thresholds.min_profit_bps or net * usd < self.thresholds.min_profit_usd:
            return None
        size = mid / 10 ** (buy.decimals0 if y == buy.token0 else buy.decimals1)
        opportunity = Opportunity(
            new_opportunity_id(),
            symbol,
            buy.venue,
            sell.venue,
            size,
            notional / size,
            out / scale / size,
            (out - amount_in) / scale,
            funding.cost / scale,
            net,
            net_bps,
            net * usd,
            now,
            now + self.thresholds.opportunity_ttl_s,
        )
        plan = DexDexPlan(
            x, amount_in, mid, out, buy, sell, funding, min_profit_raw(funding, gas_x, net_raw)
        )
        return DexDexFound(opportunity, plan)


def min_profit_raw(funding: FundingChoice, gas_price_in_x: float, net_raw: float) -> int:
    """The contract's minProfit in raw X. Its profit is after the flash premium but before
    gas, so the floor is the gas cost (rounded up) plus half the forecast net (at least 1)."""
    gas_raw = ceil(funding.gas_units * gas_price_in_x)
    return gas_raw + max(int(net_raw) // 2, 1)


__all__ = ["DexDexDetector", "DexDexFound", "DexDexPlan", "DexPlan", "min_profit_raw"]
