"""Aave v3 on the devnet: deployment, and the local health factor equal to the Pool's own
getUserAccountData, to the unit, over random positions, time jumps and price moves."""

from __future__ import annotations

import random

from core.chain.rpc import batch
from core.deploy.devnet import Devnet
from core.feeds.aave_reader import AaveReader, PositionRead, read_market, read_positions
from core.feeds.sim.borrowers import BorrowerSim
from core.lending.health_factor import account_data


def _compare_all(devnet: Devnet, reader: AaveReader, users: list[str]) -> int:
    market, block = read_market(devnet.w3, reader)
    reads = read_positions(devnet.w3, reader, users, market, block)
    for user in users:
        read = reads[user]
        assert isinstance(read, PositionRead), read
        local = account_data(read.balances, market)
        chain = read.chain
        assert local.total_collateral_base == chain.total_collateral_base
        assert local.total_debt_base == chain.total_debt_base
        assert local.liquidation_threshold_bps == chain.liquidation_threshold_bps
        assert local.ltv_bps == chain.ltv_bps
        assert local.health_factor_wad == chain.health_factor_wad
    return block


def test_aave_market_deployed(devnet: Devnet) -> None:
    aave = devnet.manifest.aave
    assert aave is not None
    market, _ = read_market(devnet.w3, AaveReader(aave))
    weth = market.by_symbol("WETH")
    assert (weth.ltv_bps, weth.liquidation_threshold_bps, weth.liquidation_bonus_bps) == (
        8_000,
        8_250,
        10_500,
    )
    assert weth.decimals == 18 and market.by_symbol("WBTC").decimals == 8
    assert market.prices[weth.id] == 3_400 * 10**8
    assert {r.symbol for r in market.reserves} == {"WETH", "WBTC", "USDC"}


def test_local_health_factor_equals_chain(clean_chain: Devnet) -> None:
    devnet = clean_chain
    sim = BorrowerSim(devnet.w3, devnet.manifest, seed=3)
    users = sim.open_positions([sim.random_spec() for _ in range(24)])
    reader = AaveReader(sim.aave)
    rng = random.Random(5)
    blocks = {_compare_all(devnet, reader, users)}
    for _ in range(6):
        jump = rng.choice([1, 13, 3_600, 86_400, 30 * 86_400, 400 * 86_400])
        batch(devnet.w3, [("evm_increaseTime", [jump]), ("evm_mine", [])])
        blocks.add(_compare_all(devnet, reader, users))
        # A state-changing action mid-way updates indexes and rates on chain.
        sim.open_positions([sim.random_spec()])
        users = sim.borrowers
        sim.set_prices(
            {"WETH": 3_400 * rng.uniform(0.85, 1.15), "WBTC": 95_000 * rng.uniform(0.9, 1.1)}
        )
        blocks.add(_compare_all(devnet, reader, users))
    assert len(blocks) == 13
