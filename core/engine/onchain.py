"""The on-chain side the engine starts: the devnet (sim) or an RPC endpoint with a manifest,
the pool feed, the CEX-DEX and DEX-DEX detectors, the DEX executor and (sim) the noise trader.

The engine talks to it through `start`, `stop`, `scan` (opportunities for the board),
`spread_rows` (rows for the spreads pane), `handles` and `submit` (approved opportunities,
run by core.execute.onchain_trader.OnChainTrader through the engine's circuit breaker and journal).

Gas: router swaps are measured at start-up with eth_estimateGas (a small swap on one pool of
each kind, from the trading account); every mined swap or FlashArbitrage call then updates its
kind from the receipt's gasUsed (core.gas.GasTable). The detectors read that table.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from eth_account import Account
from eth_utils import to_checksum_address
from loguru import logger
from web3 import AsyncHTTPProvider, AsyncWeb3

from core.amm.pools import TOKEN_TO_CEX, DexPool
from core.amm.quote import quote_exact_in
from core.book import OrderBook
from core.chain.artifacts import load
from core.chain.fee_oracle import FeeOracle
from core.chain.flashbots import RelayClient
from core.chain.manifest import Manifest
from core.chain.reverts import RevertDecoder
from core.deploy.devnet import Devnet
from core.detect.cex_dex import CexDexDetector, row_symbol
from core.detect.dex_dex import DexDexDetector
from core.detect.opportunity import Opportunity
from core.detect.pool_cycle_scan import PoolCycleDetector
from core.detect.top_of_book import SpreadRow
from core.detect.usd import UsdRates
from core.events import EngineMessage, Event
from core.execute.bundles import RelayRoute
from core.execute.dex import MAX_UINT, DexLegs, TxSender
from core.execute.onchain_trader import OnChainTrader, Plan, plan_pools
from core.feeds.pools import V2_VENUE_NAMES, PoolFeed, pools_from_manifest
from core.feeds.sim.pool_noise import NoiseTrader, price_move_input
from core.feeds.sim.relay import SimRelay
from core.gas import GasTable, gas_cost_quote
from core.money import D
from core.records import TradeStatus
from core.redact import register_secret
from core.settings import Mode, Settings

_DEPOSIT = bytes.fromhex("d0e30db0")  # WETH9.deposit()
_BALANCE_OF = bytes.fromhex("70a08231")
_APPROVE = bytes.fromhex("095ea7b3")
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
        breaker: Callable[[], Any] = lambda: None,
        executor: Callable[[], Any] = lambda: None,
        clock: Callable[[], float] = time.time,
        signer_key: Callable[[], str] | None = None,
        relay_key: Callable[[], str] | None = None,
        devnet: Devnet | None = None,
    ) -> None:
        self.settings = settings
        self._given_devnet = devnet
        """A devnet someone else started (and stops): used instead of starting one in sim."""
        self._signer_key = signer_key
        self._relay_key = relay_key
        """Live: the keyring's relay searcher key; else a fresh key per run (it only names
        the searcher to the relays, and the sim relay checks it signs every request)."""
        self.relay_route = RelayRoute("public", None)
        self.sim_relay: SimRelay | None = None
        self.publish = publish
        self.books = books
        self.taker_fee_bps = taker_fee_bps
        self.sim_market = sim_market
        self.exchanges = exchanges
        self.journal = journal
        self.breaker = breaker
        self.executor = executor
        self.clock = clock
        self.devnet: Devnet | None = None
        self.w3: Any = None
        self.manifest: Manifest | None = None
        self.feed: PoolFeed | None = None
        self.legs: DexLegs | None = None
        self.noise: NoiseTrader | None = None
        self.flash_address: str | None = None
        self.cex_dex: CexDexDetector | None = None
        self.dex_dex: DexDexDetector | None = None
        self.cycles: PoolCycleDetector | None = None
        self.fees = FeeOracle(settings.chain.priority_fee_gwei, settings.chain.max_fee_gwei)
        self.gas = GasTable()
        self.trader: OnChainTrader | None = None
        # Latest plan per (symbol, buy venue, sell venue): the board keeps the first
        # detection's id when it refreshes an opportunity, so plans are found by route.
        self._plans: dict[tuple[str, str, str], Plan] = {}
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
            self.devnet = self._given_devnet or await Devnet.astart(
                block_time_s=chain.anvil_block_time_s
            )
            self.manifest = self.devnet.manifest
            rpc_url = self.devnet.rpc_url
        manifest = self.manifest
        w3: Any = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": 10}))
        self.w3 = w3
        pools = pools_from_manifest(manifest)
        self.venues = sorted({p.venue for p in pools})
        self.feed = PoolFeed(w3, pools, self.publish, health_symbol=row_symbol, clock=self.clock)
        await self.feed.start()
        decoder = RevertDecoder(
            [load(n).abi for n in ("UniswapV2Router02", "SwapRouter", "FlashArbitrage")]
        )
        await self.fees.update(w3, self.feed.head)
        self.relay_route = await self._relay_route(rpc_url)
        sender = TxSender(
            w3,
            await self._trading_key(),
            manifest.chain_id,
            self.fees,
            decoder,
            relay=self.relay_route,
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
        await self._measure_gas(pools)
        self.cex_dex = CexDexDetector(
            pools,
            self.feed.states,
            self.books,
            self.taker_fee_bps,
            self.settings.thresholds,
            gas_cost_quote=self._gas_cost_quote,
            swap_gas=lambda p: self.gas.swap(p.kind),
            clock=self.clock,
        )
        self.dex_dex = DexDexDetector(
            pools,
            self.feed.states,
            self.settings.thresholds,
            gas_price_in=self._gas_price_in,
            usd_price=self._usd,
            wallet_balance=lambda token: self._balances.get(token, 0),
            route_gas=self.gas.routes,
            clock=self.clock,
        )
        self.cycles = PoolCycleDetector(
            pools,
            self.feed.states,
            self.settings.thresholds,
            self.settings.cycles,
            gas_price_in=self._gas_price_in,
            usd_price=self._usd,
            wallet_balance=lambda token: self._balances.get(token, 0),
            cycle_gas=self.gas.cycle,
            clock=self.clock,
        )
        self._tasks.append(asyncio.create_task(self.feed.run(), name="pool-feed"))
        self._tasks.append(asyncio.create_task(self._fee_loop(w3), name="chain-fees"))

    async def _relay_route(self, rpc_url: str) -> RelayRoute:
        """How trades go out (chain.submission): the configured relays, or in sim mode with
        none configured the embedded relay in front of the devnet."""
        chain = self.settings.chain
        if chain.submission == "public":
            return RelayRoute("public", None)
        urls = list(chain.relay_urls)
        if not urls:
            if self.settings.mode is not Mode.SIM:  # the settings refuse this; never guess
                raise RuntimeError("chain.relay_urls is empty outside sim mode")
            self.sim_relay = SimRelay(
                rpc_url,
                build_delay_s=chain.sim_relay_build_delay_s,
                block_time_s=chain.anvil_block_time_s,
            )
            await self.sim_relay.start()
            urls = [self.sim_relay.url]
            logger.info("sim relay on {} in front of the devnet", self.sim_relay.url)
        if self._relay_key is not None:
            key = await asyncio.to_thread(self._relay_key)
        else:
            key = "0x" + bytes(Account.create().key).hex()
        register_secret(key)
        client = RelayClient(urls, key, timeout_s=chain.relay_timeout_s)
        return RelayRoute(chain.submission, client)

    async def _trading_key(self) -> str:
        """The devnet's dev account 1, or (live) the keyring wallet; never logged."""
        if self._signer_key is not None:
            key = await asyncio.to_thread(self._signer_key)
            register_secret(key)
            return key
        assert self.manifest is not None
        if not self.manifest.accounts:
            raise RuntimeError("no signer: the manifest has no dev accounts and no wallet key")
        return self.manifest.accounts[1].private_key

    async def _sim_setup(
        self,
        w3: Any,
        sender: TxSender,
        decoder: RevertDecoder,
        pools: list[DexPool],
        routers: dict[str, str],
    ) -> None:
        """Devnet only: wrap ETH for the trading and noise accounts, deploy FlashArbitrage,
        approve the routers and the contract for every token once (so no approval
        transaction lands inside a trade)."""
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
        spenders = [*routers.values(), manifest.v3.swap_router, deployed]
        tokens = sorted({t for p in pools for t in (p.token0, p.token1)})
        await asyncio.gather(
            *(
                sender.send(token, _APPROVE + _word(spender) + MAX_UINT.to_bytes(32, "big"))
                for token in tokens
                for spender in spenders
            )
        )
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

    async def _measure_gas(self, pools: list[DexPool]) -> None:
        """Router swap gas per pool kind, measured on the first pool of that kind the trading
        account can pay a 1 bp price move on. On the devnet the swap is sent and its receipt's
        gasUsed is the figure; on a real chain only eth_estimateGas is asked (an upper bound:
        it includes gas that refunds give back) until the first trade's receipt replaces it.
        A kind that cannot be measured keeps its fallback constant, and the log says so."""
        assert self.legs is not None and self.feed is not None
        if not self._balances:
            await self._refresh_balances()
        for kind in ("v2", "v3"):
            for pool in (p for p in pools if p.kind == kind):
                state = self.feed.states.get(pool.address)
                if state is None:
                    continue
                token_in, amount = price_move_input(pool, state, 1.0001)
                have = self._balances.get(to_checksum_address(token_in), 0)
                if amount <= 0 or have < amount:
                    continue
                try:
                    if self.devnet is not None:
                        out = quote_exact_in(pool, state, token_in, amount)
                        sent = await self.legs.swap(pool, token_in, amount, out)
                        gas, source = (sent.gas_used, "receipt") if sent.ok else (None, "")
                    else:
                        gas = await self.legs.estimate_swap_gas(pool, token_in, amount)
                        source = "estimate"
                except Exception as exc:  # an RPC hiccup: keep the fallback, say so
                    logger.warning("gas measurement on {} failed: {}", pool.venue, exc)
                    gas = None
                if gas:
                    self.gas.record(kind, gas, source)
                    break
            logger.info("{} swap gas {} ({})", kind, self.gas.units[kind], self.gas.source[kind])

    async def stop(self) -> None:
        if self.trader is not None:
            await self.trader.drain(timeout_s=self.settings.execution.leg_timeout_s * 3)
        if self.noise is not None:
            await self.noise.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: S110 - shutting down
                pass
        self._tasks.clear()
        if self.relay_route.client is not None:
            with contextlib.suppress(Exception):
                await self.relay_route.client.close()
        if self.sim_relay is not None:
            await self.sim_relay.stop()
            self.sim_relay = None
        if self.w3 is not None:
            with contextlib.suppress(Exception):  # its HTTP session; the node may be gone
                await self.w3.provider.disconnect()
            self.w3 = None
        if self.devnet is not None and self.devnet is not self._given_devnet:
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

    def _eth_price_in(self, symbol: str) -> Decimal | None:
        """ETH price in a token or asset (Decimal of the books' float rates), for gas paid."""
        eth, other = self._usd("ETH"), self._usd(symbol)
        if eth is None or not other:
            return None
        return D(eth) / D(other)

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
        """Run the detectors on the current pool states (CEX-DEX, DEX-DEX, pool cycles); plans
        are kept by the opportunity's key."""
        if self.feed is None or self.cex_dex is None or self.dex_dex is None:
            return []
        if self.feed.state.value != "live":
            return []
        out: list[Opportunity] = []
        found: list[tuple[Opportunity, Plan]] = [
            (f.opportunity, f.plan) for f in self.cex_dex.scan()
        ]
        found.extend((h.opportunity, h.plan) for h in self.dex_dex.scan())
        if self.cycles is not None:
            found.extend((c.opportunity, c.plan) for c in self.cycles.scan())
        for opportunity, plan in found:
            if self._fresh(plan):
                self._plans[opportunity.key] = plan
                out.append(opportunity)
        return out

    def _fresh(self, plan: Plan) -> bool:
        """False while one of the plan's pools has our trade in flight, or the feed has not yet
        applied the block of our last transaction there (the plan would be priced on a state
        that no longer exists, and fail)."""
        if self.trader is None or self.feed is None:
            return True
        for pool in plan_pools(plan):
            if pool.address in self.trader.busy:
                return False
            if self.trader.mined_at.get(pool.address, -1) > self.feed.head:
                return False
        return True

    def spread_rows(self) -> list[SpreadRow]:
        rows: list[SpreadRow] = []
        if self.cex_dex is not None:
            rows.extend(self.cex_dex.rows.values())
        if self.dex_dex is not None:
            rows.extend(self.dex_dex.rows.values())
        return rows

    def rebuild_cycles(self) -> None:
        """The cycle settings changed (max hops, start currencies): enumerate again."""
        if self.cycles is not None:
            self.cycles.rebuild()

    def handles(self, opportunity: Opportunity) -> bool:
        return opportunity.buy_venue in self.venues or opportunity.sell_venue in self.venues

    # -- execution --------------------------------------------------------------------------

    async def submit(self, opportunity: Opportunity) -> tuple[bool, str]:
        """Execute an approved on-chain opportunity once; (ok, what happened)."""
        plan = self._plans.pop(opportunity.key, None)
        if plan is None:
            return False, "no execution plan (detected before a restart or already used)"
        trader = self._trader()
        if trader is None:
            return False, "trading is not running (no journal / breaker)"
        result = await trader.submit(opportunity, plan)
        view = trader.path.trade(result.trade_id) if result.trade_id else None
        ok = view is not None and view.status == TradeStatus.COMPLETED
        text = result.reason if result.accepted else f"refused: {result.reason}"
        self._report(opportunity, ok, text)
        return ok, text

    def _trader(self) -> OnChainTrader | None:
        journal, breaker = self.journal(), self.breaker()
        if journal is None or breaker is None or self.legs is None:
            return None
        if self.trader is None or self.trader.journal is not journal:
            executor = self.executor()
            self.trader = OnChainTrader(
                self.settings,
                legs=self.legs,
                journal=journal,
                breaker=breaker,
                publish=self.publish,
                exchanges=executor.exchanges if executor is not None else self.exchanges(),
                books=self.books,
                eth_price_in=self._eth_price_in,
                flash_address=self.flash_address,
                path=executor.path if executor is not None else None,
                on_gas=self._on_gas,
                clock=self.clock,
            )
        return self.trader

    def _on_gas(self, kind: str, gas_used: int) -> None:
        logger.debug("{} gas {} (receipt; was {})", kind, gas_used, self.gas.units.get(kind))
        self.gas.record(kind, gas_used, "receipt")

    def _report(self, opportunity: Opportunity, ok: bool, text: str) -> None:
        level = "INFO" if ok else "WARNING"
        message = f"{opportunity.symbol} {opportunity.buy_venue}->{opportunity.sell_venue}: {text}"
        logger.log(level, message)
        self.publish(EngineMessage(level, message, at=self.clock()))


def _word(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(to_checksum_address(address)[2:])
