"""core.amm.v2: the library's formulas, its reverts, and the optimal two-pool size."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.amm.errors import UINT256_MAX, AmmRevert
from core.amm.v2 import NO_ARBITRAGE, get_amount_in, get_amount_out, optimal_two_pool_arbitrage

reserves = st.integers(min_value=1, max_value=2**112 - 1)


@given(st.integers(1, 2**100), reserves, reserves)
def test_amount_out_is_the_library_formula(amount_in: int, r_in: int, r_out: int) -> None:
    # UniswapV2Library.getAmountOut, spelled out with its own constants
    expected = amount_in * 997 * r_out // (r_in * 1000 + amount_in * 997)
    assert get_amount_out(amount_in, r_in, r_out) == expected


@given(reserves, reserves, st.integers(1, 2**112))
def test_amount_in_is_the_least_input_for_the_output(
    r_in: int, r_out: int, amount_out: int
) -> None:
    if amount_out >= r_out:
        with pytest.raises(AmmRevert):
            get_amount_in(amount_out, r_in, r_out)
        return
    needed = get_amount_in(amount_out, r_in, r_out)
    assert needed == r_in * amount_out * 1000 // ((r_out - amount_out) * 997) + 1
    assert get_amount_out(needed, r_in, r_out) >= amount_out
    # the library's +1 makes it at most one unit above the true minimum
    assert needed - 2 < 1 or get_amount_out(needed - 2, r_in, r_out) < amount_out


def test_reverts_carry_the_library_reasons() -> None:
    with pytest.raises(AmmRevert, match="INSUFFICIENT_INPUT_AMOUNT"):
        get_amount_out(0, 10, 10)
    with pytest.raises(AmmRevert, match="INSUFFICIENT_LIQUIDITY"):
        get_amount_out(5, 0, 10)
    with pytest.raises(AmmRevert, match="INSUFFICIENT_OUTPUT_AMOUNT"):
        get_amount_in(0, 10, 10)
    with pytest.raises(AmmRevert, match="ds-math-mul-overflow"):
        get_amount_out(2**200, 10, 2**60)
    with pytest.raises(ValueError):
        get_amount_out(1, 10, 10, fee_bps=10_000)


def test_other_fees() -> None:
    # 5 bps: fraction 9995/10000
    assert get_amount_out(10**6, 10**9, 10**9, fee_bps=5) == 10**6 * 9995 * 10**9 // (
        10**9 * 10_000 + 10**6 * 9995
    )
    # a zero fee is the bare constant-product formula
    assert get_amount_out(10, 100, 100, fee_bps=0) == 10 * 100 // 110


def _profit(x: int, a: tuple[int, int], b: tuple[int, int], fa: int, fb: int) -> int:
    mid = get_amount_out(x, *a, fee_bps=fa)
    return (get_amount_out(mid, *b, fee_bps=fb) if mid else 0) - x


small = st.integers(10, 3_000)
fees = st.sampled_from([0, 1, 5, 25, 30, 100])


@settings(max_examples=150, deadline=None)
@given(small, small, small, small, fees, fees)
def test_optimum_against_brute_force(ax: int, ay: int, by: int, bx: int, fa: int, fb: int) -> None:
    """Small pools, every input tried: the closed form is at most one raw unit short of the
    exact integer optimum (the floors of two swaps), and its figures are exact."""
    arb = optimal_two_pool_arbitrage(ax, ay, by, bx, fa, fb)
    # Pool B pays out less than bx, so no input of bx or more can profit: that bounds the search.
    best = max([0] + [_profit(x, (ax, ay), (by, bx), fa, fb) for x in range(1, bx)])
    assert best - 1 <= arb.profit <= best
    if arb.profit:
        assert arb.amount_mid == get_amount_out(arb.amount_in, ax, ay, fee_bps=fa)
        assert arb.amount_out == get_amount_out(arb.amount_mid, by, bx, fee_bps=fb)
        assert arb.profit == arb.amount_out - arb.amount_in


@given(st.integers(10**6, 10**30), st.integers(10**6, 10**30), fees)
def test_no_arbitrage_between_equal_pools(rx: int, ry: int, fee: int) -> None:
    assert optimal_two_pool_arbitrage(rx, ry, ry, rx, fee, fee) == NO_ARBITRAGE


def test_realistic_pools_beat_every_nearby_size() -> None:
    # WETH/USDC on two venues, 1 % apart: USDC (6 dec) in, WETH (18 dec) in the middle
    a, b = (3_400_000 * 10**6, 1_010 * 10**18), (1_000 * 10**18, 3_400_000 * 10**6)
    arb = optimal_two_pool_arbitrage(*a, *b)
    assert arb.profit > 0
    for x in range(arb.amount_in - 2_000, arb.amount_in + 2_000, 7):
        assert _profit(x, a, b, 30, 30) <= arb.profit + 1


def test_empty_pool_means_no_arbitrage() -> None:
    assert optimal_two_pool_arbitrage(0, 10, 10, 10) == NO_ARBITRAGE


def test_every_safemath_step_reverts_as_the_library_does() -> None:
    # reserveIn * 1000 overflows (the numerator alone fits).
    with pytest.raises(AmmRevert, match="ds-math-mul-overflow"):
        get_amount_out(1, UINT256_MAX // 1000 + 1, 1)
    # Both products fit, their sum (the denominator) does not.
    with pytest.raises(AmmRevert, match="ds-math-add-overflow"):
        get_amount_out(UINT256_MAX // 997, UINT256_MAX // 1000, 1)
    # getAmountIn: (reserveOut - amountOut) * 997 overflows.
    with pytest.raises(AmmRevert, match="ds-math-mul-overflow"):
        get_amount_in(1, 1, UINT256_MAX // 997 + 2)
    # Just inside every bound: a figure, as the library returns.
    assert get_amount_out(1, UINT256_MAX // 1000 - 1, 1) == 0
