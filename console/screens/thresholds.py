"""`t`: every live-editable threshold and breaker limit. Enter sends one value to the engine
(validated by the settings model, written to settings.toml in the engine's thread, applied live,
journaled) from a worker, so typing never waits on the disk; a bad value shows the validator's
reason under the field and the old value stays in force."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from core.door import ChangeSetting, EngineDoor


def field_id(path: str) -> str:
    return "field-" + path.replace(".", "--")


class ThresholdsScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Close"),
    ]

    def __init__(self, door: EngineDoor) -> None:
        super().__init__()
        self.door = door

    def compose(self) -> ComposeResult:
        fields = self.door.setting_fields()
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
                            yield Input(f.value, name=f.path, classes="field-input")
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
        self._apply(event.input, event.input.name or "", event.value)

    # One field at a time per path; the engine serialises the file writes itself.
    @work(group="settings", exit_on_error=False)
    async def _apply(self, box_input: Input, path: str, raw: str) -> None:
        result = await self.door.send(ChangeSetting(path, raw))
        box = self.query_one(f"#{field_id(path)}")
        line = box.query_one(".field-result", Static)
        if not result.ok:
            line.update("\n".join(result.problems) or result.message)
            box.set_class(True, "-error")
            box.set_class(False, "-ok")
            return
        box_input.value = result.new
        where = f" (saved to {result.saved_to})" if result.saved_to else " (not saved: no file)"
        line.update(f"{result.old} → {result.new}{where}")
        box.set_class(False, "-error")
        box.set_class(True, "-ok")
