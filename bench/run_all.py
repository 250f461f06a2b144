"""Run every bench/bench_*.py in turn (each in its own interpreter) and print their figures.

`make bench` calls this. Scripts are discovered by glob, so a new benchmark only needs to be
dropped into bench/. Exit status is non-zero if any script failed; times are never asserted.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        started = time.perf_counter()
        # Own interpreter per script: no shared warm caches or GC state between benchmarks.
        result = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, check=False)
        took = time.perf_counter() - started
        status = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
        print(f"== {script.name}: {status} in {took:.1f} s\n", flush=True)
        if result.returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"bench: {len(failed)} of {len(scripts)} scripts failed: {', '.join(failed)}")
        return 1
    print(f"bench: {len(scripts)} scripts ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
