"""Uniswap V2 math, exactly as UniswapV2Library computes it, and the optimal two-pool arbitrage.

Fees are in basis points; a fee that is a whole number of tenths of a percent (30 bps) uses the
library's own 997/1000 form, so results and overflow bounds match it bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import isqrt

from core.amm.errors import UINT256_MAX, AmmRevert

BPS = 10_000


def _check_fee(fee_bps: int) -> int:
    if not 0 <= fee_bps < BPS:
        raise ValueError(f"fee_bps must be in [0, {BPS}), got {fee_bps}")
    return BPS - fee_bps


def _fee_scale(fee_bps: int) -> tuple[int, int]:
    """(denominator, fee multiplier): 1000/997 for 30 bps, so overflow bounds match the library."""
    if fee_bps % 10 == 0:
        return 1000, _check_fee(fee_bps) // 10
    return BPS, _check_fee(fee_bps)


def get_amount_out(amount_in: int, reserve_in: int, reserve_out: int, fee_bps: int = 30) -> int:
    """UniswapV2Library.getAmountOut: output for `amount_in`, rounded down."""
    if amount_in <= 0:
        raise AmmRevert("UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT")
    if reserve_in <= 0 or reserve_out <= 0:
        raise AmmRevert("UniswapV2Library: INSUFFICIENT_LIQUIDITY")
    scale, gamma = _fee_scale(fee_bps)
    amount_in_with_fee = amount_in * gamma
    numerator = amount_in_with_fee * reserve_out
    # SafeMath checks every step: amountIn * g, * reserveOut, reserveIn * scale, and the sum.
    if max(amount_in_with_fee, numerator, reserve_in * scale) > UINT256_MAX:
        raise AmmRevert("ds-math-mul-overflow")
    denominator = reserve_in * scale + amount_in_with_fee
    if denominator > UINT256_MAX:
        raise AmmRevert("ds-math-add-overflow")
    return numerator // denominator


def get_amount_in(amount_out: int, reserve_in: int, reserve_out: int, fee_bps: int = 30) -> int:
    """UniswapV2Library.getAmountIn: input needed for `amount_out`, rounded up (floor + 1)."""
    if amount_out <= 0:
        raise AmmRevert("UniswapV2Library: INSUFFICIENT_OUTPUT_AMOUNT")
    if reserve_in <= 0 or reserve_out <= 0:
        raise AmmRevert("UniswapV2Library: INSUFFICIENT_LIQUIDITY")
    if amount_out >= reserve_out:
        # (reserveOut - amountOut) underflows or is zero: SafeMath or the division reverts.
        raise AmmRevert("ds-math-sub-underflow", "amount_out is not below reserve_out")
    scale, gamma = _fee_scale(fee_bps)
    numerator = reserve_in * amount_out * scale
    denominator = (reserve_out - amount_out) * gamma
    if max(numerator, denominator) > UINT256_MAX:
        raise AmmRevert("ds-math-mul-overflow")
    return numerator // denominator + 1


@dataclass(frozen=True, slots=True)
class TwoPoolArbitrage:
    """Buy on pool A with `amount_in` of token X, sell the proceeds on pool B for `amount_out` X."""

    amount_in: int
    amount_mid: int
    """Token Y received from pool A and sold into pool B."""
    amount_out: int
    profit: int
    """amount_out - amount_in, in raw units of token X (before gas)."""


NO_ARBITRAGE = TwoPoolArbitrage(0, 0, 0, 0)


def optimal_two_pool_arbitrage(
    a_reserve_in: int,
    a_reserve_out: int,
    b_reserve_in: int,
    b_reserve_out: int,
    a_fee_bps: int = 30,
    b_fee_bps: int = 30,
) -> TwoPoolArbitrage:
    """The input that maximises X out of (X -> Y on pool A, Y -> X on pool B), in exact ints.

    Pool A's reserves are (X, Y) = (a_reserve_in, a_reserve_out); pool B's are
    (Y, X) = (b_reserve_in, b_reserve_out). The closed form of the continuous optimum is

        x* = D * (sqrt(ga * gb * Ax * Ay * By * Bx) - D * Ax * By) / (ga * (D * By + gb * Ay))

    with D = 10_000 and g = D - fee_bps. Flooring the two swaps makes the exact profit a
    step function, so the candidates around x* are evaluated exactly and the best one wins.
    Every figure returned is exact (the library's own rounding). The profit is the integer
    optimum or one raw unit of X short of it: where the optimum's plateau is wide (deep
    pools) only a scan could tell its steps apart, and a unit is not worth that scan.
    Returns NO_ARBITRAGE (all zeros) when no input makes a profit.
    """
    if min(a_reserve_in, a_reserve_out, b_reserve_in, b_reserve_out) <= 0:
        return NO_ARBITRAGE
    ga = _check_fee(a_fee_bps)
    gb = _check_fee(b_fee_bps)
    root = isqrt(ga * gb * a_reserve_in * a_reserve_out * b_reserve_in * b_reserve_out)
    base = BPS * a_reserve_in * b_reserve_in
    if root <= base:
        return NO_ARBITRAGE
    x0 = BPS * (root - base) // (ga * (BPS * b_reserve_in + gb * a_reserve_out))

    # Search in the middle token: an optimal input is always the least input that buys its
    # middle amount m (any more buys nothing extra), x(m) = ceil(D*Ax*m / (ga*(Ay - m))).
    # Both legs then round in token X by under one unit each, so the exact profit stays
    # within a unit or two of the continuous one and the best of m0-2 .. m0+2 wins.
    a_in_d = a_reserve_in * BPS
    b_in_d = b_reserve_in * BPS
    wa = x0 * ga
    m0 = wa * a_reserve_out // (a_in_d + wa)
    best_profit = 0
    best_x = best_m = 0
    for target in range(max(m0 - 2, 1), min(m0 + 3, a_reserve_out)):
        x = -(-a_in_d * target // (ga * (a_reserve_out - target)))
        wa = x * ga
        m = wa * a_reserve_out // (a_in_d + wa)  # may round up past the target
        wb = m * gb
        out = wb * b_reserve_out // (b_in_d + wb)
        if out - x > best_profit:
            best_profit, best_x, best_m = out - x, x, m
    if best_profit == 0:
        return NO_ARBITRAGE
    return TwoPoolArbitrage(best_x, best_m, best_x + best_profit, best_profit)
