"""On-chain pools as plain data: identity (tokens, decimals, fee), V2 reserves or V3 state,
and the CEX market each pool mirrors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.amm.v3 import PoolState

Kind = Literal["v2", "v3"]


@dataclass(frozen=True, slots=True)
class DexPool:
    """One on-chain pool as a venue sees it. `venue` is its display name (`uni-v2`, `sushi`,
    `uni-v3-500`); `symbol` is BASE/QUOTE in token symbols (`WETH/USDC`)."""

    venue: str
    kind: Kind
    address: str
    symbol: str
    token0: str
    token1: str
    symbol0: str
    symbol1: str
    decimals0: int
    decimals1: int
    fee: int
    """V2: fee in bps (30); V3: fee in pips (500 = 0.05 %)."""
    tick_spacing: int = 0

    @property
    def fee_bps(self) -> float:
        return float(self.fee) if self.kind == "v2" else self.fee / 100


@dataclass(frozen=True, slots=True)
class V2State:
    reserve0: int
    reserve1: int


PoolData = V2State | PoolState


TOKEN_TO_CEX = {"WETH": "ETH", "ETH": "ETH", "WBTC": "BTC", "USDC": "USDT", "USDT": "USDT"}


def cex_symbol(pool: DexPool) -> str | None:
    """The CEX symbol a pool trades against (`WETH/USDC` -> `ETH/USDT`), or None."""
    base, _, quote = pool.symbol.partition("/")
    b, q = TOKEN_TO_CEX.get(base), TOKEN_TO_CEX.get(quote)
    if b is None or q is None or b == q:
        return None
    return f"{b}/{q}"
