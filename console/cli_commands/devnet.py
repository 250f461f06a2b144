"""`arbdesk devnet up | down | status`: the local anvil devnet with the official Uniswap contracts.

`up` leaves anvil running in the background and writes the manifest that sim mode reads;
`down` stops exactly the anvil recorded in that manifest.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from console.cli_commands._common import add_config_arg, settings_or_exit


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("devnet", help="start, stop or inspect the local EVM devnet")
    add_config_arg(parser)
    parser.add_argument(
        "action", choices=("up", "down", "status"), help="up: start and deploy; down: stop"
    )
    parser.add_argument("--manifest", metavar="PATH", help="manifest file (default: settings)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = settings_or_exit(args)
    if settings is None:
        return 1
    path = (
        Path(args.manifest)
        if args.manifest
        else settings.resolve_path(settings.chain.manifest_path)
    )
    if args.action == "up":
        return _up(path, settings.chain.anvil_block_time_s)
    if args.action == "down":
        return _down(path)
    return _status(path)


def _running(path: Path) -> tuple[object, int] | None:
    """(manifest, pid) if the manifest exists and its anvil is alive."""
    from core.chain.manifest import Manifest
    from core.deploy.devnet import is_anvil_pid

    if not path.is_file():
        return None
    manifest = Manifest.load(path)
    if manifest.anvil_pid and is_anvil_pid(manifest.anvil_pid):
        return manifest, manifest.anvil_pid
    return None


def _up(path: Path, block_time_s: float) -> int:
    from core.chain.artifacts import ArtifactError
    from core.deploy.common import DevnetError
    from core.deploy.devnet import Devnet

    running = _running(path)
    if running:
        print(f"devnet already running (pid {running[1]}); manifest {path}")
        return 0
    started = time.monotonic()
    try:
        devnet = Devnet.start(
            block_time_s=block_time_s,
            manifest_path=path,
            detached=True,
            log_path=path.parent / "anvil.log" if _mkdir(path.parent) else None,
        )
    except (ArtifactError, DevnetError) as exc:
        print(f"arbdesk: devnet up failed: {exc}", file=sys.stderr)
        return 1
    took = time.monotonic() - started
    devnet.process = None  # detached: this command must not stop it on exit
    print(f"devnet up in {took:.1f} s: {devnet.rpc_url} (pid {devnet.manifest.anvil_pid})")
    print(f"manifest: {path}")
    return 0


def _mkdir(folder: Path) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    return True


def _down(path: Path) -> int:
    from core.chain.manifest import Manifest
    from core.deploy.devnet import stop_pid

    if not path.is_file():
        print(f"no devnet manifest at {path}; nothing to stop")
        return 0
    pid = Manifest.load(path).anvil_pid
    stopped = bool(pid) and stop_pid(pid or 0)
    path.unlink()
    print(f"devnet stopped (pid {pid})" if stopped else f"devnet was not running; removed {path}")
    return 0


def _status(path: Path) -> int:
    from web3 import HTTPProvider, Web3

    from core.chain.manifest import Manifest

    if not path.is_file():
        print(f"devnet: down (no manifest at {path})")
        return 1
    manifest = Manifest.load(path)
    if _running(path) is None:
        print(f"devnet: down (pid {manifest.anvil_pid} is gone); stale manifest {path}")
        return 1
    w3 = Web3(HTTPProvider(manifest.rpc_url, request_kwargs={"timeout": 3}))
    try:
        block, chain_id = w3.eth.block_number, w3.eth.chain_id
    except Exception as exc:  # noqa: BLE001 - any transport error means "not answering"
        print(f"devnet: pid {manifest.anvil_pid} alive but {manifest.rpc_url} not answering: {exc}")
        return 1
    print(f"devnet: up  rpc {manifest.rpc_url}  chain id {chain_id}  block {block}")
    print(f"pid {manifest.anvil_pid}  deployer {manifest.deployer}  manifest {path}")
    print("tokens:")
    for token in manifest.tokens.values():
        print(f"  {token.symbol:<6} {token.address}  decimals {token.decimals}")
    for ex in manifest.v2.values():
        print(f"{ex.name}: factory {ex.factory}  router {ex.router}  fee {ex.fee_bps} bps")
        for pair in ex.pairs:
            print(f"  {pair.symbol:<10} {pair.address}")
    v3 = manifest.v3
    print(f"uniswap_v3: factory {v3.factory}")
    print(f"  swap router {v3.swap_router}  quoter v2 {v3.quoter_v2}")
    print(f"  position manager {v3.position_manager}")
    for pool in v3.pools:
        print(f"  {pool.symbol:<10} fee {pool.fee:<5} {pool.address}")
    return 0
