"""core.amm.v3 against the deployed UniswapV3Pool / QuoterV2 / SwapRouter: exact equality."""

from __future__ import annotations

import random

import pytest
from eth_abi import decode
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import ContractLogicError

from core.amm.errors import AmmRevert
from core.amm.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO
from core.amm.v3 import PoolState, swap
from core.chain.rpc import RpcError, eth_calls
from core.deploy.devnet import Devnet
from core.feeds.pool_state import PoolLoadError, aload_pool_state, load_pool_state
from tests.support.chain import DEADLINE, contract, deploy_token, send

pytestmark = pytest.mark.devnet


def _slot0(devnet: Devnet, pool: str) -> tuple[int, int, int]:
    c = contract(devnet.w3, "UniswapV3Pool", pool)
    sqrt_price, tick, *_ = c.functions.slot0().call()
    return sqrt_price, tick, c.functions.liquidity().call()


def test_load_pool_state_is_consistent(devnet: Devnet) -> None:
    for info in devnet.manifest.v3.pools:
        state = load_pool_state(devnet.w3, info.address)
        assert (state.fee, state.tick_spacing) == (info.fee, info.tick_spacing)
        assert (state.token0, state.token1) == (info.token0, info.token1)
        assert len(state.ticks) >= 10
        assert sum(state.ticks.values()) == 0  # every position adds at lower, removes at upper
        # active liquidity is the running sum of liquidityNet up to the current tick
        assert state.liquidity == sum(net for t, net in state.ticks.items() if t <= state.tick)


async def test_async_loader_matches_sync_loader(devnet: Devnet) -> None:
    aw3 = AsyncWeb3(AsyncHTTPProvider(devnet.rpc_url))
    for info in devnet.manifest.v3.pools[:3]:
        assert await aload_pool_state(aw3, info.address) == load_pool_state(devnet.w3, info.address)
    with pytest.raises(PoolLoadError):
        await aload_pool_state(aw3, devnet.manifest.weth)  # not a pool
    with pytest.raises(PoolLoadError):
        load_pool_state(devnet.w3, devnet.manifest.token("USDC").address)


def test_swap_equals_quoter_v2_over_random_swaps(devnet: Devnet) -> None:
    """~2,800 exact-in and exact-out quotes across 7 pools: amount and price after, to the wei."""
    rng = random.Random(7)
    quoter_abi = contract(devnet.w3, "QuoterV2")
    quoter = devnet.manifest.v3.quoter_v2
    compared = partial = max_crossed = 0
    for info in devnet.manifest.v3.pools:
        state = load_pool_state(devnet.w3, info.address)
        cases = []
        for _ in range(400):
            zero_for_one = rng.random() < 0.5
            exact_in = rng.random() < 0.6
            amount = rng.randint(1, 10 ** rng.randint(1, 26))
            t_in, t_out = (info.token0, info.token1) if zero_for_one else (info.token1, info.token0)
            fn = "quoteExactInputSingle" if exact_in else "quoteExactOutputSingle"
            data = quoter_abi.encode_abi(fn, [(t_in, t_out, amount, info.fee, 0)])
            cases.append((zero_for_one, exact_in, amount, (quoter, bytes.fromhex(data[2:]))))
        results = eth_calls(devnet.w3, [c[-1] for c in cases])
        for (zero_for_one, exact_in, amount, _), result in zip(cases, results, strict=True):
            ours = swap(state, zero_for_one, amount if exact_in else -amount)
            paid = ours.amount0 if zero_for_one else ours.amount1
            got = -(ours.amount1 if zero_for_one else ours.amount0)
            if isinstance(result, RpcError):
                # QuoterV2 refuses an exact output the pool cannot fill in full
                assert not exact_in and got < amount, (info.symbol, amount, result)
                partial += 1
                continue
            quoted, sqrt_after, _, _ = decode(["uint256", "uint160", "uint32", "uint256"], result)
            assert quoted == (got if exact_in else paid), (
                info.symbol,
                zero_for_one,
                exact_in,
                amount,
            )
            assert sqrt_after == ours.sqrt_price_x96
            if not exact_in:
                assert got == amount
            compared += 1
            max_crossed = max(max_crossed, ours.ticks_crossed)
    assert compared > 2_000 and partial > 0
    assert max_crossed >= 5  # large swaps walked through many initialized ticks


def test_real_swaps_track_slot0_and_liquidity(clean_chain: Devnet) -> None:
    """Execute swaps through SwapRouter and compare the pool's slot0/liquidity with ours."""
    m = clean_chain.manifest
    info = next(p for p in m.v3.pools if p.symbol == "WETH/USDC" and p.fee == 500)
    router = contract(clean_chain.w3, "SwapRouter", m.v3.swap_router)
    state = load_pool_state(clean_chain.w3, info.address)
    rng = random.Random(3)
    crossed = 0
    for i in range(24):
        zero_for_one = i % 2 == 0
        t_in, t_out = (info.token0, info.token1) if zero_for_one else (info.token1, info.token0)
        exact_in = rng.random() < 0.5
        # mostly big swaps (tens of % of the ladder) so ticks get crossed both ways
        in_dec = 18 if t_in == m.weth else 6
        out_dec = 18 if t_out == m.weth else 6
        scale = 10 ** rng.uniform(-1, 3.6)
        if exact_in:
            amount = int(scale * (10**in_dec if t_in == m.weth else 3_400 * 10**in_dec))
            result = swap(state, zero_for_one, amount)
            params = (t_in, t_out, info.fee, m.deployer, DEADLINE, amount, 0, 0)
            send(clean_chain, router.functions.exactInputSingle(params))
        else:
            amount = int(scale * (10**out_dec if t_out == m.weth else 3_400 * 10**out_dec))
            result = swap(state, zero_for_one, -amount)
            if -(result.amount1 if zero_for_one else result.amount0) < amount:
                continue  # cannot be filled in full; the router would revert
            params = (t_in, t_out, info.fee, m.deployer, DEADLINE, amount, 2**256 - 1, 0)
            send(clean_chain, router.functions.exactOutputSingle(params))
        assert _slot0(clean_chain, info.address) == (
            result.sqrt_price_x96,
            result.tick,
            result.liquidity,
        )
        state = state.after(result)
        crossed += result.ticks_crossed
    assert crossed >= 6
    # the incrementally tracked state equals a fresh load
    fresh = load_pool_state(clean_chain.w3, info.address)
    assert (fresh.sqrt_price_x96, fresh.tick, fresh.liquidity) == (
        state.sqrt_price_x96,
        state.tick,
        state.liquidity,
    )


def test_pool_without_liquidity(clean_chain: Devnet) -> None:
    """A pool with no positions: the quoter reverts; our swap fills nothing and moves the price
    to the limit, as the pool itself would."""
    m = clean_chain.manifest
    a = deploy_token(clean_chain, "AAA", 6)
    b = deploy_token(clean_chain, "BBB", 8)
    t0, t1 = sorted([a, b], key=lambda x: int(x, 16))
    npm = contract(clean_chain.w3, "NonfungiblePositionManager", m.v3.position_manager)
    send(clean_chain, npm.functions.createAndInitializePoolIfNecessary(t0, t1, 3000, 2**96))
    factory = contract(clean_chain.w3, "UniswapV3Factory", m.v3.factory)
    pool = factory.functions.getPool(t0, t1, 3000).call()
    state = load_pool_state(clean_chain.w3, pool)
    assert state.liquidity == 0 and not state.ticks
    result = swap(state, True, 10**6)
    assert (result.amount0, result.amount1) == (0, 0)
    assert result.sqrt_price_x96 == MIN_SQRT_RATIO + 1
    quoter = contract(clean_chain.w3, "QuoterV2")
    data = quoter.encode_abi("quoteExactInputSingle", [(t0, t1, 10**6, 3000, 0)])
    reply = eth_calls(clean_chain.w3, [(m.v3.quoter_v2, bytes.fromhex(data[2:]))])[0]
    assert isinstance(reply, RpcError)
    # SwapRouter refuses too (its callback requires a non-zero payment)
    router = contract(clean_chain.w3, "SwapRouter", m.v3.swap_router)
    with pytest.raises(ContractLogicError):
        router.functions.exactInputSingle((t1, t0, 3000, m.deployer, DEADLINE, 5, 0, 0)).call(
            {"from": m.deployer}
        )
    assert swap(state, False, 5).sqrt_price_x96 == MAX_SQRT_RATIO - 1


def test_price_limit_and_reverts(devnet: Devnet) -> None:
    info = devnet.manifest.v3.pools[0]
    state: PoolState = load_pool_state(devnet.w3, info.address)
    with pytest.raises(AmmRevert, match="AS"):
        swap(state, True, 0)
    with pytest.raises(AmmRevert, match="SPL"):
        swap(state, True, 10, sqrt_price_limit_x96=state.sqrt_price_x96 + 1)
    with pytest.raises(AmmRevert, match="SPL"):
        swap(state, False, 10, sqrt_price_limit_x96=MAX_SQRT_RATIO)
    # a limit just below the price stops the swap there, leaving input unspent
    limit = state.sqrt_price_x96 - state.sqrt_price_x96 // 10_000
    result = swap(state, True, 10**30, sqrt_price_limit_x96=limit)
    assert result.sqrt_price_x96 == limit and 0 < result.amount0 < 10**30
    quoter = contract(devnet.w3, "QuoterV2", devnet.manifest.v3.quoter_v2)
    quoted = quoter.functions.quoteExactInputSingle(
        (info.token0, info.token1, 10**30, info.fee, limit)
    ).call()
    assert quoted[0] == -result.amount1 and quoted[1] == limit
