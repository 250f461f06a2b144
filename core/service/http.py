"""The monitoring server (aiohttp on `service.http_host:http_port`): GET /health (JSON, 200
healthy / 503 not) and GET /metrics (Prometheus text format). Read-only: nothing here changes
the engine."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from core.service.health import health_report
from core.service.metrics import CONTENT_TYPE, EngineMetrics


class MonitorServer:
    def __init__(
        self, engine: Any, metrics: EngineMetrics, clock: Callable[[], float] = time.time
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.clock = clock
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self, host: str, port: int) -> str:
        """Listen; returns the base URL (port 0 in tests: the one the OS chose)."""
        app = web.Application()
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        bound = sockets[0].getsockname()[1] if sockets else port
        self.url = f"http://{host}:{bound}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _health(self, _request: web.Request) -> web.Response:
        report = health_report(self.engine, self.clock())
        return web.json_response(report.body, status=200 if report.healthy else 503)

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})
