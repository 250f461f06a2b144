"""Refreshing 10,000 tracked Aave positions after one oracle price change: the local health
factor recomputed from held balances (no calls), in µs per position. Also the watchlist's
best-liquidation search (every collateral x debt pair, four sizes, exact V2 swap quotes) for
the positions that price change made liquidatable, in µs per position searched, and, when the
devnet can start (anvil from node_modules), the Multicall3 batch read of real positions
(balances + getUserAccountData, one aggregate3 per 150 users) in µs per position.

Run: .venv/bin/python bench/bench_lending.py [--no-devnet]
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.amm.routes import ROUTE_V2, PoolRef, RouteBook  # noqa: E402
from core.detect.liquidations import best_liquidation  # noqa: E402
from core.lending.health_factor import (  # noqa: E402
    Market,
    PositionBalances,
    ReserveState,
    account_data,
)

RAY = 10**27
N = 10_000


def synthetic_market() -> Market:
    reserves = (
        ReserveState(
            0,
            "WETH",
            "0x01",
            _cfg(8000, 8250, 10500, 18),
            RAY + 10**24,
            2 * 10**25,
            RAY + 3 * 10**24,
            3 * 10**25,
            1_700_000_000,
            "",
            "",
            "",
        ),
        ReserveState(
            1,
            "WBTC",
            "0x02",
            _cfg(7300, 7800, 10500, 8),
            RAY + 10**23,
            10**25,
            RAY + 10**24,
            2 * 10**25,
            1_700_000_000,
            "",
            "",
            "",
        ),
        ReserveState(
            2,
            "USDC",
            "0x03",
            _cfg(7700, 8000, 10450, 6),
            RAY + 5 * 10**24,
            4 * 10**25,
            RAY + 8 * 10**24,
            5 * 10**25,
            1_700_000_000,
            "",
            "",
            "",
        ),
    )
    return Market(reserves, (3_400 * 10**8, 95_000 * 10**8, 10**8), 1_700_003_600)


def _cfg(ltv: int, lt: int, bonus: int, decimals: int) -> int:
    return ltv | lt << 16 | bonus << 32 | decimals << 48 | 1_000 << 152


def positions(rng: random.Random) -> list[PositionBalances]:
    out = []
    for i in range(N):
        coll = rng.randrange(3)
        debt = (coll + 1 + rng.randrange(2)) % 3
        scaled_c = [0, 0, 0]
        scaled_d = [0, 0, 0]
        scaled_c[coll] = rng.randrange(10**6, 10**21)
        scaled_d[debt] = rng.randrange(10**5, 10**20)
        config = (1 << (2 * coll + 1)) | (1 << (2 * debt))
        out.append(
            PositionBalances(f"0x{i:040x}", config, tuple(scaled_c), tuple(scaled_d), (0, 0, 0))
        )
    return out


def synthetic_routes(market: Market) -> RouteBook:
    """One deep V2 pair per asset pair, priced at the oracle (~$50M a side)."""
    pools: list[PoolRef] = []
    book_v2: dict[str, tuple[int, int]] = {}
    reserves = market.reserves
    for i in range(len(reserves)):
        for j in range(i + 1, len(reserves)):
            a, b = reserves[i], reserves[j]
            address = f"0x{i + 1:02x}{j + 1:02x}"
            pools.append(PoolRef(ROUTE_V2, "uniswap_v2", address, a.asset, b.asset, 30))
            side_usd = 50_000_000
            book_v2[address] = (
                side_usd * 10**8 * market.units[i] // market.prices[i],
                side_usd * 10**8 * market.units[j] // market.prices[j],
            )
    routes = RouteBook(pools)
    routes.set_states(book_v2, {})
    return routes


def bench_refresh(market: Market, tracked: list[PositionBalances]) -> Market:
    for p in tracked:
        account_data(p, market)
    moved = market.with_price("WETH", 3_298 * 10**8)  # WETH -3%
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        moved = market.with_price("WETH", 3_298 * 10**8)
        for p in tracked:
            account_data(p, moved)
        best = min(best, time.perf_counter() - t0)
    print(
        f"refresh {N} positions after one price change: {best * 1e3:.1f} ms, "
        f"{best / N * 1e6:.2f} µs/position (best of 5)"
    )
    return moved


def bench_best_liquidation(market: Market, tracked: list[PositionBalances]) -> None:
    routes = synthetic_routes(market)
    data = [(p, account_data(p, market)) for p in tracked]
    liquidatable = [(p, d) for p, d in data if d.liquidatable]
    if not liquidatable:
        print("best-liquidation search: no liquidatable position in the synthetic set")
        return
    best = float("inf")
    found = 0
    for _ in range(3):
        t0 = time.perf_counter()
        found = 0
        for p, d in liquidatable:
            if best_liquidation(market, p, d, routes, 5, 10**9) is not None:
                found += 1
        best = min(best, time.perf_counter() - t0)
    print(
        f"best-liquidation search over {len(liquidatable)} liquidatable positions "
        f"({found} with a plan): {best * 1e3:.1f} ms, "
        f"{best / len(liquidatable) * 1e6:.1f} µs/position (best of 3)"
    )


def bench_multicall(users_count: int = 300, repeat: int = 5) -> None:
    """Devnet: open real positions, then time the batched Multicall3 read of all of them."""
    from core.chain.artifacts import ArtifactError
    from core.deploy.devnet import Devnet
    from core.feeds.aave_reader import AaveReader, read_market, read_positions
    from core.feeds.sim.borrowers import BorrowerSim

    try:
        devnet = Devnet.start()
    except (ArtifactError, OSError, RuntimeError) as exc:
        print(f"multicall read: skipped (no devnet: {exc})")
        return
    try:
        sim = BorrowerSim(devnet.w3, devnet.manifest, seed=1)
        t0 = time.perf_counter()
        for _ in range(users_count // 50):
            sim.open_positions([sim.random_spec() for _ in range(50)])
        opened = time.perf_counter() - t0
        assert devnet.manifest.aave is not None
        reader = AaveReader(devnet.manifest.aave)
        users = sim.borrowers
        market, block = read_market(devnet.w3, reader)
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            market, block = read_market(devnet.w3, reader, block)
            reads = read_positions(devnet.w3, reader, users, market, block)
            best = min(best, time.perf_counter() - t0)
        ok = sum(1 for r in reads.values() if not isinstance(r, Exception))
        print(
            f"devnet Multicall3 read of {len(users)} positions ({ok} read; market + positions, "
            f"{-(-len(users) // 150)} aggregate3 calls): {best * 1e3:.1f} ms, "
            f"{best / len(users) * 1e6:.0f} µs/position (best of {repeat}; "
            f"opening them took {opened:.1f} s)"
        )
    finally:
        devnet.stop()


def main() -> None:
    rng = random.Random(1)
    market = synthetic_market()
    tracked = positions(rng)
    moved = bench_refresh(market, tracked)
    bench_best_liquidation(moved, tracked)
    if "--no-devnet" not in sys.argv:
        bench_multicall()


if __name__ == "__main__":
    main()
