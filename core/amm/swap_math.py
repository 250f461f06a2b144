"""SwapMath.computeSwapStep (libraries/SwapMath.sol): one step of a swap within one tick range."""

from __future__ import annotations

from core.amm.full_math import mul_div, mul_div_rounding_up
from core.amm.sqrt_price_math import (
    get_amount0_delta,
    get_amount1_delta,
    get_next_sqrt_price_from_input,
    get_next_sqrt_price_from_output,
)

FEE_DENOMINATOR = 1_000_000  # fees are in pips: hundredths of a basis point


def compute_swap_step(
    sqrt_current_x96: int,
    sqrt_target_x96: int,
    liquidity: int,
    amount_remaining: int,
    fee_pips: int,
) -> tuple[int, int, int, int]:
    """(sqrt price after the step, amount in, amount out, fee amount), as the contract computes."""
    zero_for_one = sqrt_current_x96 >= sqrt_target_x96
    exact_in = amount_remaining >= 0
    amount_in = amount_out = 0

    if exact_in:
        remaining_less_fee = mul_div(amount_remaining, FEE_DENOMINATOR - fee_pips, FEE_DENOMINATOR)
        amount_in = (
            get_amount0_delta(sqrt_target_x96, sqrt_current_x96, liquidity, True)
            if zero_for_one
            else get_amount1_delta(sqrt_current_x96, sqrt_target_x96, liquidity, True)
        )
        if remaining_less_fee >= amount_in:
            sqrt_next_x96 = sqrt_target_x96
        else:
            sqrt_next_x96 = get_next_sqrt_price_from_input(
                sqrt_current_x96, liquidity, remaining_less_fee, zero_for_one
            )
    else:
        amount_out = (
            get_amount1_delta(sqrt_target_x96, sqrt_current_x96, liquidity, False)
            if zero_for_one
            else get_amount0_delta(sqrt_current_x96, sqrt_target_x96, liquidity, False)
        )
        if -amount_remaining >= amount_out:
            sqrt_next_x96 = sqrt_target_x96
        else:
            sqrt_next_x96 = get_next_sqrt_price_from_output(
                sqrt_current_x96, liquidity, -amount_remaining, zero_for_one
            )

    reached = sqrt_target_x96 == sqrt_next_x96
    if zero_for_one:
        if not (reached and exact_in):
            amount_in = get_amount0_delta(sqrt_next_x96, sqrt_current_x96, liquidity, True)
        if not (reached and not exact_in):
            amount_out = get_amount1_delta(sqrt_next_x96, sqrt_current_x96, liquidity, False)
    else:
        if not (reached and exact_in):
            amount_in = get_amount1_delta(sqrt_current_x96, sqrt_next_x96, liquidity, True)
        if not (reached and not exact_in):
            amount_out = get_amount0_delta(sqrt_current_x96, sqrt_next_x96, liquidity, False)

    if not exact_in and amount_out > -amount_remaining:
        amount_out = -amount_remaining

    if exact_in and sqrt_next_x96 != sqrt_target_x96:
        fee_amount = amount_remaining - amount_in  # the rest of the input is all fee
    else:
        fee_amount = mul_div_rounding_up(amount_in, fee_pips, FEE_DENOMINATOR - fee_pips)
    return sqrt_next_x96, amount_in, amount_out, fee_amount
