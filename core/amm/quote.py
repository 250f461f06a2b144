"""Exact swap quotes on a pool's current state (V2 reserves or V3 ticks), in raw token units,
and the size search the on-chain detectors share."""

from __future__ import annotations

from collections.abc import Callable

from core.amm import v2, v3
from core.amm.errors import AmmRevert
from core.amm.pools import DexPool, PoolData, V2State


def quote_exact_in(pool: DexPool, state: PoolData, token_in: str, amount_in: int) -> int:
    """Raw output for exactly `amount_in` of `token_in`; 0 when the pool cannot fill it (no
    liquidity, or a V3 swap that runs out of liquidity before using all the input)."""
    if amount_in <= 0:
        return 0
    zero_for_one = token_in == pool.token0
    try:
        if isinstance(state, V2State):
            r_in, r_out = (
                (state.reserve0, state.reserve1)
                if zero_for_one
                else (state.reserve1, state.reserve0)
            )
            return v2.get_amount_out(amount_in, r_in, r_out, int(pool.fee))
        if state.liquidity == 0 and not state.ticks:
            return 0
        result = v3.swap(state, zero_for_one, amount_in)
    except AmmRevert:
        return 0
    used = result.amount0 if zero_for_one else result.amount1
    if used != amount_in:  # ran out of liquidity: the router would revert or underfill
        return 0
    return -(result.amount1 if zero_for_one else result.amount0)


def mid_price(pool: DexPool, state: PoolData) -> float | None:
    """token1 per token0 in whole units (decimals applied), before the fee; None if empty."""
    scale = 10 ** (pool.decimals0 - pool.decimals1)
    if isinstance(state, V2State):
        if state.reserve0 <= 0 or state.reserve1 <= 0:
            return None
        return state.reserve1 / state.reserve0 * scale
    if state.liquidity == 0:
        return None
    return (state.sqrt_price_x96 / 2**96) ** 2 * scale


def maximize(
    profit: Callable[[int], float],
    low: int,
    high: int,
    points: int = 14,
    refine: int = 10,
    rel_tol: float = 0.0,
) -> tuple[int, float]:
    """Best integer input in [low, high] for a profit that rises then falls: a geometric grid,
    then golden-section steps between the best point's neighbours, until the bracket is two
    integers wide or narrower than `rel_tol` of its inputs. Returns (input, profit)."""
    if high < low or low <= 0:
        return 0, float("-inf")
    ratio = (high / low) ** (1 / max(points - 1, 1))
    grid = sorted({min(high, max(low, int(low * ratio**i))) for i in range(points)})
    values = [profit(x) for x in grid]
    best = max(range(len(grid)), key=values.__getitem__)
    a = grid[max(best - 1, 0)]
    b = grid[min(best + 1, len(grid) - 1)]
    best_x, best_v = grid[best], values[best]
    inv_phi = 0.6180339887498949
    c = int(b - (b - a) * inv_phi)
    d = int(a + (b - a) * inv_phi)
    fc, fd = profit(c), profit(d)
    for _ in range(refine):
        if b - a <= 2 or b - a <= rel_tol * a:
            break
        if fc > fd:
            b, d, fd = d, c, fc
            c = int(b - (b - a) * inv_phi)
            fc = profit(c)
        else:
            a, c, fc = c, d, fd
            d = int(a + (b - a) * inv_phi)
            fd = profit(d)
    for x, v in ((c, fc), (d, fd)):
        if v > best_v:
            best_x, best_v = x, v
    return best_x, best_v
