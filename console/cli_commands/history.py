"""`arbdesk history`: trades from the journal, each with its legs, fees and realized PnL;
`--stats`: the figures per route kind and per venue instead."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from console.cli_commands._common import add_config_arg, settings_or_exit
from core.history_export import (
    parse_since,
    render_history_csv,
    render_history_json,
    render_stats_json,
    render_stats_table,
    trade_to_dict,
)
from core.journal import Journal
from core.records import TradeRecord
from core.trade_stats import StatsRows, trade_stats


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("history", help="trades from the journal")
    add_config_arg(parser)
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="a JSON list of trades with their legs")
    fmt.add_argument("--csv", action="store_true", help="CSV, one row per leg")
    parser.add_argument("--since", metavar="ISO", help="only trades started at or after this")
    parser.add_argument(
        "--stats",
        action="store_true",
        help="figures per route kind and per venue (a table, or with --json a JSON document)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = settings_or_exit(args)
    if settings is None:
        return 1
    since = None
    if args.since:
        try:
            since = parse_since(args.since)
        except ValueError:
            print(f"arbdesk history: --since {args.since!r} is not an ISO date", file=sys.stderr)
            return 2
    if args.stats and args.csv:
        print("arbdesk history: --stats prints a table or --json, not CSV", file=sys.stderr)
        return 2
    path = settings.resolve_path(settings.journal.path)
    if args.stats:
        return _stats(path, since, args.json)
    if not path.exists():
        print(f"arbdesk history: no journal at {path} yet (no trades)", file=sys.stderr)
        trades: list[TradeRecord] = []
    else:
        journal = Journal(path)
        try:
            trades = journal.trades(since=since)
        finally:
            journal.close()
    if args.json:
        print(render_history_json(trades))
    elif args.csv:
        sys.stdout.write(render_history_csv(trades))
    else:
        _print_table(trades)
    return 0


def _stats(path: Path, since: float | None, as_json: bool) -> int:
    if not path.exists():
        print(f"arbdesk history: no journal at {path} yet (no trades)", file=sys.stderr)
        rows = StatsRows((), (), ())
    else:
        journal = Journal(path)
        try:
            rows = journal.stats_rows(since)
        finally:
            journal.close()
    # Every finished trade's point: the console's snapshot thins the series, a file need not.
    stats = trade_stats(rows, max_points=max(len(rows.trades), 1))
    print(render_stats_json(stats) if as_json else render_stats_table(stats))
    return 0


def _print_table(trades: list[TradeRecord]) -> None:
    print(
        f"{'started (UTC)':<20} {'trade':<14} {'symbol':<10} {'buy @':<8} {'sell @':<8}"
        f" {'amount':>12} {'status':<15} {'fees':>12} {'PnL':>14} {'PnL USD':>10}"
    )
    for trade in trades:
        d = trade_to_dict(trade)
        print(
            f"{(d['started_at'] or '')[:19]:<20} {d['id'][:14]:<14} {d['symbol']:<10}"
            f" {d['buy_venue']:<8} {d['sell_venue']:<8} {d['amount']:>12} {d['status']:<15}"
            f" {d['fees']:>12} {d['realized_pnl'] or '-':>14} {d['realized_pnl_usd'] or '-':>10}"
        )
        for leg in d["legs"]:
            print(
                f"{'':<20}   {leg['role']:<6} {leg['venue']:<8} {leg['side']:<4}"
                f" filled {leg['filled']} @ {leg['average'] or '-'} fee {leg['fee']}"
                f" {leg['fee_currency'] or ''} [{leg['status']}]"
                + (f" {leg['error']}" if leg["error"] else "")
            )
    print(f"-- {len(trades)} trades")
