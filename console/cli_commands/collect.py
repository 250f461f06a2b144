"""`arbdesk collect`: run only the feeds and publish their books to NATS JetStream."""

from __future__ import annotations

import argparse
import asyncio
import sys

from console.cli_commands._common import add_config_arg, settings_or_exit, stop_event


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "collect", help="run the feeds only, publishing books to NATS JetStream"
    )
    add_config_arg(parser)
    parser.add_argument("--venues", help="comma-separated venue names (default: all configured)")
    parser.add_argument("--symbols", help="comma-separated symbols (default: each venue's own)")
    parser.add_argument("--nats", metavar="URL", help="NATS server (default: bus.url)")
    parser.add_argument("--name", help="collector name in heartbeats (default: its venues)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after N seconds")
    parser.set_defaults(handler=handle)


def _names(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def handle(args: argparse.Namespace) -> int:
    from core.feeds.collect import CollectError, plan_collector

    settings = settings_or_exit(args)
    if settings is None:
        return 1
    try:
        plan = plan_collector(settings, _names(args.venues), _names(args.symbols), args.name)
    except CollectError as exc:
        print(f"arbdesk collect: {exc}", file=sys.stderr)
        return 2
    from core.logsetup import setup_logging

    setup_logging(settings)
    return asyncio.run(collect(plan, args.nats or settings.bus.url, args.seconds))


async def collect(plan: object, url: str, seconds: float | None) -> int:
    from core.feeds.bus_nats import BusUnavailable
    from core.feeds.collect import CollectPlan, run_collector

    assert isinstance(plan, CollectPlan)
    stop = stop_event(seconds)

    def ready(line: str) -> None:
        print(f"arbdesk {line}", flush=True)

    try:
        stats = await run_collector(plan, url, stop=stop, on_ready=ready)
    except BusUnavailable as exc:
        print(f"arbdesk collect: {exc}", file=sys.stderr)
        return 1
    print(
        f"arbdesk collect: stopped; {stats.published} messages published,"
        f" {stats.dropped} dropped, {stats.snapshots_asked} snapshots asked",
        flush=True,
    )
    return 0
