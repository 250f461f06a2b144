"""The pool feed against the devnet: equal to chain state after random swaps and a V3 mint,
through a reorg, and DOWN -> LIVE when the RPC goes away and comes back."""

from __future__ import annotations

import random
from typing import Any

import pytest
from web3 import AsyncHTTPProvider, AsyncWeb3

from core.amm.pools import V2State
from core.amm.v3 import PoolState
from core.chain.artifacts import load
from core.deploy.devnet import Devnet, free_port
from core.events import Event, FeedHealthChanged, FeedState
from core.feeds.pool_state import load_pool_state
from core.feeds.pools import (
    BURN_V3_TOPIC,
    MINT_V3_TOPIC,
    SWAP_V3_TOPIC,
    SYNC_TOPIC,
    PoolFeed,
    event_topic,
    pools_from_manifest,
)
from tests.support.chain import DEADLINE, contract, send, v2_reserves

pytestmark = pytest.mark.devnet


def _aw3(url: str) -> AsyncWeb3[Any]:
    return AsyncWeb3(AsyncHTTPProvider(url, request_kwargs={"timeout": 5}))


def _feed(devnet: Devnet, events: list[Event] | None = None) -> PoolFeed:
    sink = events.append if events is not None else (lambda e: None)
    return PoolFeed(_aw3(devnet.rpc_url), pools_from_manifest(devnet.manifest), sink)


def _assert_matches_chain(devnet: Devnet, feed: PoolFeed) -> None:
    for address, pool in feed.pools.items():
        state = feed.states[address]
        if pool.kind == "v2":
            assert state == V2State(*v2_reserves(devnet, address)), pool
        else:
            chain = load_pool_state(devnet.w3, address)
            assert isinstance(state, PoolState)
            got = (state.sqrt_price_x96, state.tick, state.liquidity, dict(state.ticks))
            assert got == (chain.sqrt_price_x96, chain.tick, chain.liquidity, dict(chain.ticks))


def _random_swap(devnet: Devnet, rng: random.Random) -> None:
    m = devnet.manifest
    w3 = devnet.w3
    if rng.random() < 0.5:
        name = rng.choice(list(m.v2))
        pair = rng.choice(m.v2[name].pairs)
        path = [pair.token0, pair.token1] if rng.random() < 0.5 else [pair.token1, pair.token0]
        decimals = next(t.decimals for t in m.tokens.values() if t.address == path[0])
        router = contract(w3, "UniswapV2Router02", m.v2[name].router)
        amount = int(rng.uniform(0.001, 5) * 10 ** (decimals - 2))
        send(
            devnet, router.functions.swapExactTokensForTokens(amount, 0, path, m.deployer, DEADLINE)
        )
    else:
        pool = rng.choice(m.v3.pools)
        t_in, t_out = (
            (pool.token0, pool.token1) if rng.random() < 0.5 else (pool.token1, pool.token0)
        )
        decimals = next(t.decimals for t in m.tokens.values() if t.address == t_in)
        router = contract(w3, "SwapRouter", m.v3.swap_router)
        amount = int(rng.uniform(0.001, 5) * 10 ** (decimals - 2))
        params = (t_in, t_out, pool.fee, m.deployer, DEADLINE, amount, 0, 0)
        send(devnet, router.functions.exactInputSingle(params))


def test_event_topics_match_the_official_abis() -> None:
    assert event_topic(load("UniswapV2Pair").abi, "Sync") == SYNC_TOPIC
    pool_abi = load("UniswapV3Pool").abi
    assert event_topic(pool_abi, "Swap") == SWAP_V3_TOPIC
    assert event_topic(pool_abi, "Mint") == MINT_V3_TOPIC
    assert event_topic(pool_abi, "Burn") == BURN_V3_TOPIC


async def test_feed_follows_random_swaps_and_a_mint(clean_chain: Devnet) -> None:
    devnet = clean_chain
    feed = _feed(devnet)
    await feed.start()
    rng = random.Random(7)
    for round_ in range(3):
        for _ in range(12):
            _random_swap(devnet, rng)
        if round_ == 1:  # a new V3 position: the feed reloads that pool's ticks
            m = devnet.manifest
            pool = m.v3.pools[0]
            npm = contract(devnet.w3, "NonfungiblePositionManager", m.v3.position_manager)
            state = load_pool_state(devnet.w3, pool.address)
            lo = (state.tick - 7 * pool.tick_spacing) // pool.tick_spacing * pool.tick_spacing
            hi = lo + 13 * pool.tick_spacing
            params = (
                pool.token0,
                pool.token1,
                pool.fee,
                lo,
                hi,
                10**12,
                10**12,
                0,
                0,
                m.deployer,
                DEADLINE,
            )
            send(devnet, npm.functions.mint(params))
        changed = await feed.poll()
        assert changed
        assert feed.head == devnet.w3.eth.block_number
        _assert_matches_chain(devnet, feed)
    assert await feed.poll() == set()  # nothing new: nothing changes


async def test_feed_survives_a_reorg(clean_chain: Devnet) -> None:
    devnet = clean_chain
    provider: Any = devnet.w3.provider
    feed = _feed(devnet)
    await feed.start()
    rng = random.Random(11)
    fork_point = provider.make_request("evm_snapshot", [])["result"]
    for _ in range(4):
        _random_swap(devnet, rng)
    await feed.poll()
    _assert_matches_chain(devnet, feed)
    orphaned_head = feed.head
    # Back to the fork point; a different branch of the same length plus one block.
    provider.make_request("evm_revert", [fork_point])
    for _ in range(5):
        _random_swap(devnet, rng)
    assert devnet.w3.eth.block_number == orphaned_head + 1
    await feed.poll()
    assert feed.reorgs == 1
    assert feed.head == devnet.w3.eth.block_number
    _assert_matches_chain(devnet, feed)
    # A same-height reorg (equal block numbers, other hashes) is caught too.
    fork_point = provider.make_request("evm_snapshot", [])["result"]
    _random_swap(devnet, rng)
    await feed.poll()
    provider.make_request("evm_revert", [fork_point])
    _random_swap(devnet, rng)
    await feed.poll()
    assert feed.reorgs == 2
    _assert_matches_chain(devnet, feed)


async def test_rpc_down_then_back(devnet: Devnet) -> None:
    events: list[Event] = []
    feed = _feed(devnet, events)
    feed.poll_interval_s = 0.02
    good = feed.w3
    feed.w3 = _aw3(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    import asyncio

    task = asyncio.create_task(feed.run())
    try:
        for _ in range(200):
            await asyncio.sleep(0.02)
            if feed.state is FeedState.DOWN:
                break
        downs = [e for e in events if isinstance(e, FeedHealthChanged)]
        assert {e.venue for e in downs} == {
            "uni-v2",
            "sushi",
            "uni-v3-500",
            "uni-v3-3000",
            "uni-v3-10000",
        }
        assert all(e.state is FeedState.DOWN and "RPC failed" in e.reason for e in downs)
        events.clear()
        feed.w3 = good
        for _ in range(200):
            await asyncio.sleep(0.02)
            if feed.state is FeedState.LIVE:
                break
        assert feed.state is FeedState.LIVE
        assert all(isinstance(e, FeedHealthChanged) and e.state is FeedState.LIVE for e in events)
        _assert_matches_chain(devnet, feed)
    finally:
        task.cancel()
