"""The deployment manifest: every address sim mode needs, written as JSON by `devnet up`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class TokenInfo:
    symbol: str
    address: str
    decimals: int


@dataclass(frozen=True, slots=True)
class DevAccount:
    """An anvil dev account; its key is anvil's public test key, never a real secret."""

    address: str
    private_key: str


@dataclass(frozen=True, slots=True)
class V2PairInfo:
    symbol: str
    """BASE/QUOTE as configured, e.g. `WETH/USDC`."""
    address: str
    token0: str
    token1: str


@dataclass(frozen=True, slots=True)
class V2Deployment:
    """One Uniswap-V2-style exchange (Uniswap itself, or the SushiSwap stand-in)."""

    name: str
    factory: str
    router: str
    fee_bps: int
    pairs: list[V2PairInfo] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class V3PoolInfo:
    symbol: str
    address: str
    token0: str
    token1: str
    fee: int
    """Fee in pips (hundredths of a bp): 500 or 3000."""
    tick_spacing: int


@dataclass(frozen=True, slots=True)
class V3Deployment:
    factory: str
    swap_router: str
    quoter_v2: str
    position_manager: str
    pools: list[V3PoolInfo] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Manifest:
    chain_id: int
    rpc_url: str
    deployed_block: int
    deployer: str
    weth: str
    tokens: dict[str, TokenInfo]
    v2: dict[str, V2Deployment]
    v3: V3Deployment
    accounts: list[DevAccount]
    anvil_pid: int | None = None

    def token(self, symbol: str) -> TokenInfo:
        return self.tokens[symbol]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            chain_id=data["chain_id"],
            rpc_url=data["rpc_url"],
            deployed_block=data["deployed_block"],
            deployer=data["deployer"],
            weth=data["weth"],
            tokens={k: TokenInfo(**v) for k, v in data["tokens"].items()},
            v2={
                k: V2Deployment(**{**v, "pairs": [V2PairInfo(**p) for p in v["pairs"]]})
                for k, v in data["v2"].items()
            },
            v3=V3Deployment(
                **{**data["v3"], "pools": [V3PoolInfo(**p) for p in data["v3"]["pools"]]}
            ),
            accounts=[DevAccount(**a) for a in data["accounts"]],
            anvil_pid=data.get("anvil_pid"),
        )

    @classmethod
    def load(cls, path: Path) -> Manifest:
        return cls.from_dict(json.loads(path.read_text()))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)  # atomic: a reader never sees half a manifest
