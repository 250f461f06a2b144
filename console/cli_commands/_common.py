"""Helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import sys

from core.settings import Settings, SettingsError, load_settings, resolve_config_path


def add_config_arg(parser: argparse.ArgumentParser) -> None:
    """Let `--config` also follow the subcommand (`arbdesk scan --config x.toml`)."""
    parser.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="settings file")


def add_engine_args(parser: argparse.ArgumentParser, live_help: str) -> None:
    """The options of every command that runs the engine (`run`, `serve`)."""
    parser.add_argument("--auto", action="store_true", help="auto-execute opportunities")
    parser.add_argument("--seconds", type=float, default=None, help="stop after N seconds")
    parser.add_argument("--i-understand-live", action="store_true", help=live_help)


def settings_or_exit(args: argparse.Namespace) -> Settings | None:
    """Load settings; on failure print every problem to stderr and return None."""
    try:
        return load_settings(resolve_config_path(getattr(args, "config", None)))
    except SettingsError as exc:
        print(f"arbdesk: invalid settings in {exc.source}:", file=sys.stderr)
        for line in exc.problems:
            print(f"  {line}", file=sys.stderr)
        return None
