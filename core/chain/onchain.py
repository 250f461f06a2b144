"""The on-chain side the engine starts: the devnet (sim) or an RPC endpoint with a manifest,
the pool feed, the CEX-DEX and DEX-DEX detectors, the DEX executor and (sim) the noise trader.

The engine talks to it through `start`, `stop`, `scan` (opportunities for the board),
`spread_rows` (rows for the spreads pane), `handles` and `submit` (approved opportunities).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from eth_utils import to_checksum_address
from loguru import logger
from web3 import AsyncHTTPProvider, AsyncWeb3

from core.book import OrderBook
from core.chain.artifacts import load
from core.chain.devnet import Devnet
from core.chain.gas import GAS_V2_ROUTER_SWAP, GAS_V3_ROUTER_SWAP, FeeOracle, gas_cost_quote
from core.chain.manifest import Manifest
from core.chain.noise import NoiseTrader
from core.chain.reverts import RevertDecoder
from core.detect.cex_dex import TOKEN_TO_CEX, CexDexDetector, DexPlan, row_symbol
from core.detect.dex_dex import DexDexDetector, DexDexPlan
from core.detect.model import Opportunity
from core.detect.top_of_book import SpreadRow
from core.detect.usd import UsdRates
from core.events import EngineMessage, Event
from core.execute.dex import DexLegs, TxResult, TxSender
from core.feeds.pools import V2_VENUE_NAMES, DexPool, PoolFeed, pools_from_manifest
from core.settings import Settings

_DEPOSIT = bytes.fromhex("d0e30db0")  # WETH9.deposit()
_BALANCE_OF = bytes.fromhex("70a08231")
SIM_WETH_WRAP = 50_000 * 10**18


class OnChain:
    def __init__(
        self,
        settings: Settings,
        publish: Callable[[Event], None],
        books: Mapping[str, Mapping[str, OrderBook]],
        taker_fee_bps: Mapping[str, float],
        *,
        sim_market: Any = None,
        exchanges: Callable[[], Mapping[str, Any]] = dict,
        journal: Callable[[], Any] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.publish = publish
        self.books = books
        self.taker_fee_bps = taker_fee_bps
        self.sim_market = sim_market
        self.exchanges = exchanges
        self.journal = journal
        self.clock = clock
        self.devnet: Devnet | None = None
        self.manifest: Manifest | None = None
        self.feed: PoolFeed | None = None
        self.legs: DexLegs | None = None
        self.noise: NoiseTrader | None = None
        self.flash_address: str | None = None
        self.cex_dex: CexDexDetector | None = None
        self.dex_dex: DexDexDetector | None = None
        self.fees = FeeOracle(settings.chain.priority_fee_gwei, settings.chain.max_fee_gwei)
        self.swap_gas = {"v2": GAS_V2_ROUTER_SWAP, "v3": GAS_V3_ROUTER_SWAP}
        self._plans: dict[str, DexPlan | DexDexPlan] = {}
        self._balances: dict[str, int] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self.venues: list[str] = []

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        chain = self.settings.chain
        if chain.rpc_url:
            self.manifest = Manifest.load(self.settings.resolve_path(chain.manifest_path))
            rpc_url = chain.rpc_url
        else:
            self.devnet = await Devnet.astart(block_time_s=chain.anvil_block_time_s)
            self.manifest = self.devnet.manifest
            rpc_url = self.devnet.rpc_url
        manifest = self.manifest
        w3: Any = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": 10}))
        pools = pools_from_manifest(manifest)
        self.venues = sorted({p.venue for p in pools})
        self.feed = PoolFeed(w3, pools, self.publish, health_symbol=row_symbol, clock=self.clock)
        await self.feed.start()
        decoder = RevertDecoder(
            [load(n).abi for n in ("UniswapV2Router02", "SwapRouter", "FlashArbitrage")]
        )
        await self.fees.update(w3, self.feed.head)
        sender = TxSender(
            w3, manifest.accounts[1].private_key, manifest.chain_id, self.fees, decoder
        )
        routers = {V2_VENUE_NAMES.get(k, k): d.router for k, d in manifest.v2.items()}
        self.legs = DexLegs(
            sender,
            routers,
            manifest.v3.swap_router,
            slippage_bps=chain.slippage_bps,
            deadline_s=chain.deadline_s,
        )
        if self.devnet is not None:
            await self._sim_setup(w3, sender, decoder, pools, routers)
        self.cex_dex = CexDexDetector(
            pools,
            self.feed.states,
            self.books,
            self.taker_fee_bps,
            self.settings.thresholds,
            gas_cost_quote=self._gas_cost_quote,
            swap_gas=lambda p: self.swap_gas[p.kind],
            clock=self.clock,
        )
        self.dex_dex = DexDexDetector(
            pools,
            self.feed.states,
            self.settings.thresholds,
            gas_price_in=self._gas_price_in,
            usd_price=self._usd,
            wallet_balance=lambda token: self._balances.get(token, 0),
            clock=self.clock,
        )
        self._tasks.append(asyncio.create_task(self.feed.run(), name="pool-feed"))
        self._tasks.append(asyncio.create_task(self._fee_loop(w3), name="chain-fees"))

    async def _sim_setup(
        self,
        w3: Any,
        sender: TxSender,
        decoder: RevertDecoder,
        pools: list[DexPool],
        routers: dict[str, str],
    ) -> None:
        """Devnet only: wrap ETH for the trading and noise accounts, deploy FlashArbitrage."""
        assert self.manifest is not None
        manifest = self.manifest
        noise_sender = TxSender(
            w3, manifest.accounts[2].private_key, manifest.chain_id, self.fees, decoder
        )
        art = load("FlashArbitrage")
        deployed, _, _ = await asyncio.gather(
            sender.send_create(art.bytecode),
            sender.send(manifest.weth, _DEPOSIT, value=SIM_WETH_WRAP),
            noise_sender.send(manifest.weth, _DEPOSIT, value=SIM_WETH_WRAP),
        )
        self.flash_address = deployed
        await self._refresh_balances()
        if self.sim_market is not None:
            noise_legs = DexLegs(
                noise_sender, routers, manifest.v3.swap_router, slippage_bps=500, deadline_s=60
            )
            assert self.feed is not None
            self.noise = NoiseTrader(
                pools, self.feed.states, self.sim_market.fair_price, noise_legs.swap
            )
            self.sim_market.add_tick_hook(self.noise.on_tick)

    async def stop(self) -> None:
        if self.noise is not None:
            self.noise.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: S110 - shutting down
                pass
        self._tasks.clear()
        if self.devnet is not None:
            await asyncio.to_thread(self.devnet.stop)
            self.devnet = None

    async def _fee_loop(self, w3: Any) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                assert self.feed is not None
                if self.feed.head >= 0:
                    await self.fees.update(w3, self.feed.head)
                await self._refresh_balances()
            except Exception as exc:  # the pool feed reports RPC health; this just retries
                logger.debug("fee update failed: {}", exc)

    async def _refresh_balances(self) -> None:
        if self.legs is None or self.manifest is None:
            return
        owner = self.legs.sender.address
        word = bytes(12) + bytes.fromhex(owner[2:])
        from core.chain.rpc import aeth_calls

        tokens = [t.address for t in self.manifest.tokens.values()]
        results = await aeth_calls(
            self.legs.sender.w3, [(t, _BALANCE_OF + word) for t in tokens], "latest"
        )
        for token, data in zip(tokens, results, strict=True):
            if isinstance(data, bytes):
                self._balances[to_checksum_address(token)] = int.from_bytes(data, "big")

    # -- prices -----------------------------------------------------------------------------

    def _usd(self, token_symbol: str) -> float | None:
        asset = TOKEN_TO_CEX.get(token_symbol, token_symbol)
        stale_s = self.settings.thresholds.stale_after_ms / 1000
        return UsdRates(self.books).rate(asset, self.clock(), stale_s)

    def _gas_cost_quote(self, quote_asset: str, gas_units: int) -> float | None:
        fees = self.fees.fees
        eth = self._usd("ETH")
        quote = self._usd(quote_asset)
        if fees is None or eth is None or not quote:
            return None
        return gas_cost_quote(gas_units, fees, eth / quote)

    def _gas_price_in(self, token_symbol: str) -> float | None:
        """One gas unit's cost in raw units of `token_symbol`."""
        fees = self.fees.fees
        eth, usd = self._usd("ETH"), self._usd(token_symbol)
        if fees is None or eth is None or not usd or self.manifest is None:
            return None
        decimals = self.manifest.tokens[token_symbol].decimals
        return fees.expected_wei / 1e18 * eth / usd * 10**decimals

    # -- what the engine reads --------------------------------------------------------------

    def scan(self) -> list[Opportunity]:
        """Run both detectors on the current pool states; plans are kept by opportunity id."""
        if self.feed is None or self.cex_dex is None or self.dex_dex is None:
            return []
        if self.feed.state.value != "live":
            return []
        out: list[Opportunity] = []
        for found in self.cex_dex.scan():
            self._plans[found.opportunity.id] = found.plan
            out.append(found.opportunity)
        for hit in self.dex_dex.scan():
            self._plans[hit.opportunity.id] = hit.plan
            out.append(hit.opportunity)
        if len(self._plans) > 5_000:  # old plans: the board expires their opportunities
            for key in list(self._plans)[:2_500]:
                del self._plans[key]
        return out

    def spread_rows(self) -> list[SpreadRow]:
        rows: list[SpreadRow] = []
        if self.cex_dex is not None:
            rows.extend(self.cex_dex.rows.values())
        if self.dex_dex is not None:
            rows.extend(self.dex_dex.rows.values())
        return rows

    def handles(self, opportunity: Opportunity) -> bool:
        return opportunity.buy_venue in self.venues or opportunity.sell_venue in self.venues

    # -- execution --------------------------------------------------------------------------

    async def submit(self, opportunity: Opportunity) -> tuple[bool, str]:
        """Execute an approved on-chain opportunity once; (ok, what happened)."""
        plan = self._plans.pop(opportunity.id, None)
        # Re-key: the board may hand back a refreshed copy with the first detection's id.
        if plan is None:
            return False, "no execution plan (detected before a restart or already used)"
        assert self.legs is not None
        if isinstance(plan, DexPlan):
            ok, text = await self._cex_dex(opportunity, plan)
        else:
            ok, text = await self._dex_dex(plan)
        self._report(opportunity, ok, text)
        return ok, text

    async def _cex_dex(self, opportunity: Opportunity, plan: DexPlan) -> tuple[bool, str]:
        assert self.legs is not None
        exchange = self.exchanges().get(plan.cex_venue or "")
        if exchange is None:
            return False, f"no CEX venue {plan.cex_venue}"
        dex = self.legs.swap(plan.pool, plan.token_in, plan.amount_in, plan.expected_out)
        cex = exchange.create_order(plan.cex_symbol, "market", plan.cex_side, plan.cex_amount)
        results: Any = await asyncio.gather(dex, cex, return_exceptions=True)
        dex_result, cex_result = results
        parts = [_describe_tx(plan.pool.venue, dex_result)]
        if isinstance(cex_result, BaseException):
            parts.append(f"{plan.cex_venue} order failed: {cex_result}")
        else:
            parts.append(f"{plan.cex_venue} order {cex_result.get('status', '?')}")
        ok = isinstance(dex_result, TxResult) and dex_result.ok
        ok = ok and not isinstance(cex_result, BaseException)
        return ok, "; ".join(parts)

    async def _dex_dex(self, plan: DexDexPlan) -> tuple[bool, str]:
        assert self.legs is not None
        if self.flash_address is None:
            return False, "FlashArbitrage is not deployed on this chain"
        flash = self.legs.sender.w3.eth.contract(abi=load("FlashArbitrage").abi)
        buy = (plan.buy.address, 0 if plan.buy.kind == "v2" else 1)
        sell = (plan.sell.address, 0 if plan.sell.kind == "v2" else 1)
        mode = plan.funding.mode
        if mode == "flash_v2":
            args = [plan.token_x, plan.buy.address, plan.amount_mid, sell, plan.min_profit]
            data = flash.encode_abi("flashV2", args)
        elif mode == "flash_v3":
            args = [plan.token_x, plan.funding.lender, plan.amount_in, buy, sell, plan.min_profit]
            data = flash.encode_abi("flashV3", args)
        else:
            approval = await self.legs.sender.ensure_allowance(
                plan.token_x, self.flash_address, plan.amount_in
            )
            if approval is not None and not approval.ok:
                return False, f"approval failed: {approval.reason}"
            args = [plan.token_x, plan.amount_in, buy, sell, plan.min_profit]
            data = flash.encode_abi("fromWallet", args)
        result = await self.legs.sender.send(self.flash_address, bytes.fromhex(data[2:]))
        return result.ok, f"{plan.funding.reason}: " + _describe_tx("FlashArbitrage", result)

    def _report(self, opportunity: Opportunity, ok: bool, text: str) -> None:
        journal = self.journal()
        if journal is not None:
            journal.record_opportunity(
                opportunity, "executed" if ok else "failed", text, at=self.clock()
            )
        level = "INFO" if ok else "WARNING"
        message = f"{opportunity.symbol} {opportunity.buy_venue}->{opportunity.sell_venue}: {text}"
        logger.log(level, message)
        self.publish(EngineMessage(level, message, at=self.clock()))


def _describe_tx(venue: str, result: Any) -> str:
    if isinstance(result, BaseException):
        return f"{venue} transaction not sent: {result}"
    if result.ok:
        return f"{venue} tx {result.tx_hash} mined in block {result.block} ({result.gas_used} gas)"
    return f"{venue} {result.status}: {result.reason}"
