"""Uniswap V3 pool state and an exact replica of UniswapV3Pool.swap.

`swap` walks the same steps as the contract: it stops at every initialized tick *and* at every
bitmap word boundary (the contract's `nextInitializedTickWithinOneWord`), because each step
rounds on its own and skipping a boundary would change the last wei.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from core.amm.errors import UINT128_MAX, AmmRevert
from core.amm.swap_math import compute_swap_step
from core.amm.tick_math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)

__all__ = [
    "AmmRevert",
    "PoolState",
    "SwapResult",
    "swap",
]


@dataclass(frozen=True, slots=True)
class PoolState:
    """What a swap needs from a pool: slot0 price and tick, active liquidity, and the ticks.

    `ticks` maps each initialized tick to its liquidityNet (signed, raw liquidity units).
    """

    sqrt_price_x96: int
    tick: int
    liquidity: int
    fee: int
    """Swap fee in pips (hundredths of a bp): 500 = 0.05 %, 3000 = 0.3 %."""
    tick_spacing: int
    ticks: Mapping[int, int]
    address: str = ""
    token0: str = ""
    token1: str = ""
    _compressed: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        spacing = self.tick_spacing
        if spacing <= 0:
            raise ValueError(f"tick_spacing must be positive, got {spacing}")
        for t in self.ticks:
            if t % spacing:
                raise ValueError(f"tick {t} is not a multiple of tick_spacing {spacing}")
        object.__setattr__(self, "ticks", MappingProxyType(dict(self.ticks)))
        object.__setattr__(self, "_compressed", tuple(sorted(t // spacing for t in self.ticks)))

    def after(self, result: SwapResult) -> PoolState:
        """The state once `result` has been executed on this pool."""
        return replace(
            self,
            sqrt_price_x96=result.sqrt_price_x96,
            tick=result.tick,
            liquidity=result.liquidity,
        )

    def next_initialized_tick_within_one_word(self, tick: int, lte: bool) -> tuple[int, bool]:
        """TickBitmap.nextInitializedTickWithinOneWord over this pool's initialized ticks."""
        spacing = self.tick_spacing
        compressed = tick // spacing  # floor division: the contract's round-to-minus-infinity
        ticks = self._compressed
        if lte:
            word_start = (compressed >> 8) << 8
            i = bisect_right(ticks, compressed) - 1
            if i >= 0 and ticks[i] >= word_start:
                return ticks[i] * spacing, True
            return word_start * spacing, False
        above = compressed + 1
        word_end = ((above >> 8) << 8) + 255
        i = bisect_left(ticks, above)
        if i < len(ticks) and ticks[i] <= word_end:
            return ticks[i] * spacing, True
        return word_end * spacing, False


@dataclass(frozen=True, slots=True)
class SwapResult:
    """The pool's view of a swap: positive amounts flow into the pool, negative out of it."""

    amount0: int
    amount1: int
    sqrt_price_x96: int
    tick: int
    liquidity: int
    ticks_crossed: int
    """Initialized ticks crossed (each one changes the active liquidity)."""


def swap(
    state: PoolState,
    zero_for_one: bool,
    amount_specified: int,
    sqrt_price_limit_x96: int | None = None,
) -> SwapResult:
    """Replay UniswapV3Pool.swap: `amount_specified` > 0 is exact input, < 0 exact output.

    Raises AmmRevert where the pool reverts ('AS', 'SPL', 'LS'/'LA', overflow). A swap in a
    range with no liquidity moves the price to the limit and returns zero amounts, as the pool
    does; callers that need a fill should check `amount0`/`amount1`.
    """
    if amount_specified == 0:
        raise AmmRevert("AS", "amount specified is zero")
    start_price = state.sqrt_price_x96
    if sqrt_price_limit_x96 is None:
        limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
    else:
        limit = sqrt_price_limit_x96
    if zero_for_one:
        if not (MIN_SQRT_RATIO < limit < start_price):
            raise AmmRevert("SPL", f"price limit {limit} not below price {start_price}")
    elif not (start_price < limit < MAX_SQRT_RATIO):
        raise AmmRevert("SPL", f"price limit {limit} not above price {start_price}")

    exact_input = amount_specified > 0
    fee = state.fee
    remaining = amount_specified
    calculated = 0
    sqrt_price = start_price
    tick = state.tick
    liquidity = state.liquidity
    crossed = 0
    next_tick = state.next_initialized_tick_within_one_word
    ticks = state.ticks

    while remaining != 0 and sqrt_price != limit:
        step_start = sqrt_price
        tick_next, initialized = next_tick(tick, zero_for_one)
        if tick_next < MIN_TICK:
            tick_next = MIN_TICK
        elif tick_next > MAX_TICK:
            tick_next = MAX_TICK
        sqrt_next = get_sqrt_ratio_at_tick(tick_next)
        if zero_for_one:
            target = limit if sqrt_next < limit else sqrt_next
        else:
            target = limit if sqrt_next > limit else sqrt_next

        sqrt_price, amount_in, amount_out, fee_amount = compute_swap_step(
            sqrt_price, target, liquidity, remaining, fee
        )
        if exact_input:
            remaining -= amount_in + fee_amount
            calculated -= amount_out
        else:
            remaining += amount_out
            calculated += amount_in + fee_amount

        if sqrt_price == sqrt_next:
            if initialized:
                net = ticks[tick_next]
                liquidity = _add_delta(liquidity, -net if zero_for_one else net)
                crossed += 1
            tick = tick_next - 1 if zero_for_one else tick_next
        elif sqrt_price != step_start:
            tick = get_tick_at_sqrt_ratio(sqrt_price)

    if zero_for_one == exact_input:
        amount0, amount1 = amount_specified - remaining, calculated
    else:
        amount0, amount1 = calculated, amount_specified - remaining
    return SwapResult(amount0, amount1, sqrt_price, tick, liquidity, crossed)


def _add_delta(liquidity: int, delta: int) -> int:
    # LiquidityMath.addDelta: uint128 += int128 with the pool's 'LS' / 'LA' checks.
    result = liquidity + delta
    if delta < 0 and result < 0:
        raise AmmRevert("LS", "liquidity underflow")
    if result > UINT128_MAX:
        raise AmmRevert("LA", "liquidity overflow")
    return result
