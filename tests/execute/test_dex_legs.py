"""DEX legs on the devnet: router swaps with amountOutMin, revert reasons (before sending and
on inclusion), and a nonce manager that neither skips nor reuses nonces under concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from web3 import AsyncHTTPProvider, AsyncWeb3

from core.amm import v3
from core.amm.pools import DexPool
from core.amm.v2 import get_amount_out
from core.chain.artifacts import load
from core.chain.fee_oracle import FeeOracle
from core.chain.reverts import RevertDecoder
from core.deploy.devnet import Devnet
from core.execute.dex import DexLegs, TxSender
from core.feeds.pool_state import load_pool_state
from core.feeds.pools import pools_from_manifest
from core.gas import fees_from_history
from tests.support.chain import balance, v2_reserves

pytestmark = pytest.mark.devnet


def _legs(devnet: Devnet, slippage_bps: float = 30) -> DexLegs:
    w3: Any = AsyncWeb3(AsyncHTTPProvider(devnet.rpc_url, request_kwargs={"timeout": 10}))
    m = devnet.manifest
    decoder = RevertDecoder([load("UniswapV2Router02").abi, load("FlashArbitrage").abi])
    sender = TxSender(w3, m.accounts[3].private_key, m.chain_id, FeeOracle(0.01, 200), decoder)
    routers = {"uni-v2": m.v2["uniswap_v2"].router, "sushi": m.v2["sushiswap"].router}
    return DexLegs(sender, routers, m.v3.swap_router, slippage_bps=slippage_bps, deadline_s=60)


def _pool(devnet: Devnet, venue: str, symbol: str) -> DexPool:
    return next(
        p for p in pools_from_manifest(devnet.manifest) if (p.venue, p.symbol) == (venue, symbol)
    )


def test_min_out_and_fees_from_history() -> None:
    legs = DexLegs.__new__(DexLegs)
    legs.slippage_bps = 30
    assert legs.min_out(1_000_000) == 997_000
    legs.slippage_bps = 0.5
    assert legs.min_out(999_999) == 999_949  # floor(999_999 * 0.99995)
    history = {"baseFeePerGas": ["0x10", "0x20", "0x3b9aca00"], "reward": [["0x5"], ["0x7"]]}
    fees = fees_from_history(history, priority_fee_gwei=0, max_fee_gwei=100)
    assert (fees.base_fee_wei, fees.priority_fee_wei) == (10**9, 6)
    assert fees.max_fee_wei == 2 * 10**9 + 6
    capped = fees_from_history(history, priority_fee_gwei=2, max_fee_gwei=2.5)
    assert capped.priority_fee_wei == 2 * 10**9 and capped.max_fee_wei == 25 * 10**8


async def test_v2_and_v3_router_swaps_deliver_the_exact_quote(clean_chain: Devnet) -> None:
    devnet = clean_chain
    legs = _legs(devnet)
    me = legs.sender.address
    usdc = devnet.manifest.token("USDC").address
    weth = devnet.manifest.weth
    pair = _pool(devnet, "sushi", "WETH/USDC")
    r0, r1 = v2_reserves(devnet, pair.address)
    r_in, r_out = (r0, r1) if pair.token0 == usdc else (r1, r0)
    amount = 25_000 * 10**6
    expected = get_amount_out(amount, r_in, r_out)
    before = balance(devnet, weth, me)
    result = await legs.swap(pair, usdc, amount, expected)
    assert result.ok and result.gas_used > 0, result
    assert balance(devnet, weth, me) - before == expected

    pool = _pool(devnet, "uni-v3-500", "WETH/USDC")
    state = load_pool_state(devnet.w3, pool.address)
    zero_for_one = pool.token0 == usdc
    quote = v3.swap(state, zero_for_one, amount)
    expected = -(quote.amount1 if zero_for_one else quote.amount0)
    before = balance(devnet, weth, me)
    result = await legs.swap(pool, usdc, amount, expected)
    assert result.ok, result
    assert balance(devnet, weth, me) - before == expected


async def test_revert_is_refused_before_sending_with_its_reason(clean_chain: Devnet) -> None:
    devnet = clean_chain
    legs = _legs(devnet, slippage_bps=0)
    usdc = devnet.manifest.token("USDC").address
    pair = _pool(devnet, "uni-v2", "WETH/USDC")
    await legs.sender.ensure_allowance(usdc, legs.router_for(pair), 10**30)
    nonce_before = devnet.w3.eth.get_transaction_count(legs.sender.address)
    sent_before = legs.sender.sent
    result = await legs.swap(pair, usdc, 10**6, expected_out=10**30)  # impossible quote
    assert result.status == "rejected"
    assert result.reason == "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT"
    assert legs.sender.sent == sent_before  # nothing sent, no retry
    assert devnet.w3.eth.get_transaction_count(legs.sender.address) == nonce_before


async def test_revert_on_inclusion_is_decoded(clean_chain: Devnet) -> None:
    devnet = clean_chain
    legs = _legs(devnet, slippage_bps=0)
    usdc = devnet.manifest.token("USDC").address
    pool = _pool(devnet, "uni-v3-3000", "WETH/USDC")
    await legs.sender.ensure_allowance(usdc, legs.router_for(pool), 10**30)
    result = await legs.swap(pool, usdc, 10**6, expected_out=10**30, gas_limit=400_000)
    assert result.status == "reverted" and result.tx_hash and result.gas_used > 0
    assert result.reason == "Too little received"  # SwapRouter's own require
    assert legs.sender.sent == 2  # the approval and this one: the revert was not retried


async def test_concurrent_sends_use_every_nonce_once(clean_chain: Devnet) -> None:
    devnet = clean_chain
    legs = _legs(devnet)
    start = devnet.w3.eth.get_transaction_count(legs.sender.address)
    token = devnet.manifest.token("LINK").address
    spenders = [a.address for a in devnet.manifest.accounts]
    approve = bytes.fromhex("095ea7b3")

    async def one(i: int) -> Any:
        spender = bytes(12) + bytes.fromhex(spenders[i % len(spenders)][2:])
        return await legs.sender.send(token, approve + spender + (i + 1).to_bytes(32, "big"))

    results = await asyncio.gather(*(one(i) for i in range(40)))
    assert all(r.ok for r in results), [r.reason for r in results if not r.ok]
    assert sorted(r.nonce for r in results) == list(range(start, start + 40))
    assert devnet.w3.eth.get_transaction_count(legs.sender.address) == start + 40
