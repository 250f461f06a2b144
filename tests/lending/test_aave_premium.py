"""The flash-loan premium a liquidation forecast uses is the Pool's own
(FLASHLOAN_PREMIUM_TOTAL, read with the market), not the deployment's constant: governance
changes it, and the forecast must follow."""

from __future__ import annotations

from decimal import Decimal

from web3 import Web3

from core.chain.aave_artifacts import aave_abi
from core.deploy.devnet import Devnet
from core.engine.lending import LendingService
from core.feeds.aave_reader import AaveReader, read_market
from core.feeds.sim.borrowers import BorrowerSim, BorrowerSpec
from core.lending.wad_ray import percent_mul
from core.settings import LendingSettings
from tests.support.chain import send

NEW_PREMIUM_BPS = 9


def test_the_forecast_uses_the_pools_premium(clean_chain: Devnet) -> None:
    devnet = clean_chain
    aave = devnet.manifest.aave
    assert aave is not None
    assert read_market(devnet.w3, AaveReader(aave))[0].flash_loan_premium_bps == (
        aave.flash_loan_premium_bps
    )
    cfg = devnet.w3.eth.contract(
        address=Web3.to_checksum_address(aave.pool_configurator),
        abi=aave_abi("PoolConfigurator"),
    )
    send(devnet, cfg.functions.updateFlashloanPremiumTotal(NEW_PREMIUM_BPS))
    assert NEW_PREMIUM_BPS != aave.flash_loan_premium_bps
    market, _ = read_market(devnet.w3, AaveReader(aave))
    assert market.flash_loan_premium_bps == NEW_PREMIUM_BPS
    assert market.with_timestamp(market.timestamp + 1).flash_loan_premium_bps == NEW_PREMIUM_BPS

    settings = LendingSettings(min_profit_usd=1.0, gas_price_gwei=1.0)
    service = LendingService(settings, devnet.w3, devnet.manifest, clock=lambda: 1_000.0)
    sim = BorrowerSim(devnet.w3, devnet.manifest, seed=31)
    sim.open_positions([BorrowerSpec({"WETH": 120_000}, "USDC", 1.05)])
    sim.set_prices({"WETH": Decimal(3_400) * Decimal("0.93")})
    service.scan_once()
    (opp,) = service.opportunities()
    assert opp.plan.premium == percent_mul(opp.plan.debt_to_cover, NEW_PREMIUM_BPS)
