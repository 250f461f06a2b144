"""Private-relay submission against public, in the same run, on the sim devnet under a
competing trader.

A rival account swaps on the same pool at random (Poisson, ~`RIVAL_EVERY_S` apart, random side
and size), as the sim's noise trader does. Each round one of our two accounts takes a swap
priced exactly on the pool's current state (amountOutMin = the quote, no slack), the way an
arbitrage's leg is only worth sending at the price it was found at:

- relay: through the real TxSender to the embedded sim relay (eth_callBundle, eth_sendBundle
  for the next block, re-targeted until it lands or its 2 s TTL passes); the relay builds each
  block `BUILD_DELAY_S` after a bundle arrives (the wait for the next slot);
- public: eth_estimateGas at the same moment, then the signed transaction reaches the chain
  `BUILD_DELAY_S` later (its time in the mempool), with the gas limit set then.

Prints: approval -> bundle sent, our own overhead (the call minus the relay's simulation round
trips) p50 / p99; the simulation round trip p50 / p99; the inclusion rate of bundles; the
public success rate; and gas paid on failed attempts by each (the relay's should be zero).

Run: .venv/bin/python bench/bench_relay.py [rounds]
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from web3 import AsyncHTTPProvider, AsyncWeb3  # noqa: E402

from core.amm.pools import DexPool, V2State  # noqa: E402
from core.amm.quote import quote_exact_in  # noqa: E402
from core.chain.artifacts import load  # noqa: E402
from core.chain.fee_oracle import FeeOracle  # noqa: E402
from core.chain.flashbots import RelayClient  # noqa: E402
from core.chain.reverts import RevertDecoder  # noqa: E402
from core.chain.rpc import eth_calls  # noqa: E402
from core.deploy.devnet import Devnet  # noqa: E402
from core.execute.bundles import BundleTerms, RelayRoute  # noqa: E402
from core.execute.dex import MAX_UINT, DexLegs, TxResult, TxSender  # noqa: E402
from core.feeds.pools import pools_from_manifest  # noqa: E402
from core.feeds.sim.relay import SimRelay  # noqa: E402

BUILD_DELAY_S = 0.3
RIVAL_EVERY_S = 0.6
TTL_S = 2.0
SEARCHER = "0x" + "5e" * 32


def v2_reserves(w3: Any, pair: str) -> tuple[int, int]:
    (data,) = eth_calls(w3, [(pair, bytes.fromhex("0902f1ac"))])  # getReserves()
    assert isinstance(data, bytes), data
    return int.from_bytes(data[:32], "big"), int.from_bytes(data[32:64], "big")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Bench:
    def __init__(self, devnet: Devnet, relay: SimRelay) -> None:
        self.devnet = devnet
        m = devnet.manifest
        self.pool: DexPool = next(
            p for p in pools_from_manifest(m) if (p.venue, p.symbol) == ("sushi", "WETH/USDC")
        )
        self.usdc = m.token("USDC").address
        self.weth = m.weth
        client = RelayClient([relay.url], SEARCHER, timeout_s=2.0)
        self.ours = self._legs(3, RelayRoute("relay", client))
        self.public = self._legs(5, None)
        self.rival = self._legs(4, None)
        self.relay = relay
        self.overhead_s: list[float] = []
        self.total_s: list[float] = []
        self.simulation_s: list[float] = []
        self.outcomes: dict[str, list[TxResult]] = {"relay": [], "public": []}

    def _legs(self, account: int, route: RelayRoute | None) -> DexLegs:
        m = self.devnet.manifest
        w3: Any = AsyncWeb3(AsyncHTTPProvider(self.devnet.rpc_url, request_kwargs={"timeout": 10}))
        decoder = RevertDecoder([load("UniswapV2Router02").abi])
        key = m.accounts[account].private_key
        sender = TxSender(w3, key, m.chain_id, FeeOracle(0.01, 200), decoder, relay=route)
        routers = {"sushi": m.v2["sushiswap"].router}
        return DexLegs(sender, routers, m.v3.swap_router, slippage_bps=0, deadline_s=60)

    async def setup(self) -> None:
        for legs in (self.ours, self.public, self.rival):
            for token in (self.usdc, self.weth):
                await legs.sender.ensure_allowance(token, legs.router_for(self.pool), MAX_UINT)
            # wrap some ETH so both directions are possible
            deposit = bytes.fromhex("d0e30db0")
            await legs.sender.send(self.weth, deposit, value=500 * 10**18)

    def _order(self, rng: random.Random) -> tuple[str, int, int]:
        r0, r1 = v2_reserves(self.devnet.w3, self.pool.address)
        state = V2State(r0, r1)
        if rng.random() < 0.5:
            token_in, amount = self.usdc, rng.randint(2_000, 20_000) * 10**6
        else:
            token_in, amount = self.weth, rng.randint(1, 8) * 10**18
        return token_in, amount, quote_exact_in(self.pool, state, token_in, amount)

    async def rival_loop(self, rng: random.Random, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(rng.expovariate(1 / RIVAL_EVERY_S))
            token_in, amount, _ = self._order(rng)
            await self.rival.swap(self.pool, token_in, amount, 0)

    async def relay_round(self, rng: random.Random) -> None:
        token_in, amount, out = self._order(rng)
        sent_at: list[float] = []
        started = time.perf_counter()
        result = await self.ours.swap(
            self.pool,
            token_in,
            amount,
            out,
            gas_limit=200_000,
            bundle=BundleTerms(time.time() + TTL_S),
            on_submitted=lambda *_: sent_at.append(time.perf_counter()),
        )
        if sent_at and result.simulation_s:
            first_sim = result.simulation_s[0]
            self.total_s.append(sent_at[0] - started)
            self.overhead_s.append(sent_at[0] - started - first_sim)
        self.simulation_s.extend(result.simulation_s)
        self.outcomes["relay"].append(result)

    async def public_round(self, rng: random.Random) -> None:
        token_in, amount, out = self._order(rng)
        legs = self.public
        router, data = legs.encode_swap(self.pool, token_in, amount, out, 2**40)
        call = {"from": legs.sender.address, "to": router, "data": "0x" + data.hex()}
        estimate = await legs.sender._rpc("eth_estimateGas", [call])
        if "error" in estimate:  # the pool moved before we priced: not a fair round
            return
        await asyncio.sleep(BUILD_DELAY_S)  # in the mempool until the next block
        result = await legs.sender.send(router, data, gas_limit=200_000)
        self.outcomes["public"].append(result)


async def main(rounds: int) -> None:
    devnet = await Devnet.astart()
    relay = SimRelay(devnet.rpc_url, build_delay_s=BUILD_DELAY_S)
    await relay.start()
    try:
        bench = Bench(devnet, relay)
        await bench.setup()
        rng = random.Random(7)
        stop = asyncio.Event()
        rival = asyncio.create_task(bench.rival_loop(random.Random(11), stop))
        for _ in range(rounds):
            await bench.relay_round(rng)
            await bench.public_round(rng)
        stop.set()
        rival.cancel()
        report(bench)
    finally:
        await relay.stop()
        await asyncio.to_thread(devnet.stop)


def report(bench: Bench) -> None:
    relay, public = bench.outcomes["relay"], bench.outcomes["public"]
    landed = [r for r in relay if r.ok]
    missed = [r for r in relay if r.status == "not_included"]
    refused = [r for r in relay if r.status == "rejected"]
    sent = landed + missed
    ok_public = [r for r in public if r.ok]
    failed_public = [r for r in public if not r.ok]
    relay_waste = sum(r.gas_cost_wei for r in relay if not r.ok)
    public_waste = sum(r.gas_cost_wei for r in failed_public)
    ms = [s * 1000 for s in bench.overhead_s]
    total = [s * 1000 for s in bench.total_s]
    sim = [s * 1000 for s in bench.simulation_s]
    public_gas = sum(r.gas_used for r in failed_public)
    print(f"rounds: {len(relay)} relay, {len(public)} public; rival every ~{RIVAL_EVERY_S}s;")
    print(f"block built {BUILD_DELAY_S}s after a bundle arrives (public: {BUILD_DELAY_S}s in pool)")
    print(
        f"approval -> bundle sent: p50 {statistics.median(total):.2f} ms, "
        f"p99 {pct(total, 0.99):.2f} ms (n={len(total)}); less the relay's simulation: "
        f"p50 {statistics.median(ms):.2f} ms, p99 {pct(ms, 0.99):.2f} ms (node reads, signing, "
        "eth_sendBundle)"
    )
    print(
        f"eth_callBundle round trip: p50 {statistics.median(sim):.2f} ms, "
        f"p99 {pct(sim, 0.99):.2f} ms (n={len(sim)})"
    )
    rate = len(landed) / len(sent) if sent else float("nan")
    print(
        f"relay: {len(landed)} landed, {len(missed)} not included, {len(refused)} never sent "
        f"(simulation reverted); inclusion rate {rate:.1%} of bundles sent"
    )
    print(f"public: {len(ok_public)} mined ok, {len(failed_public)} reverted on chain")
    per_fail = public_waste / len(failed_public) if failed_public else 0
    print(
        f"gas paid on failed attempts: relay {relay_waste / 1e18:.6f} ETH, public "
        f"{public_waste / 1e18:.6f} ETH ({public_gas:,} gas, {per_fail / 1e18:.6f} ETH per "
        "revert at the devnet's ~1 gwei); "
        f"saved {public_waste / 1e18:.6f} ETH over the run"
    )
    print(f"sim relay counters: {vars_of(bench.relay)}")


def vars_of(relay: SimRelay) -> str:
    names = ("requests", "simulated", "sent", "included", "not_included", "cancelled")
    return ", ".join(f"{n} {getattr(relay, n)}" for n in names)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 40))
