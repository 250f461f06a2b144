"""core.amm V3 libraries: TickMath, FullMath, SqrtPriceMath and swap properties, pure math.

Equality with the deployed contracts is proven in tests/amm/test_amm_v3_chain.py; these
check the libraries against their definitions over wide inputs."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.amm.errors import AmmRevert
from core.amm.full_math import mul_div, mul_div_rounding_up
from core.amm.sqrt_price_math import get_amount0_delta, get_amount1_delta
from core.amm.tick_math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)
from core.amm.v3 import PoolState, swap

ticks = st.integers(MIN_TICK, MAX_TICK)
prices = st.integers(MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1)


def test_tick_math_bounds() -> None:
    assert get_sqrt_ratio_at_tick(MIN_TICK) == MIN_SQRT_RATIO
    assert get_sqrt_ratio_at_tick(MAX_TICK) == MAX_SQRT_RATIO
    assert get_sqrt_ratio_at_tick(0) == 1 << 96
    assert get_tick_at_sqrt_ratio(MIN_SQRT_RATIO) == MIN_TICK
    assert get_tick_at_sqrt_ratio(MAX_SQRT_RATIO - 1) == MAX_TICK - 1
    with pytest.raises(AmmRevert, match="T"):
        get_sqrt_ratio_at_tick(MAX_TICK + 1)
    with pytest.raises(AmmRevert, match="R"):
        get_tick_at_sqrt_ratio(MAX_SQRT_RATIO)
    with pytest.raises(AmmRevert, match="R"):
        get_tick_at_sqrt_ratio(MIN_SQRT_RATIO - 1)


@given(ticks)
def test_sqrt_ratio_is_close_to_the_real_value(tick: int) -> None:
    # log of sqrt(1.0001^tick) * 2^96, compared in log space (relative error < 1e-9)
    got = math.log(get_sqrt_ratio_at_tick(tick)) - 96 * math.log(2)
    assert abs(got - tick * math.log(1.0001) / 2) < 1e-9


@given(prices)
def test_tick_at_sqrt_ratio_is_the_greatest_tick_at_or_below(price: int) -> None:
    tick = get_tick_at_sqrt_ratio(price)
    assert get_sqrt_ratio_at_tick(tick) <= price
    assert tick == MAX_TICK or get_sqrt_ratio_at_tick(tick + 1) > price


@given(ticks)
def test_round_trip(tick: int) -> None:
    assert get_tick_at_sqrt_ratio(get_sqrt_ratio_at_tick(tick)) == tick if tick < MAX_TICK else True


u256 = st.integers(0, 2**256 - 1)


@given(u256, u256, st.integers(1, 2**256 - 1))
def test_full_math(a: int, b: int, d: int) -> None:
    exact = Fraction(a * b, d)
    if exact >= 2**256:
        with pytest.raises(AmmRevert):
            mul_div(a, b, d)
        return
    assert mul_div(a, b, d) == exact.numerator // exact.denominator
    up = -(-exact.numerator // exact.denominator)
    if up >= 2**256:
        with pytest.raises(AmmRevert):
            mul_div_rounding_up(a, b, d)
    else:
        assert mul_div_rounding_up(a, b, d) == up


@given(prices, prices, st.integers(0, 2**128 - 1))
def test_amount_deltas_round_in_the_pools_favour(pa: int, pb: int, liquidity: int) -> None:
    lo, hi = sorted((pa, pb))
    exact0 = Fraction(liquidity << 96, 1) * (hi - lo) / hi / lo
    exact1 = Fraction(liquidity * (hi - lo), 1 << 96)
    assert (
        get_amount0_delta(lo, hi, liquidity, False)
        <= exact0
        <= get_amount0_delta(lo, hi, liquidity, True)
    )
    assert (
        get_amount1_delta(lo, hi, liquidity, False)
        <= exact1
        <= get_amount1_delta(lo, hi, liquidity, True)
    )


def _ladder(spacing: int = 60) -> PoolState:
    # nested positions around tick 0, plus one wholly above
    positions = [(-600, 600, 10**18), (-3000, 3000, 5 * 10**17), (1200, 2400, 10**17)]
    ticks: dict[int, int] = {}
    for lo, hi, liq in positions:
        ticks[lo] = ticks.get(lo, 0) + liq
        ticks[hi] = ticks.get(hi, 0) - liq
    return PoolState(
        sqrt_price_x96=1 << 96,
        tick=0,
        liquidity=15 * 10**17,
        fee=3000,
        tick_spacing=spacing,
        ticks=ticks,
    )


@settings(max_examples=200, deadline=None)
@given(st.booleans(), st.integers(1, 10**20))
def test_exact_output_costs_at_least_the_exact_input_that_buys_it(
    zero_for_one: bool, amount: int
) -> None:
    state = _ladder()
    out = swap(state, zero_for_one, amount)
    received = -(out.amount1 if zero_for_one else out.amount0)
    paid = out.amount0 if zero_for_one else out.amount1
    assert 0 < paid <= amount and received >= 0
    if received:
        back = swap(state, zero_for_one, -received)
        assert -(back.amount1 if zero_for_one else back.amount0) == received
        assert (back.amount0 if zero_for_one else back.amount1) <= paid


def test_crossing_ticks_updates_liquidity() -> None:
    state = _ladder()
    result = swap(state, False, 10**19)  # push the price far up through every range
    assert result.ticks_crossed == 4 and result.liquidity == 0  # 600, 1200, 2400, 3000
    down = swap(state, True, 10**19)
    assert down.ticks_crossed == 2 and down.liquidity == 0  # -600, -3000
    with pytest.raises(ValueError, match="multiple"):
        PoolState(1 << 96, 0, 0, 3000, 60, {61: 1})
