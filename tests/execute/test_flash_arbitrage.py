"""FlashArbitrage.sol on the devnet against the official Uniswap pools: exact profit to the
owner (V2 flash swap, V3 flash, wallet-funded with a V3 hop), reverts below minProfit, and
no way in for anyone but the owner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from core.amm import v3
from core.amm.v2 import get_amount_in, get_amount_out, optimal_two_pool_arbitrage
from core.chain.artifacts import load
from core.chain.reverts import RevertDecoder, revert_data
from core.deploy.devnet import Devnet
from core.feeds.pool_state import load_pool_state
from tests.support.chain import DEADLINE, MAX_UINT, balance, contract, send, v2_reserves

pytestmark = pytest.mark.devnet

DECODER = RevertDecoder([load("FlashArbitrage").abi])


@dataclass
class Setup:
    devnet: Devnet
    flash: Any
    owner: str
    usdc: str
    weth: str
    uni: str
    sushi: str


def _pair(devnet: Devnet, exchange: str, symbol: str) -> str:
    return next(p.address for p in devnet.manifest.v2[exchange].pairs if p.symbol == symbol)


def _v3_pool(devnet: Devnet, symbol: str, fee: int) -> str:
    return next(p.address for p in devnet.manifest.v3.pools if p.symbol == symbol and p.fee == fee)


def _deploy_flash(devnet: Devnet, owner: str) -> Any:
    art = load("FlashArbitrage")
    factory = devnet.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    receipt = send(devnet, factory.constructor(), sender=owner)
    return contract_at(devnet, receipt["contractAddress"])


def contract_at(devnet: Devnet, address: str) -> Any:
    return contract(devnet.w3, "FlashArbitrage", address)


@pytest.fixture
def setup(clean_chain: Devnet) -> Setup:
    m = clean_chain.manifest
    owner = m.accounts[1].address
    flash = _deploy_flash(clean_chain, owner)
    usdc = m.token("USDC").address
    # Dump WETH on the Uniswap V2 pair: WETH is then cheap there against SushiSwap and V3.
    router = contract(clean_chain.w3, "UniswapV2Router02", m.v2["uniswap_v2"].router)
    send(
        clean_chain,
        router.functions.swapExactTokensForTokens(
            100 * 10**18, 0, [m.weth, usdc], m.deployer, DEADLINE
        ),
    )
    return Setup(
        clean_chain,
        flash,
        owner,
        usdc,
        m.weth,
        _pair(clean_chain, "uniswap_v2", "WETH/USDC"),
        _pair(clean_chain, "sushiswap", "WETH/USDC"),
    )


def _reserves(s: Setup, pair: str) -> tuple[int, int]:
    """(USDC, WETH) reserves of a WETH/USDC pair."""
    r0, r1 = v2_reserves(s.devnet, pair)
    return (r0, r1) if int(s.usdc, 16) < int(s.weth, 16) else (r1, r0)


def _revert_reason(s: Setup, fn: Any, sender: str) -> str:
    tx = fn.build_transaction({"from": sender, "gas": 3_000_000})
    call = [{"from": sender, "to": tx["to"], "data": tx["data"]}, "latest"]
    response = s.devnet.w3.provider.make_request("eth_call", call)  # type: ignore[arg-type]
    assert "error" in response, f"expected a revert, got {response}"
    return DECODER.decode(revert_data(response["error"]))


def test_v2_flash_swap_pays_the_owner_the_exact_profit(setup: Setup) -> None:
    s = setup
    uni_usdc, uni_weth = _reserves(s, s.uni)
    sushi_usdc, sushi_weth = _reserves(s, s.sushi)
    arb = optimal_two_pool_arbitrage(uni_usdc, uni_weth, sushi_weth, sushi_usdc)
    assert arb.profit > 0
    repay = get_amount_in(arb.amount_mid, uni_usdc, uni_weth)
    expected = get_amount_out(arb.amount_mid, sushi_weth, sushi_usdc) - repay
    before = balance(s.devnet, s.usdc, s.owner)
    send(
        s.devnet,
        s.flash.functions.flashV2(
            s.usdc, (s.uni, 0, 30), arb.amount_mid, (s.sushi, 0, 30), expected
        ),
        sender=s.owner,
    )
    assert balance(s.devnet, s.usdc, s.owner) - before == expected
    assert balance(s.devnet, s.usdc, s.flash.address) == 0
    assert balance(s.devnet, s.weth, s.flash.address) == 0


def test_below_min_profit_reverts_and_changes_nothing(setup: Setup) -> None:
    s = setup
    uni_usdc, uni_weth = _reserves(s, s.uni)
    sushi_usdc, sushi_weth = _reserves(s, s.sushi)
    arb = optimal_two_pool_arbitrage(uni_usdc, uni_weth, sushi_weth, sushi_usdc)
    repay = get_amount_in(arb.amount_mid, uni_usdc, uni_weth)
    expected = get_amount_out(arb.amount_mid, sushi_weth, sushi_usdc) - repay
    fn = s.flash.functions.flashV2(
        s.usdc, (s.uni, 0, 30), arb.amount_mid, (s.sushi, 0, 30), expected + 1
    )
    assert _revert_reason(s, fn, s.owner) == f"ProfitTooLow({expected}, {expected + 1})"
    # The wrong direction (buy where WETH is dear) cannot repay the flash swap at all.
    wrong = s.flash.functions.flashV2(s.usdc, (s.sushi, 0, 30), arb.amount_mid, (s.uni, 0, 30), 0)
    assert _revert_reason(s, wrong, s.owner) == "TransferFailed()"
    assert _reserves(s, s.uni) == (uni_usdc, uni_weth)


def test_v3_flash_loan_repays_amount_plus_fee(setup: Setup) -> None:
    s = setup
    lender = _v3_pool(s.devnet, "WETH/USDC", 500)
    uni_usdc, uni_weth = _reserves(s, s.uni)
    sushi_usdc, sushi_weth = _reserves(s, s.sushi)
    amount = optimal_two_pool_arbitrage(uni_usdc, uni_weth, sushi_weth, sushi_usdc).amount_in
    mid = get_amount_out(amount, uni_usdc, uni_weth)
    fee = -(-amount * 500 // 1_000_000)  # FullMath.mulDivRoundingUp(amount, fee, 1e6)
    expected = get_amount_out(mid, sushi_weth, sushi_usdc) - amount - fee
    assert expected > 0
    before = balance(s.devnet, s.usdc, s.owner)
    send(
        s.devnet,
        s.flash.functions.flashV3(
            s.usdc, lender, amount, (s.uni, 0, 30), (s.sushi, 0, 30), expected
        ),
        sender=s.owner,
    )
    assert balance(s.devnet, s.usdc, s.owner) - before == expected


def test_wallet_funding_through_a_v3_hop(setup: Setup) -> None:
    s = setup
    pool = _v3_pool(s.devnet, "WETH/USDC", 3000)
    state = load_pool_state(s.devnet.w3, pool)
    uni_usdc, uni_weth = _reserves(s, s.uni)
    amount = 40_000 * 10**6
    mid = get_amount_out(amount, uni_usdc, uni_weth)
    weth_is_0 = int(s.weth, 16) < int(s.usdc, 16)
    result = v3.swap(state, weth_is_0, mid)
    out = -(result.amount1 if weth_is_0 else result.amount0)
    expected = out - amount
    assert expected > 0
    token = contract(s.devnet.w3, "TestERC20", s.usdc)
    send(s.devnet, token.functions.approve(s.flash.address, MAX_UINT), sender=s.owner)
    before = balance(s.devnet, s.usdc, s.owner)
    send(
        s.devnet,
        s.flash.functions.fromWallet(s.usdc, amount, (s.uni, 0, 30), (pool, 1, 0), expected),
        sender=s.owner,
    )
    assert balance(s.devnet, s.usdc, s.owner) - before == expected
    assert load_pool_state(s.devnet.w3, pool).sqrt_price_x96 == result.sqrt_price_x96


def test_a_stranger_cannot_call_or_fake_a_callback(setup: Setup) -> None:
    s = setup
    stranger = s.devnet.manifest.accounts[2].address
    fn = s.flash.functions.flashV2(s.usdc, (s.uni, 0, 30), 10**15, (s.sushi, 0, 30), 0)
    assert _revert_reason(s, fn, stranger) == "NotOwner()"
    assert _revert_reason(s, s.flash.functions.sweep(s.usdc), stranger) == "NotOwner()"
    fake = s.flash.functions.uniswapV2Call(s.flash.address, 0, 10**18, b"")
    assert _revert_reason(s, fake, stranger) == "UnexpectedCallback()"
    fake_v3 = s.flash.functions.uniswapV3SwapCallback(10**6, 0, b"")
    assert _revert_reason(s, fake_v3, stranger) == "UnexpectedCallback()"


# (amount, reserve in, reserve out): dust, a mid-size trade, most of a pool, 18- vs 6-decimal
# reserves, and a quote whose rounding differs between the fee forms if they were not the same.
QUOTES = [
    (1, 10**18, 10**18),
    (10**15, 3 * 10**21, 9 * 10**9),
    (12_345_678_901, 2_000_000 * 10**6, 700 * 10**18),
    (10**20, 10**21, 3 * 10**24),
    (999_999, 1_000_003, 7_777_777),
    (2**100, 2**110, 2**105),
]


@pytest.mark.parametrize("fee_bps", [30, 25, 0, 100])
def test_the_contracts_v2_quotes_are_core_amm_v2s(setup: Setup, fee_bps: int) -> None:
    """At 30 bps the bps form must give UniswapV2Library's 997/1000 results exactly (core.amm.v2
    uses that form at 30); at other fees the generalised formula, as the detector prices."""
    f = setup.flash.functions
    for amount, r_in, r_out in QUOTES:
        out = f.v2AmountOut(amount, r_in, r_out, fee_bps).call()
        assert out == get_amount_out(amount, r_in, r_out, fee_bps=fee_bps)
        want = min(amount, r_out - 1)
        need = f.v2AmountIn(want, r_in, r_out, fee_bps).call()
        assert need == get_amount_in(want, r_in, r_out, fee_bps=fee_bps)
    if fee_bps == 30:  # the literal library form, not only core.amm.v2's reading of it
        for amount, r_in, r_out in QUOTES:
            lib = amount * 997 * r_out // (r_in * 1000 + amount * 997)
            assert f.v2AmountOut(amount, r_in, r_out, 30).call() == lib


def test_a_fee_of_the_whole_amount_or_more_is_refused(setup: Setup) -> None:
    s = setup
    fn = s.flash.functions.v2AmountOut(10**18, 10**21, 10**21, 10_000)
    assert _revert_reason(s, fn, s.owner) == "BadFee(10000)"
    route = s.flash.functions.flashV2(s.usdc, (s.uni, 0, 10_000), 10**15, (s.sushi, 0, 30), 0)
    assert _revert_reason(s, route, s.owner) == "BadFee(10000)"
    v3_lender = s.flash.functions.flashV2(s.usdc, (s.uni, 1, 0), 10**15, (s.sushi, 0, 30), 0)
    assert _revert_reason(s, v3_lender, s.owner) == "BadHop()"


def test_the_routes_fee_drives_the_v2_hops(setup: Setup) -> None:
    """The pairs charge 30 bps. Told 35, the contract repays the borrowed-from pair more and
    asks the sell pair for less, both of which a pair accepts: the owner's profit is then
    exactly core.amm.v2's at 35 bps. Told 25, it asks the sell pair for more than 30 bps
    allows, and the pair's K check refuses."""
    s = setup
    uni_usdc, uni_weth = _reserves(s, s.uni)
    sushi_usdc, sushi_weth = _reserves(s, s.sushi)
    mid = optimal_two_pool_arbitrage(uni_usdc, uni_weth, sushi_weth, sushi_usdc).amount_mid
    repay = get_amount_in(mid, uni_usdc, uni_weth, fee_bps=35)
    expected = get_amount_out(mid, sushi_weth, sushi_usdc, fee_bps=35) - repay
    at_30 = get_amount_out(mid, sushi_weth, sushi_usdc) - get_amount_in(mid, uni_usdc, uni_weth)
    assert 0 < expected < at_30
    greedy = s.flash.functions.flashV2(s.usdc, (s.uni, 0, 30), mid, (s.sushi, 0, 25), 0)
    assert _revert_reason(s, greedy, s.owner) == "UniswapV2: K"
    before = balance(s.devnet, s.usdc, s.owner)
    send(
        s.devnet,
        s.flash.functions.flashV2(s.usdc, (s.uni, 0, 35), mid, (s.sushi, 0, 35), expected),
        sender=s.owner,
    )
    assert balance(s.devnet, s.usdc, s.owner) - before == expected


def _ordered(s: Setup, pair: str, token_in: str) -> tuple[int, int]:
    """(reserve in, reserve out) of a V2 pair for a swap of `token_in`."""
    r0, r1 = v2_reserves(s.devnet, pair)
    return (r0, r1) if int(token_in, 16) < int(_other(s, pair, token_in), 16) else (r1, r0)


def _other(s: Setup, pair: str, token: str) -> str:
    info = next(p for d in s.devnet.manifest.v2.values() for p in d.pairs if p.address == pair)
    return info.token1 if token.lower() == info.token0.lower() else info.token0


def test_a_four_hop_cycle_from_the_wallet_pays_the_chained_v2_quotes(setup: Setup) -> None:
    """USDC -> WETH (uni-v2, where WETH is cheap) -> USDT (uni-v2) -> WBTC (uni-v2) -> USDC
    (sushi): the owner gains exactly the four chained getAmountOut quotes less the input."""
    s = setup
    m = s.devnet.manifest
    usdt, wbtc = m.token("USDT").address, m.token("WBTC").address
    route = [
        (s.uni, s.usdc),
        (_pair(s.devnet, "uniswap_v2", "WETH/USDT"), s.weth),
        (_pair(s.devnet, "uniswap_v2", "WBTC/USDT"), usdt),
        (_pair(s.devnet, "sushiswap", "WBTC/USDC"), wbtc),
    ]
    amount = 20_000 * 10**6
    out = amount
    for pair, token_in in route:
        r_in, r_out = _ordered(s, pair, token_in)
        out = get_amount_out(out, r_in, r_out)
    expected = out - amount
    assert expected > 0
    token = contract(s.devnet.w3, "TestERC20", s.usdc)
    send(s.devnet, token.functions.approve(s.flash.address, MAX_UINT), sender=s.owner)
    hops = [(pair, 0, 30) for pair, _ in route]
    before = balance(s.devnet, s.usdc, s.owner)
    send(
        s.devnet,
        s.flash.functions.cycleFromWallet(s.usdc, amount, hops, expected),
        sender=s.owner,
    )
    assert balance(s.devnet, s.usdc, s.owner) - before == expected
    for t in (s.usdc, s.weth, usdt, wbtc):
        assert balance(s.devnet, t, s.flash.address) == 0


def test_a_route_that_does_not_close_or_is_too_long_is_refused(setup: Setup) -> None:
    s = setup
    token = contract(s.devnet.w3, "TestERC20", s.usdc)
    send(s.devnet, token.functions.approve(s.flash.address, MAX_UINT), sender=s.owner)
    weth_wbtc = _pair(s.devnet, "uniswap_v2", "WBTC/WETH")
    open_route = [(s.uni, 0, 30), (weth_wbtc, 0, 30)]  # ends in WBTC, not USDC
    fn = s.flash.functions.cycleFromWallet(s.usdc, 10**6, open_route, 0)
    assert _revert_reason(s, fn, s.owner) == "BadHop()"
    too_long = [(s.uni, 0, 30), (s.sushi, 0, 30)] * 2 + [(s.uni, 0, 30)]
    fn = s.flash.functions.cycleFromWallet(s.usdc, 10**6, too_long, 0)
    assert _revert_reason(s, fn, s.owner) == "BadHop()"
    fn = s.flash.functions.cycleFlashV2(s.usdc, [(s.uni, 0, 30)], 10**12, 0)
    assert _revert_reason(s, fn, s.owner) == "BadHop()"  # one hop is no cycle
    stranger = s.devnet.manifest.accounts[2].address
    fn = s.flash.functions.cycleFromWallet(s.usdc, 10**6, [(s.uni, 0, 30), (s.sushi, 0, 30)], 0)
    assert _revert_reason(s, fn, stranger) == "NotOwner()"
