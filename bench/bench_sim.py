"""Sim market benchmark: cost of one market tick, and the opportunity rate on default settings.

Prints figures only; nothing here asserts a time. Run: `.venv/bin/python bench/bench_sim.py`.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.feeds.sim import SimMarket  # noqa: E402
from core.feeds.sim.calibrate import scan  # noqa: E402
from core.settings import Settings, SimSettings  # noqa: E402

TICKS = 3_000
SEEDS = (1, 2, 3, 7, 11)
MINUTES = 10


def tick_cost() -> None:
    settings = Settings()
    market = SimMarket(settings.sim, settings.venues, start_ms=0)
    books = len(market.keys)
    samples = []
    for _ in range(TICKS):
        started = time.perf_counter_ns()
        market.step()
        samples.append(time.perf_counter_ns() - started)
    samples.sort()
    p50 = samples[len(samples) // 2] / 1000
    p99 = samples[int(len(samples) * 0.99)] / 1000
    budget = settings.sim.tick_ms * 1000
    print(f"market step ({books} books): p50 {p50:.0f} µs, p99 {p99:.0f} µs per tick")
    print(f"  real time at speed 1 uses {p50 / budget:.2%} of one core (tick {budget / 1000} ms)")
    print(f"  fastest sustainable speed ≈ {budget / p50:.0f}× real time")


def opportunity_rate() -> None:
    settings = Settings()
    rates, busy = [], []
    for seed in SEEDS:
        settings.sim = SimSettings(seed=seed)
        market = SimMarket(settings.sim, settings.venues, start_ms=0)
        stats = scan(market, MINUTES, settings.thresholds)
        rates.append(stats.episodes / MINUTES)
        busy.append(stats.busy_fraction)
        print(
            f"seed {seed:>2}: {stats.episodes / MINUTES:4.1f} opportunities/min "
            f"(per minute {stats.episodes_per_minute}), an opportunity open "
            f"{stats.busy_fraction:.1%} of the time"
        )
    print(
        f"default settings, {len(SEEDS)} seeds × {MINUTES} simulated min: "
        f"{statistics.mean(rates):.1f} opportunities/min, open {statistics.mean(busy):.1%} "
        f"of the time (min_profit_bps / min_profit_usd / max_notional_usd = "
        f"{settings.thresholds.min_profit_bps} / {settings.thresholds.min_profit_usd} / "
        f"{settings.thresholds.max_notional_usd:.0f}, net of taker fees both legs)"
    )


if __name__ == "__main__":
    tick_cost()
    opportunity_rate()
