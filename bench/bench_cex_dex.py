"""CEX-DEX scan over 200 pools: V2 and V3 states (no chain), three CEX books; prints figures."""

from __future__ import annotations

import random
import time

from core.amm.pools import DexPool, PoolData, V2State
from core.amm.v3 import PoolState
from core.book import OrderBook
from core.detect.cex_dex import CexDexDetector
from core.settings import ThresholdSettings

WETH, USDC = "0x" + "11" * 20, "0x" + "22" * 20


def main() -> None:
    rng = random.Random(5)
    pools: list[DexPool] = []
    states: dict[str, PoolData] = {}
    for i in range(200):
        address = f"0x{i:040x}"
        price = 3_400 * (1 + rng.uniform(-0.02, 0.02))  # some pools dislocated past the fees
        if i % 2:
            pools.append(
                DexPool(
                    f"v2-{i}", "v2", address, "WETH/USDC", WETH, USDC, "WETH", "USDC", 18, 6, 30
                )
            )
            states[address] = V2State(500 * 10**18, int(500 * price * 10**6))
        else:
            pools.append(
                DexPool(
                    f"v3-{i}",
                    "v3",
                    address,
                    "WETH/USDC",
                    WETH,
                    USDC,
                    "WETH",
                    "USDC",
                    18,
                    6,
                    500,
                    10,
                )
            )
            sqrt_p = int((price * 10**6 / 10**18) ** 0.5 * 2**96)
            from core.amm.tick_math import get_tick_at_sqrt_ratio

            tick = get_tick_at_sqrt_ratio(sqrt_p)
            lo, hi = (tick - 2_000) // 10 * 10, (tick + 2_000) // 10 * 10
            states[address] = PoolState(
                sqrt_p, tick, 4 * 10**17, 500, 10, {lo: 4 * 10**17, hi: -4 * 10**17}
            )
    books = {}
    for venue in ("simex", "simbit", "simkra"):
        book = OrderBook(venue, "ETH/USDT")
        book.apply_snapshot(
            [(3_400 - i, 3.0) for i in range(50)],
            [(3_401 + i, 3.0) for i in range(50)],
            received_at=time.time(),
        )
        books[venue] = book
    detector = CexDexDetector(
        pools,
        states,
        {"ETH/USDT": books},
        {"simex": 10, "simbit": 7.5, "simkra": 16},
        ThresholdSettings(min_profit_bps=0, min_profit_usd=0, stale_after_ms=600_000),
        gas_cost_quote=lambda a, u: u * 20e-9 * 3_400,
        swap_gas=lambda p: 120_000,
    )
    runs = 20
    found = detector.scan()
    start = time.perf_counter()
    for _ in range(runs):
        detector.scan()
    per_scan = (time.perf_counter() - start) / runs
    print(
        f"cex-dex scan: 200 pools x 3 venues, {len(found)} opportunities sized: "
        f"{per_scan * 1e3:.1f} ms per scan ({per_scan / 200 * 1e6:.0f} us per pool)"
    )


if __name__ == "__main__":
    main()
