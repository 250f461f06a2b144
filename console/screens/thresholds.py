"""`t`: every live-editable threshold and breaker limit. Enter applies one value through the
engine (validated by the settings model, applied live, written to settings.toml, journaled);
a bad value shows the validator's reason under the field and the old value stays in force."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from core.settings import SettingsError


def field_id(path: str) -> str:
    return "field-" + path.replace(".", "--")


def shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ThresholdsScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Close"),
    ]

    def __init__(self, engine: Any) -> None:
        super().__init__()
        self.engine = engine

    def compose(self) -> ComposeResult:
        fields = self.engine.editable_settings()
        with Vertical(id="dialog"):
            yield Static(
                "Thresholds and limits — enter applies a value, escape closes", id="dialog-title"
            )
            with VerticalScroll(id="fields"):
                section = None
                for f in fields:
                    if f.section != section:
                        section = f.section
                        yield Label(f"[{section}]", classes="section", markup=False)
                    with Vertical(classes="field", id=field_id(f.path)):
                        with Horizontal(classes="field-row"):
                            yield Label(f.name, classes="field-name", markup=False)
                            yield Input(shown(f.value), name=f.path, classes="field-input")
                        yield Static(f.description, classes="field-help", markup=False)
                        yield Static("", classes="field-result", markup=False)

    def on_mount(self) -> None:
        # Typing starts in the first field; Textual selects its text on focus, so a new value
        # simply replaces the old one.
        first = self.query(Input).first()
        if first is not None:
            first.focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        path = event.input.name or ""
        box = self.query_one(f"#{field_id(path)}")
        result = box.query_one(".field-result", Static)
        try:
            change = self.engine.update_setting(path, event.value)
        except SettingsError as exc:
            result.update("\n".join(exc.problems))
            box.set_class(True, "-error")
            box.set_class(False, "-ok")
            return
        event.input.value = shown(change.new)
        where = (
            f" (saved to {change.written_to.name})"
            if change.written_to
            else " (not saved: no file)"
        )
        result.update(f"{shown(change.old)} → {shown(change.new)}{where}")
        box.set_class(False, "-error")
        box.set_class(True, "-ok")
