"""Child process for the SIGKILL test: starts a trade whose sell leg hangs, says READY, waits.

Run as `python -m tests.support.executor_crash_child <dir>`; the parent kills it with SIGKILL.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from tests.support.executor import DEAR, make_rig


async def main(folder: Path) -> None:
    rig = make_rig(folder, leg_timeout_s=600.0)
    opp = rig.opportunity(size=0.03)

    async def hang(*args: Any, **kwargs: Any) -> dict[str, Any]:
        await asyncio.Event().wait()  # the venue never answers
        raise AssertionError("unreachable")

    rig.exchange(DEAR).create_order = hang

    sub = await rig.executor.submit(opp)
    assert sub.accepted and sub.trade_id, sub.reason
    # READY once the buy leg's fill is in the journal (the sell is still hanging).
    while True:
        trade = rig.journal.trade(sub.trade_id)
        assert trade is not None
        if any(leg.role == "buy" and leg.status.final for leg in trade.legs):
            break
        await asyncio.sleep(0.01)
    print("READY", sub.trade_id, flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
