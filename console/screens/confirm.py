"""Confirmation modals: yes/no (`y` confirms, `n` / escape declines) and a typed word for
live trading. Both dismiss with a bool."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, message: str, yes: str = "Yes", *, danger: bool = False):
        super().__init__(classes="-danger" if danger else "")
        self.title_text = title
        self.message = message
        self.yes_label = yes

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.title_text, id="dialog-title")
            yield Static(self.message, id="dialog-message")
            with Horizontal(id="dialog-buttons"):
                yield Button(f"{self.yes_label} [y]", id="yes", variant="error")
                yield Button("Cancel [n]", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class TypedConfirmScreen(ModalScreen[bool]):
    """A confirmation that needs a word typed (LIVE for real money): a stray `y` or enter
    can never start live trading. Escape declines."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "decline", "Cancel")]

    def __init__(self, title: str, message: str, word: str) -> None:
        super().__init__(classes="-danger")
        self.title_text = title
        self.message = message
        self.word = word

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.title_text, id="dialog-title")
            yield Static(self.message, id="dialog-message")
            yield Input(placeholder=f"type {self.word} to confirm", id="dialog-word")
            yield Static("", id="dialog-error")

    def on_mount(self) -> None:
        self.query_one("#dialog-word", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip() == self.word:
            self.dismiss(True)
            return
        self.query_one("#dialog-error", Static).update(
            f"that is not {self.word}; type {self.word} exactly, or press escape to cancel"
        )
        event.input.value = ""

    def action_decline(self) -> None:
        self.dismiss(False)
