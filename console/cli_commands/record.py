"""`arbdesk record --to FILE`: a recording file, from this process's own feeds (no NATS
needed) or, with `--nats URL`, copied from a window of the JetStream stream."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path

from console.cli_commands._common import add_config_arg, parse_time, settings_or_exit, stop_event


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "record", help="record books to a file (gzip JSON lines) for `arbdesk replay FILE`"
    )
    add_config_arg(parser)
    parser.add_argument("--to", dest="path", required=True, metavar="FILE", help="output file")
    parser.add_argument("--seconds", type=float, default=None, help="stop after N seconds")
    parser.add_argument("--venues", help="comma-separated venue names (default: all)")
    parser.add_argument("--symbols", help="comma-separated symbols (default: each venue's)")
    parser.add_argument("--nats", metavar="URL", help="copy the stream on this server instead")
    parser.add_argument("--from", dest="start", metavar="ISO", help="with --nats: window start")
    parser.add_argument("--until", dest="end", metavar="ISO", help="with --nats: window end")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from core.feeds.collect import CollectError, plan_collector

    settings = settings_or_exit(argparse.Namespace(config=getattr(args, "config", None)))
    if settings is None:
        return 1
    path = Path(args.path)
    if path.exists():
        print(f"arbdesk record: {path} exists; not overwriting it", file=sys.stderr)
        return 2
    from core.logsetup import setup_logging

    setup_logging(settings)
    if args.nats:
        try:
            start, end = parse_time(args.start), parse_time(args.end)
        except ValueError as exc:
            print(f"arbdesk record: {exc}", file=sys.stderr)
            return 2
        return asyncio.run(_copy(args.nats, settings.bus.stream, path, start, end))
    if args.start or args.end:
        print("arbdesk record: --from/--until need --nats (a stream to copy)", file=sys.stderr)
        return 2
    names = [v.strip() for v in args.venues.split(",")] if args.venues else None
    symbols = [s.strip() for s in args.symbols.split(",")] if args.symbols else None
    try:
        plan = plan_collector(settings, names, symbols, "record")
    except CollectError as exc:
        print(f"arbdesk record: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_record(plan, path, args.seconds))


async def _record(plan: object, path: Path, seconds: float | None) -> int:
    from core.feeds.collect import CollectPlan
    from core.feeds.recorder import record_feeds

    assert isinstance(plan, CollectPlan)
    stop = stop_event(seconds)
    _stats, count = await record_feeds(
        plan, path, stop=stop, on_ready=lambda line: print(f"arbdesk record: {line}", flush=True)
    )
    print(f"arbdesk record: {count} messages in {path}", flush=True)
    return 0


async def _copy(
    url: str, stream: str, path: Path, start: datetime | None, end: datetime | None
) -> int:
    from core.feeds.bus_nats import BusUnavailable
    from core.feeds.recorder import copy_stream

    try:
        count = await copy_stream(url, stream, path, start=start, end=end)
    except BusUnavailable as exc:
        print(f"arbdesk record: {exc}", file=sys.stderr)
        return 1
    print(f"arbdesk record: {count} messages from {stream} in {path}", flush=True)
    return 0
