"""Helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from datetime import UTC, datetime

from core.settings import Settings, SettingsError, load_settings, resolve_config_path


def add_config_arg(parser: argparse.ArgumentParser) -> None:
    """Let `--config` also follow the subcommand (`arbdesk scan --config x.toml`)."""
    parser.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="settings file")


def add_engine_args(parser: argparse.ArgumentParser, live_help: str) -> None:
    """The options of every command that runs the engine (`run`, `serve`)."""
    parser.add_argument("--auto", action="store_true", help="auto-execute opportunities")
    parser.add_argument("--seconds", type=float, default=None, help="stop after N seconds")
    parser.add_argument("--i-understand-live", action="store_true", help=live_help)
    add_nats_arg(parser)


def add_nats_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nats",
        metavar="URL",
        help="books from collectors on this NATS server (feeds.source = nats), not local feeds",
    )


def settings_or_exit(args: argparse.Namespace) -> Settings | None:
    """Load settings (with `--nats URL` applied); on failure print every problem to stderr
    and return None."""
    try:
        settings = load_settings(resolve_config_path(getattr(args, "config", None)))
        nats_url = getattr(args, "nats", None)
        if nats_url:
            settings.feeds.source = "nats"
            settings.bus.url = nats_url
        return settings
    except SettingsError as exc:
        print(f"arbdesk: invalid settings in {exc.source}:", file=sys.stderr)
        for line in exc.problems:
            print(f"  {line}", file=sys.stderr)
        return None


def parse_time(text: str | None) -> datetime | None:
    """An ISO-8601 time for --from / --to; without a zone it is UTC."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO-8601 time (e.g. 2026-12-07T14:00:00Z)") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def bus_unreachable(settings: Settings, command: str) -> bool:
    """With feeds.source = "nats": say so on stderr (and return True) if the server cannot be
    reached, before a console opens on books that would never come."""
    if settings.feeds.source != "nats":
        return False
    from core.feeds.bus_nats import probe

    problem = asyncio.run(probe(settings.bus.url))
    if problem:
        print(f"arbdesk {command}: {problem}", file=sys.stderr)
    return bool(problem)


def stop_event(seconds: float | None) -> asyncio.Event:
    """Set on SIGINT, SIGTERM or SIGHUP (an SSH session dropping), or after `seconds`: how
    every long-running command learns to stop the orderly way. Call inside the loop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    if seconds is not None:
        loop.call_later(seconds, stop.set)
    return stop
