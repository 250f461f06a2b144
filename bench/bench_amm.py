"""AMM math benchmark: V2 optimal two-pool size and V3 swap simulation, exact integer math.

Targets from issue 5 (figures, not assertions): V2 optimal size <= 5 us per solve; V3 swap
<= 20 us + <= 3 us per initialized tick crossed. Pure Python, no chain needed.
Run: `.venv/bin/python bench/bench_amm.py`.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.amm.tick_math import get_sqrt_ratio_at_tick  # noqa: E402
from core.amm.v2 import get_amount_out, optimal_two_pool_arbitrage  # noqa: E402
from core.amm.v3 import PoolState, swap  # noqa: E402

REPEAT = 7


def per_call_us(fn: Callable[[], object], number: int) -> float:
    """Best-of-REPEAT mean time per call, in microseconds (best: least disturbed by others)."""
    best = float("inf")
    for _ in range(REPEAT):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best * 1e6


def bench_v2() -> None:
    rng = random.Random(1)
    cases = []
    for _ in range(200):
        usdc = rng.randint(10**11, 10**13)  # 100k .. 10M USDC (6 decimals)
        weth = usdc * 10**12 // 3_400
        skew = 1 + rng.uniform(0.002, 0.03)  # pool B's ETH is 0.2 .. 3 % dearer
        cases.append((usdc, weth, int(weth / skew), int(usdc * rng.uniform(0.3, 2))))
    profitable = sum(optimal_two_pool_arbitrage(*c).profit > 0 for c in cases)
    n = 0

    def solve() -> None:
        nonlocal n
        optimal_two_pool_arbitrage(*cases[n % 200])
        n += 1

    print(
        f"v2 optimal two-pool size (closed form + 5 exact candidates): "
        f"{per_call_us(solve, 20_000):.2f} us/solve  ({profitable}/200 cases profitable)"
    )
    r = cases[0]
    us = per_call_us(lambda: get_amount_out(10**9, r[0], r[1]), 100_000)
    print(f"v2 get_amount_out: {us:.2f} us")


def ladder(n_ranges: int, spacing: int = 60) -> PoolState:
    """A pool at tick 0 with n nested, staggered positions: 2n initialized ticks."""
    ticks: dict[int, int] = {}
    for i in range(1, n_ranges + 1):
        lo, hi = -i * spacing * 3, i * spacing * 3
        ticks[lo] = ticks.get(lo, 0) + 10**20
        ticks[hi] = ticks.get(hi, 0) - 10**20
    return PoolState(1 << 96, 0, n_ranges * 10**20, 3000, spacing, ticks)


def bench_v3() -> None:
    state = ladder(60)
    points: list[tuple[int, float]] = []
    for target in (0, 1, 2, 4, 8, 12, 16, 24, 32, 40, 50):
        # the exact input that carries the price just past the target-th edge above
        edge_tick = target * 180 + 90
        limit = get_sqrt_ratio_at_tick(edge_tick)
        amount = swap(state, False, 10**40, sqrt_price_limit_x96=limit).amount1

        def run(a: int = amount) -> object:
            return swap(state, False, a)

        points.append((swap(state, False, amount).ticks_crossed, per_call_us(run, 300)))
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    slope, intercept = statistics.linear_regression(xs, ys)
    for crossed, us in points:
        print(f"v3 swap crossing {crossed:>2} initialized ticks: {us:7.2f} us")
    print(f"v3 swap fit: {intercept:.1f} us base + {slope:.2f} us per tick crossed")
    small = per_call_us(lambda: swap(state, True, 10**15), 3_000)
    print(f"v3 small exact-input swap (no crossing): {small:.2f} us")
    exact_out = per_call_us(lambda: swap(state, True, -(10**15)), 3_000)
    print(f"v3 small exact-output swap (no crossing): {exact_out:.2f} us")


if __name__ == "__main__":
    bench_v2()
    bench_v3()
