"""On-chain trades held to the same standard as CEX trades: the circuit breaker's gate, orders
journaled before they are sent, every leg followed to its end, a residual unwound, realized PnL
from what actually moved, and the executor's events (so the console's trades pane, the
journal's history and the breaker see them exactly like CEX trades).

CEX-DEX: the CEX leg is an IOC limit order at most `max_slippage_bps` from the detected VWAP,
followed by the executor's leg machinery (core.execute.legs); the DEX leg is a router swap
whose `amountOutMin` is the detection-time quote less `chain.slippage_bps` (the guard against
a pool that moved: the pool feed can lag the chain by a block, so it is not re-quoted). Both
are sent at once. Whatever they filled, the base imbalance between them is flattened with a
market order on the CEX (the venue that can take either side at once); below its minimums it
is dust, valued at the price it was taken at (as the executor does).

DEX-DEX: one FlashArbitrage transaction (atomic: all or nothing). Its two hops are journaled as
the buy and sell legs, with the tx hash as the venue order id.

Pool cycles: one FlashArbitrage `cycle*` transaction through three or four pools (atomic too);
each hop is journaled as a leg `h1`, `h2`... before it is sent, and the PnL is the start
token's flow (core.execute.cycle_pnl) net of gas and any flash premium.

Amounts come from the receipt's Transfer logs in raw units and become Decimal exactly with the
token's decimals (core.chain.transfers); gas paid (gasUsed x effectiveGasPrice, in wei) is
converted to the quote currency at the current ETH price and charged as the leg's fee. Token
symbols map to CEX assets by core.detect.cex_dex.TOKEN_TO_CEX (WETH = ETH; USDC = USDT at
parity, the detector's stated assumption), so one trade's legs share a base and a quote.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from eth_utils import to_checksum_address

from core.amm.pools import DexPool
from core.book import OrderBook
from core.chain.artifacts import load
from core.chain.flashbots import BundleSimulation
from core.chain.transfers import received, sent, transfers, units
from core.detect.cex_dex import DexPlan, row_symbol
from core.detect.dex_dex import DexDexPlan
from core.detect.opportunity import Opportunity
from core.detect.pool_cycle_scan import PoolCyclePlan, pool_side
from core.events import (
    BundleSettled,
    Event,
    TradeUnwinding,
)
from core.execute.bundles import BundleTerms
from core.execute.cycle_pnl import account_cycle
from core.execute.dex import DexLegs, Gate, OnSubmitted, TxResult, TxSendError
from core.execute.executor import taker_rate
from core.execute.ledger import dust_reason, dust_value
from core.execute.legs import LegRunner
from core.execute.order_path import IN_FLIGHT, OrderPath, Refused
from core.execute.pnl import account
from core.execute.reserve import Hold
from core.execute.trades import ZERO, LegOutcome, Submission, Trade, Venue
from core.gas import cycle_kind
from core.journal import Journal
from core.money import D
from core.records import FillRecord, OrderRecord, OrderStatus, TradeStatus
from core.risk import CircuitBreaker, Decision
from core.settings import Settings

_BALANCE_OF = bytes.fromhex("70a08231")


@dataclass(frozen=True, slots=True)
class _CexDexOrder:
    """A CEX-DEX opportunity made concrete: rounded CEX order, raw DEX swap."""

    exchange: Venue
    cex_venue: str
    cex_symbol: str
    cex_side: str
    cex_amount: str
    cex_price: str
    pool: DexPool
    token_in: str
    token_out: str
    amount_in: int
    expected_out: int
    dex_side: str  # what the DEX leg does with the base: buy | sell
    base_decimals: int
    quote_decimals: int


WALLET = "wallet"
"""The reservations' venue name of this account's on-chain token balances."""


Plan = DexPlan | DexDexPlan | PoolCyclePlan


def plan_pools(plan: Plan) -> list[DexPool]:
    """The pools a plan trades on (a flash lender only lends: its price does not move)."""
    if isinstance(plan, DexPlan):
        return [plan.pool]
    if isinstance(plan, PoolCyclePlan):
        return list(plan.pools)
    return [plan.buy, plan.sell]


def flash_hop(pool: DexPool) -> tuple[str, int, int]:
    """FlashArbitrage's `Hop` for `pool`: (address, kind 0 = V2 / 1 = V3, V2 fee in bps). A V2
    fork's own fee travels with the route, so the contract quotes the pair as the detector did;
    a V3 pool charges its own fee, so the field is 0 there."""
    if pool.kind == "v2":
        return (pool.address, 0, pool.fee)
    return (pool.address, 1, 0)


_VENUE_FINE = frozenset({OrderStatus.CLOSED, OrderStatus.NOT_INCLUDED})
"""Leg states that say nothing bad of the venue: a bundle no block took is not its failure."""


@dataclass(frozen=True, slots=True)
class _TxContext:
    """What each of a trade's transactions is sent with: the breaker's send check, the relay
    terms, and the journal note of its going out."""

    gate: Gate
    terms: BundleTerms
    trader: OnChainTrader

    def noting(self, trade: Trade, records: list[OrderRecord]) -> OnSubmitted:
        def note(tx_hash: str, how: str, blocks: tuple[int, ...]) -> None:
            self.trader._noted(trade, records, tx_hash, how, blocks)

        return note


class OnChainTrader:
    """The on-chain route kinds' adapter on the one order path; one instance per engine run.

    `path` is the engine's `OrderPath` (the CEX executor's): on-chain trades share its gate,
    journal rows, reservations, active / finished lists, counters and `max_concurrent_trades`,
    and its leg runner sends the CEX legs (so the kill switch cancels them with the rest).
    Without one (tests of this adapter alone) the trader runs on a path of its own.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        legs: DexLegs,
        journal: Journal,
        breaker: CircuitBreaker,
        publish: Callable[[Event], None],
        exchanges: Mapping[str, Venue],
        books: Mapping[str, Mapping[str, OrderBook]],
        eth_price_in: Callable[[str], Decimal | None],
        flash_address: str | None,
        path: OrderPath | None = None,
        on_gas: Callable[[str, int], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.legs = legs
        self.journal = journal
        self.path = path or OrderPath(
            journal, breaker, settings.risk, LegRunner(journal, clock=clock), publish, clock
        )
        # Names for the path's parts this adapter uses on every trade.
        self.gate = self.path.gate
        self.ledger = self.path.ledger
        self.runner = self.path.legs
        self.reservations = self.path.reservations
        self.active = self.path.active
        self.publish = publish
        self.exchanges = exchanges
        self.books = books
        self.eth_price_in = eth_price_in
        """Token or asset symbol -> ETH price in it (Decimal), None when no book prices it."""
        self.flash_address = flash_address
        self.on_gas = on_gas
        """(kind, gas used) of every mined transaction: 'v2' / 'v3' swaps, funding modes."""
        self.clock = clock
        self.busy: dict[str, str] = {}
        """Pool address -> the trade in flight on it (one at a time: the next plan needs the
        pool as that trade leaves it)."""
        self.mined_at: dict[str, int] = {}
        """Pool address -> block of our last transaction on it; a plan from a pool state older
        than that is stale (see OnChain.scan)."""
        self._tasks: set[asyncio.Task[Any]] = set()
        """Submissions in flight, from their claim to their end (drain waits for them)."""
        self._flash = legs.sender.w3.eth.contract(abi=load("FlashArbitrage").abi)

    @property
    def me(self) -> str:
        return self.legs.sender.address

    # -- entry -----------------------------------------------------------------------------

    async def submit(self, opportunity: Opportunity, plan: Plan) -> Submission:
        """Gate, run and account one opportunity; returns when the trade has finished
        (`accepted` says a trade ran; `reason` what became of it, `trade_id` which)."""
        key = self.path.claim(opportunity)
        if key is None:
            return self.path.refuse(opportunity, IN_FLIGHT)
        try:
            task = asyncio.ensure_future(self._submit(opportunity, plan))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return await asyncio.shield(task)
        finally:
            self.path.unclaim(key)

    async def _submit(self, opportunity: Opportunity, plan: Plan) -> Submission:
        # The permit comes first (it trips a venue whose feed is bad, e.g. the RPC is down);
        # the checks that need the network follow, and give the permit back if they refuse.
        pools = plan_pools(plan)
        try:
            self.path.check_open(opportunity)
            for pool in pools:
                if pool.address in self.busy:
                    raise Refused(f"{pool.venue}: trade {self.busy[pool.address]} in flight there")
            if isinstance(plan, PoolCyclePlan):  # every hop's pool feed, by its health symbol
                for pool in plan.pools:
                    if why := self.gate.refusal((pool.venue,), row_symbol(pool), self.clock()):
                        raise Refused(why)
            decision = self.path.admit(opportunity)
        except Refused as exc:
            return self.path.refuse(opportunity, str(exc))
        for pool in pools:  # claimed before the first await: concurrent submits see it
            self.busy[pool.address] = opportunity.id
        try:
            return await self._prepared(opportunity, plan, decision)
        finally:
            for pool in pools:
                self.busy.pop(pool.address, None)

    async def _prepared(
        self, opportunity: Opportunity, plan: Plan, decision: Decision
    ) -> Submission:
        order: _CexDexOrder | None = None
        holds: list[Hold] = []  # funds this trade counts on, held until it ends
        try:
            try:
                if isinstance(plan, DexPlan):
                    order = await self._prepare_cex_dex(opportunity, plan, holds)
                elif isinstance(plan, PoolCyclePlan):
                    await self._prepare_cycle(plan, holds)
                else:
                    await self._prepare_dex_dex(opportunity, plan, holds)
            except Refused as exc:
                self.gate.release(decision)
                return self.path.refuse(opportunity, str(exc))
            except BaseException:
                self.gate.release(decision)
                raise
            # The checks above awaited balances and the chain: a kill (or a breaker opening)
            # may have come in since the permit. Each transaction asks again before it goes.
            if refusal := self.gate.send_refusal(decision):
                self.gate.release(decision)
                return self.path.refuse(opportunity, f"not sent: {refusal}")
            return await self._trade(opportunity, plan, decision, order)
        finally:
            for hold in holds:
                self.reservations.release(hold)

    async def _trade(
        self,
        opportunity: Opportunity,
        plan: Plan,
        decision: Decision,
        order: _CexDexOrder | None,
    ) -> Submission:
        def gate() -> str:
            return self.gate.send_refusal(decision)

        tx = _TxContext(gate, self._terms(opportunity, plan), self)

        try:
            if isinstance(plan, DexPlan):
                assert order is not None
                trade = self._start(opportunity, D(order.cex_amount))
                run = self._run_cex_dex(trade, order, tx)
            elif isinstance(plan, PoolCyclePlan):
                trade = self._start(opportunity, units(plan.repay, plan.decimals[0]))
                run = self._run_cycle(trade, plan, tx)
            else:
                size = plan.amount_mid
                token0 = plan.buy.token0
                decimals = plan.buy.decimals0 if token0 != plan.token_x else plan.buy.decimals1
                trade = self._start(opportunity, units(size, decimals))
                run = self._run_dex_dex(trade, plan, tx)
        except BaseException:
            self.gate.release(decision)  # nothing sent: the permit must not leak
            raise
        for pool in plan_pools(plan):
            self.busy[pool.address] = trade.id
        try:
            failed_venues = await run
            if isinstance(plan, PoolCyclePlan):
                self._finish_cycle(trade, decision, plan, failed_venues)
            else:
                self._finish(trade, decision, failed_venues)
        except BaseException as exc:
            self._abort(trade, decision, exc)
            raise
        return Submission(True, self._summary(trade), trade.id)

    async def drain(self, timeout_s: float) -> None:
        """Let trades in flight finish (shutdown)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)

    async def _wallet_balance(self, token: str) -> int:
        word = bytes(12) + bytes.fromhex(self.me[2:])
        try:
            answer = await self.legs.sender._rpc(
                "eth_call", [{"to": token, "data": "0x" + (_BALANCE_OF + word).hex()}, "latest"]
            )
        except Exception as exc:  # noqa: BLE001 - the RPC is down or failing: do not trade
            raise Refused(f"wallet balance unreadable: {type(exc).__name__}: {exc}") from exc
        if "error" in answer:
            raise Refused(f"wallet balance unreadable: {answer['error']}")
        return int(answer["result"], 16)

    async def _prepare_cex_dex(
        self, opp: Opportunity, plan: DexPlan, holds: list[Hold]
    ) -> _CexDexOrder:
        now = self.clock()
        venue, symbol = plan.cex_venue or "", plan.cex_symbol or ""
        exchange = self.exchanges.get(venue)
        if exchange is None:
            raise Refused(f"no exchange adapter for venue {venue}")
        # The opportunity's symbol carries the parity mark; the CEX feed is keyed by its own.
        if refusal := self.gate.refusal((venue,), symbol, now):
            raise Refused(refusal)
        book = self.books.get(symbol, {}).get(venue)
        stale_s = self.settings.thresholds.stale_after_ms / 1000
        if book is None or not book.usable(now, stale_s):
            raise Refused(f"book {venue} {symbol} not usable")
        pool = plan.pool
        base_is_0 = pool.symbol.partition("/")[0] == pool.symbol0
        bdec, qdec = (
            (pool.decimals0, pool.decimals1) if base_is_0 else (pool.decimals1, pool.decimals0)
        )
        token_out = pool.token1 if plan.token_in == pool.token0 else pool.token0
        slip = self.settings.thresholds.max_slippage_bps / 1e4
        side = plan.cex_side or "sell"
        try:
            if side == "sell":  # DEX buys the base with quote; the CEX sells what it delivers
                amount_in, expected_out = plan.amount_in, plan.expected_out
                cex_amount = exchange.amount_to_precision(symbol, str(units(expected_out, bdec)))
                price = exchange.price_to_precision(symbol, opp.sell_vwap * (1 - slip))
            else:  # the CEX buys the base; the DEX sells exactly what the CEX order asks for
                cex_amount = exchange.amount_to_precision(symbol, str(units(plan.amount_in, bdec)))
                amount_in = int(D(cex_amount).scaleb(bdec))
                # out(x) is concave with out(0) = 0: the pro-rata quote is a floor.
                expected_out = plan.expected_out * amount_in // plan.amount_in
                price = exchange.price_to_precision(symbol, opp.buy_vwap * (1 + slip))
        except Exception as exc:  # noqa: BLE001 - ccxt raises InvalidOrder below the step
            raise Refused(f"{venue}: cannot round the order: {exc}") from exc
        if D(cex_amount) <= 0 or amount_in <= 0:
            raise Refused(f"{venue}: the size rounds to nothing")
        limits = exchange.market(symbol).get("limits") or {}
        min_amount = (limits.get("amount") or {}).get("min")
        min_cost = (limits.get("cost") or {}).get("min")
        if min_amount is not None and D(cex_amount) < D(min_amount):
            raise Refused(f"{venue}: amount {cex_amount} below the venue minimum {min_amount}")
        if min_cost is not None and D(cex_amount) * D(price) < D(min_cost):
            raise Refused(f"{venue}: notional below the venue minimum {min_cost}")
        base, _, quote = symbol.partition("/")
        try:
            balance = await exchange.fetch_balance()
        except Exception as exc:  # noqa: BLE001 - any failure here means: do not trade
            raise Refused(f"balance check failed: {type(exc).__name__}: {exc}") from exc
        # Free funds less what trades in flight (here or in the CEX executor) hold there.
        free = balance.get("free") or {}
        free_base = self.reservations.available(venue, base, D(free.get(base)))
        free_quote = self.reservations.available(venue, quote, D(free.get(quote)))
        if side == "sell" and free_base < D(cex_amount):
            raise Refused(f"{venue}: {free_base} {base} free, the sell needs {cex_amount}")
        need = D(cex_amount) * D(price) * (1 + D(taker_rate(exchange, symbol)))
        if side == "buy" and free_quote < need:
            raise Refused(f"{venue}: {free_quote} {quote} free, the buy needs {need:.8f}")
        cex_need = (venue, base, D(cex_amount)) if side == "sell" else (venue, quote, need)
        holds.append(self.reservations.hold([cex_need]))
        self._hold_wallet(
            await self._wallet_balance(plan.token_in), plan.token_in, amount_in, holds
        )
        return _CexDexOrder(
            exchange,
            venue,
            symbol,
            side,
            str(cex_amount),
            str(price),
            pool,
            plan.token_in,
            token_out,
            amount_in,
            expected_out,
            "buy" if side == "sell" else "sell",
            bdec,
            qdec,
        )

    async def _prepare_dex_dex(self, opp: Opportunity, plan: DexDexPlan, holds: list[Hold]) -> None:
        if self.flash_address is None:
            raise Refused("FlashArbitrage is not deployed on this chain")
        if plan.funding.mode == "wallet":
            have = await self._wallet_balance(plan.token_x)
            self._hold_wallet(have, plan.token_x, plan.amount_in, holds)

    async def _prepare_cycle(self, plan: PoolCyclePlan, holds: list[Hold]) -> None:
        if self.flash_address is None:
            raise Refused("FlashArbitrage is not deployed on this chain")
        if plan.funding.mode == "wallet":
            have = await self._wallet_balance(plan.token_x)
            self._hold_wallet(have, plan.token_x, plan.amounts[0], holds)

    def _hold_wallet(self, have: int, token: str, amount: int, holds: list[Hold]) -> None:
        """Refuse unless the wallet holds `amount` raw `token` beyond what trades in flight
        hold; then hold it too."""
        free = self.reservations.available(WALLET, token, Decimal(have))
        if free < amount:
            raise Refused(f"wallet holds {free} raw {token} free, the trade needs {amount}")
        holds.append(self.reservations.hold([(WALLET, token, Decimal(amount))]))

    # -- a trade's life --------------------------------------------------------------------

    def _terms(self, opportunity: Opportunity, plan: Plan) -> BundleTerms:
        """A trade's relay terms: its TTL, and the profit check of each simulation."""

        def worth(simulation: BundleSimulation) -> str:
            return self._bundle_worth(plan, opportunity, simulation)

        return BundleTerms(opportunity.expires_at, self.clock, worth)

    def _bundle_worth(
        self, plan: Plan, opportunity: Opportunity, simulation: BundleSimulation
    ) -> str:
        """'' when the simulated trade still pays its simulated gas, else why not.

        FlashArbitrage calls return their profit (raw start token, after any flash premium,
        before gas): the simulation's figure must cover the simulation's gas. A relay that does
        not return it leaves the forecast profit (a cycle) or the contract's floor `min_profit`
        (DEX-DEX), which the call reverts below. A CEX-DEX swap was priced with the plan's gas
        units: the extra simulated gas comes off its net profit."""
        fees = self.legs.sender.fees.fees
        if fees is None:
            return ""
        gas_used = simulation.total_gas_used
        gas_wei = gas_used * fees.expected_wei
        if isinstance(plan, DexPlan):
            quote = opportunity.symbol.split("=")[0].partition("/")[2]
            eth = self.eth_price_in(quote)
            if eth is None:
                return ""
            extra = units(max(gas_used - plan.gas_units, 0) * fees.expected_wei, 18) * eth
            if D(opportunity.net_profit) - extra <= 0:
                return f"simulated gas {gas_used} (priced with {plan.gas_units}) leaves no profit"
            return ""
        symbol, decimals = self._start_token(plan)
        eth = self.eth_price_in(symbol)
        if eth is None:
            return ""
        gas_in_token = units(gas_wei, 18) * eth
        returned = simulation.results[-1].value if simulation.results else ""
        if len(returned) == 66:  # one uint256: the contract's profit
            profit, source = int(returned, 16), "simulated"
        elif isinstance(plan, PoolCyclePlan):
            profit, source = plan.profit, "forecast"
        else:
            profit, source = plan.min_profit, "guaranteed"
        if units(profit, decimals) < gas_in_token:
            return (
                f"simulated gas {gas_used} costs {gas_in_token:.6f} {symbol}, more than the "
                f"{units(profit, decimals)} {source} profit"
            )
        return ""

    @staticmethod
    def _start_token(plan: DexDexPlan | PoolCyclePlan) -> tuple[str, int]:
        """(symbol, decimals) of a plan's start token (`token_x`)."""
        if isinstance(plan, PoolCyclePlan):
            return plan.cycle.start, plan.decimals[0]
        pool = plan.buy
        if plan.token_x == pool.token0:
            return pool.symbol0, pool.decimals0
        return pool.symbol1, pool.decimals1

    def _noted(
        self,
        trade: Trade,
        records: list[OrderRecord],
        tx_hash: str,
        how: str,
        blocks: tuple[int, ...],
    ) -> None:
        """A leg's transaction went out: journal its hash and target blocks at once (a
        restart reconciles it from the chain) and show them on the trade."""
        now = self.clock()
        for record in records:
            latest = trade.orders.get(record.client_order_id, record)
            updated = replace(
                latest,
                status=OrderStatus.OPEN,
                venue_order_id=tx_hash,
                submission=how,
                target_blocks=blocks,
                updated_at=now,
            )
            trade.orders[record.client_order_id] = updated
            self.journal.update_order(updated)

    def _start(self, opp: Opportunity, amount: Decimal) -> Trade:
        return self.path.start(opp, amount, D(opp.buy_vwap), D(opp.sell_vwap))

    def _gas_fee(self, result: TxResult, quote_symbol: str) -> tuple[Decimal, str]:
        """Gas paid, in quote at the current ETH price (and a note when no price is known)."""
        if result.gas_cost_wei == 0:
            return ZERO, ""
        eth = self.eth_price_in(quote_symbol)
        if eth is None:
            wei = result.gas_cost_wei
            return ZERO, f"gas {wei} wei not valued (no ETH price in {quote_symbol})"
        return units(result.gas_cost_wei, 18) * eth, ""

    def _tx_order(
        self,
        trade: Trade,
        record: OrderRecord,
        result: TxResult | BaseException,
        filled: Decimal,
        cost: Decimal,
        fee: Decimal,
        fee_currency: str,
    ) -> tuple[OrderRecord, tuple[FillRecord, ...]]:
        """A DEX leg's final record from its transaction (tx hash = venue order id), built on
        the trade's latest copy of `record` (which `_noted` gave the hash and target blocks)."""
        record = trade.orders.get(record.client_order_id, record)
        now = self.clock()
        if isinstance(result, BaseException):
            # The node refused it (nothing mined), or we lost it mid-way: then only the chain
            # can tell, so a human checks.
            status = (
                OrderStatus.REJECTED if isinstance(result, TxSendError) else OrderStatus.UNKNOWN
            )
            error = f"{type(result).__name__}: {result}"
            updated = replace(record, status=status, error=error, updated_at=now)
            self.journal.update_order(updated)
            return updated, ()
        if result.outcome_unknown:
            status = OrderStatus.UNKNOWN
        elif result.ok:
            status = OrderStatus.CLOSED
        elif result.status == "not_included":
            status = OrderStatus.NOT_INCLUDED
        else:
            status = OrderStatus.REJECTED
        updated = replace(
            record,
            status=status,
            venue_order_id=result.tx_hash or record.venue_order_id,
            submission=result.submission,
            target_blocks=result.target_blocks or record.target_blocks,
            landed_block=result.block,
            filled=filled,
            average=cost / filled if filled else None,
            cost=cost,
            fee=fee,
            fee_currency=fee_currency,
            error=result.reason,
            updated_at=now,
        )
        fills: tuple[FillRecord, ...] = ()
        if filled > 0:
            fills = (
                FillRecord(
                    client_order_id=record.client_order_id,
                    trade_id=record.trade_id,
                    venue=record.venue,
                    symbol=record.symbol,
                    side=record.side,
                    amount=filled,
                    price=cost / filled,
                    cost=cost,
                    fee=fee,
                    fee_currency=fee_currency,
                    at=now,
                ),
            )
        self.journal.update_order(updated, fills)
        return updated, fills

    # -- CEX-DEX ---------------------------------------------------------------------------

    async def _run_cex_dex(self, trade: Trade, o: _CexDexOrder, tx: _TxContext) -> list[str]:
        base, _, quote = o.cex_symbol.partition("/")
        planned = o.expected_out if o.dex_side == "buy" else o.amount_in
        dex_role = "buy" if trade.buy_venue == o.pool.venue else "sell"
        cex_role = "sell" if dex_role == "buy" else "buy"
        dex_rec = self.ledger.order(
            trade,
            dex_role,
            o.pool.venue,
            o.pool.symbol,
            o.dex_side,
            "swap",
            str(units(planned, o.base_decimals)),
            None,
        )
        cex_rec = self.ledger.order(
            trade,
            cex_role,
            o.cex_venue,
            o.cex_symbol,
            o.cex_side,
            "limit",
            o.cex_amount,
            o.cex_price,
        )
        timeout = self.settings.execution.leg_timeout_s
        dex_result, cex_out = await asyncio.gather(
            self._try(
                self.legs.swap(
                    o.pool,
                    o.token_in,
                    o.amount_in,
                    o.expected_out,
                    gate=tx.gate,
                    bundle=tx.terms,
                    on_submitted=tx.noting(trade, [dex_rec]),
                )
            ),
            self.runner.run(o.exchange, cex_rec, timeout_s=timeout, params={"timeInForce": "IOC"}),
        )
        filled = cost = ZERO
        self._mined(dex_result, [o.pool])
        self._settled(trade, dex_result)
        if isinstance(dex_result, TxResult) and dex_result.ok:
            moves = transfers(dex_result.logs)
            paid = sent(moves, o.token_in, self.me)
            got = received(moves, o.token_out, self.me)
            base_raw, quote_raw = (got, paid) if o.dex_side == "buy" else (paid, got)
            filled = units(base_raw, o.base_decimals)
            cost = units(quote_raw, o.quote_decimals)
            if self.on_gas is not None:
                self.on_gas(o.pool.kind, dex_result.gas_used)
        fee, note = (
            self._gas_fee(dex_result, quote) if isinstance(dex_result, TxResult) else (ZERO, "")
        )
        dex_rec, dex_fills = self._tx_order(trade, dex_rec, dex_result, filled, cost, fee, quote)
        if note:
            trade.reason = note
        self.ledger.leg_done(trade, dex_rec, dex_fills)
        self.ledger.leg_done(trade, cex_out.order, cex_out.fills)
        self._record_slippage(trade, cex_out)
        if dex_rec.status.final and cex_out.known:
            await self._flatten(trade, o, base, quote)
        failed = []
        if dex_rec.status not in _VENUE_FINE:
            failed.append(o.pool.venue)
        if cex_out.filled < D(o.cex_amount) or not cex_out.known:
            failed.append(o.cex_venue)
        return failed

    def _settled(self, trade: Trade, result: TxResult | BaseException) -> None:
        """Announce what became of a relay bundle (the log pane, the metrics)."""
        if not isinstance(result, TxResult) or result.submission != "relay":
            return
        if result.ok or result.status == "reverted":
            outcome = "included"
        elif result.status == "not_included":
            outcome = "not_included"
        else:
            outcome = "not_sent"
        self.publish(
            BundleSettled(
                trade_id=trade.id,
                tx_hash=result.tx_hash or "",
                outcome=outcome,
                target_blocks=result.target_blocks,
                landed_block=result.block,
                simulation_s=result.simulation_s,
                reason="" if result.ok else result.reason,
                at=self.clock(),
            )
        )

    def _mined(self, result: TxResult | BaseException, pools: list[DexPool]) -> None:
        if isinstance(result, TxResult) and result.block is not None:
            for pool in pools:
                self.mined_at[pool.address] = max(self.mined_at.get(pool.address, 0), result.block)

    @staticmethod
    async def _try(coro: Any) -> TxResult | BaseException:
        try:
            result: TxResult = await coro
            return result
        except Exception as exc:  # noqa: BLE001 - recorded on the leg, never dropped
            return exc

    def _record_slippage(self, trade: Trade, outcome: LegOutcome) -> None:
        max_bps = self.settings.thresholds.max_slippage_bps
        self.ledger.record_slippage(trade, outcome.order, max_bps)

    async def _flatten(self, trade: Trade, o: _CexDexOrder, base: str, quote: str) -> None:
        """Unwind the base imbalance between the legs with a CEX market order."""
        position = account(trade.orders.values(), base, quote).base_position
        dust = dust_reason(
            o.exchange, o.cex_venue, o.cex_symbol, str(abs(position)), D(o.cex_price)
        )
        if position == 0 or dust is not None:
            return
        side = "sell" if position > 0 else "buy"
        amount = str(o.exchange.amount_to_precision(o.cex_symbol, str(abs(position))))
        trade.status = TradeStatus.UNWINDING
        self.journal.update_trade(trade.id, TradeStatus.UNWINDING, trade.reason)
        legs = ", ".join(f"{r.role} {r.venue} {r.filled}" for r in trade.orders.values())
        why = f"legs filled {legs}: {side} {amount} {base} on {o.cex_venue}"
        self.publish(
            TradeUnwinding(
                trade_id=trade.id,
                venue=o.cex_venue,
                side=side,
                amount=D(amount),
                reason=why,
                at=self.clock(),
            )
        )
        record = self.ledger.order(
            trade, "unwind", o.cex_venue, o.cex_symbol, side, "market", amount, None
        )
        outcome = await self.runner.run(
            o.exchange, record, timeout_s=self.settings.execution.leg_timeout_s
        )
        self.ledger.leg_done(trade, outcome.order, outcome.fills)

    # -- DEX-DEX ---------------------------------------------------------------------------

    async def _run_dex_dex(self, trade: Trade, plan: DexDexPlan, tx: _TxContext) -> list[str]:
        assert self.flash_address is not None
        buy, sell = plan.buy, plan.sell
        x = plan.token_x
        y = buy.token0 if x == buy.token1 else buy.token1
        xdec = buy.decimals0 if x == buy.token0 else buy.decimals1
        ydec = buy.decimals1 if x == buy.token0 else buy.decimals0
        quote = trade.symbol.partition("/")[2]
        mode = plan.funding.mode
        amount = str(units(plan.amount_mid, ydec))
        buy_rec = self.ledger.order(trade, "buy", buy.venue, buy.symbol, "buy", mode, amount, None)
        sell_rec = self.ledger.order(
            trade, "sell", sell.venue, sell.symbol, "sell", mode, amount, None
        )
        result = await self._try(self._send_arb(plan, tx, tx.noting(trade, [buy_rec, sell_rec])))
        y_bought = x_paid = y_sold = x_got = premium = 0
        self._mined(result, [buy, sell])
        self._settled(trade, result)
        if isinstance(result, TxResult) and result.ok:
            moves = transfers(result.logs)
            x_paid, y_bought = received(moves, x, buy.address), sent(moves, y, buy.address)
            y_sold, x_got = received(moves, y, sell.address), sent(moves, x, sell.address)
            if plan.funding.lender is not None and mode == "flash_v3":
                lender = plan.funding.lender
                premium = received(moves, x, lender) - sent(moves, x, lender)
            owner = received(moves, x, self.me) - sent(moves, x, self.me)
            if owner != x_got - x_paid - premium:
                trade.reason = (
                    f"owner received {owner} raw, the hops say {x_got - x_paid - premium}"
                )
            if self.on_gas is not None:
                self.on_gas(mode, result.gas_used)
        gas, note = self._gas_fee(result, quote) if isinstance(result, TxResult) else (ZERO, "")
        if note:
            trade.reason = note
        buy_rec, buy_fills = self._tx_order(
            trade,
            buy_rec,
            result,
            units(y_bought, ydec),
            units(x_paid, xdec),
            units(premium, xdec),
            quote,
        )
        sell_rec, sell_fills = self._tx_order(
            trade, sell_rec, result, units(y_sold, ydec), units(x_got, xdec), gas, quote
        )
        self.ledger.leg_done(trade, buy_rec, buy_fills)
        self.ledger.leg_done(trade, sell_rec, sell_fills)
        return [] if sell_rec.status in _VENUE_FINE else [buy.venue, sell.venue]

    async def _send_arb(self, plan: DexDexPlan, tx: _TxContext, noted: OnSubmitted) -> TxResult:
        assert self.flash_address is not None
        buy, sell = flash_hop(plan.buy), flash_hop(plan.sell)
        mode = plan.funding.mode
        if mode == "flash_v2":
            args: list[Any] = [plan.token_x, buy, plan.amount_mid, sell]
            data = self._flash.encode_abi("flashV2", [*args, plan.min_profit])
        elif mode == "flash_v3":
            lender = to_checksum_address(plan.funding.lender or "")
            args = [plan.token_x, lender, plan.amount_in, buy, sell, plan.min_profit]
            data = self._flash.encode_abi("flashV3", args)
        else:
            approval = await self.legs.sender.ensure_allowance(
                plan.token_x, self.flash_address, plan.amount_in, gate=tx.gate
            )
            if approval is not None and not approval.ok:
                return approval
            args = [plan.token_x, plan.amount_in, buy, sell, plan.min_profit]
            data = self._flash.encode_abi("fromWallet", args)
        return await self._send_flash(data, tx, noted)

    async def _send_flash(self, data: str, tx: _TxContext, noted: OnSubmitted) -> TxResult:
        """One FlashArbitrage call (hex calldata), as a trade's transaction."""
        assert self.flash_address is not None
        calldata = bytes.fromhex(data[2:])
        return await self.legs.sender.send(
            self.flash_address, calldata, gate=tx.gate, bundle=tx.terms, on_submitted=noted
        )

    # -- pool cycles -----------------------------------------------------------------------

    async def _run_cycle(self, trade: Trade, plan: PoolCyclePlan, tx: _TxContext) -> list[str]:
        """Journal every hop, send the one cycle transaction, and read each hop's amounts off
        the receipt's transfers (what each pool took and gave)."""
        assert self.flash_address is not None
        mode = plan.funding.mode
        start = plan.cycle.start
        records = []
        for i, (pool, hop) in enumerate(zip(plan.pools, plan.cycle.hops, strict=True)):
            side = pool_side(pool, hop.src)
            base = i + 1 if side == "buy" else i  # the base is what a buy gets, a sell gives
            amount = str(units(plan.amounts[base], plan.decimals[base]))
            records.append(
                self.ledger.order(
                    trade, f"h{i + 1}", pool.venue, pool.symbol, side, mode, amount, None
                )
            )
        result = await self._try(self._send_cycle(plan, tx, tx.noting(trade, records)))
        self._mined(result, list(plan.pools))
        self._settled(trade, result)
        hops = len(plan.pools)
        took, gave = [0] * hops, [0] * hops
        premium = 0
        if isinstance(result, TxResult) and result.ok:
            moves = transfers(result.logs)
            for i, pool in enumerate(plan.pools):
                took[i] = received(moves, plan.tokens[i], pool.address)
                gave[i] = sent(moves, plan.tokens[i + 1], pool.address)
            lender = plan.funding.lender
            if mode == "flash_v3" and lender is not None:
                premium = received(moves, plan.token_x, lender) - sent(moves, plan.token_x, lender)
            owner = received(moves, plan.token_x, self.me) - sent(moves, plan.token_x, self.me)
            if owner != gave[-1] - took[0] - premium:
                trade.reason = (
                    f"owner received {owner} raw, the hops say {gave[-1] - took[0] - premium}"
                )
            if self.on_gas is not None:
                self.on_gas(cycle_kind(mode, hops), result.gas_used)
        gas, note = self._gas_fee(result, start) if isinstance(result, TxResult) else (ZERO, "")
        if note:
            trade.reason = note
        for i, (pool, hop) in enumerate(zip(plan.pools, plan.cycle.hops, strict=True)):
            spent = units(took[i], plan.decimals[i])
            got = units(gave[i], plan.decimals[i + 1])
            filled, cost = (got, spent) if pool_side(pool, hop.src) == "buy" else (spent, got)
            # The premium is charged on the first hop's funding, the gas on the transaction's
            # last hop, both in the start token.
            fee = units(premium, plan.decimals[0]) if i == 0 else ZERO
            if i == hops - 1:
                fee += gas
            record, fills = self._tx_order(trade, records[i], result, filled, cost, fee, start)
            self.ledger.leg_done(trade, record, fills)
            records[i] = record
        if all(r.status in _VENUE_FINE for r in records):
            return []
        return list(dict.fromkeys(p.venue for p in plan.pools))

    async def _send_cycle(
        self, plan: PoolCyclePlan, tx: _TxContext, noted: OnSubmitted
    ) -> TxResult:
        assert self.flash_address is not None
        hops = [flash_hop(pool) for pool in plan.pools]
        mode = plan.funding.mode
        if mode == "flash_v2":
            args: list[Any] = [plan.token_x, hops, plan.borrow, plan.min_profit]
            data = self._flash.encode_abi("cycleFlashV2", args)
        elif mode == "flash_v3":
            lender = to_checksum_address(plan.funding.lender or "")
            args = [plan.token_x, lender, plan.amounts[0], hops, plan.min_profit]
            data = self._flash.encode_abi("cycleFlashV3", args)
        else:
            approval = await self.legs.sender.ensure_allowance(
                plan.token_x, self.flash_address, plan.amounts[0], gate=tx.gate
            )
            if approval is not None and not approval.ok:
                return approval
            args = [plan.token_x, plan.amounts[0], hops, plan.min_profit]
            data = self._flash.encode_abi("cycleFromWallet", args)
        return await self._send_flash(data, tx, noted)

    def _value_in(self, start: str) -> Callable[[str, Decimal], Decimal | None]:
        """An amount of a token in `start`, through both tokens' ETH prices (volume figures;
        a residual, were one ever left)."""

        def value(currency: str, amount: Decimal) -> Decimal | None:
            eth_in_start, eth_in_currency = self.eth_price_in(start), self.eth_price_in(currency)
            if not eth_in_start or not eth_in_currency:
                return None
            return amount * eth_in_start / eth_in_currency

        return value

    def _finish_cycle(
        self, trade: Trade, decision: Decision, plan: PoolCyclePlan, failed_venues: list[str]
    ) -> None:
        """The start token's flow is the PnL; the transaction is atomic, so any other token
        left over means something the plan did not foresee, and a human looks."""
        if self._nothing_landed(trade, decision):
            return
        start = plan.cycle.start
        result = account_cycle(trade.orders.values(), start, self._value_in(start))
        books = result.books
        orders = list(trade.orders.values())
        wasted = sum((o.fee for o in orders if o.filled == 0), ZERO)  # a revert's gas
        notes = list(books.notes)
        if trade.reason:
            notes.append(trade.reason)
            trade.reason = ""
        if any(not o.status.final for o in orders):
            status = TradeStatus.NEEDS_ATTENTION
            notes.insert(
                0,
                "order state unknown: "
                + ", ".join(o.client_order_id for o in orders if not o.status.final),
            )
        elif all(o.filled == 0 for o in orders):
            status = TradeStatus.FAILED
            reasons = "; ".join(dict.fromkeys(f"{o.error or o.status}" for o in orders))
            notes.insert(0, f"nothing filled ({reasons})")
        elif result.residual:
            status = TradeStatus.NEEDS_ATTENTION
            left = ", ".join(f"{a} {c}" for c, a in result.residual.items())
            notes.insert(0, f"residual left: {left}")
        elif not failed_venues:
            status = TradeStatus.COMPLETED
        else:
            status = TradeStatus.HEDGED
        realized, fees = books.realized_pnl - wasted, books.fees + wasted
        self.ledger.finish(trade, decision, books, realized, fees, status, notes, failed_venues)

    # -- the end ---------------------------------------------------------------------------

    def _finish(self, trade: Trade, decision: Decision, failed_venues: list[str]) -> None:
        # CEX-DEX legs are in the CEX symbol's assets (the `=USDC` mark says which token stood
        # in for the quote); DEX-DEX legs are in the pool's token symbols.
        if self._nothing_landed(trade, decision):
            return
        base, _, quote = trade.symbol.split("=")[0].partition("/")
        books = account(trade.orders.values(), base, quote)
        # Gas of a transaction that reverted buys nothing but is paid all the same.
        wasted = sum((o.fee for o in trade.orders.values() if o.filled == 0), ZERO)
        notes = list(books.notes)
        orders = list(trade.orders.values())
        legs = [o for o in orders if o.role != "unwind"]
        if any(not o.status.final for o in orders):
            status = TradeStatus.NEEDS_ATTENTION
            unknown = ", ".join(
                f"{o.client_order_id} ({o.venue})" for o in orders if not o.status.final
            )
            notes.insert(0, f"order state unknown: {unknown}")
        elif books.base_position != 0 and not self._is_dust(trade, books.base_position):
            status = TradeStatus.NEEDS_ATTENTION
            notes.insert(0, f"residual position {books.base_position} {base} left")
        elif all(o.filled == 0 for o in legs):
            status = TradeStatus.FAILED
            reasons = "; ".join(f"{o.venue}: {o.error or o.status}" for o in legs)
            notes.insert(0, f"nothing filled ({reasons})")
        elif not failed_venues:
            status = TradeStatus.COMPLETED
        else:
            status = TradeStatus.HEDGED
            filled = ", ".join(f"{o.role} {o.venue} {o.filled}" for o in legs)
            reasons = "; ".join(f"{o.venue}: {o.error}" for o in legs if o.error)
            notes.insert(0, f"legs filled {filled}; imbalance unwound ({reasons})")
        if books.base_position != 0 and status is not TradeStatus.NEEDS_ATTENTION:
            trade.dust = books.base_position
            trade.dust_value = dust_value(trade, books.base_position)
            notes.append(
                f"dust {books.base_position} {base} ({trade.dust_value:.8f} {quote}, "
                "counted in the PnL)"
            )
        realized, fees = books.realized_pnl - wasted, books.fees + wasted
        self.ledger.finish(trade, decision, books, realized, fees, status, notes, failed_venues)

    def _nothing_landed(self, trade: Trade, decision: Decision) -> bool:
        """Every leg is a bundle no block took: the trade is withdrawn (nothing paid, nothing
        filled, the permit given back); True when it was."""
        orders = list(trade.orders.values())
        if not orders or any(o.status is not OrderStatus.NOT_INCLUDED for o in orders):
            return False
        reason = orders[0].error or "bundle not included"
        self.ledger.withdraw(trade, decision, reason, outcome="not_included")
        return True

    def _is_dust(self, trade: Trade, position: Decimal) -> bool:
        """A residual too small for any order on the CEX that would flatten it (CEX-DEX);
        DEX-DEX has no such venue, so any residual there needs a human."""
        cex = [o for o in trade.orders.values() if o.type == "limit" and o.role != "unwind"]
        exchange = self.exchanges.get(cex[0].venue) if cex else None
        if not cex or exchange is None:
            return False
        price = cex[0].price or ZERO
        venue, symbol = cex[0].venue, cex[0].symbol
        return dust_reason(exchange, venue, symbol, str(abs(position)), price) is not None

    def _abort(self, trade: Trade, decision: Decision, exc: BaseException) -> None:
        why = f"stopped mid-trade ({type(exc).__name__}: {exc}); check the chain and venue"
        self.path.abort(trade, decision, why)

    @staticmethod
    def _summary(trade: Trade) -> str:
        hashes = sorted(
            {
                o.venue_order_id
                for o in trade.orders.values()
                if o.type not in ("limit", "market") and o.venue_order_id
            }
        )
        txs = f" tx {', '.join(hashes)}" if hashes else ""
        pnl = f"{trade.realized_pnl:+.6f}" if trade.realized_pnl is not None else "?"
        why = f" ({trade.reason})" if trade.reason else ""
        return f"trade {trade.id} {trade.status}: pnl {pnl}{txs}{why}"
