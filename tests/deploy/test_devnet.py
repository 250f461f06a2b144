"""The devnet lifecycle: Python API (sync and async) and `arbdesk devnet up | status | down`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_utils import keccak
from web3 import HTTPProvider, Web3

from core.chain.artifacts import V2_PAIR_INIT_CODE_HASH, V3_POOL_INIT_CODE_HASH, load
from core.chain.manifest import Manifest
from core.deploy.devnet import Devnet, is_anvil_pid

pytestmark = pytest.mark.devnet
REPO = Path(__file__).resolve().parents[2]


def test_official_bytecode_hashes_match_the_periphery_constants() -> None:
    """The routers compute pair/pool addresses from these hashes; the published creation
    code we deploy must hash to exactly them (it is used unchanged)."""
    try:
        pair, pool = load("UniswapV2Pair"), load("UniswapV3Pool")
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"node_modules missing: {exc}")
    assert keccak(pair.bytecode).hex() == V2_PAIR_INIT_CODE_HASH
    assert keccak(pool.bytecode).hex() == V3_POOL_INIT_CODE_HASH


def test_manifest_describes_a_live_deployment(devnet: Devnet) -> None:
    m = devnet.manifest
    assert devnet.rpc_url.startswith("http://127.0.0.1:")
    assert {"WETH", "USDC", "USDT", "WBTC", "LINK"} <= set(m.tokens)
    assert (m.token("USDC").decimals, m.token("WBTC").decimals) == (6, 8)
    assert set(m.v2) == {"uniswap_v2", "sushiswap"}
    assert {p.fee for p in m.v3.pools} == {500, 3000, 10000}
    # Enough pools for three- and four-hop cycles across two V2 DEXes and the V3 tiers.
    assert sum(len(d.pairs) for d in m.v2.values()) + len(m.v3.pools) >= 30
    assert len(m.accounts) == 10 and m.accounts[0].address == m.deployer
    w3 = devnet.w3
    addresses = [m.weth, m.v3.factory, m.v3.quoter_v2, m.v3.swap_router, m.v3.position_manager]
    addresses += [p.address for d in m.v2.values() for p in d.pairs] + [
        p.address for p in m.v3.pools
    ]
    for address in addresses:
        assert len(w3.eth.get_code(address)) > 0, address
    # the manifest survives a JSON round trip unchanged
    assert Manifest.from_dict(__import__("json").loads(m.to_json())) == m


def test_context_manager_stops_anvil(tmp_path: Path) -> None:
    manifest = tmp_path / "m.json"
    with Devnet.start(manifest_path=manifest, deploy=False) as net:
        pid = net.pid
        assert pid and is_anvil_pid(pid) and manifest.is_file()
        assert net.w3.eth.chain_id == 31337
    assert not is_anvil_pid(pid) and not manifest.exists()


async def test_async_start_and_stop() -> None:
    net = await Devnet.astart(deploy=False)
    async with net:
        assert net.w3.eth.block_number >= 0
        pid = net.pid
    assert pid is not None and not is_anvil_pid(pid)


def _arbdesk(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ARBDESK_CONFIG": ""}
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_up_status_down(tmp_path: Path) -> None:
    manifest = tmp_path / "devnet" / "manifest.json"
    m = str(manifest)
    assert _arbdesk("devnet", "status", "--manifest", m).returncode == 1
    up = _arbdesk("devnet", "up", "--manifest", m)
    try:
        assert up.returncode == 0, up.stderr
        loaded = Manifest.load(manifest)
        assert loaded.anvil_pid and is_anvil_pid(loaded.anvil_pid)  # outlived the command
        status = _arbdesk("devnet", "status", "--manifest", m)
        assert status.returncode == 0, status.stderr
        assert loaded.rpc_url in status.stdout and "chain id 31337" in status.stdout
        assert loaded.v3.quoter_v2 in status.stdout
        w3 = Web3(HTTPProvider(loaded.rpc_url))
        assert w3.eth.get_code(loaded.v3.factory)
        attached = Devnet.attach(manifest)
        assert attached.w3.eth.chain_id == 31337
        attached.stop()  # not ours: must leave anvil and the manifest alone
        assert is_anvil_pid(loaded.anvil_pid) and manifest.is_file()
    finally:
        down = _arbdesk("devnet", "down", "--manifest", m)
    assert down.returncode == 0 and "stopped" in down.stdout
    assert not is_anvil_pid(loaded.anvil_pid) and not manifest.exists()
