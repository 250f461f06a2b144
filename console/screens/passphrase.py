"""The cryptfile keyring passphrase, asked in a Textual modal before the engine starts.

The engine asks its `passphrase_provider` synchronously while it starts, from inside the event
loop, where no screen could be shown; so the `run` command (console.cli_commands.run) asks
first, with `ask_passphrase`, in a small app of its own, and hands the engine a provider that
returns the answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

MIN_NEW_PASSPHRASE = 8


class PassphraseScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, path: Path, new: bool) -> None:
        super().__init__()
        self.path = path
        self.new = new

    def compose(self) -> ComposeResult:
        verb = "Choose a passphrase for the new" if self.new else "Passphrase for the"
        with Vertical(id="dialog"):
            yield Static("arbdesk keys", id="dialog-title")
            yield Static(f"{verb} encrypted key file\n{self.path}", markup=False)
            yield Input(password=True, placeholder="passphrase", id="passphrase")
            if self.new:
                yield Input(password=True, placeholder="the same again", id="again")
            yield Static("", id="problem", markup=False)
            yield Static("enter confirms, escape cancels", classes="dim")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        first = self.query_one("#passphrase", Input).value
        if not self.new:
            if first:
                self.dismiss(first)
            return
        if event.input.id == "passphrase":
            self.query_one("#again", Input).focus()
            return
        again = self.query_one("#again", Input).value
        problem = self.query_one("#problem", Static)
        if len(first) < MIN_NEW_PASSPHRASE:
            problem.update(f"use at least {MIN_NEW_PASSPHRASE} characters")
        elif first != again:
            problem.update("the two passphrases differ")
        else:
            self.dismiss(first)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PassphraseApp(App[str | None]):
    CSS_PATH = "../app.tcss"

    def __init__(self, path: Path, new: bool) -> None:
        super().__init__()
        self.path = path
        self.new = new

    def on_mount(self) -> None:
        self.push_screen(PassphraseScreen(self.path, self.new), self.exit)


def ask_passphrase(path: Path, new: bool) -> str | None:
    """Ask in a Textual modal; None when the trader cancels."""
    return PassphraseApp(path, new).run()
