"""`arbdesk attach`: the console over an engine that `arbdesk serve` runs.

Quitting detaches; the engine keeps running. If the engine goes away the console says so and
reconnects by itself, picking up a restarted engine.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from console.cli_commands._common import add_config_arg, settings_or_exit
from console.cli_commands.serve import socket_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("attach", help="open the console on a served engine")
    add_config_arg(parser)
    parser.add_argument("--socket", metavar="PATH", help="unix socket (default: settings)")
    parser.add_argument("--seconds", type=float, default=None, help="detach after N seconds")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = settings_or_exit(args)
    if settings is None:
        return 1
    from loguru import logger

    from core.service.remote_door import NotServing, RemoteDoor, fetch_hello
    from core.service.wire import WireError

    # This process only draws: its few log lines must not land on the terminal under the UI.
    logger.remove()
    logging.basicConfig(handlers=[logging.NullHandler()], force=True)
    path = socket_path(settings, args.socket)
    try:
        hello = asyncio.run(fetch_hello(path))
    except (NotServing, WireError) as exc:
        print(f"arbdesk attach: {exc}", file=sys.stderr)
        print("  start one with `arbdesk serve` (or pass --socket PATH)", file=sys.stderr)
        return 1
    from console.app import run_console

    return run_console(RemoteDoor(path, hello), seconds=args.seconds)
