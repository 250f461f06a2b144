"""On-chain cycles through three or four pools (V2 and V3, any fee tier, any DEX), found on the
pool feed's states and executed as one FlashArbitrage transaction.

The graph is the manifest's pools, fixed for a run, so the cycles are enumerated once
(core.detect.cycles). Each scan re-rates only the pools whose state changed since the last one
(the feed replaces a pool's state object when a block moves it), re-sums the cycles through
them, and sizes the ones that beat the bar at the margin with the pools' exact integer math.
Every `sweep_s` all cycles are re-summed, so one that stays open keeps its TTL while gas and
prices move.

Two-pool cycles are the DEX-DEX route's (core.detect.dex_dex); this finds three hops and up.
The profit is in raw units of the start token, net of the funding choice: the wallet (gas
only), a V2 flash swap out of the first pool (it is repaid what `getAmountIn` asks, no
premium) or a V3 flash loan from a pool outside the cycle (its fee on the amount), each with
the gas of a cycle of that length.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from core.amm.pools import TOKEN_TO_CEX, DexPool, PoolData, V2State
from core.amm.v2 import get_amount_in
from core.detect.capital_source import FundingChoice, choose_funding, v3_lenders_by_token
from core.detect.cycle_scan import CycleLeg, CycleOpportunity, path_label
from core.detect.cycles import (
    Cycle,
    CycleIndex,
    enumerate_cycles,
    pool_hops,
    pool_rates,
    size_pool_cycle,
)
from core.detect.dex_dex import min_profit_raw
from core.detect.opportunity import new_opportunity_id
from core.settings import CycleSettings, ThresholdSettings


@dataclass(frozen=True, slots=True)
class PoolCyclePlan:
    """What the FlashArbitrage cycle call needs, in raw units of the pools' tokens."""

    cycle: Cycle
    pools: tuple[DexPool, ...]  # one per hop, in order
    tokens: tuple[str, ...]  # token addresses: into hop 0, out of hop 0 (into hop 1), ...
    decimals: tuple[int, ...]  # of each of `tokens`
    amounts: tuple[int, ...]  # raw amounts along `tokens`
    funding: FundingChoice
    repay: int
    """Raw start token the first pool takes: the input, or (V2 flash swap) what the pair asks
    for the first hop's output, which is never more."""
    profit: int
    """The contract's profit as it computes it (after a flash premium, before gas)."""
    min_profit: int

    @property
    def token_x(self) -> str:
        return self.tokens[0]

    @property
    def borrow(self) -> int:
        """A V2 flash swap's amount taken out of the first pair (its output)."""
        return self.amounts[1]


@dataclass(frozen=True, slots=True)
class PoolCycleFound:
    opportunity: CycleOpportunity
    plan: PoolCyclePlan


def funded_profit(
    amounts: tuple[int, ...], funding: FundingChoice, first: DexPool, state: PoolData, x: str
) -> tuple[int, int]:
    """(raw X the first pool takes, the contract's profit) for `amounts` through the cycle
    under `funding`: a V2 flash swap repays the first pair what it asks for the first hop's
    output (`getAmountIn`, never more than the input); a V3 flash pays its premium."""
    repay = amounts[0]
    if funding.mode == "flash_v2":
        if not isinstance(state, V2State):
            raise ValueError("a V2 flash swap needs a V2 pair as the first hop")
        r_in, r_out = (
            (state.reserve0, state.reserve1)
            if x == first.token0
            else (state.reserve1, state.reserve0)
        )
        repay = get_amount_in(amounts[1], r_in, r_out, first.fee)
    return repay, amounts[-1] - repay - funding.premium


def pool_side(pool: DexPool, src: str) -> str:
    """`buy` when the hop spends the pool's quote (BASE/QUOTE), `sell` when it spends the base."""
    return "buy" if pool.symbol.partition("/")[2] == src else "sell"


class PoolCycleDetector:
    def __init__(
        self,
        pools: list[DexPool],
        states: Mapping[str, PoolData],
        thresholds: ThresholdSettings,
        settings: CycleSettings,
        *,
        gas_price_in: Callable[[str], float | None],
        usd_price: Callable[[str], float | None],
        wallet_balance: Callable[[str], int],
        cycle_gas: Callable[[str, int], int],
        sweep_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pools = {p.address: p for p in pools}
        self.states = states
        self.thresholds = thresholds
        self.settings = settings
        self.gas_price_in = gas_price_in
        """token symbol -> one gas unit's cost in raw units of it (None: unknown)."""
        self.usd_price = usd_price
        self.wallet_balance = wallet_balance
        """token address -> raw balance of the trading wallet."""
        self.cycle_gas = cycle_gas
        """(funding mode, hops) -> gas units of that cycle call (core.gas.GasTable.cycle)."""
        self.sweep_s = sweep_s
        self.clock = clock
        self.index = CycleIndex([])
        self._seen: dict[str, PoolData] = {}
        self._last_sweep = float("-inf")
        self.v3_by_token = v3_lenders_by_token(pools)
        self.rebuild()

    def starts(self) -> list[str]:
        """Token symbols a cycle may start from: those named in `start_currencies`, or whose
        CEX asset is (WETH for ETH, WBTC for BTC)."""
        allowed = set(self.settings.start_currencies)
        symbols = {s for p in self.pools.values() for s in (p.symbol0, p.symbol1)}
        return sorted(s for s in symbols if s in allowed or TOKEN_TO_CEX.get(s) in allowed)

    def rebuild(self) -> None:
        """Enumerate the cycles again (start-up; a change of max hops or start currencies)."""
        hops = [h for p in self.pools.values() for h in pool_hops(p)]
        cycles = enumerate_cycles(hops, self.starts(), self.settings.max_hops, min_hops=3)
        self.index = CycleIndex(cycles)
        self._seen = {}

    @property
    def cycles(self) -> list[Cycle]:
        return self.index.cycles

    def refresh(self) -> int:
        """Re-rate the pools whose state changed since the last call; returns how many."""
        changed = 0
        for address, pool in self.pools.items():
            state = self.states.get(address)
            if state is None or self._seen.get(address) is state:
                continue
            self._seen[address] = state
            forward, back = pool_rates(pool, state)
            h1, h2 = pool_hops(pool)
            self.index.set_rate(h1.key, forward)
            self.index.set_rate(h2.key, back)
            changed += 1
        return changed

    def scan(self) -> list[PoolCycleFound]:
        if not self.settings.enabled:
            return []
        now = self.clock()
        self.refresh()
        sweep_s = (
            self.sweep_s if self.sweep_s is not None else self.thresholds.opportunity_ttl_s / 2
        )
        if now - self._last_sweep >= sweep_s:
            self.index.touch_all()
            self._last_sweep = now
        best: dict[tuple[str, str, str], PoolCycleFound] = {}
        for cycle, _margin in self.index.profitable(self.settings.min_profit_bps):
            found = self._size(cycle, now)
            if found is None:
                continue
            key = found.opportunity.key
            held = best.get(key)
            if held is None or found.opportunity.net_profit_usd > held.opportunity.net_profit_usd:
                best[key] = found
        return list(best.values())

    def _size(self, cycle: Cycle, now: float) -> PoolCycleFound | None:
        pools = tuple(self.pools[h.market] for h in cycle.hops)
        first = pools[0]
        x = first.token0 if cycle.start == first.symbol0 else first.token1
        xdec = first.decimals0 if x == first.token0 else first.decimals1
        usd = self.usd_price(cycle.start)
        gas_x = self.gas_price_in(cycle.start)
        if not usd or gas_x is None:
            return None
        max_in = int(self.thresholds.max_notional_usd / usd * 10**xdec)
        sized = size_pool_cycle(cycle, self.pools, self.states, max_in)
        if sized is None:
            return None
        amounts = tuple(int(a) for a in sized.amounts)
        hops = len(cycle.hops)
        lenders = [p for p in self.v3_by_token.get(x, []) if p not in pools]
        funding = choose_funding(
            amounts[0],
            self.wallet_balance(x),
            first,
            lenders,
            gas_x,
            wallet_gas=self.cycle_gas("wallet", hops),
            flash_v2_gas=self.cycle_gas("flash_v2", hops),
            flash_v3_gas=self.cycle_gas("flash_v3", hops),
        )
        if funding is None:
            return None
        repay, profit = funded_profit(amounts, funding, first, self.states[first.address], x)
        gas_raw = funding.gas_units * gas_x
        net_raw = profit - gas_raw
        scale = 10**xdec
        net = net_raw / scale
        bps = net_raw / repay * 1e4
        if bps < self.settings.min_profit_bps or net * usd < self.thresholds.min_profit_usd:
            return None
        tokens = [x]
        decimals = [xdec]
        for pool, hop in zip(pools, cycle.hops, strict=True):
            out_is_0 = hop.dst == pool.symbol0
            tokens.append(pool.token0 if out_is_0 else pool.token1)
            decimals.append(pool.decimals0 if out_is_0 else pool.decimals1)
        legs = tuple(
            CycleLeg(
                pool.venue,
                pool.symbol,
                pool_side(pool, hop.src),
                hop.src,
                hop.dst,
                amounts[i] / 10 ** decimals[i],
                amounts[i + 1] / 10 ** decimals[i + 1],
            )
            for i, (pool, hop) in enumerate(zip(pools, cycle.hops, strict=True))
        )
        start_in, back = repay / scale, amounts[-1] / scale
        opportunity = CycleOpportunity(
            id=new_opportunity_id(),
            symbol=path_label(cycle),
            buy_venue=first.venue,
            sell_venue=pools[-1].venue,
            size=start_in,
            buy_vwap=start_in,
            sell_vwap=back,
            gross_profit=(amounts[-1] - repay) / scale,
            fees=(funding.premium + gas_raw) / scale,
            net_profit=net,
            net_bps=bps,
            net_profit_usd=net * usd,
            detected_at=now,
            expires_at=now + self.thresholds.opportunity_ttl_s,
            start=cycle.start,
            legs=legs,
        )
        plan = PoolCyclePlan(
            cycle,
            pools,
            tuple(tokens),
            tuple(decimals),
            amounts,
            funding,
            repay,
            profit,
            min_profit_raw(funding, gas_x, net_raw),
        )
        return PoolCycleFound(opportunity, plan)
