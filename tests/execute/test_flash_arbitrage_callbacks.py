"""FlashArbitrage.sol against a misbehaving V3 pool (contracts/src/TestMockV3Pool.sol): a
partial fill, an overcharge, a rewritten token, a flash or V2 callback in place of the swap
callback are all refused; the honest swap through the same mock goes through."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from core.chain.artifacts import contracts_out_dir, load
from core.chain.reverts import RevertDecoder, revert_data
from core.deploy.devnet import Devnet
from tests.support.chain import MAX_UINT, balance, contract, send

pytestmark = pytest.mark.devnet

DECODER = RevertDecoder([load("FlashArbitrage").abi])
AMOUNT = 1_000 * 10**6  # USDC in
PAY_OUT = 10**18  # the mock pays 1 WETH for it: a "profitable" trade whatever it then asks


@dataclass
class Setup:
    devnet: Devnet
    flash: Any
    mock: Any
    owner: str
    usdc: str
    weth: str
    sushi: str


def _deploy(devnet: Devnet, name: str, args: list[Any], sender: str) -> Any:
    # Test-only contracts are not in core.chain.artifacts: read their build output directly.
    art = json.loads((contracts_out_dir() / f"{name}.json").read_text())
    factory = devnet.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    receipt = send(devnet, factory.constructor(*args), sender=sender)
    return devnet.w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"])


@pytest.fixture
def setup(clean_chain: Devnet) -> Setup:
    m = clean_chain.manifest
    owner = m.accounts[1].address
    usdc = m.token("USDC").address
    flash = _deploy(clean_chain, "FlashArbitrage", [], owner)
    t0, t1 = sorted([usdc, m.weth], key=lambda a: int(a, 16))
    mock = _deploy(clean_chain, "TestMockV3Pool", [t0, t1], m.deployer)
    weth = contract(clean_chain.w3, "TestERC20", m.weth)
    send(clean_chain, weth.functions.transfer(mock.address, 10 * PAY_OUT))
    token = contract(clean_chain.w3, "TestERC20", usdc)
    send(clean_chain, token.functions.approve(flash.address, MAX_UINT), sender=owner)
    sushi = next(p.address for p in m.v2["sushiswap"].pairs if p.symbol == "WETH/USDC")
    return Setup(clean_chain, flash, mock, owner, usdc, m.weth, sushi)


def _trade(s: Setup, mode: int, other: str | None = None) -> Any:
    send(s.devnet, s.mock.functions.configure(mode, PAY_OUT, other or s.weth))
    return s.flash.functions.fromWallet(s.usdc, AMOUNT, (s.mock.address, 1, 0), (s.sushi, 0, 30), 0)


def _revert_reason(s: Setup, fn: Any) -> str:
    tx = fn.build_transaction({"from": s.owner, "gas": 3_000_000})
    call = [{"from": s.owner, "to": tx["to"], "data": tx["data"]}, "latest"]
    response = s.devnet.w3.provider.make_request("eth_call", call)  # type: ignore[arg-type]
    assert "error" in response, f"expected a revert, got {response}"
    return DECODER.decode(revert_data(response["error"]))


def test_an_honest_swap_through_the_mock_goes_through(setup: Setup) -> None:
    s = setup
    before = balance(s.devnet, s.usdc, s.owner)
    send(s.devnet, _trade(s, 9), sender=s.owner)  # mode 9: takes exactly the input
    assert balance(s.devnet, s.usdc, s.owner) > before
    assert balance(s.devnet, s.usdc, s.flash.address) == 0
    assert balance(s.devnet, s.weth, s.flash.address) == 0


def test_a_partial_fill_reverts_instead_of_leaving_the_rest_unsold(setup: Setup) -> None:
    s = setup
    assert _revert_reason(s, _trade(s, 0)) == f"PartialFill({AMOUNT // 2}, {AMOUNT})"


def test_a_pool_asking_for_more_than_the_input_is_refused(setup: Setup) -> None:
    s = setup
    # Stray USDC in the contract: paying the extra unit would have been possible.
    token = contract(s.devnet.w3, "TestERC20", s.usdc)
    send(s.devnet, token.functions.transfer(s.flash.address, 10**6))
    assert _revert_reason(s, _trade(s, 1)) == "UnexpectedCallback()"


def test_a_pool_rewriting_the_token_it_is_paid_in_is_refused(setup: Setup) -> None:
    s = setup
    # It asks for its "input" in the WETH it just paid out: the USDC would stay in the wallet.
    assert _revert_reason(s, _trade(s, 2, s.weth)) == "UnexpectedCallback()"


@pytest.mark.parametrize("mode", [3, 4], ids=["flash-callback", "v2-callback"])
def test_the_wrong_callback_kind_is_refused(setup: Setup, mode: int) -> None:
    assert _revert_reason(setup, _trade(setup, mode)) == "UnexpectedCallback()"
