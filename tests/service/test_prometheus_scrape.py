"""A real Prometheus (Debian's `prometheus`, installed by .ci/run) on 127.0.0.1 scrapes an
`arbdesk serve` process's /metrics, and a series is read back through its HTTP API."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.deploy.devnet import free_port
from tests.support.serve import Served

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def prometheus_binary() -> str:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed (.ci/run installs Debian's package)")
    return binary


class Prometheus:
    def __init__(self, binary: str, target: str, workdir: Path) -> None:
        self.port = free_port()
        config = workdir / "prometheus.yml"
        config.write_text(
            "global:\n"
            "  scrape_interval: 1s\n"
            "scrape_configs:\n"
            "  - job_name: arbdesk\n"
            f"    static_configs: [{{targets: ['{target}']}}]\n"
        )
        self.process = subprocess.Popen(  # noqa: S603 - our own fixed arguments
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(workdir / "prometheus.log").open("wb"),
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def metrics_port() -> int:
    return free_port()


@pytest.fixture
def prometheus(prometheus_binary: str, metrics_port: int, tmp_path: Path) -> Iterator[Prometheus]:
    server = Prometheus(prometheus_binary, f"127.0.0.1:{metrics_port}", tmp_path)
    try:
        yield server
    finally:
        server.stop()


async def _query(url: str, expr: str) -> list[Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/api/v1/query", params={"query": expr}) as response,
    ):
        body = await response.json()
    assert body["status"] == "success", body
    result: list[Any] = body["data"]["result"]
    return result


async def test_prometheus_scrapes_serve_and_serves_its_series(
    prometheus: Prometheus, metrics_port: int, tmp_path: Path
) -> None:
    served = Served(tmp_path, tmp_path / "run" / "engine.sock", http_port=metrics_port)
    try:
        await served.ready()
        deadline = time.monotonic() + 60
        found: list[Any] = []
        while time.monotonic() < deadline:
            try:
                found = await _query(prometheus.url, "arbdesk_opportunities_total")
            except aiohttp.ClientError:
                found = []  # Prometheus still starting
            if any(float(f["value"][1]) > 0 for f in found):
                break
            await asyncio.sleep(0.5)
        assert any(float(f["value"][1]) > 0 for f in found), found
        (up,) = await _query(prometheus.url, 'up{job="arbdesk"}')
        assert up["value"][1] == "1"
        ages = await _query(prometheus.url, "arbdesk_feed_age_seconds")
        assert {a["metric"]["venue"] for a in ages} == {"simex", "simbit", "simkra"}
    finally:
        code, _out, err = served.stop()
    assert code == 0, err
