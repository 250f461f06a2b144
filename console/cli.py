"""The `arbdesk` command: parses arguments and hands off to one subcommand module each.

Headless commands import only core; `run` (the default) imports the Textual console lazily,
so `arbdesk scan` or `arbdesk keys list` start fast and work without a terminal UI.
"""

from __future__ import annotations

import argparse
import importlib
import signal
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
)


# Long-running commands that hold network sockets (venues, the chain, consoles).
ENGINE_COMMANDS = frozenset({"run", "serve", "attach"})


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
    # `arbdesk scan --json | head` ends quietly. Never for the engine's own processes: with
    # SIGPIPE at its default, one write to a socket whose peer just left kills the process.
    if hasattr(signal, "SIGPIPE") and args.command not in ENGINE_COMMANDS:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    result: int = handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
