"""`arbdesk serve`: the engine with no console, in the foreground (for systemd or tmux).

Consoles attach over a private unix socket (`arbdesk attach`) and may come and go; the engine
keeps trading, watching and guarding until SIGINT / SIGTERM, then stops the orderly way (no
new trades, legs in flight finished or unwound, journal flushed). Health and metrics are
served on loopback HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TextIO

from console.cli_commands._common import (
    add_config_arg,
    add_engine_args,
    bus_unreachable,
    settings_or_exit,
    stop_event,
)
from core.settings import Mode, Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="run the engine headless; consoles attach")
    add_config_arg(parser)
    parser.add_argument("--socket", metavar="PATH", help="unix socket (default: settings)")
    parser.add_argument("--http-port", type=int, metavar="N", help="health/metrics port (0 = off)")
    add_engine_args(parser, "confirm live trading with real money (there is no console to ask)")
    parser.set_defaults(handler=handle)


def socket_path(settings: Settings, given: str | None) -> Path:
    from core.service.door_server import default_socket_path

    chosen = given or settings.service.socket_path
    return Path(chosen).expanduser() if chosen else default_socket_path()


def handle(args: argparse.Namespace) -> int:
    settings = settings_or_exit(args)
    if settings is None:
        return 1
    if settings.mode is Mode.LIVE and not args.i_understand_live:
        print(
            "arbdesk serve: mode is LIVE (real orders). Re-run with --i-understand-live.",
            file=sys.stderr,
        )
        return 2
    if args.auto:
        settings.execution.auto_execute = True
    if bus_unreachable(settings, "serve"):
        return 1
    service = settings.service
    port = (
        args.http_port
        if args.http_port is not None
        else (service.http_port or service.serve_http_port)
    )
    from core.logsetup import setup_logging

    log_path = setup_logging(settings)
    path = socket_path(settings, args.socket)
    return asyncio.run(serve(settings, path, port, args.seconds, sys.stdout, log_path))


async def serve(
    settings: Settings,
    path: Path,
    http_port: int,
    seconds: float | None,
    out: TextIO,
    log_path: Path | None = None,
) -> int:
    from core.engine.engine import Engine
    from core.engine.local_door import LocalDoor
    from core.service.door_server import AlreadyServing, DoorServer

    settings.service.http_port = 0  # the engine's own start must not open it a second time
    engine = Engine(settings)
    server = DoorServer(LocalDoor(engine), path)
    try:
        await server.start()  # first: a second serve must refuse before touching the journal
    except (AlreadyServing, PermissionError) as exc:
        print(f"arbdesk serve: {exc}", file=sys.stderr)
        return 1
    stop = stop_event(seconds)
    _say(
        out,
        f"arbdesk serve: engine door on unix:{path} (pid {server.pid}); "
        "attach with `arbdesk attach`",
    )
    code = 0
    try:
        await engine.start()
        if http_port:
            try:
                url = await engine.start_monitor(settings.service.http_host, http_port)
                _say(out, f"arbdesk serve: health {url}/health, metrics {url}/metrics")
            except OSError as exc:
                print(
                    f"arbdesk serve: cannot serve HTTP on port {http_port}: {exc}", file=sys.stderr
                )
                code = 1
                stop.set()
        if log_path is not None:
            _say(out, f"arbdesk serve: mode {settings.mode.value}; log {log_path}")
        await stop.wait()
    finally:
        _say(out, "arbdesk serve: stopping (finishing trades in flight)")
        await server.stop()
        await engine.stop()
        _say(out, "arbdesk serve: stopped")
    return code


def _say(out: TextIO, line: str) -> None:
    out.write(line + "\n")
    out.flush()
