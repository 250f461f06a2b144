"""End to end: `arbdesk` (the real engine on the embedded sim market) in a tmux pane, read
with capture-pane and driven with send-keys, the way a trader uses it over SSH."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARBDESK = Path(sys.executable).with_name("arbdesk")

pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(not ARBDESK.exists(), reason="the arbdesk script is not installed"),
    pytest.mark.timeout(120),
]

SETTINGS = """\
# e2e settings: the built-in sim market, files kept in the test's folder
[ui]
theme = "arbdesk-dark"
refresh_hz = 10

[journal]
path = "journal.sqlite3"

[logging]
path = "arbdesk.log"
"""


# A private tmux server per test, so the size and options are ours whatever else runs on the
# machine, and one test's server shutting down never races the next test's start.


# COLUMNS / LINES leak in from the test runner; they would pin the app at 80x24.
ENV = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}


OPPORTUNITIES = re.compile(r"Opportunities · [1-9]")


def tmux(socket: str, *args: str) -> str:
    done = subprocess.run(
        ["tmux", "-L", socket, "-f", "/dev/null", *args],
        capture_output=True,
        text=True,
        timeout=10,
        env=ENV,
    )
    return done.stdout


class Pane:
    def __init__(self, name: str, socket: str) -> None:
        self.name = name
        self.socket = socket

    def tmux(self, *args: str) -> str:
        return tmux(self.socket, *args)

    def text(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def send(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys)

    def wait_for(self, check: Callable[[str], bool], what: str, timeout_s: float = 20) -> str:
        deadline = time.monotonic() + timeout_s
        screen = ""
        while time.monotonic() < deadline:
            screen = self.text()
            if check(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; screen was:\n{screen}")


@pytest.fixture
def pane(tmp_path: Path) -> Iterator[Pane]:
    config = tmp_path / "settings.toml"
    config.write_text(SETTINGS, encoding="utf-8")
    name = "arbdesk"
    command = (
        f"unset COLUMNS LINES; cd {tmp_path} && ARBDESK_CONFIG={config} {ARBDESK}; "
        f"echo ARBDESK-EXIT=$?; sleep 30"
    )
    # Size the window first and start arbdesk afterwards, so it starts at the final size.
    pane = Pane(name, f"arbdesk-e2e-{uuid.uuid4().hex[:8]}")
    pane.tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "48", "sh")
    pane.tmux("set-option", "-t", name, "status", "off")
    pane.tmux("send-keys", "-t", name, command, "Enter")
    try:
        yield pane
    finally:
        pane.tmux("kill-server")


def test_console_in_tmux(pane: Pane, tmp_path: Path) -> None:
    wanted = (
        "Order books",
        "spr ",
        "upd/s",
        "SIM",
        "breaker CLOSED",
        "simex",
        "simbit",
        "simkra",
        "Spreads",
        "Opportunities",
        "Active trades",
        "Approve",
    )
    screen = pane.wait_for(lambda s: all(w in s for w in wanted), "the whole console")

    # The symbol shown in the order books cycles with `s`.
    first = next(line for line in screen.splitlines() if "Order books ·" in line)
    pane.send("s")
    pane.wait_for(
        lambda s: next(x for x in s.splitlines() if "Order books ·" in x) != first,
        "the next symbol",
        timeout_s=5,
    )

    # `a` approves the selected opportunity; the trade shows up (active, or done in history).
    # An opportunity can expire between two keystrokes, so a few attempts are allowed.
    traded = re.compile(r"Active trades · [1-9]|\(h: [1-9]\d* done\)")
    for _ in range(5):
        pane.wait_for(lambda s: OPPORTUNITIES.search(s) is not None, "an opportunity", 30)
        pane.send("a")
        try:
            pane.wait_for(lambda s: traded.search(s) is not None, "a trade", timeout_s=3)
            break
        except AssertionError:
            continue
    else:
        raise AssertionError("no approved opportunity became a trade")

    # `?` opens the key help, escape closes it.
    pane.send("?")
    pane.wait_for(lambda s: "arbdesk keys" in s, "the help screen", timeout_s=5)
    pane.send("Escape")
    pane.wait_for(lambda s: "arbdesk keys" not in s, "the help screen to close", timeout_s=5)

    # `K` engages the kill switch at once; the status bar says so.
    pane.send("K")
    pane.wait_for(lambda s: "KILLED" in s, "the kill switch", timeout_s=5)

    # `T` cycles the theme and the choice is written to settings.toml.
    pane.send("T")
    config = tmp_path / "settings.toml"
    deadline = time.monotonic() + 5
    while 'theme = "arbdesk-light"' not in config.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert 'theme = "arbdesk-light"' in config.read_text()
    assert "# e2e settings" in config.read_text()  # comments kept

    # `q` quits (no trade in flight: no question) and the engine stops cleanly.
    pane.send("q")
    pane.wait_for(lambda s: "ARBDESK-EXIT=0" in s, "a clean exit", timeout_s=20)


def test_sighup_stops_the_engine_in_order(pane: Pane, tmp_path: Path) -> None:
    """A dropped SSH session sends SIGHUP: the engine stops the orderly way, exit code 0."""
    pane.wait_for(lambda s: "Order books" in s and "upd/s" in s, "the console")
    shell = pane.tmux("display", "-p", "-t", pane.name, "#{pane_pid}").strip()
    children = subprocess.run(
        ["pgrep", "-P", shell], capture_output=True, text=True, timeout=10
    ).stdout.split()
    assert len(children) == 1, children
    os.kill(int(children[0]), signal.SIGHUP)
    # Generous: on a busy machine the engine may still be starting its devnet.
    pane.wait_for(lambda s: "ARBDESK-EXIT=0" in s, "a clean exit", timeout_s=60)
    assert "engine stopped" in (tmp_path / "arbdesk.log").read_text()
