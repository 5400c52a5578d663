"""A view or pane that fails to draw shows its error in its place; the page, the
other panes, navigation and live updates go on (headless, against a real server)."""

from __future__ import annotations

import logging

import flet as ft
import pytest
from flet.messaging.protocol import MessageAction

from tests.app import seed
from tests.app.conftest import World
from tests.app.headless import Headless
from tests.conftest import eventually
from trace_app.ui.boundary import GuardedView
from trace_app.ui.code_panes import FilesPane
from trace_app.ui.session_view import SessionView
from trace_app.ui.settings_view import SettingsView
from trace_app.ui.shell import Origin, ViewPlace
from trace_sync.docs import entries as e
from trace_sync.docs import typed
from trace_sync.docs.layouts import SESSION_IO


def crashed(app: Headless) -> list[str]:
    """What the page would have replaced itself with ("Error running app: ...")."""
    return [str(m.body) for m in app.conn.messages if m.action == MessageAction.SESSION_CRASHED]


def session_view(app: Headless) -> SessionView:
    view = app.shell.view
    assert isinstance(view, GuardedView) and isinstance(view.view, SessionView)
    return view.view


async def choose(app: Headless, pane: str) -> None:
    await app.click(app.tagged(f"pane-{pane}").content, "select")


async def test_the_owner_opens_the_panes_of_a_session_without_a_terminal(world: World) -> None:
    sid = world.seeded.sessions["Fix flaky CI"]  # a Codex session: no terminal
    store = world.live.ctx.store
    async with (
        seed.hosted_without_terminal(world.live.url, store, world.seeded, sid) as io,
        Headless(Origin(world.live.url, world.live.token)) as app,
    ):
        app.shell.go(ViewPlace("session", sid))
        await eventually(lambda: "Looking at the flaky test." in app.text())
        # The access check runs in the background; the crash came with its answer.
        await eventually(lambda: session_view(app).panes.terminal.access == "yours")
        shown = {
            "approvals": "No pending approvals.",
            "terminal": "No terminal yet.",
            "files": "No changed files.",
        }
        for pane, empty in shown.items():
            await choose(app, pane)
            assert empty in app.text()
            assert "could not be drawn" not in app.text()
        assert crashed(app) == []
        said = e.AssistantText(id="2", at=seed.NOW, text="Found it: a race in the fixture.")
        typed.append(io.doc, SESSION_IO, "transcript", said, origin=seed.ORIGIN)
        await io.flush()
        await eventually(lambda: "Found it: a race in the fixture." in app.text())  # still live


async def test_a_failing_pane_shows_its_error_in_place_and_the_rest_goes_on(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*_args: object) -> None:
        raise RuntimeError("files exploded")

    monkeypatch.setattr(FilesPane, "refresh", explode)
    async with Headless(Origin(world.live.url, world.live.token)) as app:
        app.shell.go(ViewPlace("session", world.hosted))
        await eventually(lambda: "Run the test suite" in app.text())  # the approvals pane works
        await choose(app, "files")
        text = app.text()
        assert "The files pane could not be drawn." in text
        assert "RuntimeError: files exploded" in text and f"Session {world.hosted}" in text
        world.runtime.stream(" and they pass")  # live updates still reach the transcript
        await world.runtime.io.flush()
        await eventually(lambda: "Running the tests now and they pass" in app.text())
        await choose(app, "approvals")
        assert "Run the test suite" in app.text()
        app.shell.go(ViewPlace("sessions"))
        await eventually(lambda: "Fix flaky CI" in app.text())
        assert crashed(app) == []
    logged = [r for r in caplog.records if r.levelno == logging.ERROR and "files" in r.getMessage()]
    assert [getattr(r, "session_id", None) for r in logged] == [world.hosted]  # once, with the id


async def test_a_failing_view_keeps_the_frame_and_navigation(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(_self: SettingsView) -> None:
        raise KeyError("yours")

    monkeypatch.setattr(SettingsView, "refresh", explode)
    async with Headless(Origin(world.live.url, world.live.token)) as app:
        app.shell.go(ViewPlace("settings"))
        assert "The settings view could not be drawn." in app.text()
        assert "KeyError: 'yours'" in app.text()
        assert any(isinstance(c, ft.NavigationRail) for c in app.controls())
        app.shell.go(ViewPlace("sessions"))
        await eventually(lambda: "Fix flaky CI" in app.text())
        assert crashed(app) == []
