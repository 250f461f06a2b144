"""The lending feed: which addresses borrow on the Aave market, and their positions now.

Borrowers are discovered from the Pool's Supply / Borrow / Repay / LiquidationCall logs over
block ranges resumed from `cursor`. Each refresh reads the market and every tracked position
at one block (Multicall3 batches) and recomputes account data locally. An oracle price change
alone needs no calls: `reprice` recomputes every position from the balances already held.
A failed read keeps the last known position and marks it stale.

Synchronous (web3 HTTP); the service runs it in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from eth_abi import encode
from eth_utils import keccak
from web3 import Web3

from core.chain.manifest import AaveDeployment
from core.chain.rpc import RpcError, batch
from core.feeds.aave_reader import (
    AaveReader,
    ChainAccountData,
    LendingReadError,
    PositionRead,
    read_market,
    read_positions,
)
from core.lending.health_factor import AccountData, Market, PositionBalances, account_data

_TOPICS = {
    # event signature -> index of the topic holding the position's owner
    "Supply(address,address,address,uint256,uint16)": 2,
    "Borrow(address,address,address,uint256,uint8,uint256,uint16)": 2,
    "Repay(address,address,address,uint256,bool)": 2,
    "LiquidationCall(address,address,address,uint256,uint256,address,bool)": 3,
}
_TOPIC_USER = {"0x" + keccak(text=sig).hex(): i for sig, i in _TOPICS.items()}
_LATEST_TIMESTAMP = bytes.fromhex("8205bf6a")  # latestTimestamp()
_SOURCE_OF_ASSET = bytes.fromhex("92bf2be0")  # AaveOracle.getSourceOfAsset(address)


@dataclass(frozen=True, slots=True)
class TrackedPosition:
    user: str
    balances: PositionBalances
    data: AccountData
    """Local account data at the feed's current market (prices, timestamp)."""
    chain: ChainAccountData | None
    """getUserAccountData as read at `block` (None until first read)."""
    block: int
    stale: bool = False
    stale_reason: str = ""


class LendingFeed:
    def __init__(
        self, w3: Web3, aave: AaveDeployment, from_block: int = 0, log_range_blocks: int = 2_000
    ) -> None:
        self.w3 = w3
        self.aave = aave
        self.reader = AaveReader(aave)
        self.cursor = from_block
        """Next block whose logs have not been read (discovery resumes here)."""
        self.log_range_blocks = log_range_blocks
        self.users: list[str] = []
        self._known: set[str] = set()
        self.positions: dict[str, TrackedPosition] = {}
        self.market: Market | None = None
        self.block = -1
        self.oracle_updated_at: dict[str, int] = {}

    # -- discovery ---------------------------------------------------------------------
    def discover(self, to_block: int) -> list[str]:
        """Read logs from `cursor` to `to_block` in ranges; returns newly found users.

        If a range fails, the cursor stays at its start (resumed next time) and RpcError rises.
        """
        found: list[str] = []
        while self.cursor <= to_block:
            last = min(to_block, self.cursor + self.log_range_blocks - 1)
            flt = {
                "address": self.aave.pool,
                "fromBlock": hex(self.cursor),
                "toBlock": hex(last),
                "topics": [list(_TOPIC_USER)],
            }
            (logs,) = batch(self.w3, [("eth_getLogs", [flt])])
            if isinstance(logs, RpcError):
                raise logs
            for log in logs:
                index = _TOPIC_USER.get(log["topics"][0])
                if index is None or len(log["topics"]) <= index:
                    continue
                user = Web3.to_checksum_address("0x" + log["topics"][index][-40:])
                if user not in self._known:
                    self._known.add(user)
                    self.users.append(user)
                    found.append(user)
            self.cursor = last + 1
        return found

    def track(self, users: list[str]) -> None:
        for user in users:
            if user not in self._known:
                self._known.add(user)
                self.users.append(user)

    # -- reads -------------------------------------------------------------------------
    def refresh(self, block: int | None = None) -> int:
        """Read the market and every tracked position at `block` (default: latest).

        Returns the block read. A failed market read raises LendingReadError and marks every
        position stale; a failed position read keeps its last value, marked stale.
        """
        tag: int | str = "latest" if block is None else block
        try:
            market, read_block = read_market(self.w3, self.reader, tag)
            reads = read_positions(self.w3, self.reader, self.users, market, read_block)
            self._read_oracle_times(read_block)
        except (RpcError, LendingReadError, OSError, ValueError) as exc:
            self.mark_all_stale(str(exc))
            raise LendingReadError(str(exc)) from exc
        self.market, self.block = market, read_block
        for user in self.users:
            self._apply(user, reads.get(user), market, read_block)
        return read_block

    def _apply(
        self,
        user: str,
        read: PositionRead | LendingReadError | None,
        market: Market,
        block: int,
    ) -> None:
        old = self.positions.get(user)
        if isinstance(read, PositionRead):
            data = account_data(read.balances, market)
            self.positions[user] = TrackedPosition(user, read.balances, data, read.chain, block)
        elif old is not None:
            reason = str(read) if read is not None else "not read"
            self.positions[user] = replace(old, stale=True, stale_reason=reason)

    def _read_oracle_times(self, block: int) -> None:
        """Each reserve's price age, from the source AaveOracle uses now (getSourceOfAsset), not
        the feed the manifest was deployed with: setAssetSources may have replaced it. A reserve
        with no source (zero address) has no time, so it reads as stale; a failed read keeps
        the last time (it ages into stale)."""
        tag = hex(block)
        symbols = list(self.aave.reserves)
        source_calls = [
            (
                "eth_call",
                [
                    {
                        "to": self.aave.oracle,
                        "data": "0x" + (_SOURCE_OF_ASSET + encode(["address"], [r.asset])).hex(),
                    },
                    tag,
                ],
            )
            for r in self.aave.reserves.values()
        ]
        feeds: list[tuple[str, str]] = []
        for symbol, result in zip(symbols, batch(self.w3, source_calls), strict=True):
            if isinstance(result, RpcError) or result in (None, "0x"):
                continue
            source = "0x" + result[-40:]
            if int(source, 16) == 0:
                self.oracle_updated_at.pop(symbol, None)
                continue
            feeds.append((symbol, source))
        requests = [
            ("eth_call", [{"to": f, "data": "0x" + _LATEST_TIMESTAMP.hex()}, tag]) for _, f in feeds
        ]
        for (symbol, _), result in zip(feeds, batch(self.w3, requests), strict=True):
            if not isinstance(result, RpcError) and result not in (None, "0x"):
                self.oracle_updated_at[symbol] = int(result, 16)

    def mark_all_stale(self, reason: str) -> None:
        for user, pos in self.positions.items():
            self.positions[user] = replace(pos, stale=True, stale_reason=reason)

    def reprice(self, market: Market) -> None:
        """New oracle prices (or a new timestamp): every position recomputed locally, no call."""
        self.market = market
        positions = self.positions
        for user, pos in positions.items():
            positions[user] = TrackedPosition(
                user,
                pos.balances,
                account_data(pos.balances, market),
                pos.chain,
                pos.block,
                pos.stale,
                pos.stale_reason,
            )

    def snapshot(self) -> list[TrackedPosition]:
        return list(self.positions.values())
