"""The DEX-DEX plan's minProfit on chain: the contract's profit is before gas, so a plan whose
pools moved before it landed must revert rather than clear the contract and lose to gas."""

from __future__ import annotations

from typing import Any

import pytest

from core.amm.pools import PoolData, V2State
from core.amm.v2 import get_amount_in, get_amount_out
from core.chain.artifacts import load
from core.chain.reverts import RevertDecoder, revert_data
from core.deploy.devnet import Devnet
from core.detect.dex_dex import DexDexDetector, DexDexPlan
from core.execute.onchain_trader import flash_hop
from core.feeds.pools import pools_from_manifest
from core.settings import ThresholdSettings
from tests.support.chain import DEADLINE, contract, send, v2_reserves

pytestmark = pytest.mark.devnet

DECODER = RevertDecoder([load("FlashArbitrage").abi])


def _plan(devnet: Devnet, gas_x: float) -> tuple[DexDexPlan, Any, Any]:
    pools = [
        p
        for p in pools_from_manifest(devnet.manifest)
        if p.kind == "v2" and p.symbol == "WETH/USDC"
    ]
    uni = next(p for p in pools if p.venue == "uni-v2")
    sushi = next(p for p in pools if p.venue == "sushi")
    states: dict[str, PoolData] = {
        p.address: V2State(*v2_reserves(devnet, p.address)) for p in pools
    }
    detector = DexDexDetector(
        pools,
        states,
        ThresholdSettings(min_profit_bps=0, min_profit_usd=0),
        gas_price_in=lambda s: gas_x,
        usd_price=lambda s: 1.0,
        wallet_balance=lambda t: 0,  # forces the V2 flash swap on the buy pair
        clock=lambda: 0.0,
    )
    found = [f for f in detector.scan() if f.plan.buy.address == uni.address]
    assert len(found) == 1
    return found[0].plan, uni, sushi


def _contract_profit(devnet: Devnet, plan: DexDexPlan) -> int:
    """What FlashArbitrage.flashV2 would keep for the owner at the chain's current reserves."""
    x = plan.token_x
    ub0, ub1 = v2_reserves(devnet, plan.buy.address)
    sb0, sb1 = v2_reserves(devnet, plan.sell.address)
    buy_x, buy_y = (ub0, ub1) if x == plan.buy.token0 else (ub1, ub0)
    sell_x, sell_y = (sb0, sb1) if x == plan.sell.token0 else (sb1, sb0)
    repay = get_amount_in(plan.amount_mid, buy_x, buy_y)
    return get_amount_out(plan.amount_mid, sell_y, sell_x) - repay


def test_a_plan_that_would_lose_to_gas_after_the_pools_moved_reverts(clean_chain: Devnet) -> None:
    devnet = clean_chain
    m = devnet.manifest
    usdc = m.token("USDC").address
    owner = m.accounts[1].address
    art = load("FlashArbitrage")
    factory = devnet.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    flash = contract(
        devnet.w3, "FlashArbitrage", send(devnet, factory.constructor(), owner)["contractAddress"]
    )
    router = contract(devnet.w3, "UniswapV2Router02", m.v2["uniswap_v2"].router)
    send(
        devnet,
        router.functions.swapExactTokensForTokens(
            100 * 10**18, 0, [m.weth, usdc], m.deployer, DEADLINE
        ),
    )
    free, _, _ = _plan(devnet, 0.0)
    forecast = _contract_profit(devnet, free)
    assert forecast > 10**6
    # Gas at 60 % of the contract's profit: the forecast net is 40 %, under twice the gas.
    gas_units = free.funding.gas_units
    gas_x = forecast * 0.6 / gas_units
    plan, _, sushi = _plan(devnet, gas_x)
    gas_raw = gas_units * gas_x
    assert plan.funding.mode == "flash_v2" and plan.amount_mid == free.amount_mid
    # Someone sells WETH on the sell pool first: the profit shrinks to about 40 % of the
    # forecast, above half the forecast net but below the gas.
    sushi_router = contract(devnet.w3, "UniswapV2Router02", m.v2["sushiswap"].router)
    ub0, ub1 = v2_reserves(devnet, plan.buy.address)
    buy_x, buy_y = (ub0, ub1) if usdc == plan.buy.token0 else (ub1, ub0)
    repay = get_amount_in(plan.amount_mid, buy_x, buy_y)
    s0, s1 = v2_reserves(devnet, sushi.address)
    weth_r, usdc_r = (s0, s1) if sushi.token0 == m.weth else (s1, s0)
    lo, hi = 0, 100 * 10**18
    while hi - lo > 10**12:  # the WETH push that leaves the profit at 40 % of the forecast
        push = (lo + hi) // 2
        got = get_amount_out(push, weth_r, usdc_r)
        left = get_amount_out(plan.amount_mid, weth_r + push, usdc_r - got) - repay
        lo, hi = (push, hi) if left > forecast * 0.4 else (lo, push)
    send(
        devnet,
        sushi_router.functions.swapExactTokensForTokens(
            lo, 0, [m.weth, usdc], m.deployer, DEADLINE
        ),
    )
    realised = _contract_profit(devnet, plan)
    old_floor = max(int(plan.amount_out - plan.amount_in - plan.funding.cost) // 2, 1)
    assert old_floor < realised < gas_raw  # the old floor (half the net) let it through
    fn = flash.functions.flashV2(
        usdc, flash_hop(plan.buy), plan.amount_mid, flash_hop(plan.sell), plan.min_profit
    )
    tx = fn.build_transaction({"from": owner, "gas": 3_000_000})
    call = [{"from": owner, "to": tx["to"], "data": tx["data"]}, "latest"]
    response = devnet.w3.provider.make_request("eth_call", call)  # type: ignore[arg-type]
    assert "error" in response, f"a trade losing to gas went through: {response}"
    assert DECODER.decode(revert_data(response["error"])) == (
        f"ProfitTooLow({realised}, {plan.min_profit})"
    )
    assert plan.min_profit <= forecast  # at the detection state the plan clears its floor
