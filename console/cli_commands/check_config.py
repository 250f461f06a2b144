"""`arbdesk check-config`: print the effective settings, or every error, and exit non-zero."""

from __future__ import annotations

import argparse
import json

from console.cli_commands._common import add_config_arg, settings_or_exit


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("check-config", help="validate settings and print them")
    add_config_arg(parser)
    parser.add_argument("--json", action="store_true", help="print the settings as JSON")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = settings_or_exit(args)
    if settings is None:
        return 1
    data = settings.model_dump(mode="json")
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    source = settings.toml_path or "built-in defaults"
    print(f"# effective settings (from {source}, with ARBDESK_* overrides)")
    _print_flat(data, "")
    return 0


def _print_flat(value: object, prefix: str) -> None:
    if isinstance(value, dict) and value and prefix.count(".") < 3:
        for key, item in value.items():
            _print_flat(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, item in enumerate(value):
            _print_flat(item, f"{prefix}[{i}]")
    else:
        print(f"{prefix} = {json.dumps(value)}")
