"""End to end: `arbdesk attach` in a tmux pane over an `arbdesk serve` process, the way a
trader reattaches from another SSH session: it draws the served engine, a key press reaches
it, an engine restart is survived and shown, and killing the console leaves the engine be."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.service.remote_door import fetch_hello
from tests.console.test_tmux_e2e import ARBDESK, Pane, pytestmark  # noqa: F401 - same skips
from tests.support.serve import Served


@pytest.fixture
def attach_pane(tmp_path: Path) -> Iterator[tuple[Pane, Path, list[Served]]]:
    socket = tmp_path / "run" / "engine.sock"
    servers = [Served(tmp_path, socket)]
    asyncio.run(servers[0].ready())
    pane = Pane("attach", f"arbdesk-attach-{uuid.uuid4().hex[:8]}")
    pane.tmux("new-session", "-d", "-s", pane.name, "-x", "160", "-y", "48", "sh")
    pane.tmux("set-option", "-t", pane.name, "status", "off")
    command = (
        f"unset COLUMNS LINES; cd {tmp_path} && {ARBDESK} attach --socket {socket}; "
        "echo ATTACH-EXIT=$?; sleep 30"
    )
    pane.send(command, "Enter")
    try:
        yield pane, socket, servers
    finally:
        pane.tmux("kill-server")
        for server in servers:
            server.kill()


def test_attach_in_tmux_survives_an_engine_restart(
    attach_pane: tuple[Pane, Path, list[Served]], tmp_path: Path
) -> None:
    pane, socket, servers = attach_pane
    wanted = ("attached", "Order books", "Spreads", "Opportunities", "simex", "upd/s")
    pane.wait_for(lambda s: all(w in s for w in wanted), "the attached console")

    pane.send("A")  # auto-execute on, in the served engine
    pane.wait_for(lambda s: "auto ON" in s, "auto-execute on", timeout_s=5)
    hello = asyncio.run(fetch_hello(socket))
    assert hello.snapshot.auto_execute

    code, _out, err = servers[0].stop()
    assert code == 0, err
    pane.wait_for(lambda s: "engine lost" in s, "the lost link on screen", timeout_s=10)
    servers.append(Served(tmp_path, socket))
    asyncio.run(servers[1].ready())
    screen = pane.wait_for(
        lambda s: "attached" in s and "engine lost" not in s, "the reattach", timeout_s=20
    )
    assert "auto off" in screen  # the new engine's own state, not the old picture

    # Killing the console changes nothing in the engine.
    shell = pane.tmux("display", "-p", "-t", pane.name, "#{pane_pid}").strip()
    (child,) = subprocess.run(
        ["pgrep", "-P", shell], capture_output=True, text=True, timeout=10
    ).stdout.split()
    os.kill(int(child), signal.SIGKILL)
    pane.wait_for(lambda s: "ATTACH-EXIT=137" in s, "the killed console", timeout_s=10)
    assert servers[1].process.poll() is None
    assert asyncio.run(fetch_hello(socket)).pid == servers[1].process.pid
