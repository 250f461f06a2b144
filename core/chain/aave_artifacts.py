"""Aave v3 artifacts from the @aave/core-v3 npm package (and our PriceFeed, Multicall3 and
Liquidator from contracts/out): ABIs, and bytecode with libraries linked at their placeholders."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from core.chain.artifacts import Artifact, ArtifactError, contracts_out_dir, node_modules_dir

_AAVE = "@aave/core-v3/artifacts/contracts/"


_AAVE_PATHS = {
    "PoolAddressesProvider": "protocol/configuration/PoolAddressesProvider.sol",
    "ACLManager": "protocol/configuration/ACLManager.sol",
    "Pool": "protocol/pool/Pool.sol",
    "PoolConfigurator": "protocol/pool/PoolConfigurator.sol",
    "DefaultReserveInterestRateStrategy": "protocol/pool/DefaultReserveInterestRateStrategy.sol",
    "AaveOracle": "misc/AaveOracle.sol",
    "AaveProtocolDataProvider": "misc/AaveProtocolDataProvider.sol",
    "AToken": "protocol/tokenization/AToken.sol",
    "StableDebtToken": "protocol/tokenization/StableDebtToken.sol",
    "VariableDebtToken": "protocol/tokenization/VariableDebtToken.sol",
    "SupplyLogic": "protocol/libraries/logic/SupplyLogic.sol",
    "BorrowLogic": "protocol/libraries/logic/BorrowLogic.sol",
    "LiquidationLogic": "protocol/libraries/logic/LiquidationLogic.sol",
    "EModeLogic": "protocol/libraries/logic/EModeLogic.sol",
    "BridgeLogic": "protocol/libraries/logic/BridgeLogic.sol",
    "PoolLogic": "protocol/libraries/logic/PoolLogic.sol",
    "FlashLoanLogic": "protocol/libraries/logic/FlashLoanLogic.sol",
    "ConfiguratorLogic": "protocol/libraries/logic/ConfiguratorLogic.sol",
}


_OWN = ("PriceFeed", "Multicall3", "Liquidator")


PRICE_DECIMALS = 8  # Chainlink USD feeds, and AaveOracle's base currency unit (1e8 = $1)


def _artifact_path(name: str) -> Path:
    if name in _AAVE_PATHS:
        path = node_modules_dir() / _AAVE / _AAVE_PATHS[name] / f"{name}.json"
    elif name in _OWN:
        path = contracts_out_dir() / f"{name}.json"
    else:
        raise ArtifactError(f"unknown artifact {name!r}")
    if not path.is_file():
        raise ArtifactError(f"{path} is missing: run `make setup` (npm ci) first")
    return path


@cache
def aave_abi(name: str) -> list[dict[str, Any]]:
    """The ABI of an Aave artifact (or of our PriceFeed / Multicall3 / Liquidator)."""
    abi: list[dict[str, Any]] = json.loads(_artifact_path(name).read_text())["abi"]
    return abi


@cache
def load_aave(name: str, libraries: tuple[tuple[str, str], ...] = ()) -> Artifact:
    """An Aave artifact (or one of ours from contracts/out) with `libraries` linked in.

    Linking writes each library's address over its placeholder at the offsets the artifact's
    linkReferences give; every other byte is the published bytecode.
    """
    data = json.loads(_artifact_path(name).read_text())
    code = data["bytecode"].removeprefix("0x")
    linked = dict(libraries)
    for refs in data.get("linkReferences", {}).values():
        for lib, spots in refs.items():
            if lib not in linked:
                raise ArtifactError(f"{name} needs library {lib} linked")
            for spot in spots:
                start = spot["start"] * 2
                code = code[:start] + linked[lib][2:].lower() + code[start + spot["length"] * 2 :]
    return Artifact(name, data["abi"], bytes.fromhex(code))
