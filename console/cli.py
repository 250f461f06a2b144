"""The `arbdesk` command: parses arguments and hands off to one subcommand module each.

Headless commands import only core; `run` (the default) imports the Textual console lazily,
so `arbdesk scan` or `arbdesk keys list` start fast and work without a terminal UI.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# Each module in console/cli_commands registers its own subparser(s).
COMMAND_MODULES = (
    "run",
    "serve",
    "attach",
    "check_config",
    "scan",
    "history",
    "keys",
    "devnet",
    "collect",
    "record",
    "replay",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arbdesk",
        description="A terminal trading console for crypto arbitrage.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="settings file (default: $ARBDESK_CONFIG, else ./settings.toml, else built-in sim)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"console.cli_commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"console.cli_commands.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # bare `arbdesk` is `arbdesk run`
        args = parser.parse_args([*(argv or sys.argv[1:]), "run"])
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        result: int = handler(args)
    except BrokenPipeError:
        # `arbdesk scan --json | head` ends quietly. (SIGPIPE stays ignored: at its default, a
        # write to a socket whose peer just left would kill an engine, or a test process.)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return result


if __name__ == "__main__":
    sys.exit(main())
