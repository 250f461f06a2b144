"""In-memory pools for detector tests (no chain)."""

from __future__ import annotations

from core.amm.pools import DexPool


def v2_pool(address: str, a: str, b: str, fee_bps: int = 30) -> DexPool:
    """A V2 pair of 18-decimal tokens `a`/`b` (addresses "0x<symbol>") on venue dex-<address>."""
    return DexPool(
        venue=f"dex-{address}",
        kind="v2",
        address=address,
        symbol=f"{a}/{b}",
        token0="0x" + a,
        token1="0x" + b,
        symbol0=a,
        symbol1=b,
        decimals0=18,
        decimals1=18,
        fee=fee_bps,
    )
