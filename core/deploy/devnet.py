"""anvil process management: start on 127.0.0.1 on a free port, deploy, stop.

`Devnet.start()` is what the engine and tests use (a context manager, sync or async);
`arbdesk devnet up` uses `detached=True` so anvil outlives the command, and records its pid
in the manifest so `devnet down` stops exactly that process.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from web3 import HTTPProvider, Web3

from core.chain.artifacts import anvil_binary
from core.chain.manifest import DevAccount, Manifest
from core.deploy.common import CHAIN_ID, DevnetError

DEV_BALANCE_ETH = 10_000_000
START_TIMEOUT_S = 20.0


# Non-detached anvils still running; stopped at interpreter exit if nobody called stop().
_children: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _stop_children() -> None:
    for process in list(_children):
        _terminate(process)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (anvil binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Devnet:
    """A running anvil with the official Uniswap contracts deployed (see core.deploy.uniswap)."""

    def __init__(
        self,
        process: subprocess.Popen[bytes] | None,
        rpc_url: str,
        manifest: Manifest,
        manifest_path: Path | None,
    ) -> None:
        self.process = process
        self.rpc_url = rpc_url
        self.manifest = manifest
        self.manifest_path = manifest_path
        self.w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else self.manifest.anvil_pid

    @classmethod
    def start(
        cls,
        *,
        block_time_s: float = 0.0,
        manifest_path: Path | None = None,
        detached: bool = False,
        log_path: Path | None = None,
        deploy: bool = True,
    ) -> Devnet:
        """Start anvil and deploy everything; writes the manifest to `manifest_path` if given.

        block_time_s = 0 mines a block per transaction (instant); > 0 mines on that interval.
        """
        from core.deploy.uniswap import deploy_all

        process, rpc_url, accounts = _spawn_anvil(block_time_s, detached, log_path)
        try:
            w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 60}))
            if deploy:
                manifest = deploy_all(w3, rpc_url, accounts, anvil_pid=process.pid)
            else:
                manifest = Manifest.from_dict(_empty_manifest(rpc_url, accounts, process.pid))
            if manifest_path is not None:
                manifest.save(manifest_path)
        except BaseException:
            _terminate(process)
            raise
        if not detached:  # never outlive the interpreter, even if stop() is forgotten
            _children.add(process)
        return cls(process, rpc_url, manifest, manifest_path)

    @classmethod
    async def astart(cls, **kwargs: object) -> Devnet:
        """`start` off the event loop (deployment blocks for a few seconds)."""
        return await asyncio.to_thread(lambda: cls.start(**kwargs))  # type: ignore[arg-type]

    @classmethod
    def attach(cls, manifest_path: Path) -> Devnet:
        """A devnet already running (from `arbdesk devnet up`); `stop` leaves it running."""
        manifest = Manifest.load(manifest_path)
        if not (manifest.anvil_pid and is_anvil_pid(manifest.anvil_pid)):
            raise DevnetError(f"the devnet in {manifest_path} is not running")
        return cls(None, manifest.rpc_url, manifest, None)

    def stop(self) -> None:
        """Stop anvil and remove its manifest, if this object started it; else do nothing."""
        if self.process is None:
            return
        _terminate(self.process)
        self.process = None
        if self.manifest_path is not None and self.manifest_path.is_file():
            self.manifest_path.unlink()

    def __enter__(self) -> Devnet:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Devnet:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)


def _spawn_anvil(
    block_time_s: float, detached: bool, log_path: Path | None
) -> tuple[subprocess.Popen[bytes], str, list[DevAccount]]:
    binary = anvil_binary()
    last_error = ""
    for _ in range(3):  # the free port can be taken between probe and bind: retry
        port = free_port()
        with tempfile.TemporaryDirectory(prefix="arbdesk-anvil-") as tmp:
            config_out = Path(tmp) / "anvil.json"
            args: Sequence[str] = [
                str(binary),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--chain-id",
                str(CHAIN_ID),
                "--accounts",
                "10",
                "--balance",
                str(DEV_BALANCE_ETH),
                "--config-out",
                str(config_out),
                # Past its in-memory history anvil writes every old block's state to
                # ~/.foundry/anvil/tmp (~1.5 MB a block) and never removes it: a test run or an
                # afternoon of the sim left gigabytes there. Old states are dropped instead.
                "--max-persisted-states",
                "0",
                # Transactions enter blocks in arrival order, not by tip: the sim relay puts a
                # bundle at the head of its block by sending it first (core/feeds/sim/relay.py).
                "--order",
                "fifo",
            ]
            if block_time_s > 0:
                args = [*args, "--block-time", str(block_time_s)]
            log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
            try:
                process = subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT if log_path else subprocess.DEVNULL,
                    start_new_session=detached,  # survives the CLI that started it
                )
            finally:
                if log_path:
                    log.close()  # type: ignore[union-attr]
            rpc_url = f"http://127.0.0.1:{port}"
            if _wait_ready(process, rpc_url, config_out):
                return process, rpc_url, _read_accounts(config_out)
            last_error = f"anvil exited with {process.poll()}"
            _terminate(process)
    raise DevnetError(f"anvil did not start on 127.0.0.1: {last_error}")


def _wait_ready(process: subprocess.Popen[bytes], rpc_url: str, config_out: Path) -> bool:
    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 2}))
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if config_out.is_file() and w3.eth.chain_id == CHAIN_ID:
                return True
        except Exception:  # noqa: S110 - not listening yet; keep polling
            pass
        time.sleep(0.05)
    return False


def _read_accounts(config_out: Path) -> list[DevAccount]:
    data = json.loads(config_out.read_text())
    return [
        DevAccount(Web3.to_checksum_address(a), k)
        for a, k in zip(data["available_accounts"], data["private_keys"], strict=True)
    ]


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _empty_manifest(rpc_url: str, accounts: list[DevAccount], pid: int) -> dict[str, object]:
    return {
        "chain_id": CHAIN_ID,
        "rpc_url": rpc_url,
        "deployed_block": 0,
        "deployer": accounts[0].address,
        "weth": "",
        "tokens": {},
        "v2": {},
        "v3": {
            "factory": "",
            "swap_router": "",
            "quoter_v2": "",
            "position_manager": "",
            "pools": [],
        },
        "accounts": [{"address": a.address, "private_key": a.private_key} for a in accounts],
        "anvil_pid": pid,
    }


def is_anvil_pid(pid: int) -> bool:
    """True if `pid` is alive and is an anvil process (so `devnet down` never kills another)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.is_file():
        argv0 = cmdline.read_bytes().split(b"\0", 1)[0]
        return Path(argv0.decode(errors="replace")).name.startswith("anvil")
    return True  # no /proc (macOS): the pid from our own manifest is the best we have


def stop_pid(pid: int, timeout_s: float = 5.0) -> bool:
    """SIGTERM the anvil at `pid` and wait for it to go; False if it was not running."""
    if not is_anvil_pid(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # our own child (tests): reap it so it does not linger as a zombie
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return True
