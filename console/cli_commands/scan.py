"""`arbdesk scan`: run the feeds and the detector headless and print what they find."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TextIO

from console.cli_commands._common import (
    add_config_arg,
    add_nats_arg,
    bus_unreachable,
    settings_or_exit,
)
from core.detect.liquidations import LiquidationOpportunity
from core.detect.opportunity import Opportunity
from core.events import FeedHealthChanged, FeedMessageDropped, OpportunityFound, VenueProblem
from core.serialize import iso_utc
from core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scan", help="detect opportunities headless for N seconds (embedded market by default)"
    )
    add_config_arg(parser)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to scan (30)")
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per opportunity per line"
    )
    add_nats_arg(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = settings_or_exit(args)
    if settings is None:
        return 1
    if args.seconds <= 0:
        print("arbdesk scan: --seconds must be positive", file=sys.stderr)
        return 2
    if bus_unreachable(settings, "scan"):
        return 1
    from core.logsetup import setup_logging

    setup_logging(settings)
    return asyncio.run(scan(settings, args.seconds, args.json, sys.stdout, sys.stderr))


async def scan(settings: Settings, seconds: float, as_json: bool, out: TextIO, err: TextIO) -> int:
    from core.engine.engine import Engine

    engine = Engine(settings)
    sub = engine.bus.subscribe(
        OpportunityFound, VenueProblem, FeedHealthChanged, FeedMessageDropped
    )
    printer = _JsonPrinter(out) if as_json else _TablePrinter(out)
    await engine.start(trading=False)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        while (left := deadline - loop.time()) > 0:
            for event in await sub.next_batch(max_wait_s=left):
                if isinstance(event, OpportunityFound):
                    if not event.refreshed:
                        printer.opportunity(event.opportunity)
                elif isinstance(event, VenueProblem):
                    print(f"arbdesk scan: {event.venue}: {event.message}", file=err)
                elif isinstance(event, FeedMessageDropped):
                    print(
                        f"arbdesk scan: {event.venue} {event.symbol}: dropped a message"
                        f" ({event.reason}); {event.dropped_total} so far",
                        file=err,
                    )
    finally:
        await engine.stop()
    printer.summary(engine.counters)
    return 0


class _JsonPrinter:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def opportunity(self, opp: Opportunity | LiquidationOpportunity) -> None:
        self.out.write(json.dumps(opp.to_json_dict()) + "\n")
        self.out.flush()

    def summary(self, counters: dict[str, int]) -> None:
        return None  # JSON output stays one object per opportunity per line


class _TablePrinter:
    HEADER = (
        f"{'detected (UTC)':<24} {'symbol':<10} {'buy @':<8} {'sell @':<8} {'size':>12}"
        f" {'buy vwap':>12} {'sell vwap':>12} {'net':>12} {'net bps':>8} {'net USD':>9}"
    )

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.count = 0

    def opportunity(self, opp: Opportunity | LiquidationOpportunity) -> None:
        if isinstance(opp, LiquidationOpportunity):
            self.count += 1
            p = opp.plan
            route = p.swap.pool.venue if p.swap else "no swap route"
            self.out.write(
                f"{iso_utc(opp.detected_at):<24} LIQUIDATION {opp.user} HF {opp.health_factor:.4f}"
                f" repay {p.debt_symbol} for {p.collateral_symbol} via {route}:"
                f" net {float(p.net_profit_usd):.2f} USD\n"
            )
            self.out.flush()
            return
        if self.count % 20 == 0:
            self.out.write(self.HEADER + "\n")
        self.count += 1
        self.out.write(
            f"{iso_utc(opp.detected_at):<24} {opp.symbol:<10} {opp.buy_venue:<8}"
            f" {opp.sell_venue:<8} {opp.size:>12.6g} {opp.buy_vwap:>12.6g} {opp.sell_vwap:>12.6g}"
            f" {opp.net_profit:>12.6g} {opp.net_bps:>8.2f} {opp.net_profit_usd:>9.2f}\n"
        )
        self.out.flush()

    def summary(self, counters: dict[str, int]) -> None:
        self.out.write(
            f"-- {self.count} opportunities from {counters['book_updates']} book updates\n"
        )
