"""A liquidation whose swap leaves collateral over (sent to the owner): the journaled realized
PnL is every balance change of the owner at the oracle price, the leftover collateral included.
The route is contracts/src/TestMockV3Pool.sol taking half the collateral (a price-limited fill)
and paying USDC for it."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from web3 import AsyncHTTPProvider, AsyncWeb3, Web3

from core.amm.routes import ROUTE_V3
from core.chain.artifacts import contracts_out_dir
from core.chain.fee_oracle import FeeOracle
from core.deploy.devnet import Devnet
from core.detect.liquidations import LiquidationGas
from core.engine.lending import owner_dev_key
from core.execute.dex import TxSender
from core.execute.liquidate import LiquidationExecutor, liquidator_decoder
from core.feeds.aave_reader import AaveReader, read_market
from core.journal import Journal
from tests.execute.test_liquidator import _next_timestamp, _opportunity, _underwater
from tests.support.chain import balance, contract, send


async def test_realized_pnl_counts_the_leftover_collateral(
    clean_chain: Devnet, tmp_path: Path
) -> None:
    devnet = clean_chain
    m = devnet.manifest
    aave = m.aave
    assert aave is not None
    _, user = _underwater(devnet)
    opp = _opportunity(devnet, user)
    plan = opp.plan
    assert plan.swap is not None
    weth, usdc = aave.reserves["WETH"].asset, aave.reserves["USDC"].asset
    art = json.loads((contracts_out_dir() / "TestMockV3Pool.json").read_text())
    factory = devnet.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    t0, t1 = sorted([weth, usdc], key=lambda a: int(a, 16))
    receipt = send(devnet, factory.constructor(t0, t1))
    mock = devnet.w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"])
    pay_out = plan.debt_to_cover * 11 // 10  # enough to repay the loan with a profit
    send(devnet, contract(devnet.w3, "TestERC20", usdc).functions.mint(mock.address, pay_out))
    send(devnet, mock.functions.configure(0, pay_out, usdc))  # mode 0: takes half the input
    pool = replace(plan.swap.pool, kind=ROUTE_V3, address=mock.address, token0=t0, token1=t1)
    opp = replace(opp, plan=replace(plan, swap=replace(plan.swap, pool=pool)))

    market, _ = read_market(devnet.w3, AaveReader(aave))

    def usd_per_raw(symbol: str) -> Decimal | None:
        i = market.by_symbol(symbol).id
        return Decimal(market.prices[i]) / 10**8 / market.units[i]

    key = owner_dev_key(m)
    assert key is not None
    aw3: Any = AsyncWeb3(AsyncHTTPProvider(devnet.rpc_url))
    sender = TxSender(aw3, key, m.chain_id, FeeOracle(0.01, 200), liquidator_decoder())
    owner = Web3.to_checksum_address(aave.liquidator_owner)
    weth_before = balance(devnet, weth, owner)
    with Journal(tmp_path / "j.sqlite") as journal:
        executor = LiquidationExecutor(
            sender, aave, journal, gas=LiquidationGas(), usd_per_raw=usd_per_raw
        )
        _next_timestamp(devnet)
        record = await executor.execute(opp, min_profit_raw=0)
        stored = journal.opportunity(opp.id)
    assert record.status == "liquidated", record.reason
    changes = {k: int(v) for k, v in record.balance_changes.items()}
    leftover = balance(devnet, weth, owner) - weth_before
    assert leftover > 0 and changes["WETH"] == leftover  # half the seized collateral
    assert changes["USDC"] == record.profit_raw and changes["USDC"] > 0
    weth_usd, usdc_usd = usd_per_raw("WETH"), usd_per_raw("USDC")
    assert weth_usd is not None and usdc_usd is not None
    expected = (
        Decimal(changes["USDC"]) * usdc_usd
        + Decimal(leftover) * weth_usd
        + Decimal(changes["ETH"]) / 10**18 * plan.eth_usd
    )
    assert record.realized_pnl_usd == expected
    assert stored is not None and Decimal(str(stored["data"]["realized_pnl_usd"])) == expected
    assert plan.debt_usd_per_raw == usdc_usd  # the plan's debt price is the same oracle's
