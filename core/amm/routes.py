"""Swap routes for seized collateral: every V2 pair and V3 pool joining two tokens, quoted with
the exact V2 / V3 math on pool states given to it (core.feeds.route_states reads them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

from core.amm import v2 as amm_v2
from core.amm import v3 as amm_v3
from core.amm.errors import AmmRevert

ROUTE_V2 = 0
ROUTE_V3 = 1


@dataclass(frozen=True, slots=True)
class PoolRef:
    kind: int
    """ROUTE_V2 or ROUTE_V3 (as Liquidator.sol's routeKind)."""
    venue: str
    address: str
    token0: str
    token1: str
    fee: int
    """V2: bps (30); V3: pips (500)."""


@dataclass(frozen=True, slots=True)
class SwapQuote:
    pool: PoolRef
    amount_in: int
    amount_out: int


class RouteBook:
    """Pool states keyed by address; `best(token_in, token_out, amount_in)` over all pools."""

    def __init__(self, pools: list[PoolRef]) -> None:
        self.pools = pools
        self.v2: dict[str, tuple[int, int]] = {}
        self.v3: dict[str, amm_v3.PoolState] = {}
        self._by_pair: dict[frozenset[str], list[PoolRef]] = {}
        self._checksums: dict[str, str] = {}
        for p in pools:
            self._by_pair.setdefault(frozenset((p.token0, p.token1)), []).append(p)

    def has_route(self, token_in: str, token_out: str) -> bool:
        return bool(self._by_pair.get(frozenset((token_in, token_out))))

    def set_states(
        self, v2: Mapping[str, tuple[int, int]], v3: Mapping[str, amm_v3.PoolState]
    ) -> None:
        """States from elsewhere (the pool feed)."""
        self.v2.update(v2)
        self.v3.update(v3)

    def use_feed_states(self, states: Mapping[str, Any]) -> None:
        """Take every known pool's state from the pool feed (core.feeds.pools.PoolFeed.states:
        V2State or PoolState by checksum address) instead of reading the chain."""
        v2: dict[str, tuple[int, int]] = {}
        v3: dict[str, amm_v3.PoolState] = {}
        for p in self.pools:
            state = states.get(self._checksum(p.address))
            if state is None:
                continue
            if p.kind == ROUTE_V2:
                v2[p.address] = (state.reserve0, state.reserve1)
            elif isinstance(state, amm_v3.PoolState):
                v3[p.address] = state
        self.set_states(v2, v3)

    def _checksum(self, address: str) -> str:
        found = self._checksums.get(address)
        if found is None:
            found = self._checksums[address] = str(to_checksum_address(address))
        return found

    def quote(self, pool: PoolRef, token_in: str, amount_in: int) -> int | None:
        zero_for_one = token_in == pool.token0
        try:
            if pool.kind == ROUTE_V2:
                reserves = self.v2.get(pool.address)
                if reserves is None:
                    return None
                r_in, r_out = reserves if zero_for_one else (reserves[1], reserves[0])
                return amm_v2.get_amount_out(amount_in, r_in, r_out, pool.fee)
            state = self.v3.get(pool.address)
            if state is None:
                return None
            result = amm_v3.swap(state, zero_for_one, amount_in)
            paid_in = result.amount0 if zero_for_one else result.amount1
            if paid_in != amount_in:  # ran out of liquidity: Liquidator would keep leftovers
                return None
            return -(result.amount1 if zero_for_one else result.amount0)
        except AmmRevert:
            return None

    def best(self, token_in: str, token_out: str, amount_in: int) -> SwapQuote | None:
        best: SwapQuote | None = None
        for pool in self._by_pair.get(frozenset((token_in, token_out)), []):
            out = self.quote(pool, token_in, amount_in)
            if out is not None and out > 0 and (best is None or out > best.amount_out):
                best = SwapQuote(pool, amount_in, out)
        return best


def pool_states(book: RouteBook) -> dict[str, Any]:
    """All states (for debugging and the bench)."""
    return {**book.v2, **book.v3}
