"""Multi-hop cycles: enumeration, the per-hop index (an update re-checks only the cycles through
its hops), and exact sizing through book depth and through V2 pools, held against brute force."""

from __future__ import annotations

import random

import pytest

from core.amm.pools import DexPool, PoolData, V2State
from core.amm.quote import maximize
from core.amm.tick_math import get_sqrt_ratio_at_tick
from core.amm.v2 import get_amount_out
from core.amm.v3 import PoolState
from core.book import OrderBook
from core.detect.cycles import (
    CycleIndex,
    book_hop_out,
    book_hops,
    book_rate,
    enumerate_cycles,
    pool_hops,
    size_book_cycle,
    size_pool_cycle,
    walk_books,
    walk_pools,
)
from tests.support.pools import v2_pool

MARKETS = ("BTC/USDT", "ETH/USDT", "ETH/BTC")


def _book(symbol: str, bids: list[list[float]], asks: list[list[float]]) -> OrderBook:
    book = OrderBook("simex", symbol)
    book.apply_snapshot(bids, asks, sequence=1, received_at=0.0)
    return book


def _triangle_books(eth_btc_bid: float) -> dict[tuple[str, str], OrderBook]:
    """BTC 100,000 and ETH 3,000 in USDT; ETH/BTC bid at `eth_btc_bid` (fair 0.03)."""
    return {
        ("simex", "BTC/USDT"): _book(
            "BTC/USDT", [[99_990.0, 1.0], [99_980.0, 2.0]], [[100_000.0, 0.5], [100_010.0, 2.0]]
        ),
        ("simex", "ETH/USDT"): _book(
            "ETH/USDT", [[3_000.0, 5.0], [2_999.0, 20.0]], [[3_001.0, 10.0], [3_002.0, 30.0]]
        ),
        ("simex", "ETH/BTC"): _book(
            "ETH/BTC",
            [[eth_btc_bid, 2.0], [eth_btc_bid - 0.0001, 10.0]],
            [[eth_btc_bid + 0.0001, 4.0], [eth_btc_bid + 0.0002, 10.0]],
        ),
    }


def _hops() -> list:  # type: ignore[type-arg]
    return [h for m in MARKETS for h in book_hops("simex", m)]


def test_a_triangle_on_one_venue_has_both_directions_and_no_two_hop_cycles() -> None:
    cycles = enumerate_cycles(_hops(), ["USDT"], max_hops=4)
    paths = sorted(" ".join([c.start, *(h.dst for h in c.hops)]) for c in cycles)
    assert paths == ["USDT BTC ETH USDT", "USDT ETH BTC USDT"]
    (one,) = [c for c in cycles if c.hops[0].dst == "BTC"]
    assert [h.side for h in one.hops] == ["buy", "buy", "sell"]  # BTC with USDT, ETH with BTC
    # Two venues listing one market make a 2-hop cycle (the plain CEX-CEX spread).
    two = enumerate_cycles([*book_hops("a", "BTC/USDT"), *book_hops("b", "BTC/USDT")], ["USDT"])
    assert sorted(len(c.hops) for c in two) == [2, 2]


def test_the_index_finds_a_profitable_triangle_and_rechecks_only_touched_cycles() -> None:
    books = _triangle_books(0.0308)  # ETH dear in BTC: USDT -> BTC -> ETH? no: sell ETH for BTC
    index = CycleIndex(enumerate_cycles(_hops(), ["USDT"], max_hops=3))
    fee = 0.001
    for (_, symbol), book in books.items():
        for hop in book_hops("simex", symbol):
            index.set_rate(hop.key, book_rate(book, hop, fee))
    found = index.profitable(min_bps=0.0)
    assert [str(c) for c, _ in found] == [
        "USDT -> ETH -> BTC -> USDT (buy ETH/USDT@simex, sell ETH/BTC@simex, sell BTC/USDT@simex)"
    ]
    ((cycle, bps),) = found
    # 1/3001 ETH per USDT, 0.0308 BTC per ETH, 99,990 USDT per BTC, three taker fees.
    expected = (1 / 3_001 * 0.0308 * 99_990 * (1 - fee) ** 3 - 1) * 1e4
    assert bps == pytest.approx(expected)
    assert index.evaluated == 2
    # Nothing moved: nothing is re-checked. One book moves: only the cycles through it.
    assert index.profitable() == [] and index.evaluated == 2
    buy_eth = book_hops("simex", "ETH/USDT")[0]
    index.set_rate(buy_eth.key, 1 / 3_200 * (1 - fee))  # ETH dearer: the edge is gone
    assert index.profitable() == [] and index.evaluated == 3  # one cycle uses that hop
    index.set_rate(buy_eth.key, None)  # the asks emptied: the hop cannot trade
    assert index.profitable() == []


def test_fees_can_make_a_triangle_not_worth_proposing() -> None:
    books = _triangle_books(0.0301)  # +~0.3 % at the margin before fees
    index = CycleIndex(enumerate_cycles(_hops(), ["USDT"], max_hops=3))
    for fee, wanted in ((0.0, 1), (0.002, 0)):
        for (_, symbol), book in books.items():
            for hop in book_hops("simex", symbol):
                index.set_rate(hop.key, book_rate(book, hop, fee))
        assert len(index.profitable()) == wanted


def test_a_book_hop_walks_depth_and_takes_the_fee_from_what_it_receives() -> None:
    book = _book("BTC/USDT", [[99_990.0, 1.0], [99_980.0, 2.0]], [[100_000.0, 0.5], [100_010.0, 2]])
    buy, sell = book_hops("simex", "BTC/USDT")
    # 60,000 USDT: 0.5 BTC at 100,000, then 10,000 / 100,010 at the next level.
    assert book_hop_out(book, buy, 60_000.0, 0.001) == pytest.approx(
        (0.5 + 10_000 / 100_010) * 0.999
    )
    assert book_hop_out(book, sell, 1.5, 0.0) == pytest.approx(99_990 + 0.5 * 99_980)
    assert book_hop_out(book, sell, 3.5, 0.0) == 0.0  # deeper than the book: not a size


def test_book_cycle_sizing_matches_brute_force() -> None:
    rng = random.Random(7)
    fees = {"simex": 0.001}
    for _ in range(25):
        books = _triangle_books(0.0303 + rng.random() * 0.001)
        cycles = enumerate_cycles(_hops(), ["USDT"], max_hops=3)
        for cycle in cycles:
            sized = size_book_cycle(cycle, books, fees, max_in=40_000.0, unit=0.01)
            grid = [x * 0.5 for x in range(1, 80_001)]  # every 0.50 USDT up to 40,000
            best = max(walk_books(cycle, books, fees, x)[-1] - x for x in grid)
            if sized is None:
                assert best <= 1e-6
                continue
            assert sized.profit >= best - 0.01  # the search's steps are finer than the grid
            amounts = walk_books(cycle, books, fees, sized.amount_in)
            assert sized.profit == pytest.approx(amounts[-1] - amounts[0])


_pool = v2_pool


def test_pool_cycle_sizing_is_exact_and_matches_brute_force() -> None:
    rng = random.Random(11)
    e18 = 10**18
    for _ in range(10):
        pools = {
            "p1": _pool("p1", "WETH", "USDC"),
            "p2": _pool("p2", "USDC", "WBTC"),
            "p3": _pool("p3", "WBTC", "WETH", fee_bps=25),
        }
        skew = 1 + rng.uniform(0.02, 0.06)  # WBTC cheap in WETH on p3, past the 0.85 % fees
        states = {
            "p1": V2State(1_000 * e18, 3_000_000 * e18),
            "p2": V2State(3_000_000 * e18, 30 * e18),
            "p3": V2State(30 * e18, int(1_000 * skew) * e18),
        }
        hops = [h for p in pools.values() for h in pool_hops(p)]
        cycles = [
            c for c in enumerate_cycles(hops, ["WETH"], max_hops=3) if c.hops[0].market == "p1"
        ]
        assert len(cycles) == 1
        (cycle,) = cycles
        gas = 3 * 10**15  # 0.003 WETH of gas
        sized = size_pool_cycle(cycle, pools, states, 100 * e18, cost_raw=lambda _a, g=gas: g)
        assert sized is not None
        amount = int(sized.amount_in)
        # Exact: the chained integer V2 formula, hop by hop.
        out1 = get_amount_out(amount, 1_000 * e18, 3_000_000 * e18, 30)
        out2 = get_amount_out(out1, 3_000_000 * e18, 30 * e18, 30)
        out3 = get_amount_out(out2, 30 * e18, int(1_000 * skew) * e18, 25)
        assert walk_pools(cycle, pools, states, amount) == (amount, out1, out2, out3)
        assert sized.profit == out3 - amount - gas
        # Brute force over 2,000 inputs: the search is at least as good as every one.
        best = max(
            walk_pools(cycle, pools, states, x)[-1] - x - gas
            for x in range(e18 // 20, 100 * e18, e18 // 20)
        )
        assert sized.profit >= best


def _v3_ladder(center: int, ranges: int = 8, spacing: int = 60) -> PoolState:
    ticks: dict[int, int] = {}
    for i in range(1, ranges + 1):
        lo, hi = center - i * spacing * 3, center + i * spacing * 3
        ticks[lo] = ticks.get(lo, 0) + 10**21
        ticks[hi] = ticks.get(hi, 0) - 10**21
    return PoolState(get_sqrt_ratio_at_tick(center), center, ranges * 10**21, 3000, 60, ticks)


@pytest.mark.parametrize("skew_ticks", [120, 300, 900])
def test_v3_cycle_sizing_matches_the_search_and_brute_force(skew_ticks: int) -> None:
    """The closed-form input on the pools' curves, checked on the exact V3 math, against the
    golden-section search alone and a grid; at 900 ticks the best trade crosses ticks and the
    sizing falls back to the search."""
    pools: dict[str, DexPool] = {}
    states: dict[str, PoolData] = {}
    for i, (t0, t1, center) in enumerate((("A", "B", 0), ("B", "C", 0), ("C", "A", skew_ticks))):
        address = f"v3-{i}"
        pools[address] = DexPool(
            "uni-v3", "v3", address, f"{t0}/{t1}", "0x" + t0, "0x" + t1, t0, t1, 18, 18, 3000, 60
        )
        states[address] = _v3_ladder(center)
    hops = [h for p in pools.values() for h in pool_hops(p)]
    (cycle,) = [
        c
        for c in enumerate_cycles(hops, ["A"], max_hops=3, min_hops=3)
        if [h.dst for h in c.hops] == ["B", "C", "A"]
    ]
    max_in = 10**24
    sized = size_pool_cycle(cycle, pools, states, max_in)
    assert sized is not None
    assert (
        walk_pools(cycle, pools, states, int(sized.amount_in))[-1] - int(sized.amount_in)
        == sized.profit
    )

    def profit(x: int) -> float:
        out = walk_pools(cycle, pools, states, x)
        return float(out[-1] - x) if len(out) == 4 and out[-1] else float("-inf")

    searched, searched_profit = maximize(profit, 1, max_in, refine=160, rel_tol=1e-9)
    assert sized.profit >= searched_profit * (1 - 1e-9)
    step = max(1, int(sized.amount_in) // 500)
    grid = max(profit(x) for x in range(step, 2 * int(sized.amount_in), step))
    # The closed form stops within a ten-thousandth of the input of the optimum: a few wei.
    assert sized.profit >= grid * (1 - 1e-9)
    assert searched > 0
