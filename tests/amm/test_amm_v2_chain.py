"""core.amm.v2 against the deployed UniswapV2Router02 / pairs: equality, not tolerance."""

from __future__ import annotations

import random

import pytest
from eth_abi import decode

from core.amm.errors import AmmRevert
from core.amm.v2 import get_amount_in, get_amount_out, optimal_two_pool_arbitrage
from core.chain.rpc import RpcError, eth_calls
from core.deploy.devnet import Devnet
from tests.support.chain import DEADLINE, balance, contract, deploy_token, send, v2_reserves

pytestmark = pytest.mark.devnet


def _quote_cases(devnet: Devnet, rng: random.Random, per_pair: int) -> list[tuple]:
    router_abi = contract(devnet.w3, "UniswapV2Router02")
    cases = []
    for ex in devnet.manifest.v2.values():
        for pair in ex.pairs:
            r0, r1 = v2_reserves(devnet, pair.address)
            for _ in range(per_pair):
                zero_in = rng.random() < 0.5
                t_in, t_out = (pair.token0, pair.token1) if zero_in else (pair.token1, pair.token0)
                r_in, r_out = (r0, r1) if zero_in else (r1, r0)
                exact_in = rng.random() < 0.5
                # amounts from 1 unit to past the whole reserve, log-uniform
                amount = max(1, int(r_out * 10 ** rng.uniform(-12, 0.3)))
                fn = "getAmountsOut" if exact_in else "getAmountsIn"
                data = router_abi.encode_abi(fn, [amount, [t_in, t_out]])
                call = (ex.router, bytes.fromhex(data[2:]))
                cases.append((exact_in, amount, r_in, r_out, call))
    return cases


def test_router_quotes_equal_library_math(devnet: Devnet) -> None:
    rng = random.Random(20241121)
    cases = _quote_cases(devnet, rng, per_pair=150)  # 10 pairs x 150 = 1500 quotes
    results = eth_calls(devnet.w3, [c[-1] for c in cases])
    compared = reverted = 0
    for (exact_in, amount, r_in, r_out, _), result in zip(cases, results, strict=True):
        ours: int | AmmRevert
        try:
            ours = (get_amount_out if exact_in else get_amount_in)(amount, r_in, r_out)
        except AmmRevert as exc:
            ours = exc
        if isinstance(result, RpcError):
            assert isinstance(ours, AmmRevert), (exact_in, amount, r_in, r_out, result)
            reverted += 1
            continue
        amounts = decode(["uint256[]"], result)[0]
        expected = amounts[1] if exact_in else amounts[0]
        assert ours == expected, (exact_in, amount, r_in, r_out)
        compared += 1
    assert compared > 1000 and reverted > 0  # both regimes were exercised


def test_router_swap_uses_official_pair_init_code_hash(clean_chain: Devnet) -> None:
    """Router02 finds pairs by the hash hard-coded in UniswapV2Library.pairFor: a real swap
    through it only works if the deployed pair bytecode hashes to that value."""
    m = clean_chain.manifest
    pair = next(p for p in m.v2["uniswap_v2"].pairs if p.symbol == "WETH/USDC")
    usdc, weth = m.token("USDC").address, m.weth
    r0, r1 = v2_reserves(clean_chain, pair.address)
    r_in, r_out = (r0, r1) if pair.token0 == usdc else (r1, r0)
    amount_in = 25_000 * 10**6
    expected = get_amount_out(amount_in, r_in, r_out)
    before = balance(clean_chain, weth, m.deployer)
    router = contract(clean_chain.w3, "UniswapV2Router02", m.v2["uniswap_v2"].router)
    send(
        clean_chain,
        router.functions.swapExactTokensForTokens(
            amount_in, expected, [usdc, weth], m.deployer, DEADLINE
        ),
    )
    assert balance(clean_chain, weth, m.deployer) - before == expected
    n0, n1 = v2_reserves(clean_chain, pair.address)
    assert (n0, n1) == (
        (r0 + amount_in, r1 - expected) if pair.token0 == usdc else (r0 - expected, r1 + amount_in)
    )


def test_optimal_two_pool_arbitrage_realises_predicted_profit(clean_chain: Devnet) -> None:
    m = clean_chain.manifest
    w3 = clean_chain.w3
    usdc, weth = m.token("USDC").address, m.weth
    uni, sushi = m.v2["uniswap_v2"], m.v2["sushiswap"]
    uni_pair = next(p for p in uni.pairs if p.symbol == "WETH/USDC")
    sushi_pair = next(p for p in sushi.pairs if p.symbol == "WETH/USDC")
    # push Sushi's ETH price down: sell 60 WETH there
    sushi_router = contract(w3, "UniswapV2Router02", sushi.router)
    send(
        clean_chain,
        sushi_router.functions.swapExactTokensForTokens(
            60 * 10**18, 0, [weth, usdc], m.deployer, DEADLINE
        ),
    )

    def oriented(pair_address: str, token0: str, token_in: str) -> tuple[int, int]:
        r0, r1 = v2_reserves(clean_chain, pair_address)
        return (r0, r1) if token0 == token_in else (r1, r0)

    # buy WETH with USDC on Sushi (cheap), sell it on Uniswap
    a_in, a_out = oriented(sushi_pair.address, sushi_pair.token0, usdc)
    b_in, b_out = oriented(uni_pair.address, uni_pair.token0, weth)
    arb = optimal_two_pool_arbitrage(a_in, a_out, b_in, b_out)
    assert arb.profit > 0
    before = balance(clean_chain, usdc, m.deployer)
    send(
        clean_chain,
        sushi_router.functions.swapExactTokensForTokens(
            arb.amount_in, arb.amount_mid, [usdc, weth], m.deployer, DEADLINE
        ),
    )
    uni_router = contract(w3, "UniswapV2Router02", uni.router)
    send(
        clean_chain,
        uni_router.functions.swapExactTokensForTokens(
            arb.amount_mid, arb.amount_out, [weth, usdc], m.deployer, DEADLINE
        ),
    )
    assert balance(clean_chain, usdc, m.deployer) - before == arb.profit
    # after the trade, no further arbitrage of any size is profitable by more than rounding
    a_in, a_out = oriented(sushi_pair.address, sushi_pair.token0, usdc)
    b_in, b_out = oriented(uni_pair.address, uni_pair.token0, weth)
    assert optimal_two_pool_arbitrage(a_in, a_out, b_in, b_out).profit <= 2


def test_empty_pair_and_unusual_decimals(clean_chain: Devnet) -> None:
    m = clean_chain.manifest
    w3 = clean_chain.w3
    tiny = deploy_token(clean_chain, "TINY", 0)  # whole units only
    huge = deploy_token(clean_chain, "HUGE", 27)
    ex = m.v2["uniswap_v2"]
    factory = contract(w3, "UniswapV2Factory", ex.factory)
    router = contract(w3, "UniswapV2Router02", ex.router)

    # an empty pair: the router and our math refuse with the same reason
    send(clean_chain, factory.functions.createPair(tiny, huge))
    with pytest.raises(AmmRevert, match="INSUFFICIENT_LIQUIDITY"):
        get_amount_out(10, 0, 0)
    result = eth_calls(
        w3, [(ex.router, bytes.fromhex(router.encode_abi("getAmountsOut", [10, [tiny, huge]])[2:]))]
    )[0]
    assert isinstance(result, RpcError) and "INSUFFICIENT_LIQUIDITY" in str(result)

    # 0-decimal against 27-decimal: 1 TINY = 3.7 HUGE
    send(
        clean_chain,
        router.functions.addLiquidity(
            tiny, huge, 1_000, 3_700 * 10**27, 0, 0, m.deployer, DEADLINE
        ),
    )
    pair = factory.functions.getPair(tiny, huge).call()
    r0, r1 = v2_reserves(clean_chain, pair)
    token0 = contract(w3, "UniswapV2Pair", pair).functions.token0().call()
    r_tiny, r_huge = (r0, r1) if token0 == tiny else (r1, r0)
    for amount in (1, 2, 7, 99, 999):
        expected = router.functions.getAmountsOut(amount, [tiny, huge]).call()[1]
        assert get_amount_out(amount, r_tiny, r_huge) == expected
    for amount in (1, 10**20, 37 * 10**26, 10**30):
        expected = router.functions.getAmountsOut(amount, [huge, tiny]).call()[1]
        assert get_amount_out(amount, r_huge, r_tiny) == expected
        need = router.functions.getAmountsIn(1, [huge, tiny]).call()[0]
        assert get_amount_in(1, r_huge, r_tiny) == need
    before = balance(clean_chain, huge, m.deployer)
    send(
        clean_chain,
        router.functions.swapExactTokensForTokens(3, 0, [tiny, huge], m.deployer, DEADLINE),
    )
    assert balance(clean_chain, huge, m.deployer) - before == get_amount_out(3, r_tiny, r_huge)
