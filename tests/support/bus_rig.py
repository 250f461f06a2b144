"""Collectors as real processes (`arbdesk collect` on the sim market) around a loopback
nats-server, and the settings file they and the test's engine share."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from core.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
VENUES = ("simex", "simbit")
SYMBOLS = ("BTC/USDT", "ETH/USDT", "ETH/BTC")


def write_settings(folder: Path, *, heartbeat_s: float = 0.2, timeout_s: float = 1.0) -> Path:
    """Two sim venues, sped up, with frequent dislocations: opportunities within seconds."""
    venues = "".join(
        f'[[venues]]\nname = "{name}"\nkind = "sim"\ntaker_fee_bps = {fee}\n'
        f"symbols = {list(SYMBOLS)!r}\n\n".replace("'", '"')
        for name, fee in zip(VENUES, (10.0, 7.5), strict=True)
    )
    path = folder / "settings.toml"
    path.write_text(
        'mode = "sim"\n\n'
        "[sim]\nspeed = 5.0\ndislocation_rate_per_min = 40.0\n\n"
        "[chain]\nenabled = false\n\n"
        f"[bus]\nheartbeat_s = {heartbeat_s}\nheartbeat_timeout_s = {timeout_s}\n"
        "snapshot_every = 200\n\n"
        f'[journal]\npath = "{folder / "journal.sqlite3"}"\n\n'
        f'[logging]\npath = "{folder / "arbdesk.log"}"\n\n' + venues,
        encoding="utf-8",
    )
    return path


def engine_settings(config: Path, url: str) -> Settings:
    settings = load_settings(config)
    settings.feeds.source = "nats"
    settings.bus.url = url
    return settings


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBDESK_")}
    env["PYTHONPATH"] = str(REPO)
    return env


class Collector:
    """One `arbdesk collect` process; output kept in a file (a full pipe would stall it)."""

    def __init__(self, config: Path, url: str, venues: str, name: str) -> None:
        self.name = name
        self.out_path = config.parent / f"collect-{name}.out"
        self._out = self.out_path.open("a+", encoding="utf-8")
        self.process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [
                sys.executable,
                "-m",
                "console.cli",
                "--config",
                str(config),
                "collect",
                "--venues",
                venues,
                "--nats",
                url,
                "--name",
                name,
            ],
            cwd=config.parent,
            env=_env(),
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.out_path.read_text(encoding="utf-8")

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while "arbdesk collector" not in self.output():
            if self.process.poll() is not None:
                raise AssertionError(f"collector {self.name} exited: {self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"collector {self.name} not ready: {self.output()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """As a crash would: no goodbye, no flush."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._out.close()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._out.close()
        return self.process.returncode


async def until(what: Callable[[], object], timeout_s: float = 20.0, what_for: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not what():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what_for or what}")
        await asyncio.sleep(0.05)
