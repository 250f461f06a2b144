"""CEX-DEX and DEX-DEX detection on pool states (pure, no chain): the chosen size is the best
net of every fee and gas, empty pools and odd decimals are handled, funding is forced to a
flash loan when the wallet is short."""

from __future__ import annotations

import pytest

from core.amm.pools import DexPool, PoolData, V2State, cex_symbol
from core.amm.v2 import get_amount_out
from core.book import OrderBook
from core.detect.capital_source import choose_funding
from core.detect.cex_dex import CexDexDetector
from core.detect.dex_dex import DexDexDetector
from core.settings import ThresholdSettings

NOW = 1_000.0
WETH, USDC = "0x" + "11" * 20, "0x" + "22" * 20


def _pool(venue: str, address: str, dec_base: int = 18, dec_quote: int = 6) -> DexPool:
    return DexPool(
        venue, "v2", address, "WETH/USDC", WETH, USDC, "WETH", "USDC", dec_base, dec_quote, 30
    )


def _book(bid: float, ask: float, size: float = 5.0) -> OrderBook:
    book = OrderBook("simex", "ETH/USDT")
    bids = [(bid - i, size) for i in range(20)]
    asks = [(ask + i, size) for i in range(20)]
    book.apply_snapshot(bids, asks, received_at=NOW)
    return book


def _detector(pool: DexPool, state: PoolData, book: OrderBook, gas: float = 2.0) -> CexDexDetector:
    return CexDexDetector(
        [pool],
        {pool.address: state},
        {"ETH/USDT": {"simex": book}},
        {"simex": 10.0},
        ThresholdSettings(min_profit_bps=0, min_profit_usd=0),
        gas_cost_quote=lambda asset, units: gas,
        swap_gas=lambda p: 110_000,
        clock=lambda: NOW,
    )


def _reserves(price: float, depth_weth: float, dec_base: int = 18, dec_quote: int = 6) -> V2State:
    return V2State(int(depth_weth * 10**dec_base), int(depth_weth * price * 10**dec_quote))


def test_mapping_states_the_stablecoin_parity() -> None:
    pool = _pool("uni-v2", "0x" + "aa" * 20)
    assert cex_symbol(pool) == "ETH/USDT"


@pytest.mark.parametrize(("dec_base", "dec_quote"), [(18, 6), (2, 24), (8, 8)])
def test_buy_on_dex_sell_on_cex_picks_the_best_net_size(dec_base: int, dec_quote: int) -> None:
    pool = _pool("uni-v2", "0x" + "aa" * 20, dec_base, dec_quote)
    state = _reserves(3_300.0, 400, dec_base, dec_quote)  # pool 3 % below the CEX bid
    detector = _detector(pool, state, _book(3_400.0, 3_401.0))
    found = detector.scan()
    assert len(found) == 1
    opp, plan = found[0].opportunity, found[0].plan
    assert opp.symbol == "ETH/USDT=USDC" and (opp.buy_venue, opp.sell_venue) == ("uni-v2", "simex")
    assert plan.expected_out == get_amount_out(plan.amount_in, state.reserve1, state.reserve0)
    assert opp.net_profit == pytest.approx(opp.gross_profit - opp.fees)

    def net(q: int) -> float:  # the same figure, recomputed independently
        out = get_amount_out(q, state.reserve1, state.reserve0) / 10**dec_base
        vwap, filled = _book(3_400.0, 3_401.0).vwap_for_quantity(False, out)
        return filled * vwap * (1 - 0.001) - q / 10**dec_quote - 2.0

    best = net(plan.amount_in)
    assert best == pytest.approx(opp.net_profit, rel=1e-9)
    for factor in (0.8, 0.9, 0.97, 1.03, 1.1, 1.25):  # neighbours are no better
        assert net(int(plan.amount_in * factor)) <= best + 1e-6


def test_no_liquidity_and_no_edge_give_nothing() -> None:
    pool = _pool("uni-v2", "0x" + "aa" * 20)
    assert _detector(pool, V2State(0, 0), _book(3_400.0, 3_401.0)).scan() == []
    fair = _reserves(3_400.5, 400)
    assert _detector(pool, fair, _book(3_400.0, 3_401.0)).scan() == []
    # An edge smaller than the gas: nothing either.
    thin = _reserves(3_385.0, 400)
    assert _detector(pool, thin, _book(3_400.0, 3_401.0), gas=10_000.0).scan() == []


def test_dex_dex_closed_form_and_forced_flash() -> None:
    a, b = _pool("uni-v2", "0x" + "aa" * 20), _pool("sushi", "0x" + "bb" * 20)
    states: dict[str, PoolData] = {
        a.address: _reserves(3_300.0, 500),
        b.address: _reserves(3_400.0, 500),
    }

    def detector(balance: int) -> DexDexDetector:
        return DexDexDetector(
            [a, b],
            states,
            ThresholdSettings(min_profit_bps=0, min_profit_usd=0),
            gas_price_in=lambda s: 0.05,
            usd_price=lambda s: 1.0,
            wallet_balance=lambda t: balance,
            clock=lambda: NOW,
        )

    rich = detector(10**15).scan()
    assert len(rich) == 1 and rich[0].plan.funding.mode == "wallet"
    assert (rich[0].opportunity.buy_venue, rich[0].opportunity.sell_venue) == ("uni-v2", "sushi")
    poor = detector(0).scan()
    assert poor[0].plan.funding.mode == "flash_v2" and "forced" in poor[0].plan.funding.reason
    assert poor[0].opportunity.net_profit < rich[0].opportunity.net_profit  # flash costs more gas
    v3_lender = DexPool(
        "uni-v3-500",
        "v3",
        "0x" + "cc" * 20,
        "WETH/USDC",
        WETH,
        USDC,
        "WETH",
        "USDC",
        18,
        6,
        500,
        10,
    )
    b3 = DexPool(
        "uni-v3-3000",
        "v3",
        "0x" + "dd" * 20,
        "WETH/USDC",
        WETH,
        USDC,
        "WETH",
        "USDC",
        18,
        6,
        3000,
        60,
    )
    choice = choose_funding(10**9, 0, b3, [v3_lender], 0.05)
    assert choice is not None and choice.mode == "flash_v3" and choice.premium == 500_000
    assert choose_funding(10**9, 0, b3, [], 0.05) is None  # short and nothing to borrow from


def test_funding_prices_each_route_with_its_own_measured_gas() -> None:
    pool = _pool("uni-v2", "0x" + "aa" * 20)
    assert choose_funding(10**9, 10**12, pool, [], 0.05).mode == "wallet"  # the fallbacks
    # Receipts on the devnet: a V2 flash swap needs no transferFrom and is the cheaper route.
    measured = choose_funding(
        10**9, 10**12, pool, [], 0.05, wallet_gas=202_394, flash_v2_gas=181_846
    )
    assert measured is not None and measured.mode == "flash_v2"
    assert measured.gas_units == 181_846 and measured.cost == pytest.approx(181_846 * 0.05)
