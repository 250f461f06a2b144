"""LendingService: the one object the engine starts for liquidations (sim and live modes).

Each new block: discover borrowers (logs), read the market and every position (Multicall3),
recompute health factors locally, rebuild the watchlist and the liquidation opportunities.
Swap routes are priced on the pool feed's states when the engine shares them (`pool_states`),
else on pool states this service reads itself at the same block.
Execution is gated: no swap route, a stale oracle, a stale position, or a recent revert for the
same position (cooldown) refuse before anything is sent. Liquidations are signed locally with
the Liquidator owner's key: in sim the devnet account that deployed it, in live mode the wallet
key from the keyring (the engine passes it as `signer_key`).

Gas: each new opportunity's liquidation call is sized with eth_estimateGas once (from the
owner), and every mined liquidation's receipt updates the table (core.detect.liquidations.
LiquidationGas); the constants there are only the fallback until then.

    service = LendingService(settings.lending, rpc_url, manifest, bus, clock)
    await service.start(); rows = service.watchlist(); opps = service.opportunities()
    record = await service.execute_opportunity(opp); await service.sim_tick({"WETH": 3390.5})
    await service.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eth_utils import to_checksum_address
from loguru import logger
from web3 import AsyncHTTPProvider, AsyncWeb3, Web3

from core.chain.fee_oracle import FeeOracle
from core.chain.manifest import AaveDeployment, Manifest
from core.detect.liquidations import (
    LiquidationGas,
    LiquidationOpportunity,
    LiquidationPlan,
    best_liquidation,
    new_liquidation_id,
    swap_kind,
)
from core.execute.bundles import RelayRoute
from core.execute.dex import TxSender
from core.execute.liquidate import LiquidationExecutor, LiquidationRecord, liquidator_decoder
from core.feeds.aave_reader import LendingReadError
from core.feeds.lending import LendingFeed, TrackedPosition
from core.feeds.route_states import load_route_states, route_book_from_manifest
from core.feeds.sim.borrowers import BorrowerSim, BorrowerSpec
from core.lending.health_factor import WAD, Market, liquidation_move
from core.redact import register_secret
from core.settings import LendingSettings

HF_INFINITE = float("inf")
DEFAULT_PRIORITY_FEE_GWEI = 0.01  # as ChainSettings' defaults, when no fee oracle is shared
DEFAULT_MAX_FEE_GWEI = 200.0


@dataclass(frozen=True, slots=True)
class WatchlistRow:
    """One borrower as the watchlist pane shows it (plain data; USD as floats for display)."""

    user: str
    health_factor: float
    collateral_usd: dict[str, float]
    debt_usd: dict[str, float]
    liquidation_move: tuple[str, float] | None
    """(symbol, fractional move) that brings HF to 1, e.g. ("WETH", -0.031)."""
    best: str
    """The best liquidation now, e.g. `repay 12,000 USDC for WETH on uniswap_v3_500`; ''."""
    net_profit_usd: float | None
    liquidatable: bool
    profitable: bool
    stale: bool
    no_route: bool
    oracle_stale: bool
    opportunity_id: str | None
    block: int


class LendingService:
    def __init__(
        self,
        settings: LendingSettings,
        w3: Web3 | str,
        manifest: Manifest,
        bus: Any | None = None,
        clock: Callable[[], float] = time.time,
        journal: Any | None = None,
        *,
        signer_key: str | None = None,
        dev_signer: bool = True,
        fees: FeeOracle | None = None,
        pool_states: Callable[[], Mapping[str, Any]] | None = None,
        relay: RelayRoute | None = None,
    ) -> None:
        """`signer_key`: the Liquidator owner's private key; without one, `dev_signer` (sim)
        uses the manifest's dev account that owns it; no key at all means watch only.
        `fees`: a shared EIP-1559 fee oracle. `pool_states`: the pool feed's states by
        address (V2State / PoolState). `relay`: how liquidations go out (the on-chain side's
        route: private bundles or the mempool)."""
        self.relay = relay
        if manifest.aave is None:
            raise ValueError("the manifest has no Aave market (deploy it with `devnet up`)")
        self.settings = settings
        self.w3 = Web3(Web3.HTTPProvider(w3)) if isinstance(w3, str) else w3
        self.rpc_url = w3 if isinstance(w3, str) else str(self.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
        self.manifest = manifest
        self.aave: AaveDeployment = manifest.aave
        self.bus = bus
        self.clock = clock
        self.feed = LendingFeed(self.w3, self.aave, 0, settings.log_range_blocks)
        self.routes = route_book_from_manifest(manifest)
        self.pool_states = pool_states
        self.gas = LiquidationGas()
        self.fees = fees or FeeOracle(DEFAULT_PRIORITY_FEE_GWEI, DEFAULT_MAX_FEE_GWEI)
        self.journal = journal
        key = signer_key
        if key is None and dev_signer:
            key = owner_dev_key(manifest)
        self.executor: LiquidationExecutor | None = None
        self._owner_lock = asyncio.Lock()
        """Held around the owner's transactions: a liquidation, or the sim's (same account)."""
        if key is not None:
            self._make_executor(key)
        self.sim: BorrowerSim | None = None
        self._rows: list[WatchlistRow] = []
        self._opps: dict[str, LiquidationOpportunity] = {}
        self._opp_by_user: dict[str, str] = {}
        self._cooldown_until_block: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._last_new_borrower = 0.0
        self._lock = asyncio.Lock()
        self._stopped = False
        self._owner_threads: set[asyncio.Future[Any]] = set()
        """The owner's blocking transactions running in threads (see `_owner_work`)."""
        self.last_error = ""

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self, sim_borrowers: bool = False) -> None:
        """Start polling; with `sim_borrowers` (sim mode) first open the simulated borrowers."""
        if sim_borrowers:
            self.sim = BorrowerSim(self.w3, self.manifest)
            count = self.settings.sim_borrowers
            if count:
                sim = self.sim
                await asyncio.to_thread(lambda: sim.open_positions(sim.session_specs(count)))
            self._last_new_borrower = self.clock()
        await self.refresh()
        self._task = asyncio.create_task(self._run(), name="lending-feed")

    def _make_executor(self, key: str) -> None:
        register_secret(key)  # never in logs, the journal or on screen
        aw3: Any = AsyncWeb3(AsyncHTTPProvider(self.rpc_url, request_kwargs={"timeout": 10}))
        sender = TxSender(
            aw3, key, self.manifest.chain_id, self.fees, liquidator_decoder(), relay=self.relay
        )
        self.executor = LiquidationExecutor(
            sender, self.aave, self.journal, self.clock, self.gas, self.usd_per_raw
        )
        if not self.executor.owns_liquidator:
            logger.warning(
                "wallet {} does not own the Liquidator ({}): liquidations are watch only",
                sender.address,
                self.aave.liquidator_owner,
            )

    async def stop(self) -> None:
        self._stopped = True  # the sim loop may tick once more while the devnet goes away
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._owner_threads:  # let a transaction in flight land before the node is left
            await asyncio.wait(list(self._owner_threads), timeout=30)
        if self.executor is not None:
            with contextlib.suppress(Exception):  # its HTTP session; the node may be gone
                await self.executor.sender.w3.provider.disconnect()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.poll_interval_s)
            try:
                head = await asyncio.to_thread(lambda: int(self.w3.eth.block_number))
                if head != self.feed.block:
                    await self.refresh()
            except Exception as exc:  # keep polling: the feed marks positions stale
                self.last_error = str(exc)
                logger.warning("lending feed: {}", exc)

    # -- reads -------------------------------------------------------------------------
    async def refresh(self) -> None:
        """One scan: discover, read, recompute. An RPC error keeps positions, marked stale."""
        async with self._lock:
            try:
                await asyncio.to_thread(self._scan)
                self.last_error = ""
            except (LendingReadError, OSError, ValueError, RuntimeError) as exc:
                self.last_error = str(exc)
                logger.warning("lending scan failed: {}", exc)
            self._rebuild()

    def _scan(self) -> None:
        head = int(self.w3.eth.block_number)
        self.feed.discover(head)
        block = self.feed.refresh(head)
        if self.pool_states is not None:
            self.routes.use_feed_states(self.pool_states())
        else:
            load_route_states(self.routes, self.w3, block)

    def scan_once(self) -> None:
        """Synchronous scan + rebuild (tests, `arbdesk scan`)."""
        try:
            self._scan()
            self.last_error = ""
        except (LendingReadError, OSError, ValueError, RuntimeError) as exc:
            self.last_error = str(exc)
        self._rebuild()

    def oracle_stale(self) -> set[str]:
        """Symbols whose oracle price is older than oracle_stale_after_s (by chain time)."""
        market = self.feed.market
        if market is None:
            return set(self.aave.reserves)
        limit = self.settings.oracle_stale_after_s
        return {
            s
            for s in self.aave.reserves
            if market.timestamp - self.feed.oracle_updated_at.get(s, 0) > limit
        }

    def usd_per_raw(self, symbol: str) -> Decimal | None:
        """USD per raw unit of an Aave asset at the feed's oracle prices (the forecast's)."""
        market = self.feed.market
        if market is None:
            return None
        try:
            i = market.by_symbol(symbol).id
        except KeyError:
            return None
        return Decimal(market.prices[i]) / 10**8 / market.units[i]

    def _gas_price_wei(self) -> int:
        """The fee per gas the forecast assumes: the setting, else the fee oracle's expected
        fee (base + tip), else the node's gas price."""
        if self.settings.gas_price_gwei > 0:
            return int(Decimal(str(self.settings.gas_price_gwei)) * 10**9)
        if self.fees.fees is not None:
            return self.fees.fees.expected_wei
        try:
            return int(self.w3.eth.gas_price)
        except Exception:
            return 10**9

    def _rebuild(self) -> None:
        market = self.feed.market
        if market is None:
            return
        now = self.clock()
        gas_price = self._gas_price_wei()
        stale_oracles = self.oracle_stale()
        rows: list[WatchlistRow] = []
        opps: dict[str, LiquidationOpportunity] = {}
        by_user: dict[str, str] = {}
        for pos in self.feed.snapshot():
            data = pos.data
            if data.total_debt_base == 0:
                continue
            hf = data.health_factor_wad / WAD
            if hf >= self.settings.watch_hf_below and not data.liquidatable:
                continue
            plan = best_liquidation(
                market,
                pos.balances,
                data,
                self.routes,
                flash_premium_bps(market, self.aave),
                gas_price,
                require_liquidatable=False,
                gas=self.gas,
            )
            involved = {plan.collateral_symbol, plan.debt_symbol} if plan else set()
            oracle_bad = bool(involved & stale_oracles)
            profitable = plan is not None and plan.net_profit_usd >= Decimal(
                str(self.settings.min_profit_usd)
            )
            opp_id: str | None = None
            if (
                plan is not None
                and data.liquidatable
                and profitable
                and plan.has_route
                and not pos.stale
                and not oracle_bad
                and self._cooldown_until_block.get(pos.user, -1) < self.feed.block
            ):
                old = self._opp_by_user.get(pos.user)
                if old not in self._opps:
                    plan = self._measured(pos, plan, gas_price)
                opp_id = old if old in self._opps else new_liquidation_id()
                opps[opp_id] = LiquidationOpportunity(
                    opp_id,
                    pos.user,
                    plan,
                    hf,
                    now,
                    now + self.settings.opportunity_ttl_s,
                    self.feed.block,
                )
                by_user[pos.user] = opp_id
            rows.append(self._row(pos, plan, hf, profitable, oracle_bad, opp_id, market))
        rows.sort(key=lambda r: r.health_factor)
        self._rows, self._opps, self._opp_by_user = rows, opps, by_user

    def _measured(
        self, pos: TrackedPosition, plan: LiquidationPlan, gas_price: int
    ) -> LiquidationPlan:
        """A newly offered liquidation: its call sized with eth_estimateGas from the owner
        (once per opportunity); a measured figure re-prices the plan."""
        call = self._estimate_call(pos.user, plan)
        if call is None:
            return plan
        try:
            units = int(self.w3.eth.estimate_gas(call))  # type: ignore[arg-type]
        except Exception as exc:  # reverts now (e.g. min profit): the fallback stays
            logger.debug("liquidation gas estimate for {}: {}", pos.user, exc)
            return plan
        if not self.gas.record(swap_kind(plan.swap), units, "estimate"):
            return plan
        market = self.feed.market
        assert market is not None
        again = best_liquidation(
            market,
            pos.balances,
            pos.data,
            self.routes,
            flash_premium_bps(market, self.aave),
            gas_price,
            require_liquidatable=False,
            gas=self.gas,
        )
        return again if again is not None else plan

    def _estimate_call(self, user: str, plan: LiquidationPlan) -> dict[str, Any] | None:
        if self.executor is None or not self.executor.owns_liquidator or plan.swap is None:
            return None
        probe = LiquidationOpportunity("probe", user, plan, 0.0, 0.0, 0.0, self.feed.block)
        data = self.executor.calldata(probe, 0)
        return {
            "from": self.executor.owner,
            "to": self.executor.liquidator,
            "data": "0x" + data.hex(),
        }

    def _row(
        self,
        pos: TrackedPosition,
        plan: LiquidationPlan | None,
        hf: float,
        profitable: bool,
        oracle_bad: bool,
        opp_id: str | None,
        market: Any,
    ) -> WatchlistRow:
        data = pos.data
        coll = {
            r.symbol: data.collateral_base[r.id] / 1e8
            for r in market.reserves
            if data.collateral_base[r.id]
        }
        debt = {
            r.symbol: data.debt_base[r.id] / 1e8 for r in market.reserves if data.debt_base[r.id]
        }
        best = ""
        if plan is not None:
            d = market.by_symbol(plan.debt_symbol)
            amount = plan.debt_repaid / 10**d.decimals
            venue = plan.swap.pool.venue if plan.swap else "no route"
            best = (
                f"repay {amount:,.4g} {plan.debt_symbol} for {plan.collateral_symbol} via {venue}"
            )
        return WatchlistRow(
            user=pos.user,
            health_factor=hf if data.total_debt_base else HF_INFINITE,
            collateral_usd=coll,
            debt_usd=debt,
            liquidation_move=liquidation_move(data, market),
            best=best,
            net_profit_usd=float(plan.net_profit_usd) if plan else None,
            liquidatable=data.liquidatable,
            profitable=profitable,
            stale=pos.stale,
            no_route=plan is not None and not plan.has_route,
            oracle_stale=oracle_bad,
            opportunity_id=opp_id,
            block=pos.block,
        )

    def watchlist(self) -> list[WatchlistRow]:
        """Borrowers below watch_hf_below (or liquidatable), lowest health factor first."""
        return list(self._rows)

    def opportunities(self) -> list[LiquidationOpportunity]:
        """Executable liquidations now, best net profit first."""
        now = self.clock()
        live = [o for o in self._opps.values() if o.expires_at > now]
        return sorted(live, key=lambda o: o.net_profit_usd, reverse=True)

    # -- execution ---------------------------------------------------------------------
    async def execute(self, opportunity_id: str) -> str:
        """Liquidate once; returns `liquidated: ...`, `reverted: reason` or `refused: reason`."""
        opp = self._opps.get(opportunity_id)
        if opp is None:
            return "refused: unknown or expired opportunity"
        record = await self.execute_opportunity(opp)
        return f"{record.status}: {record.reason or _summary(record)}"

    async def execute_opportunity(self, opp: LiquidationOpportunity) -> LiquidationRecord:
        """Gate, then one signed liquidation; the journaled record."""
        executor = self.executor
        if executor is None:
            return self._refuse(opp, "no wallet key to sign liquidations (watch only)")
        gate = self._gate(opp)
        if gate:
            return executor._journal(opp, "refused", gate)
        min_profit = _min_profit_raw(opp.plan, self.settings.min_profit_usd)
        async with self._owner_lock:
            # The sim's oracle and mint transactions come from the same account on the
            # devnet (through the node): re-read the nonce rather than trust the cache.
            await executor.sender.nonces.resync(executor.sender.address)
            record = await executor.execute(opp, min_profit)
        self._opps.pop(opp.id, None)
        if record.status != "liquidated":
            # No retry storm: this position waits a few blocks before it is offered again.
            self._cooldown_until_block[opp.user] = (
                self.feed.block + self.settings.revert_cooldown_blocks
            )
        return record

    def _refuse(self, opp: LiquidationOpportunity, reason: str) -> LiquidationRecord:
        plan = opp.plan
        record = LiquidationRecord(
            opp.id,
            f"{plan.collateral_symbol}/{plan.debt_symbol}",
            "aave-v3",
            plan.swap.pool.venue if plan.swap else "",
            opp.detected_at,
            opp.kind,
            opp.user,
            "refused",
            reason,
            None,
            None,
            None,
            None,
            plan.profit_raw,
            None,
        )
        if self.journal is not None:
            self.journal.record_opportunity(record, "refused", reason, at=self.clock())
        return record

    def _gate(self, opp: LiquidationOpportunity) -> str:
        if opp.expires_at <= self.clock():
            return "expired"
        if opp.plan.swap is None:
            return "no swap route for the seized collateral"
        stale = self.oracle_stale() & {opp.plan.collateral_symbol, opp.plan.debt_symbol}
        if stale:
            return f"oracle price stale for {', '.join(sorted(stale))}"
        pos = self.feed.positions.get(opp.user)
        if pos is None or pos.stale:
            return "position data stale"
        return ""

    # -- sim ---------------------------------------------------------------------------
    async def sim_tick(self, fair_usd: Mapping[str, Decimal | float]) -> list[str]:
        """Sim mode: move the oracle feeds to the CEX fair prices (by symbol: WETH, WBTC,
        USDC); now and then open a new borrower near the edge. Returns symbols moved."""
        if self.sim is None or self._stopped:
            return []
        every = self.settings.sim_new_borrower_every_s
        new = 0
        if every and self.clock() - self._last_new_borrower >= every:
            new, self._last_new_borrower = 1, self.clock()
        async with self._owner_lock:  # the deployer's transactions, never mid-liquidation
            moved: list[str] = await self._owner_work(self.sim.tick, fair_usd, new)
            return moved

    async def sim_open(self, specs: list[BorrowerSpec]) -> list[str]:
        """Sim mode: open borrowers now (the deployer mints for them: under the owner lock)."""
        if self.sim is None:
            raise RuntimeError("no borrower simulator (sim mode only)")
        sim = self.sim
        async with self._owner_lock:
            opened: list[str] = await self._owner_work(sim.open_positions, specs)
            return opened

    async def _owner_work(self, work: Callable[..., Any], *args: Any) -> Any:
        """Run the owner's blocking transactions in a thread that `stop` waits for: a cancelled
        await does not stop a thread, which would go on sending after the engine stopped."""
        future = asyncio.ensure_future(asyncio.to_thread(work, *args))
        self._owner_threads.add(future)
        future.add_done_callback(self._owner_threads.discard)
        return await asyncio.shield(future)


def owner_dev_key(manifest: Manifest) -> str | None:
    """The private key of the devnet account that owns the Liquidator (None elsewhere)."""
    if manifest.aave is None:
        return None
    owner = to_checksum_address(manifest.aave.liquidator_owner)
    for account in manifest.accounts:
        if to_checksum_address(account.address) == owner:
            return account.private_key
    return None


def flash_premium_bps(market: Market, aave: AaveDeployment) -> int:
    """The Pool's flash-loan premium as read with the market; the deployment's figure only
    when the market was built without it."""
    if market.flash_loan_premium_bps is not None:
        return market.flash_loan_premium_bps
    return aave.flash_loan_premium_bps


def _min_profit_raw(plan: LiquidationPlan, min_profit_usd: float) -> int:
    """The contract's minProfit in debt-asset units: the USD floor plus the gas it will burn."""
    if plan.debt_usd_per_raw == 0:
        return 0
    need = Decimal(str(min_profit_usd)) + plan.gas_cost_usd
    return int(need / plan.debt_usd_per_raw)


def _summary(record: LiquidationRecord) -> str:
    return f"profit {record.profit_raw} raw, tx {record.tx_hash}"
