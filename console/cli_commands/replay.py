"""`arbdesk replay`: the engine (detector, risk, paper fills) over a recorded window, from the
JetStream stream (`--from/--to`) or a file (`replay FILE`); prints what it found and the PnL
it would have made. Nothing is sent anywhere: see core.replay."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from console.cli_commands._common import add_config_arg, parse_time, settings_or_exit


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay", help="run the engine over a recorded window (stream or file) and print PnL"
    )
    add_config_arg(parser)
    parser.add_argument("file", nargs="?", help="a recording (arbdesk record --to FILE)")
    parser.add_argument("--nats", metavar="URL", help="the stream's server (default: bus.url)")
    parser.add_argument("--from", dest="start", metavar="ISO", help="window start (UTC)")
    parser.add_argument("--to", dest="end", metavar="ISO", help="window end (UTC)")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--speed", metavar="Nx", help="N times the recorded pace (e.g. 10x)")
    pace.add_argument("--as-fast-as-possible", action="store_true", help="no pacing (the default)")
    parser.add_argument("--no-auto", action="store_true", help="detect only, trade nothing")
    parser.add_argument("--journal", metavar="PATH", help="keep the replay's journal here")
    parser.add_argument("--json", action="store_true", help="JSON lines: opportunities, summary")
    parser.set_defaults(handler=handle)


def parse_speed(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        speed = float(text.lower().removesuffix("x"))
    except ValueError:
        raise ValueError(f"--speed {text!r}: a number, optionally with x (10x)") from None
    if not speed > 0:
        raise ValueError(f"--speed {text!r} must be positive")
    return speed


def handle(args: argparse.Namespace) -> int:
    settings = settings_or_exit(argparse.Namespace(config=getattr(args, "config", None)))
    if settings is None:
        return 1
    try:
        speed = parse_speed(args.speed)
        start, end = parse_time(args.start), parse_time(args.end)
    except ValueError as exc:
        print(f"arbdesk replay: {exc}", file=sys.stderr)
        return 2
    if args.file is None and args.nats is None and settings.feeds.source != "nats":
        print(
            "arbdesk replay: give a recording FILE, or --nats URL (or feeds.source = 'nats')"
            " for the stream",
            file=sys.stderr,
        )
        return 2
    journal = Path(args.journal) if args.journal else None
    if journal is not None and journal.exists():
        print(f"arbdesk replay: {journal} exists; a replay writes a new journal", file=sys.stderr)
        return 2
    from core.logsetup import setup_logging

    setup_logging(settings)
    return asyncio.run(_replay(settings, args, speed, start, end, journal, sys.stdout, sys.stderr))


async def _replay(
    settings: Any,
    args: argparse.Namespace,
    speed: float | None,
    start: datetime | None,
    end: datetime | None,
    journal: Path | None,
    out: TextIO,
    err: TextIO,
) -> int:
    from core.feeds.bus_nats import BusUnavailable, connect, read_window, stream_window
    from core.feeds.recording import RecordingError, read_header, read_recording
    from core.replay import replay

    printer = _Printer(out, args.json)
    nc = None
    try:
        if args.file is not None:
            path = Path(args.file)
            tag = read_header(path).tag
            source = str(path)
            messages: Any = read_recording(
                path,
                start=start.timestamp() if start else None,
                end=end.timestamp() if end else None,
            )
        else:
            url = args.nats or settings.bus.url
            nc = await connect(url, "arbdesk-replay")
            js = nc.jetstream()
            stream = settings.bus.stream
            tag = (await stream_window(js, stream)).tag
            source = f"{stream} on {url}"
            messages = read_window(js, stream, start=start, end=end)
        report = await replay(
            settings,
            messages,
            tag=tag,
            speed=speed,
            auto=not args.no_auto,
            journal_path=journal,
            on_opportunity=printer.opportunity,
        )
    except (RecordingError, BusUnavailable) as exc:
        print(f"arbdesk replay: {exc}", file=err)
        return 1
    finally:
        if nc is not None:
            await nc.close()
    printer.summary(source, report)
    return 0


class _Printer:
    def __init__(self, out: TextIO, as_json: bool) -> None:
        self.out = out
        self.as_json = as_json

    def opportunity(self, opportunity: Any) -> None:
        if self.as_json:
            self.out.write(json.dumps(opportunity.to_json_dict()) + "\n")

    def summary(self, source: str, report: Any) -> None:
        from core.serialize import iso_utc

        kinds = {r.key: r for r in report.by_kind()}
        if self.as_json:
            summary = {
                "kind": "summary",
                "source": source,
                "messages": report.messages,
                "from": iso_utc(report.first_at) if report.messages else None,
                "to": iso_utc(report.last_at) if report.messages else None,
                "market_s": report.market_s,
                "wall_s": report.wall_s,
                "speedup": report.speedup,
                "book_updates": report.book_updates,
                "gaps": report.gaps,
                "dropped": report.dropped,
                "opportunities": len(report.opportunities),
                "executed": sum(r.executed for r in kinds.values()),
                "successful": sum(r.successful for r in kinds.values()),
                "failed": sum(r.failed for r in kinds.values()),
                "pnl_usd": str(report.pnl_usd),
                "fees_usd": str(report.fees_usd),
            }
            self.out.write(json.dumps(summary) + "\n")
            return
        w = self.out.write
        if not report.messages:
            w(f"replay of {source}: no messages in that window\n")
            return
        w(
            f"replay of {source}: {report.messages:,} messages,"
            f" {iso_utc(report.first_at)} to {iso_utc(report.last_at)}"
            f" ({_duration(report.market_s)} of market) in {report.wall_s:.1f} s:"
            f" {report.speedup:,.0f}x real time\n"
        )
        w(
            f"  book updates {report.book_updates:,} · gaps {report.gaps}"
            f" · dropped {report.dropped}\n"
        )
        found: dict[str, int] = {}
        for opportunity in report.opportunities:
            found[opportunity.kind] = found.get(opportunity.kind, 0) + 1
        detail = ", ".join(f"{k} {n}" for k, n in sorted(found.items()))
        w(f"  opportunities {len(report.opportunities)}" + (f" ({detail})" if detail else ""))
        w("\n")
        for key, r in sorted(kinds.items()):
            rate = f"{r.success_rate:.0%}" if r.success_rate is not None else "-"
            w(
                f"  {key:<12} executed {r.executed:>4}  ok {r.successful:>4}  failed"
                f" {r.failed:>3}  success {rate:>4}  volume {r.volume_usd:>12,.2f} USD"
                f"  fees {r.fees_usd:>9,.2f} USD  PnL {r.profit_usd:>+10,.2f} USD\n"
            )
        w(
            f"  PnL it would have made: {report.pnl_usd:+,.2f} USD, net of"
            f" {report.fees_usd:,.2f} USD fees (paper fills on the replayed books)\n"
        )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"
