"""Shortcuts driven headless against a real server (Chromium presses real keys in
tests/app/test_browser_keys.py): the session list, a session's panes, a request."""

from __future__ import annotations

from typing import Any

import flet as ft

from tests.app import seed
from tests.app.conftest import World
from tests.app.headless import Headless
from tests.app.test_boundary import session_view
from tests.conftest import eventually
from trace_app.ui.shell import Origin


async def press(app: Headless, key: str, **mods: bool) -> None:
    """What the client sends for a key press (Flutter's key label, and the modifiers)."""
    data: dict[str, Any] = {"key": key, "shift": False, "ctrl": False, "alt": False}
    await app.session.dispatch_event(app.page._i, "keyboard_event", data | {"meta": False} | mods)


def _may_approve(app: Headless) -> bool:
    """The request shows, and the session's state says the tool waits for it."""
    try:
        return not app.find(ft.Button, "Approve").disabled
    except LookupError:
        return False


async def test_keys_open_a_session_switch_panes_and_approve(world: World) -> None:
    async with Headless(Origin(world.live.url, world.live.token)) as app:
        await eventually(lambda: "Add email to users" in app.text())
        for _ in range(3):  # the list's order is the server's: find the hosted one
            await press(app, "J")
            if app.tagged(f"session-{world.hosted}").content.selected:
                break
        await press(app, "Enter")
        await eventually(lambda: _may_approve(app))
        view = session_view(app)
        await press(app, "]")
        assert view.pane == "terminal"  # after approvals
        await press(app, "[")
        await press(app, "A")
        decision = await seed.decided(world.live.url, world.hosted, world.live.token)
        assert decision["behavior"] == "allow"
        await eventually(lambda: "Approved by" in " ".join(app.texts()))


async def test_question_mark_lists_the_keys_and_escape_closes_it(world: World) -> None:
    async with Headless(Origin(world.live.url, world.live.token)) as app:
        await eventually(lambda: "Add email to users" in app.text())
        await press(app, "/", shift=True)
        dialog = app.shell.keyboard.overlay
        assert isinstance(dialog, ft.AlertDialog) and dialog.open
        await press(app, "Escape")
        assert app.shell.keyboard.overlay is None


async def test_letters_typed_into_the_search_field_are_not_shortcuts(world: World) -> None:
    async with Headless(Origin(world.live.url, world.live.token)) as app:
        await eventually(lambda: "Add email to users" in app.text())
        search = app.find(ft.TextField, "")
        await app.click(search, "focus")
        await press(app, "/", shift=True)
        assert app.shell.keyboard.overlay is None
        await app.click(search, "blur")
        await press(app, "J")
        assert any(c.selected for c in app.controls() if isinstance(c, ft.ListTile))
