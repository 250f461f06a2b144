"""Liquidator.sol against a misbehaving V3 route (contracts/src/TestMockV3Pool.sol): a pool that
asks to be paid in the flash-loaned debt asset, or for more collateral than it was given, is
refused; the same mock swapping honestly lets the liquidation through."""

from __future__ import annotations

import json
from typing import Any

import pytest
from web3 import Web3

from core.chain.artifacts import contracts_out_dir
from core.chain.reverts import RevertDecoder, revert_data
from core.deploy.devnet import Devnet
from tests.execute.test_liquidator import _opportunity, _underwater
from tests.support.chain import contract, send

pytestmark = pytest.mark.devnet


def _liquidate_call(devnet: Devnet, mode: int) -> dict[str, Any]:
    m = devnet.manifest
    aave = m.aave
    assert aave is not None
    _, user = _underwater(devnet)
    plan = _opportunity(devnet, user).plan
    weth, usdc = aave.reserves["WETH"].asset, aave.reserves["USDC"].asset
    art = json.loads((contracts_out_dir() / "TestMockV3Pool.json").read_text())
    factory = devnet.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    t0, t1 = sorted([weth, usdc], key=lambda a: int(a, 16))
    mock = devnet.w3.eth.contract(
        address=send(devnet, factory.constructor(t0, t1))["contractAddress"], abi=art["abi"]
    )
    pay_out = plan.debt_to_cover * 11 // 10
    send(devnet, contract(devnet.w3, "TestERC20", usdc).functions.mint(mock.address, pay_out))
    send(devnet, mock.functions.configure(mode, pay_out, usdc))
    liq_art = json.loads((contracts_out_dir() / "Liquidator.json").read_text())
    liquidator = devnet.w3.eth.contract(
        address=Web3.to_checksum_address(aave.liquidator), abi=liq_art["abi"]
    )
    params = (weth, usdc, user, plan.debt_to_cover, 1, mock.address, 0, 0)
    owner = Web3.to_checksum_address(aave.liquidator_owner)
    tx = liquidator.functions.liquidate(params).build_transaction({"from": owner, "gas": 5_000_000})
    call = [{"from": owner, "to": tx["to"], "data": tx["data"]}, "latest"]
    answer = dict(devnet.w3.provider.make_request("eth_call", call))  # type: ignore[arg-type]
    answer["decoder"] = RevertDecoder([liq_art["abi"]])
    return answer


@pytest.mark.parametrize("mode", [1, 2], ids=["overcharge", "debt-token"])
def test_a_route_asking_for_the_wrong_payment_is_refused(clean_chain: Devnet, mode: int) -> None:
    answer = _liquidate_call(clean_chain, mode)
    assert "error" in answer, f"the liquidation paid a misbehaving pool: {answer}"
    assert answer["decoder"].decode(revert_data(answer["error"])) == "BadCallback()"


def test_the_same_route_swapping_honestly_goes_through(clean_chain: Devnet) -> None:
    answer = _liquidate_call(clean_chain, 9)
    assert "error" not in answer, answer
    assert int(answer["result"], 16) > 0  # the profit
