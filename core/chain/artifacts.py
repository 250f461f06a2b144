"""Official contract artifacts (ABI + creation bytecode) from node_modules, and our own from
contracts/out. Bytecode is used exactly as published: nothing is recompiled or patched."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES_ENV = "ARBDESK_NODE_MODULES"

_V3_CORE = "@uniswap/v3-core/artifacts/contracts/"
_V3_PERIPHERY = "@uniswap/v3-periphery/artifacts/contracts/"

# Our name -> path under node_modules (or under contracts/out for our own contracts).
_OFFICIAL = {
    "WETH9": "@uniswap/v2-periphery/build/WETH9.json",
    "UniswapV2Factory": "@uniswap/v2-core/build/UniswapV2Factory.json",
    "UniswapV2Pair": "@uniswap/v2-core/build/UniswapV2Pair.json",
    "UniswapV2Router02": "@uniswap/v2-periphery/build/UniswapV2Router02.json",
    "UniswapV3Factory": _V3_CORE + "UniswapV3Factory.sol/UniswapV3Factory.json",
    "UniswapV3Pool": _V3_CORE + "UniswapV3Pool.sol/UniswapV3Pool.json",
    "SwapRouter": _V3_PERIPHERY + "SwapRouter.sol/SwapRouter.json",
    "QuoterV2": _V3_PERIPHERY + "lens/QuoterV2.sol/QuoterV2.json",
    "NonfungiblePositionManager": (
        _V3_PERIPHERY + "NonfungiblePositionManager.sol/NonfungiblePositionManager.json"
    ),
}
_OWN = {"TestERC20", "FlashArbitrage"}

# UniswapV2Library.pairFor and PoolAddress.computeAddress hard-code these; the published
# pair / pool bytecode must hash to them or the routers would address the wrong contracts.
V2_PAIR_INIT_CODE_HASH = "96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f"
V3_POOL_INIT_CODE_HASH = "e34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54"


class ArtifactError(RuntimeError):
    """A needed artifact or binary is missing; the message says how to install it."""


@dataclass(frozen=True, slots=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes
    """Creation bytecode, unchanged from the published artifact."""


def node_modules_dir() -> Path:
    """node_modules of the repo (or $ARBDESK_NODE_MODULES)."""
    return Path(os.environ.get(NODE_MODULES_ENV) or REPO_ROOT / "node_modules")


def contracts_out_dir() -> Path:
    return REPO_ROOT / "contracts" / "out"


@cache
def load(name: str) -> Artifact:
    """The artifact called `name` (see _OFFICIAL and _OWN)."""
    if name in _OFFICIAL:
        path = node_modules_dir() / _OFFICIAL[name]
    elif name in _OWN:
        path = contracts_out_dir() / f"{name}.json"
    else:
        raise ArtifactError(f"unknown artifact {name!r}")
    if not path.is_file():
        raise ArtifactError(f"{path} is missing: run `make setup` (npm ci) first")
    data = json.loads(path.read_text())
    code = data["bytecode"]
    code = code["object"] if isinstance(code, dict) else code
    return Artifact(name, data["abi"], bytes.fromhex(code.removeprefix("0x")))


def anvil_binary() -> Path:
    """The anvil executable shipped by @foundry-rs/anvil's platform package."""
    system = {"linux": "linux", "darwin": "darwin", "win32": "win32"}.get(sys.platform)
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine)
    if system is None or arch is None:
        raise ArtifactError(f"no anvil build for {sys.platform}/{machine}")
    exe = "anvil.exe" if system == "win32" else "anvil"
    path = node_modules_dir() / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / exe
    if not path.is_file():
        raise ArtifactError(f"{path} is missing: run `make setup` (npm ci) first")
    return path
