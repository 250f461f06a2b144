"""Multi-hop cycle search over 1,000 on-chain pools (seeded generator, in memory).

Prints: the cycles the index holds (2- and 3-hop from the start tokens), a full scan (every
hop's rate set, every cycle summed), one pool update (its two hops re-rated, only the cycles
through them re-summed), and exact sizing of a 3-hop V2 cycle. Figures only; the issue's
targets are a full scan <= 15 ms and one update <= 1 ms.

Run: `.venv/bin/python bench/bench_cycles.py [pools]`.
"""

from __future__ import annotations

import random
import statistics
import sys
import time

from bench.targets import target_line
from core.amm.pools import DexPool, PoolData, V2State
from core.amm.tick_math import get_sqrt_ratio_at_tick
from core.amm.v3 import PoolState
from core.detect.cycles import (
    CycleIndex,
    enumerate_cycles,
    pool_hops,
    pool_rates,
    size_pool_cycle,
)
from core.detect.pool_cycle_scan import PoolCycleDetector
from core.gas import GasTable
from core.settings import CycleSettings, ThresholdSettings

E18 = 10**18


def pools_and_states(
    n: int, tokens: int, seed: int = 3
) -> tuple[list[DexPool], dict[str, V2State]]:
    """`n` V2 pools over `tokens` tokens with fair prices plus up to 1 % noise per pool."""
    rng = random.Random(seed)
    fair = {f"T{i}": rng.uniform(0.5, 2000.0) for i in range(tokens)}
    pools, states = [], {}
    for i in range(n):
        a, b = rng.sample(sorted(fair), 2)
        address = f"0x{i:040x}"
        pools.append(
            DexPool(f"dex{i % 4}", "v2", address, f"{a}/{b}", "0x" + a, "0x" + b, a, b, 18, 18, 30)
        )
        depth = rng.uniform(100, 10_000)
        noise = 1 + rng.uniform(-0.01, 0.01)
        states[address] = V2State(int(depth * E18), int(depth * fair[a] / fair[b] * noise * E18))
    return pools, states


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    pools, states = pools_and_states(n, tokens=60)
    by_address = {p.address: p for p in pools}
    hops = [h for p in pools for h in pool_hops(p)]
    starts = ["T0", "T1", "T2", "T3", "T4"]
    t0 = time.perf_counter()
    cycles = enumerate_cycles(hops, starts, max_hops=3)
    build_ms = (time.perf_counter() - t0) * 1e3
    index = CycleIndex(cycles)
    print(f"pools {n}, start tokens {len(starts)}: {len(cycles)} cycles of 2-3 hops")
    print(f"enumerate + index (once per run)         {build_ms:8.1f} ms")

    full = []
    for _ in range(5):
        index = CycleIndex(cycles)
        t0 = time.perf_counter()
        for p in pools:
            forward, back = pool_rates(p, states[p.address])
            h1, h2 = pool_hops(p)
            index.set_rate(h1.key, forward)
            index.set_rate(h2.key, back)
        found = index.profitable()
        full.append((time.perf_counter() - t0) * 1e3)
    print(
        f"full scan: rate every hop, sum every cycle {statistics.median(full):8.2f} ms  "
        f"({len(found)} profitable at the margin)"
    )

    rng = random.Random(9)
    one = []
    touched = []
    for _ in range(2000):
        p = rng.choice(pools)
        s = states[p.address]
        states[p.address] = s = V2State(s.reserve0, int(s.reserve1 * rng.uniform(0.999, 1.001)))
        before = index.evaluated
        t0 = time.perf_counter()
        forward, back = pool_rates(p, s)
        h1, h2 = pool_hops(p)
        index.set_rate(h1.key, forward)
        index.set_rate(h2.key, back)
        index.profitable()
        one.append((time.perf_counter() - t0) * 1e6)
        touched.append(index.evaluated - before)
    one.sort()
    p50, p99 = one[len(one) // 2], one[int(len(one) * 0.99)]
    print(
        f"one pool update: p50 {p50:7.1f} us  p99 {p99:7.1f} us  (cycles re-summed: median "
        f"{statistics.median(touched):.0f}, full scan {len(cycles)})"
    )

    three = next((c for c, _ in found if len(c.hops) == 3), None)
    if three is not None:
        times = []
        for _ in range(50):
            t0 = time.perf_counter()
            sized = size_pool_cycle(three, by_address, states, 1_000 * E18)
            times.append((time.perf_counter() - t0) * 1e6)
        print(
            f"exact sizing of a 3-hop V2 cycle         {statistics.median(times):8.1f} us  "
            f"(profit {sized.profit / E18 if sized else 0:.6f} {three.start})"
        )
    bench_v3_cycle()
    bench_detector(n)


def bench_detector(n: int) -> None:
    """The engine's on-chain path: PoolCycleDetector.scan (re-rate the pools the feed changed,
    re-sum their cycles, size and fund what clears the bar) over the same 1,000 pools, 3 hops."""
    pools, states = pools_and_states(n, tokens=60)
    detector = PoolCycleDetector(
        pools,
        states,
        ThresholdSettings(min_profit_usd=0.0, max_notional_usd=1e6),
        CycleSettings(start_currencies=["T0", "T1", "T2", "T3", "T4"], max_hops=3),
        gas_price_in=lambda _symbol: 1e6,
        usd_price=lambda _symbol: 1.0,
        wallet_balance=lambda _token: 10**30,
        cycle_gas=GasTable().cycle,
        sweep_s=1e9,  # no periodic re-sum inside the measurement
        clock=lambda: 0.0,
    )
    t0 = time.perf_counter()
    found = detector.scan()
    first_ms = (time.perf_counter() - t0) * 1e3
    rng = random.Random(5)
    one = []
    for _ in range(500):
        p = rng.choice(pools)
        s = states[p.address]
        states[p.address] = V2State(s.reserve0, int(s.reserve1 * rng.uniform(0.999, 1.001)))
        t0 = time.perf_counter()
        detector.scan()
        one.append((time.perf_counter() - t0) * 1e6)
    one.sort()
    p50, p99 = one[len(one) // 2], one[int(len(one) * 0.99)]
    print(
        f"detector: {len(detector.cycles)} 3-hop cycles; first scan {first_ms:.1f} ms "
        f"({len(found)} sized and funded); one pool update p50 {p50:.0f} us p99 {p99:.0f} us"
    )


def v3_ladder(center: int, ranges: int = 20, spacing: int = 60, fee: int = 3000) -> PoolState:
    """A V3 pool at `center` (a multiple of `spacing`) with `ranges` nested positions around it."""
    ticks: dict[int, int] = {}
    for i in range(1, ranges + 1):
        lo, hi = center - i * spacing * 3, center + i * spacing * 3
        ticks[lo] = ticks.get(lo, 0) + 10**21
        ticks[hi] = ticks.get(hi, 0) - 10**21
    return PoolState(get_sqrt_ratio_at_tick(center), center, ranges * 10**21, fee, spacing, ticks)


def bench_v3_cycle() -> None:
    """A -> B -> C -> A through three 0.3 % V3 pools, the last one 3 % off the other two."""
    pools: dict[str, DexPool] = {}
    states: dict[str, PoolData] = {}
    for i, (t0, t1, center) in enumerate((("A", "B", 0), ("B", "C", 0), ("C", "A", 300))):
        address = f"0x{0xA000 + i:040x}"
        pools[address] = DexPool(
            "uni-v3", "v3", address, f"{t0}/{t1}", "0x" + t0, "0x" + t1, t0, t1, 18, 18, 3000, 60
        )
        states[address] = v3_ladder(center)
    hops = [h for p in pools.values() for h in pool_hops(p)]
    cycle = next(
        c
        for c in enumerate_cycles(hops, ["A"], max_hops=3, min_hops=3)
        if [h.dst for h in c.hops] == ["B", "C", "A"]
    )
    times = []
    sized = None
    for _ in range(30):
        t0 = time.perf_counter()
        sized = size_pool_cycle(cycle, pools, states, 10**24)
        times.append((time.perf_counter() - t0) * 1e6)
    median = statistics.median(times)
    print(
        f"exact sizing of a 3-hop V3 cycle         {median:8.1f} us  "
        f"(profit {sized.profit / E18 if sized else 0:.6f} A "
        f"on {sized.amount_in / E18 if sized else 0:.3f} A in)"
    )
    print(target_line("exact sizing of a 3-hop V3 cycle", median, 200.0, "us"))


if __name__ == "__main__":
    main()
