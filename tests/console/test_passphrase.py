"""The cryptfile passphrase modal."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Static

from console.screens.passphrase import PassphraseApp


async def test_existing_file_takes_the_passphrase(tmp_path: Path) -> None:
    app = PassphraseApp(tmp_path / "keyring.cfg", new=False)
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press(*"s3cret", "enter")
        await pilot.pause()
    assert app.return_value == "s3cret"


async def test_new_file_needs_the_same_passphrase_twice(tmp_path: Path) -> None:
    app = PassphraseApp(tmp_path / "keyring.cfg", new=True)
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press(*"longenough", "enter", *"different1", "enter")
        await pilot.pause()
        assert "differ" in str(app.screen.query_one("#problem", Static).render())
        again = app.screen.query_one("#again", Input)
        again.value = "longenough"
        again.focus()
        await pilot.press("enter")
        await pilot.pause()
    assert app.return_value == "longenough"


async def test_cancel_returns_none(tmp_path: Path) -> None:
    app = PassphraseApp(tmp_path / "keyring.cfg", new=False)
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
    assert app.return_value is None
