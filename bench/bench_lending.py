"""Refreshing 10,000 tracked Aave positions after one oracle price change: the local health
factor recomputed from held balances (no calls), in µs per position. Also the watchlist's
best-liquidation search for the liquidatable ones, and a devnet Multicall3 read per position.

Run: .venv/bin/python bench/bench_lending.py
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.lending.health import (  # noqa: E402
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


def main() -> None:
    rng = random.Random(1)
    market = synthetic_market()
    tracked = positions(rng)
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


if __name__ == "__main__":
    main()
