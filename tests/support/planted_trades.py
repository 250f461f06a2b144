"""A journal planted with trades of every outcome and route kind, written through the same
Journal calls the order path makes (opportunity, trade `sending`, orders, final update), with
the figures `core.trade_stats` must find worked out by hand below.

Trades (started / finished at T0 + seconds):
- t1 spread BTC/USDT simex→simbit: completed, PnL 3.90 USD, fees 1.30, volume 13000.50 (10 → 10.5)
- t2 spread BTC/USDT simbit→simex: hedged, PnL -0.75, fees 0.80, volume 8000.25 (20 → 21.25)
- t3 spread ETH/BTC simex→simkra, quoted in BTC at 65,000 USD: completed, PnL 6.40 USD,
  fees 0.00002 BTC (1.30 USD), volume 0.2 BTC (13,000 USD) (30 → 30.2)
- t4 cycle on simex: failed with its orders sent, PnL 0 (40 → 40.1)
- t5 spread simex→simbit: withdrawn (failed, no order): not executed
- t6 spread simex→simkra: needs_attention after an abort, no PnL (49 → 50)
- t7 spread simbit→simkra: still sending (60)
Liquidations (aave-v3 → uniswap-v2): L1 liquidated +12.50 at 70, L3 reverted -3.25 at 80, L2
refused (no route, no sell venue). One more spread opportunity, o5 simkra→simex, only expired.
"""

from __future__ import annotations

from decimal import Decimal

from core.detect.cycle_scan import CycleLeg, CycleOpportunity
from core.detect.opportunity import Opportunity
from core.execute.liquidate import LiquidationRecord
from core.journal import Journal
from core.records import OrderRecord, OrderStatus, TradeRecord, TradeStatus
from core.trade_stats import usd_per_quote

T0 = 1_763_712_000.0  # 2025-11-21 08:00:00 UTC, the console fake engine's clock


def _spread(
    oid: str, symbol: str, buy: str, sell: str, net: float, usd: float, at: float
) -> Opportunity:
    return Opportunity(
        oid, symbol, buy, sell, 0.2, 100.0, 101.0, net * 2, net, net, 9.0, usd, at, at + 4
    )


def _cycle(oid: str, at: float) -> CycleOpportunity:
    legs = (
        CycleLeg("simex", "BTC/USDT", "buy", "USDT", "BTC", 1000.0, 0.0154),
        CycleLeg("simex", "ETH/BTC", "buy", "BTC", "ETH", 0.0154, 0.313),
        CycleLeg("simex", "ETH/USDT", "sell", "ETH", "USDT", 0.313, 1002.0),
    )
    return CycleOpportunity(
        oid,
        "USDT>BTC>ETH>USDT",
        "simex",
        "simex",
        1000.0,
        1000.0,
        1002.0,
        3.0,
        1.0,
        2.0,
        20.0,
        2.0,
        at,
        at + 4,
        start="USDT",
        legs=legs,
    )


def _liquidation(oid: str, sell: str, status: str, pnl: str | None, at: float) -> LiquidationRecord:
    return LiquidationRecord(
        oid,
        "WETH/USDC",
        "aave-v3",
        sell,
        at,
        "liquidation",
        "0x" + "a" * 40,
        status,
        "",
        None,
        None,
        None,
        None,
        10**18,
        None,
        realized_pnl_usd=None if pnl is None else Decimal(pnl),
    )


def _order(trade_id: str, role: str, venue: str, at: float) -> OrderRecord:
    return OrderRecord(
        f"arb-{trade_id}-{role[0]}",
        trade_id,
        role,
        venue,
        "BTC/USDT",
        role,
        "limit",
        Decimal("0.2"),
        Decimal("100"),
        OrderStatus.PENDING,
        at,
        at,
    )


def _trade(
    journal: Journal,
    tid: str,
    opp: Opportunity,
    status: TradeStatus,
    started: float,
    finished: float | None = None,
    *,
    pnl_usd: str | None = None,
    fees: str = "0",
    volume: str = "0",
    orders: int = 2,
) -> None:
    journal.record_opportunity(opp, "executing", at=started)
    journal.insert_trade(
        TradeRecord(
            tid,
            opp.id,
            opp.symbol,
            opp.buy_venue,
            opp.sell_venue,
            Decimal("0.2"),
            TradeStatus.SENDING,
            started,
        )
    )
    for role in ("buy", "sell", "unwind")[:orders]:
        venue = opp.buy_venue if role == "buy" else opp.sell_venue
        journal.insert_order(_order(tid, role, venue, started))
    if status is TradeStatus.SENDING:
        return
    if pnl_usd is None:  # an abort: status and time only, as ledger.abort writes it
        journal.update_trade(tid, status, "aborted", finished_at=finished)
        return
    # As the ledger writes it: PnL in the quote, valued in USD at the opportunity's rate.
    rate = usd_per_quote(str(opp.net_profit), str(opp.net_profit_usd))
    journal.update_trade(
        tid,
        status,
        realized_pnl=Decimal(pnl_usd) / rate,
        realized_pnl_usd=Decimal(pnl_usd),
        fees=Decimal(fees),
        volume=Decimal(volume),
        finished_at=finished,
    )


def plant(journal: Journal) -> None:
    o1 = _spread("o1", "BTC/USDT", "simex", "simbit", 4.0, 4.0, T0 + 9)
    o2 = _spread("o2", "BTC/USDT", "simbit", "simex", 3.0, 3.0, T0 + 19)
    o3 = _spread("o3", "ETH/BTC", "simex", "simkra", 0.0001, 6.5, T0 + 29)  # 65,000 USD/BTC
    o4 = _cycle("o4", T0 + 39)
    o5 = _spread("o5", "BTC/USDT", "simkra", "simex", 1.0, 1.0, T0 + 44)
    o6 = _spread("o6", "BTC/USDT", "simex", "simbit", 1.0, 1.0, T0 + 45)
    o7 = _spread("o7", "BTC/USDT", "simex", "simkra", 1.0, 1.0, T0 + 48)
    o8 = _spread("o8", "BTC/USDT", "simbit", "simkra", 1.0, 1.0, T0 + 59)
    journal.record_opportunity(o5, "found")
    journal.record_opportunity(o5, "expired", at=T0 + 48)
    _trade(
        journal,
        "t1",
        o1,
        TradeStatus.COMPLETED,
        T0 + 10,
        T0 + 10.5,
        pnl_usd="3.90",
        fees="1.30",
        volume="13000.50",
    )
    _trade(
        journal,
        "t2",
        o2,
        TradeStatus.HEDGED,
        T0 + 20,
        T0 + 21.25,
        pnl_usd="-0.75",
        fees="0.80",
        volume="8000.25",
        orders=3,
    )
    _trade(
        journal,
        "t3",
        o3,
        TradeStatus.COMPLETED,
        T0 + 30,
        T0 + 30.2,
        pnl_usd="6.40",
        fees="0.00002",
        volume="0.2",
    )
    _trade(journal, "t4", o4, TradeStatus.FAILED, T0 + 40, T0 + 40.1, pnl_usd="0")
    _trade(journal, "t5", o6, TradeStatus.FAILED, T0 + 46, T0 + 46, pnl_usd="0", orders=0)
    _trade(journal, "t6", o7, TradeStatus.NEEDS_ATTENTION, T0 + 49, T0 + 50, orders=1)
    _trade(journal, "t7", o8, TradeStatus.SENDING, T0 + 60, orders=1)
    for record, at in (
        (_liquidation("L1", "uniswap-v2", "liquidated", "12.50", T0 + 69), T0 + 70),
        (_liquidation("L2", "", "refused", None, T0 + 74), T0 + 75),
        (_liquidation("L3", "uniswap-v2", "reverted", "-3.25", T0 + 79), T0 + 80),
    ):
        journal.record_opportunity(record, record.status, at=at)
