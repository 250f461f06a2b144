"""The sim's noise trader on the devnet: over a few ticks it swaps on the pools and pulls each
one it trades toward the (lagged) CEX fair price; pairs the market does not simulate stay put."""

from __future__ import annotations

from typing import Any

import pytest
from web3 import AsyncHTTPProvider, AsyncWeb3

from core.amm.pools import DexPool
from core.amm.quote import mid_price
from core.chain.artifacts import load
from core.chain.fee_oracle import FeeOracle
from core.chain.reverts import RevertDecoder
from core.deploy.devnet import Devnet
from core.events import Event
from core.execute.dex import DexLegs, TxSender
from core.feeds.pools import V2_VENUE_NAMES, PoolFeed, pools_from_manifest
from core.feeds.sim.pool_noise import NoiseTrader

pytestmark = [pytest.mark.devnet, pytest.mark.timeout(60)]


def _price(pool: DexPool, feed: PoolFeed) -> float:
    """Quote per base, whole units."""
    mid = mid_price(pool, feed.states[pool.address])
    assert mid is not None
    return mid if pool.symbol.partition("/")[0] == pool.symbol0 else 1 / mid


async def test_noise_trader_pulls_pools_toward_the_fair_price(clean_chain: Devnet) -> None:
    m = clean_chain.manifest
    w3: Any = AsyncWeb3(AsyncHTTPProvider(clean_chain.rpc_url, request_kwargs={"timeout": 10}))
    events: list[Event] = []
    pools = [p for p in pools_from_manifest(m) if p.symbol in ("WETH/USDC", "WBTC/USDC")]
    feed = PoolFeed(w3, pools, events.append)
    await feed.start()
    decoder = RevertDecoder([load("UniswapV2Router02").abi, load("SwapRouter").abi])
    sender = TxSender(w3, m.accounts[2].private_key, m.chain_id, FeeOracle(0.01, 200), decoder)
    assert (await sender.send(m.weth, bytes.fromhex("d0e30db0"), value=10_000 * 10**18)).ok
    routers = {V2_VENUE_NAMES.get(k, k): d.router for k, d in m.v2.items()}
    legs = DexLegs(sender, routers, m.v3.swap_router, slippage_bps=500, deadline_s=60)
    eth_pools = [p for p in pools if p.symbol == "WETH/USDC"]
    target = 1.03 * sum(_price(p, feed) for p in eth_pools) / len(eth_pools)

    def fair(symbol: str) -> float:
        if symbol != "ETH/USDT":
            raise KeyError(symbol)  # the market simulates ETH only here
        return target

    now = [0.0]
    trader = NoiseTrader(
        pools,
        feed.states,
        fair,
        legs.swap,
        interval_s=(1.0, 1.0),
        noise_bps=0.0,
        pull=(0.5, 0.5),
        seed=7,
        clock=lambda: now[0],
    )
    before = {p.address: _price(p, feed) for p in pools}
    for _ in range(12):
        now[0] += 1.0
        trader.on_tick()
        if trader._task is not None:
            await trader._task
        await feed.poll()
    after = {p.address: _price(p, feed) for p in pools}
    assert trader.failures == 0 and trader.swaps >= 4
    moved = [p for p in eth_pools if after[p.address] != before[p.address]]
    assert len(moved) >= 2  # several pools, several ticks
    for pool in moved:  # each is closer to the fair price than it was
        assert abs(after[pool.address] - target) < abs(before[pool.address] - target)
    for pool in pools:
        if pool.symbol == "WBTC/USDC":  # no fair price for it: never traded
            assert after[pool.address] == before[pool.address]
    await w3.provider.disconnect()
