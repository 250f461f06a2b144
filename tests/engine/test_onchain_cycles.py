"""On-chain cycles through the engine on the devnet: a planted three-pool cycle is found, sized
on the pools' exact integer math and executed as one FlashArbitrage transaction whose profit
equals the prediction to the raw unit, under every funding route; the hops are journaled as
legs h1..h3; a cycle whose pools moved reverts and costs only gas."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from core.chain.transfers import units
from core.detect.capital_source import FundingChoice, v3_flash_fee
from core.detect.cex_dex import row_symbol
from core.detect.cycle_scan import CycleOpportunity
from core.detect.opportunity import Opportunity
from core.detect.pool_cycle_scan import PoolCyclePlan, funded_profit
from core.events import FeedState, TradeFinished
from core.gas import cycle_kind
from core.records import TradeStatus
from tests.engine.test_onchain_engine import Rig

pytestmark = [pytest.mark.devnet, pytest.mark.timeout(90)]

ARBITRAGE_TOPIC = "Arbitrage(address,uint256,uint256,uint8)"


def _planted_first(o: CycleOpportunity) -> bool:
    """The cycle buys WETH on uni-v2's WETH/USDC first (where the whale made WETH cheap)."""
    return o.buy_venue == "uni-v2" and o.legs[0].symbol == "WETH/USDC" and o.legs[0].side == "buy"


def _planted(o: Opportunity) -> bool:
    """A cycle of three pools from USDC through the planted gap."""
    return isinstance(o, CycleOpportunity) and len(o.legs) == 3 and _planted_first(o)


async def _plant(rig: Rig) -> None:
    """Cycles start from USDC only (so the board's row for a loop is the rotation that buys
    on uni-v2 first), then the whale sells 40 WETH into uni-v2's WETH/USDC: WETH is about 4 %
    cheap there against every other pool."""
    rig.engine.settings.cycles.start_currencies = ["USDC"]
    rig.onchain.rebuild_cycles()
    await rig.swap("uni-v2", "WETH", 40)


async def _receipt(rig: Rig, tx_hash: str) -> Any:
    return await rig.w3.eth.get_transaction_receipt(tx_hash)


def _arbitrage_profit(rig: Rig, receipt: Any, flash: str) -> int:
    topic = rig.w3.keccak(text=ARBITRAGE_TOPIC)
    for log in receipt["logs"]:
        if log["address"].lower() == flash.lower() and log["topics"][0] == topic:
            data = bytes(log["data"])
            return int.from_bytes(data[32:64], "big")  # (amountIn, profit, funding)
    raise AssertionError("no Arbitrage event in the receipt")


def _force(rig: Rig, opportunity: Opportunity, plan: PoolCyclePlan, mode: str) -> PoolCyclePlan:
    """The plan under another funding route, its profit recomputed the way the detector does."""
    assert rig.onchain.feed is not None
    first = plan.pools[0]
    lender = next(
        p
        for p in rig.onchain.feed.pools.values()
        if p.kind == "v3" and p not in plan.pools and plan.token_x in (p.token0, p.token1)
    )
    premium = v3_flash_fee(plan.amounts[0], lender.fee) if mode == "flash_v3" else 0
    choice = FundingChoice(mode, 400_000, premium, 0.0, lender.address, "forced")  # type: ignore[arg-type]
    state = rig.onchain.feed.states[first.address]
    repay, profit = funded_profit(plan.amounts, choice, first, state, plan.token_x)
    forced = dataclasses.replace(plan, funding=choice, repay=repay, profit=profit, min_profit=1)
    rig.onchain._plans[opportunity.key] = forced
    return forced


@pytest.mark.parametrize("funding", ["as detected", "wallet", "flash_v2", "flash_v3"])
async def test_a_planted_three_pool_cycle_pays_the_predicted_profit_to_the_wei(
    rig: Rig, funding: str
) -> None:
    me = rig.manifest.accounts[1].address
    await _plant(rig)
    opportunity = await rig.opportunity(_planted)
    assert isinstance(opportunity, CycleOpportunity)
    plan = rig.onchain._plans[opportunity.key]
    assert isinstance(plan, PoolCyclePlan)
    assert [h.venue for h in plan.cycle.hops] == [leg.venue for leg in opportunity.legs]
    assert plan.tokens[0] == plan.tokens[-1] == rig.manifest.token("USDC").address
    if funding != "as detected":
        plan = _force(rig, opportunity, plan, funding)
    mode = plan.funding.mode
    usdc0 = await rig.balance("USDC", me)

    text = await rig.engine.approve(opportunity.id)
    assert "completed" in text, text

    (finished,) = rig.of(TradeFinished)
    record = rig.journal().trade(finished.trade_id)
    assert record is not None and record.status is TradeStatus.COMPLETED, record
    assert "could not be valued" not in (record.reason or ""), record.reason
    legs = sorted(record.legs, key=lambda leg: leg.role)
    assert [leg.role for leg in legs] == ["h1", "h2", "h3"]
    assert [(leg.venue, leg.symbol, leg.side) for leg in legs] == [
        (leg.venue, leg.symbol, leg.side) for leg in opportunity.legs
    ]
    assert len({leg.venue_order_id for leg in legs}) == 1  # one transaction
    assert all(leg.type == mode for leg in legs)  # the funding route is journaled

    receipt = await _receipt(rig, legs[0].venue_order_id)
    assert rig.onchain.flash_address is not None
    realized = _arbitrage_profit(rig, receipt, rig.onchain.flash_address)
    gained = (await rig.balance("USDC", me)) - usdc0
    # The prediction, the contract's own figure and the wallet agree to the raw unit.
    assert realized == plan.profit == gained > 0
    gas = legs[-1].fee
    premium = legs[0].fee
    assert gas > 0
    assert record.realized_pnl == units(plan.profit, 6) - gas
    if mode == "flash_v3":
        assert premium == units(plan.funding.premium, 6) > 0
    else:
        assert premium == 0
    assert rig.onchain.gas.source[cycle_kind(mode, 3)] == "receipt"


async def test_a_cycle_whose_pools_moved_reverts_in_simulation_and_costs_nothing(
    rig: Rig,
) -> None:
    """The contract's minProfit guard: the node's gas estimate runs the call on the moved
    pools, it reverts with ProfitTooLow, and nothing is sent (on a real chain a move between
    the estimate and the block would revert on-chain and cost the gas alone)."""
    me = rig.manifest.accounts[1].address
    await _plant(rig)
    opportunity = await rig.opportunity(_planted)
    plan = rig.onchain._plans[opportunity.key]
    assert isinstance(plan, PoolCyclePlan)
    await rig.swap("uni-v2", "USDC", 200_000)  # someone else closes the gap first
    usdc0 = await rig.balance("USDC", me)
    text = await rig.engine.approve(opportunity.id)
    assert "ProfitTooLow" in text, text
    (finished,) = rig.of(TradeFinished)
    record = rig.journal().trade(finished.trade_id)
    assert record is not None and record.status is TradeStatus.FAILED
    assert [leg.role for leg in sorted(record.legs, key=lambda leg: leg.role)] == ["h1", "h2", "h3"]
    assert all(leg.filled == 0 for leg in record.legs)
    assert record.realized_pnl == 0
    assert await rig.balance("USDC", me) == usdc0


async def test_a_four_pool_cycle_is_found_and_pays_its_prediction(rig: Rig) -> None:
    me = rig.manifest.accounts[1].address
    rig.engine.update_setting("cycles.max_hops", "4", write=False)
    await _plant(rig)

    def four(o: Opportunity) -> bool:
        return isinstance(o, CycleOpportunity) and len(o.legs) == 4 and _planted_first(o)

    opportunity = await rig.opportunity(four)
    plan = rig.onchain._plans[opportunity.key]
    assert isinstance(plan, PoolCyclePlan) and len(plan.pools) == 4
    usdc0 = await rig.balance("USDC", me)
    text = await rig.engine.approve(opportunity.id)
    assert "completed" in text, text
    (finished,) = rig.of(TradeFinished)
    record = rig.journal().trade(finished.trade_id)
    assert record is not None and record.status is TradeStatus.COMPLETED
    assert sorted(leg.role for leg in record.legs) == ["h1", "h2", "h3", "h4"]
    assert (await rig.balance("USDC", me)) - usdc0 == plan.profit > 0


async def test_a_stale_pool_on_any_hop_refuses_the_cycle(rig: Rig) -> None:
    await _plant(rig)
    opportunity = await rig.opportunity(_planted)
    plan = rig.onchain._plans[opportunity.key]
    assert isinstance(plan, PoolCyclePlan)
    first = plan.pools[0]  # the permit names its venue, but under the path, not its feed
    breaker = rig.engine.breaker
    assert breaker is not None
    breaker.feed_health(first.venue, row_symbol(first), FeedState.STALE, "no block for 30 s")
    text = await rig.engine.approve(opportunity.id)
    assert "refused" in text and "STALE" in text.upper(), text
    assert not rig.of(TradeFinished)
