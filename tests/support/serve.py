"""`arbdesk serve` as a real process on the sim market, for the attach tests: started on a
socket in the test's folder, waited for until it answers, stopped by the fixture."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.service.remote_door import NotServing, fetch_hello
from core.service.wire import Hello

REPO = Path(__file__).resolve().parents[2]


def serve_env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBDESK_")}
    env.update(
        PYTHONPATH=str(REPO),
        ARBDESK_SIM__SPEED="5",
        ARBDESK_CHAIN__ENABLED="false",
        ARBDESK_JOURNAL__PATH=str(folder / "journal.sqlite3"),
        ARBDESK_LOGGING__PATH=str(folder / "arbdesk.log"),
    )
    return env


class Served:
    """One `arbdesk serve` process."""

    def __init__(self, folder: Path, socket: Path, *args: str, http_port: int = 0) -> None:
        self.folder = folder
        self.socket = socket
        self.process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [
                sys.executable,
                "-m",
                "console.cli",
                "serve",
                "--socket",
                str(socket),
                "--http-port",
                str(http_port),
                *args,
            ],
            cwd=folder,
            env=serve_env(folder),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    async def ready(self, timeout_s: float = 30.0) -> Hello:
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                out, err = self.process.communicate()
                raise AssertionError(f"serve exited {self.process.returncode}: {out}{err}")
            try:
                return await fetch_hello(self.socket, 2.0)
            except NotServing:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 60.0) -> tuple[int, str, str]:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        out, err = self.process.communicate(timeout=timeout_s)
        return self.process.returncode, out, err

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


async def eventually(check: Callable[[], Any], what: str, timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
