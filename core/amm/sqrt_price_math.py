"""SqrtPriceMath (libraries/SqrtPriceMath.sol): next prices and token deltas between prices.

Overflow checks mirror the contract's, because where it reverts a swap reverts too.
"""

from __future__ import annotations

from core.amm.errors import UINT160_MAX, UINT256_MAX, AmmRevert
from core.amm.full_math import mul_div, mul_div_rounding_up

Q96 = 1 << 96
RESOLUTION = 96


def _div_rounding_up(x: int, y: int) -> int:
    # UnsafeMath.divRoundingUp: EVM division by zero yields 0 instead of reverting.
    if y == 0:
        return 0
    q, r = divmod(x, y)
    return q + 1 if r else q


def _to_uint160(value: int) -> int:
    if value > UINT160_MAX:
        raise AmmRevert("", "uint160 overflow")
    return value


def get_next_sqrt_price_from_amount0_rounding_up(
    sqrt_px96: int, liquidity: int, amount: int, add: bool
) -> int:
    if amount == 0:
        return sqrt_px96
    numerator1 = liquidity << RESOLUTION
    product = amount * sqrt_px96
    if add:
        if product <= UINT256_MAX:
            denominator = numerator1 + product
            if denominator <= UINT256_MAX:
                return mul_div_rounding_up(numerator1, sqrt_px96, denominator)
        denom = numerator1 // sqrt_px96 + amount
        if denom > UINT256_MAX:
            raise AmmRevert("", "add overflow")
        return _div_rounding_up(numerator1, denom)
    if product > UINT256_MAX or numerator1 <= product:
        raise AmmRevert("", "amount0 out exceeds reserves")
    return _to_uint160(mul_div_rounding_up(numerator1, sqrt_px96, numerator1 - product))


def get_next_sqrt_price_from_amount1_rounding_down(
    sqrt_px96: int, liquidity: int, amount: int, add: bool
) -> int:
    if add:
        if amount <= UINT160_MAX:
            quotient = (amount << RESOLUTION) // liquidity
        else:
            quotient = mul_div(amount, Q96, liquidity)
        return _to_uint160(sqrt_px96 + quotient)
    if amount <= UINT160_MAX:
        quotient = _div_rounding_up(amount << RESOLUTION, liquidity)
    else:
        quotient = mul_div_rounding_up(amount, Q96, liquidity)
    if sqrt_px96 <= quotient:
        raise AmmRevert("", "amount1 out exceeds reserves")
    return sqrt_px96 - quotient


def get_next_sqrt_price_from_input(
    sqrt_px96: int, liquidity: int, amount_in: int, zero_for_one: bool
) -> int:
    if sqrt_px96 <= 0 or liquidity <= 0:
        raise AmmRevert("", "no price or no liquidity")
    if zero_for_one:
        return get_next_sqrt_price_from_amount0_rounding_up(sqrt_px96, liquidity, amount_in, True)
    return get_next_sqrt_price_from_amount1_rounding_down(sqrt_px96, liquidity, amount_in, True)


def get_next_sqrt_price_from_output(
    sqrt_px96: int, liquidity: int, amount_out: int, zero_for_one: bool
) -> int:
    if sqrt_px96 <= 0 or liquidity <= 0:
        raise AmmRevert("", "no price or no liquidity")
    if zero_for_one:
        return get_next_sqrt_price_from_amount1_rounding_down(
            sqrt_px96, liquidity, amount_out, False
        )
    return get_next_sqrt_price_from_amount0_rounding_up(sqrt_px96, liquidity, amount_out, False)


def get_amount0_delta(sqrt_a_x96: int, sqrt_b_x96: int, liquidity: int, round_up: bool) -> int:
    """Token0 between two prices for `liquidity` (unsigned form)."""
    if sqrt_a_x96 > sqrt_b_x96:
        sqrt_a_x96, sqrt_b_x96 = sqrt_b_x96, sqrt_a_x96
    if sqrt_a_x96 <= 0:
        raise AmmRevert("", "zero sqrt price")
    numerator1 = liquidity << RESOLUTION
    numerator2 = sqrt_b_x96 - sqrt_a_x96
    if round_up:
        return _div_rounding_up(mul_div_rounding_up(numerator1, numerator2, sqrt_b_x96), sqrt_a_x96)
    return mul_div(numerator1, numerator2, sqrt_b_x96) // sqrt_a_x96


def get_amount1_delta(sqrt_a_x96: int, sqrt_b_x96: int, liquidity: int, round_up: bool) -> int:
    """Token1 between two prices for `liquidity` (unsigned form)."""
    if sqrt_a_x96 > sqrt_b_x96:
        sqrt_a_x96, sqrt_b_x96 = sqrt_b_x96, sqrt_a_x96
    if round_up:
        return mul_div_rounding_up(liquidity, sqrt_b_x96 - sqrt_a_x96, Q96)
    return mul_div(liquidity, sqrt_b_x96 - sqrt_a_x96, Q96)
