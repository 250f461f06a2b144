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
class AaveReserveInfo:
    """One Aave v3 reserve on the devnet, with its risk parameters as configured."""

    symbol: str
    asset: str
    decimals: int
    a_token: str
    stable_debt_token: str
    variable_debt_token: str
    price_feed: str
    """Our settable PriceFeed (8 decimals, USD) that AaveOracle reads for this asset."""
    ltv_bps: int
    liquidation_threshold_bps: int
    liquidation_bonus_bps: int
    """10_000 + bonus: 10_500 is a 5% bonus."""
    liquidation_protocol_fee_bps: int
    reserve_factor_bps: int


@dataclass(frozen=True, slots=True)
class AaveDeployment:
    """Aave v3 core from the @aave/core-v3 artifacts, plus our PriceFeeds, Multicall3 and
    Liquidator (see core.deploy.aave)."""

    addresses_provider: str
    acl_manager: str
    pool: str
    """The Pool proxy: the address every caller uses."""
    pool_configurator: str
    oracle: str
    data_provider: str
    multicall3: str
    liquidator: str
    """Liquidator.sol, owned by `liquidator_owner`."""
    liquidator_owner: str
    flash_loan_premium_bps: int
    reserves: dict[str, AaveReserveInfo] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AaveDeployment:
        reserves = {k: AaveReserveInfo(**v) for k, v in data["reserves"].items()}
        return cls(**{**data, "reserves": reserves})


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
    aave: AaveDeployment | None = None

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
            aave=AaveDeployment.from_dict(data["aave"]) if data.get("aave") else None,
        )

    @classmethod
    def load(cls, path: Path) -> Manifest:
        return cls.from_dict(json.loads(path.read_text()))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)  # atomic: a reader never sees half a manifest
