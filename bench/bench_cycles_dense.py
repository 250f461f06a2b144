"""Cycle search over a dense market graph: 300 currencies, every pair a market both ways.

arbdesk's search is the index of candidate cycles per edge (core.detect.cycles): the 3-hop
cycles from the start currencies are enumerated once, and an edge update re-sums only the
cycles through that edge. Prints the enumeration and a full re-sum (start-up costs), one edge
update (the cost on the hot path: the issue's target is <= 1 ms), and, when installed
(`pip install -e '.[bench]'`), networkx's and scipy's Bellman-Ford negative-cycle search on the
same -log graph in the same run, for scale: those answer "is there any negative cycle" over the
whole graph, which is what a rescan on every update would cost.

Run: `.venv/bin/python bench/bench_cycles_dense.py [currencies] [starts]`.
"""

from __future__ import annotations

import math
import random
import statistics
import sys
import time

from bench.targets import target_line
from core.detect.cycles import CycleIndex, Hop, enumerate_cycles


def dense_graph(n: int, seed: int = 7) -> dict[tuple[str, str], float]:
    """(src, dst) -> rate after a 10 bps fee, from fair prices with 0.2 % noise per market."""
    rng = random.Random(seed)
    fair = [rng.uniform(0.01, 50_000.0) for _ in range(n)]
    rates: dict[tuple[str, str], float] = {}
    for i in range(n):
        for j in range(i + 1, n):
            mid = fair[i] / fair[j] * (1 + rng.uniform(-0.002, 0.002))
            rates[(f"C{i}", f"C{j}")] = mid * 0.999
            rates[(f"C{j}", f"C{i}")] = 0.999 / mid
    return rates


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    n_starts = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    rates = dense_graph(n)
    hops = [Hop("x", f"{a}|{b}" if a < b else f"{b}|{a}", a, b) for a, b in rates]
    starts = [f"C{i}" for i in range(n_starts)]
    t0 = time.perf_counter()
    cycles = enumerate_cycles(hops, starts, max_hops=3, min_hops=3)
    index = CycleIndex(cycles)
    build_s = time.perf_counter() - t0
    keys = {(h.src, h.dst): h.key for h in hops}
    for pair, rate in rates.items():
        index.set_rate(keys[pair], rate)
    t0 = time.perf_counter()
    found = index.profitable()
    full_ms = (time.perf_counter() - t0) * 1e3
    print(
        f"{n} currencies, {len(rates)} directed markets, {n_starts} starts: {len(cycles)} "
        f"3-hop cycles indexed in {build_s:.1f} s; full re-sum {full_ms:.1f} ms, "
        f"{len(found)} negative"
    )
    rng = random.Random(1)
    pairs = list(rates)
    times = []
    for _ in range(2000):
        pair = pairs[rng.randrange(len(pairs))]
        rate = rates[pair] * (1 + rng.uniform(-0.003, 0.003))
        t0 = time.perf_counter()
        index.set_rate(keys[pair], rate)
        index.profitable()
        times.append(time.perf_counter() - t0)
    times.sort()
    p50, p99 = statistics.median(times) * 1e6, times[int(len(times) * 0.99)] * 1e6
    print(f"one market update, cycles through it re-summed: p50 {p50:.1f} us, p99 {p99:.1f} us")
    print(target_line("dense 300-currency graph: one update, p99", p99 / 1e3, 1.0, "ms"))
    extras(rates, n)


def extras(rates: dict[tuple[str, str], float], n: int) -> None:
    try:
        import networkx as nx
    except ImportError:
        print("networkx not installed: pip install -e '.[bench]' for its Bellman-Ford")
    else:
        graph = nx.DiGraph()
        for (a, b), rate in rates.items():
            graph.add_edge(a, b, weight=-math.log(rate))
        t0 = time.perf_counter()
        negative = nx.negative_edge_cycle(graph, weight="weight")
        print(
            f"networkx negative_edge_cycle: {(time.perf_counter() - t0) * 1e3:.0f} ms "
            f"(found: {negative})"
        )
    try:
        import numpy as np
        from scipy.sparse.csgraph import NegativeCycleError, bellman_ford
    except ImportError:
        print("scipy not installed: pip install -e '.[bench]' for its Bellman-Ford")
        return
    matrix = np.zeros((n, n))
    for (a, b), rate in rates.items():
        matrix[int(a[1:]), int(b[1:])] = -math.log(rate)
    t0 = time.perf_counter()
    try:
        bellman_ford(matrix, directed=True, indices=0)
        negative = False
    except NegativeCycleError:
        negative = True
    print(
        f"scipy bellman_ford (one source): {(time.perf_counter() - t0) * 1e3:.0f} ms "
        f"(found: {negative})"
    )


if __name__ == "__main__":
    main()
