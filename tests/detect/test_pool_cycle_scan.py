"""The on-chain cycle detector on in-memory pools: a skew across three pools is proposed with
an exact plan; pool fees or gas that eat the edge mean nothing is proposed; a wallet short of
the input forces a flash; only pools whose state changed are re-rated."""

from __future__ import annotations

from core.amm.pools import DexPool, PoolData, V2State
from core.amm.v2 import get_amount_in
from core.detect.cycles import walk_pools
from core.detect.pool_cycle_scan import PoolCycleDetector
from core.gas import GasTable
from core.settings import CycleSettings, ThresholdSettings
from tests.support.pools import v2_pool

E18 = 10**18
USD = {"WETH": 3_000.0, "USDC": 1.0, "WBTC": 90_000.0}


_pool = v2_pool


def _scene(skew: float, fee_bps: int = 30) -> tuple[list[DexPool], dict[str, PoolData]]:
    """WETH 3,000 USDC, WBTC 30 WETH; WBTC cheap in WETH on p3 by `skew`."""
    pools = [
        _pool("p1", "WETH", "USDC", fee_bps),
        _pool("p2", "USDC", "WBTC", fee_bps),
        _pool("p3", "WBTC", "WETH", fee_bps),
    ]
    states: dict[str, PoolData] = {
        "p1": V2State(1_000 * E18, 3_000_000 * E18),
        "p2": V2State(3_000_000 * E18, 1_000 * E18 // 30),
        "p3": V2State(100 * E18 // 3, int(1_000 * skew) * E18),
    }
    return pools, states


def _detector(
    pools: list[DexPool],
    states: dict[str, PoolData],
    *,
    gas_price_weth: float = 1e9 * 10,  # 10 gwei, in wei of WETH per gas
    wallet: int = 10**30,
) -> PoolCycleDetector:
    def gas_price_in(symbol: str) -> float:
        return gas_price_weth * USD["WETH"] / USD[symbol]

    return PoolCycleDetector(
        pools,
        states,
        ThresholdSettings(min_profit_usd=1.0, max_notional_usd=1_000_000.0),
        CycleSettings(start_currencies=["ETH"], min_profit_bps=5.0),
        gas_price_in=gas_price_in,
        usd_price=USD.get,
        wallet_balance=lambda _token: wallet,
        cycle_gas=GasTable().cycle,
        clock=lambda: 1_000.0,
    )


def test_a_three_pool_skew_is_proposed_with_an_exact_plan() -> None:
    pools, states = _scene(1.03)
    detector = _detector(pools, states)
    (found,) = detector.scan()
    opp, plan = found.opportunity, found.plan
    assert opp.kind == "cycle" and opp.start == "WETH" and len(opp.legs) == 3
    assert opp.symbol.startswith("WETH>") and opp.symbol.endswith(">WETH")
    assert plan.funding.mode == "wallet"
    assert plan.tokens[0] == plan.tokens[-1] == "0xWETH"
    by_address = {p.address: p for p in pools}
    assert walk_pools(plan.cycle, by_address, states, plan.amounts[0]) == plan.amounts
    assert plan.profit == plan.amounts[-1] - plan.amounts[0]
    gas_raw = plan.funding.gas_units * 1e10
    assert abs(opp.net_profit - (plan.profit - gas_raw) / E18) < 1e-12
    assert opp.net_profit > 0 and opp.net_bps >= 5.0
    # minProfit: the gas (rounded up) plus half the forecast net.
    assert plan.min_profit >= gas_raw
    assert [leg.side for leg in opp.legs] == [
        "sell" if leg.src == leg.symbol.partition("/")[0] else "buy" for leg in opp.legs
    ]


def test_pool_fees_that_eat_the_edge_mean_nothing_is_proposed() -> None:
    # A 0.6 % skew against three 0.3 % fees: no input profits.
    pools, states = _scene(1.006)
    assert _detector(pools, states, gas_price_weth=0.0).scan() == []
    # The same skew with 5 bps pools clears the fees.
    pools, states = _scene(1.006, fee_bps=5)
    assert len(_detector(pools, states, gas_price_weth=0.0).scan()) == 1


def test_gas_that_eats_the_edge_means_nothing_is_proposed() -> None:
    pools, states = _scene(1.02)
    (found,) = _detector(pools, states, gas_price_weth=1e9).scan()  # 1 gwei: worth it
    gross = found.plan.profit / E18
    gas_units = found.plan.funding.gas_units
    # A gas price at which the cycle's gas costs more than its gross profit: not proposed.
    dear = gross / gas_units * E18 * 1.01
    assert _detector(pools, states, gas_price_weth=dear).scan() == []


def test_a_wallet_short_of_the_input_forces_a_flash_swap_that_repays_less() -> None:
    pools, states = _scene(1.03)
    (found,) = _detector(pools, states, wallet=0).scan()
    plan = found.plan
    assert plan.funding.mode == "flash_v2"  # the first hop is a V2 pair; no V3 lender here
    state = states[plan.pools[0].address]
    assert isinstance(state, V2State)
    x_is_0 = plan.token_x == plan.pools[0].token0
    r_in, r_out = (state.reserve0, state.reserve1) if x_is_0 else (state.reserve1, state.reserve0)
    assert plan.repay == get_amount_in(plan.amounts[1], r_in, r_out, 30) <= plan.amounts[0]
    assert plan.profit == plan.amounts[-1] - plan.repay


def test_only_pools_whose_state_changed_are_re_rated() -> None:
    pools, states = _scene(1.0)
    detector = _detector(pools, states)
    assert detector.scan() == []
    assert detector.refresh() == 0  # nothing moved since
    before = detector.index.evaluated
    states["p3"] = V2State(100 * E18 // 3, 1_030 * E18)  # the feed replaces a moved pool's state
    (found,) = detector.scan()
    assert found.opportunity.net_profit > 0
    # Only the cycles through p3 were re-summed (both directions of the one triangle).
    assert detector.index.evaluated - before == len(
        detector.index.through[("dex-p3", "p3", "WBTC")]
    ) + len(detector.index.through[("dex-p3", "p3", "WETH")])


def test_cycles_start_only_from_the_allowed_currencies() -> None:
    pools, states = _scene(1.03)
    detector = _detector(pools, states)
    assert detector.starts() == ["WETH"]  # ETH allows WETH
    assert {c.start for c in detector.cycles} == {"WETH"}
    detector.settings.start_currencies = ["USDC", "BTC"]
    detector.rebuild()
    assert detector.starts() == ["USDC", "WBTC"]
    assert {c.start for c in detector.cycles} == {"USDC", "WBTC"}
