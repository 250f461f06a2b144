"""A process killed with SIGKILL mid-trade; the restart reconciles from the journal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from core.execute.reconcile import reconcile
from core.feeds.sim.market import SimMarket
from core.journal import Journal
from core.records import OrderStatus, TradeStatus
from core.settings import SimSettings, VenueKind, VenueSettings
from tests.support.executor import CHEAP, DEAR, SYMBOL

ROOT = Path(__file__).resolve().parents[2]


async def test_sigkill_between_legs_then_restart_loses_nothing(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.executor_crash_child", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("READY"), (line, child.stderr.read() if child.stderr else "")
        trade_id = line.split()[1]
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL

    journal = Journal(tmp_path / "journal.sqlite3")
    before = journal.trade(trade_id)
    assert before is not None and before.status == TradeStatus.SENDING
    legs = {leg.role: leg for leg in before.legs}
    assert legs["buy"].status == OrderStatus.CLOSED and legs["buy"].filled == before.amount
    assert legs["sell"].status == OrderStatus.PENDING  # journaled, sent, never answered
    assert sum(f.amount for f in journal.fills(trade_id)) == before.amount

    # The restarted process: fresh venue adapters (this sim venue never saw the sell).
    venues = [VenueSettings(name=n, kind=VenueKind.SIM, symbols=[SYMBOL]) for n in (CHEAP, DEAR)]
    market = SimMarket(SimSettings(seed=3), venues)
    # (a short grace: the sell was journaled moments ago, so it is looked up twice)
    report = await reconcile(
        journal, {v.name: market.exchange(v.name) for v in venues}, unknown_grace_s=0.2
    )

    assert [o.client_order_id for o in report.orders] == [legs["sell"].client_order_id]
    assert report.orders[0].status == OrderStatus.NOT_FOUND
    assert [t.id for t in report.trades] == [trade_id]
    after = journal.trade(trade_id)
    assert after is not None and after.status == TradeStatus.NEEDS_ATTENTION
    assert after.residual == before.amount
    assert f"residual position {before.amount} BTC not unwound" in after.reason
    assert after.fees > Decimal(0)
    assert journal.in_flight_trades() == [] and journal.open_orders() == []
