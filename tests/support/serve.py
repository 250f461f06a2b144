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
        # Files, not pipes: nobody reads them while it runs, and a full pipe would stall it.
        self._out = (folder / "serve.out").open("w+", encoding="utf-8")
        self._err = (folder / "serve.err").open("w+", encoding="utf-8")
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
            stdout=self._out,
            stderr=self._err,
        )

    async def ready(self, timeout_s: float = 30.0) -> Hello:
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                _code, out, err = self.output()
                raise AssertionError(f"serve exited {self.process.returncode}: {out}{err}")
            try:
                return await fetch_hello(self.socket, 2.0)
            except NotServing:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    def wait(self, timeout_s: float = 60.0) -> tuple[int, str, str]:
        """Wait for it to exit by itself."""
        self.process.wait(timeout=timeout_s)
        return self.output()

    def output(self) -> tuple[int, str, str]:
        self._out.seek(0)
        self._err.seek(0)
        return self.process.returncode, self._out.read(), self._err.read()

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 60.0) -> tuple[int, str, str]:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.wait(timeout_s)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._out.close()
        self._err.close()


async def eventually(check: Callable[[], Any], what: str, timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
