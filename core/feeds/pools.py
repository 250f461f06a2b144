"""The pool feed: V2 reserves and V3 slot0 / liquidity / ticks kept current per block from
Sync / Swap / Mint / Burn logs, with block tracking that survives a reorg.

Each poll reads the new blocks' headers and their logs in one JSON-RPC batch and checks that
they chain onto the blocks already applied (parentHash) and that every log belongs to the
header of its number (blockHash). Any mismatch is a reorg: the feed walks back through the
hashes it kept to the common ancestor and reloads the pools touched since then from chain
state at the new head (all pools when the reorg is deeper than the kept history).

Applying logs: V2 `Sync` carries the reserves; V3 `Swap` carries the new sqrtPriceX96,
liquidity and tick. V3 `Mint` / `Burn` change tick liquidity; they are rare, and a tick whose
liquidityNet returns to zero can stay initialized (it still splits swap steps), which only
liquidityGross tells, so such a pool is reloaded from chain state instead of patched.

RPC failures publish FeedHealthChanged(DOWN) for every pool's venue (the breaker then refuses
those venues); the first good poll reloads everything and publishes LIVE.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode
from eth_utils import event_abi_to_log_topic, to_checksum_address
from loguru import logger

from core.amm.pools import DexPool, PoolData, V2State
from core.amm.v3 import PoolState
from core.chain.rpc import RpcError, abatch, aeth_calls
from core.events import Event, FeedHealthChanged, FeedState
from core.feeds.pool_state import aload_pool_state

SYNC_TOPIC = "0x1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1"
SWAP_V3_TOPIC = "0xc42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67"
MINT_V3_TOPIC = "0x7a53080ba414158be7ec69b987b5fb7d07dee101fe85488f0853ae16239d0bde"
BURN_V3_TOPIC = "0x0c396cd989a39f4459b5fa1aed6a9a8dcdbc45908acfd67e028cd568da98982c"
_TOPICS = [SYNC_TOPIC, SWAP_V3_TOPIC, MINT_V3_TOPIC, BURN_V3_TOPIC]
_GET_RESERVES = bytes.fromhex("0902f1ac")

KEEP_BLOCKS = 128
"""Block hashes kept for reorg detection; a deeper reorg reloads every pool."""
MAX_RANGE = 500
"""Blocks applied from logs in one poll; further behind, the feed reloads at the head."""


@dataclass(frozen=True, slots=True)
class _Header:
    number: int
    hash: str
    parent: str


class PoolFeed:
    """Keeps `states[address]` current; `on_change(addresses)` is called after each poll that
    changed pools. `health_symbol(pool)` names the symbol FeedHealthChanged events carry
    (the CEX symbol the pool trades against, so the breaker matches the opportunity)."""

    def __init__(
        self,
        w3: Any,
        pools: Sequence[DexPool],
        publish: Callable[[Event], None],
        *,
        poll_interval_s: float = 0.25,
        health_symbol: Callable[[DexPool], str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.w3 = w3
        self.pools: dict[str, DexPool] = {str(to_checksum_address(p.address)): p for p in pools}
        self.publish = publish
        self.poll_interval_s = poll_interval_s
        self.health_symbol = health_symbol or (lambda p: p.symbol)
        self.clock = clock
        self.states: dict[str, PoolData] = {}
        self.head = -1
        self.updated_at = 0.0
        self.reorgs = 0
        self.state = FeedState.CONNECTING
        self.reason = ""
        """Why the feed is in its state (the RPC error while it is down)."""
        self._hashes: dict[int, str] = {}
        self._touched: dict[int, set[str]] = {}
        self._listeners: list[Callable[[set[str]], None]] = []

    def on_change(self, listener: Callable[[set[str]], None]) -> None:
        self._listeners.append(listener)

    # -- loading ---------------------------------------------------------------------------

    async def load(self, addresses: Iterable[str] | None = None, block: int | None = None) -> int:
        """Read pools from chain state at `block` (default: the head); returns that block."""
        if block is None:
            header = await self._header("latest")
            block = header.number
            self._remember(header)
        targets = list(self.pools) if addresses is None else list(addresses)
        v2 = [a for a in targets if self.pools[a].kind == "v2"]
        results = await aeth_calls(self.w3, [(a, _GET_RESERVES) for a in v2], block)
        for address, data in zip(v2, results, strict=True):
            if isinstance(data, RpcError):
                raise data
            r0, r1, _ = decode(["uint112", "uint112", "uint32"], data)
            self.states[address] = V2State(r0, r1)
        v3 = [a for a in targets if self.pools[a].kind == "v3"]
        loaded = await asyncio.gather(*(aload_pool_state(self.w3, a, block) for a in v3))
        for address, state in zip(v3, loaded, strict=True):
            self.states[address] = state
        self.head = max(self.head, block)
        self.updated_at = self.clock()
        return block

    async def start(self) -> None:
        """Load every pool at the head and publish LIVE."""
        self._hashes.clear()
        self._touched.clear()
        self.head = -1
        await self.load()
        self._set_health(FeedState.LIVE, "")

    # -- polling ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Poll until cancelled; failures flip health to DOWN, recovery reloads and goes LIVE."""
        while True:
            try:
                if self.state is not FeedState.LIVE:
                    await self.start()
                    self._notify(set(self.pools))
                else:
                    await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any RPC failure: the venue is down until a poll works
                if self.state is not FeedState.DOWN:
                    logger.warning("pool feed: RPC failed: {}", exc)
                self._set_health(FeedState.DOWN, f"RPC failed: {type(exc).__name__}: {exc}")
            await asyncio.sleep(self.poll_interval_s)

    async def poll(self) -> set[str]:
        """Apply the blocks since the last poll; returns the addresses that changed."""
        head = await self._header("latest")
        if head.number == self.head and self._hashes.get(head.number) == head.hash:
            return set()
        if head.number - self.head > MAX_RANGE or self.head < 0:
            return await self._reload_all_at(head)
        if head.number <= self.head:  # same height with another hash, or a shorter chain
            return await self._handle_reorg(head)
        first = self.head + 1
        numbers = list(range(first, head.number + 1))
        requests: list[tuple[str, list[Any]]] = [
            ("eth_getBlockByNumber", [hex(n), False]) for n in numbers
        ]
        if numbers:
            requests.append(("eth_getLogs", [self._filter(first, head.number)]))
        answers = await abatch(self.w3, requests)
        for answer in answers:
            if isinstance(answer, RpcError):
                raise answer
        headers = [_parse_header(h) for h in answers[: len(numbers)]]
        logs: list[dict[str, Any]] = answers[-1] if numbers else []
        if not self._chains_on(headers, logs):
            return await self._handle_reorg(head)
        changed = self._apply(logs)
        for header in headers:
            self._remember(header)
        reload = {a for a, needs_reload in changed.items() if needs_reload}
        if reload:
            await self.load(reload, headers[-1].number)
        self.head = headers[-1].number if headers else self.head
        self.updated_at = self.clock()
        out = set(changed)
        self._notify(out)
        return out

    def _chains_on(self, headers: list[_Header], logs: list[dict[str, Any]]) -> bool:
        if not headers:
            return True
        expected_parent = self._hashes.get(headers[0].number - 1)
        if expected_parent is not None and headers[0].parent != expected_parent:
            return False
        for prev, cur in zip(headers, headers[1:], strict=False):
            if cur.parent != prev.hash:
                return False
        by_number = {h.number: h.hash for h in headers}
        return all(
            by_number.get(int(log["blockNumber"], 16)) == log["blockHash"]
            for log in logs
            if not log.get("removed")
        )

    async def _handle_reorg(self, head: _Header) -> set[str]:
        """Find the common ancestor, reload what changed since it at the new head."""
        self.reorgs += 1
        known = sorted(self._hashes, reverse=True)
        if not known:
            return await self._reload_all_at(head)
        answers = await abatch(self.w3, [("eth_getBlockByNumber", [hex(n), False]) for n in known])
        ancestor = None
        for number, answer in zip(known, answers, strict=True):
            if isinstance(answer, RpcError):
                raise answer
            if answer is not None and answer["hash"] == self._hashes[number]:
                ancestor = number
                break
        if ancestor is None:
            logger.warning("pool feed: reorg deeper than {} blocks, reloading", len(known))
            return await self._reload_all_at(head)
        touched: set[str] = set()
        for number in [n for n in self._hashes if n > ancestor]:
            del self._hashes[number]
            touched |= self._touched.pop(number, set())
        # Logs of blocks after the ancestor on the new branch touched pools too.
        if head.number > ancestor:
            logs = await abatch(
                self.w3, [("eth_getLogs", [self._filter(ancestor + 1, head.number)])]
            )
            if isinstance(logs[0], RpcError):
                raise logs[0]
            touched |= {to_checksum_address(log["address"]) for log in logs[0]}
        touched &= set(self.pools)
        logger.info(
            "pool feed: reorg at {} -> head {} (ancestor {}), reloading {} pools",
            self.head,
            head.number,
            ancestor,
            len(touched),
        )
        self.head = ancestor
        await self.load(touched, head.number)
        self._remember(head)
        self.head = head.number
        self._notify(touched)
        return touched

    async def _reload_all_at(self, head: _Header) -> set[str]:
        self._hashes.clear()
        self._touched.clear()
        await self.load(None, head.number)
        self._remember(head)
        self.head = head.number
        changed: set[str] = set(self.pools)
        self._notify(changed)
        return changed

    def _apply(self, logs: list[dict[str, Any]]) -> dict[str, bool]:
        """Apply logs in order; returns address -> needs a reload (a V3 Mint / Burn)."""
        changed: dict[str, bool] = {}
        for log in sorted(logs, key=lambda g: (int(g["blockNumber"], 16), int(g["logIndex"], 16))):
            if log.get("removed"):
                continue
            address = to_checksum_address(log["address"])
            pool = self.pools.get(address)
            if pool is None:
                continue
            self._touched.setdefault(int(log["blockNumber"], 16), set()).add(address)
            topic = log["topics"][0]
            data = bytes.fromhex(log["data"][2:])
            state = self.states.get(address)
            if topic == SYNC_TOPIC and pool.kind == "v2":
                r0, r1 = decode(["uint112", "uint112"], data)
                self.states[address] = V2State(r0, r1)
                changed.setdefault(address, False)
            elif topic == SWAP_V3_TOPIC and isinstance(state, PoolState):
                _, _, sqrt_price, liquidity, tick = decode(
                    ["int256", "int256", "uint160", "uint128", "int24"], data
                )
                self.states[address] = PoolState(
                    sqrt_price,
                    tick,
                    liquidity,
                    state.fee,
                    state.tick_spacing,
                    state.ticks,
                    state.address,
                    state.token0,
                    state.token1,
                )
                changed.setdefault(address, False)
            elif topic in (MINT_V3_TOPIC, BURN_V3_TOPIC) and pool.kind == "v3":
                changed[address] = True
        return changed

    # -- helpers ---------------------------------------------------------------------------

    def _filter(self, first: int, last: int) -> dict[str, Any]:
        return {
            "fromBlock": hex(first),
            "toBlock": hex(last),
            "address": list(self.pools),
            "topics": [_TOPICS],
        }

    async def _header(self, tag: str | int) -> _Header:
        answer = await abatch(
            self.w3, [("eth_getBlockByNumber", [tag if isinstance(tag, str) else hex(tag), False])]
        )
        if isinstance(answer[0], RpcError):
            raise answer[0]
        return _parse_header(answer[0])

    def _remember(self, header: _Header) -> None:
        self._hashes[header.number] = header.hash
        for old in [n for n in self._hashes if n <= header.number - KEEP_BLOCKS]:
            del self._hashes[old]
            self._touched.pop(old, None)

    def _notify(self, changed: set[str]) -> None:
        if not changed:
            return
        for listener in self._listeners:
            try:
                listener(changed)
            except Exception:
                logger.exception("pool feed listener failed")

    def _set_health(self, state: FeedState, reason: str) -> None:
        if state is self.state:
            return
        self.state = state
        self.reason = reason
        now = self.clock()
        seen: set[tuple[str, str]] = set()
        for pool in self.pools.values():
            # Both names an opportunity on this pool may carry: its own and the CEX one.
            for key in ((pool.venue, pool.symbol), (pool.venue, self.health_symbol(pool))):
                if key not in seen:
                    seen.add(key)
                    self.publish(FeedHealthChanged(key[0], key[1], state, reason, at=now))

    def venues(self) -> list[str]:
        return sorted({p.venue for p in self.pools.values()})


def _parse_header(block: dict[str, Any] | None) -> _Header:
    if block is None:
        raise RuntimeError("the node has no such block")
    return _Header(int(block["number"], 16), block["hash"], block["parentHash"])


def event_topic(abi: list[dict[str, Any]], name: str) -> str:
    """topic0 of event `name` in `abi` (tests check the constants above against the ABIs)."""
    entry = next(e for e in abi if e.get("type") == "event" and e["name"] == name)
    return "0x" + event_abi_to_log_topic(entry).hex()  # type: ignore[arg-type]


V2_VENUE_NAMES = {"uniswap_v2": "uni-v2", "sushiswap": "sushi"}


def v3_venue_name(fee: int) -> str:
    return f"uni-v3-{fee}"


def pools_from_manifest(manifest: Any) -> list[DexPool]:
    """Every V2 pair and V3 pool of a devnet manifest (core.chain.manifest.Manifest)."""
    by_address = {t.address.lower(): t for t in manifest.tokens.values()}
    out: list[DexPool] = []

    def tokens(t0: str, t1: str) -> tuple[Any, Any]:
        return by_address[t0.lower()], by_address[t1.lower()]

    for name, deployment in manifest.v2.items():
        for pair in deployment.pairs:
            k0, k1 = tokens(pair.token0, pair.token1)
            out.append(
                DexPool(
                    V2_VENUE_NAMES.get(name, name),
                    "v2",
                    to_checksum_address(pair.address),
                    pair.symbol,
                    to_checksum_address(pair.token0),
                    to_checksum_address(pair.token1),
                    k0.symbol,
                    k1.symbol,
                    k0.decimals,
                    k1.decimals,
                    deployment.fee_bps,
                )
            )
    for pool in manifest.v3.pools:
        k0, k1 = tokens(pool.token0, pool.token1)
        out.append(
            DexPool(
                v3_venue_name(pool.fee),
                "v3",
                to_checksum_address(pool.address),
                pool.symbol,
                to_checksum_address(pool.token0),
                to_checksum_address(pool.token1),
                k0.symbol,
                k1.symbol,
                k0.decimals,
                k1.decimals,
                pool.fee,
                pool.tick_spacing,
            )
        )
    return out
