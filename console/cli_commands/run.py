"""`arbdesk run` (also bare `arbdesk`): the console, or the engine headless with JSON events."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from typing import TextIO

from console.cli_commands._common import (
    add_config_arg,
    add_engine_args,
    bus_unreachable,
    settings_or_exit,
    stop_event,
)
from core.bus import Subscription
from core.events import BookUpdated
from core.serialize import event_to_dict
from core.settings import Mode, Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="open the console (default command)")
    add_config_arg(parser)
    parser.add_argument("--headless", action="store_true", help="no console: JSON events on stdout")
    add_engine_args(
        parser, "confirm live trading with real money (headless; the console asks instead)"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = settings_or_exit(args)
    if settings is None:
        return 1
    from core.logsetup import setup_logging

    setup_logging(settings)
    if args.auto:
        settings.execution.auto_execute = True
    if bus_unreachable(settings, "run"):
        return 1
    if args.headless:
        if settings.mode is Mode.LIVE and not args.i_understand_live:
            print(
                "arbdesk: mode is LIVE (real orders). Re-run with --i-understand-live to confirm.",
                file=sys.stderr,
            )
            return 2
        return asyncio.run(run_headless(settings, args.seconds, sys.stdout))
    from console.app import run_console
    from core.engine.engine import Engine
    from core.engine.local_door import LocalDoor

    engine = Engine(settings, passphrase_provider=_passphrase_provider(settings))
    door = LocalDoor(engine)
    return run_console(door, seconds=args.seconds, live_confirmed=args.i_understand_live)


async def run_headless(settings: Settings, seconds: float | None, out: TextIO) -> int:
    """Events as JSON lines until N seconds pass or SIGINT/SIGTERM/SIGHUP arrives.

    On a signal (an SSH session dropping sends SIGHUP) the engine takes no new trades, finishes
    or unwinds the legs in flight, flushes the journal, then exits.
    """
    from core.engine.engine import Engine

    engine = Engine(settings)
    stop = stop_event(seconds)
    # Book updates are too many for a line each; everything else is printed.
    sub = engine.bus.subscribe()
    await engine.start()
    printer = asyncio.create_task(_print_events(sub, out))
    try:
        await stop.wait()
    finally:
        await engine.stop()
        await asyncio.sleep(0)
        printer.cancel()
        for event in sub.drain():
            _write(event, out)
    return 0


async def _print_events(sub: Subscription, out: TextIO) -> None:
    while True:
        for event in await sub.next_batch():
            _write(event, out)


def _write(event: object, out: TextIO) -> None:
    if isinstance(event, BookUpdated):
        return
    out.write(json.dumps(event_to_dict(event), default=str) + "\n")
    out.flush()


def _passphrase_provider(settings: Settings) -> Callable[[bool], str | None] | None:
    """Ask for the cryptfile passphrase up front when the engine will need it."""
    import os

    from core.settings import KeyBackend, Mode

    keys = settings.keys
    if settings.mode is not Mode.LIVE or keys.backend is not KeyBackend.CRYPTFILE:
        return None
    if os.environ.get(keys.passphrase_env):
        return None  # the key store reads it from the environment itself
    from console.screens.passphrase import ask_passphrase

    path = settings.resolve_path(keys.cryptfile_path.expanduser())
    answer = ask_passphrase(path, new=not path.exists())
    return lambda _new: answer
