"""Run every bench/bench_*.py in turn (each in its own interpreter), then print a summary.

`make bench` calls this. Scripts are discovered by glob, so a new benchmark only needs to be
dropped into bench/; `run_all.py detect book` runs only the scripts whose names contain those
words. Each script's output is streamed as it runs and kept: the summary at the end repeats every
``target:`` line (bench/targets.py: our figure, the target, PASS / MISS), then any other line a
script printed that mentions a target, as printed. A script that runs past ``--timeout`` seconds
is stopped with everything it started (its own process group). Exit status is non-zero if a
script failed or timed out; a MISS is reported, never asserted (figures on a shared machine are
noisy).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from targets import PREFIX

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass
class Run:
    script: str
    status: str = "ok"
    seconds: float = 0.0
    lines: list[str] = field(default_factory=list)


def _stream(pipe: IO[str], lines: list[str]) -> None:
    for line in pipe:
        print(line, end="", flush=True)
        lines.append(line.rstrip("\n"))


def _stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM the script's process group (it may have started anvil), SIGKILL if it lingers."""
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def run_script(script: Path, timeout_s: float) -> Run:
    run = Run(script.name)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("PYTHONUNBUFFERED", "1")  # stream figures as they come
    started = time.perf_counter()
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter on our own script
        [sys.executable, str(script)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # own process group: a timeout stops its children too
    )
    reader = threading.Thread(target=_stream, args=(proc.stdout, run.lines), daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout_s)
        run.status = "ok" if code == 0 else f"FAILED (exit {code})"
    except subprocess.TimeoutExpired:
        _stop(proc)
        run.status = f"TIMEOUT (stopped after {timeout_s:g} s)"
    reader.join(5.0)
    run.seconds = time.perf_counter() - started
    return run


def summary(runs: list[Run], total_s: float) -> list[str]:
    out = ["", "=" * 100, "bench summary", "=" * 100]
    for run in runs:
        out.append(f"  {run.script:<22} {run.status:<34} {run.seconds:6.1f} s")
    targets = [line for run in runs for line in run.lines if line.startswith(PREFIX)]
    if targets:
        passed = sum(line.endswith("PASS") for line in targets)
        missed = sum(line.endswith("MISS") for line in targets)
        out.append("")
        out.append(f"targets (issue 2): {passed} PASS, {missed} MISS")
        out += [f"  {line[len(PREFIX) :]}" for line in targets]
    # Scripts without target: lines (written before bench/targets.py) still name targets in
    # their own words; repeat those lines so every figure with a target is in one place.
    others = [
        (run.script, line.strip())
        for run in runs
        if not any(line.startswith(PREFIX) for line in run.lines)
        for line in run.lines
        if "target" in line.lower()
    ]
    if others:
        out.append("")
        out.append("other scripts' target lines, as printed (not judged here):")
        out += [f"  [{script.removesuffix('.py')}] {line}" for script, line in others]
    out.append("")
    failed = [run for run in runs if run.status != "ok"]
    verdict = f"{len(failed)} of {len(runs)} scripts failed" if failed else "all ran"
    out.append(f"bench: {len(runs)} scripts in {total_s:.0f} s, {verdict}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="run only scripts whose names contain these")
    parser.add_argument("--timeout", type=float, default=150.0, help="seconds per script")
    args = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if any(word in s.stem for word in args.only)]
    node_modules = os.environ.get("ARBDESK_NODE_MODULES") or ROOT / "node_modules"
    if not Path(node_modules).is_dir():
        print("bench: node_modules missing (npm ci): devnet (anvil) parts will say so and skip")
    runs = []
    started = time.perf_counter()
    for script in scripts:
        print(f"== {script.name}", flush=True)
        run = run_script(script, args.timeout)
        print(f"== {script.name}: {run.status} in {run.seconds:.1f} s\n", flush=True)
        runs.append(run)
    print("\n".join(summary(runs, time.perf_counter() - started)))
    return 1 if any(run.status != "ok" for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
