"""Typing into a session's terminal from the app, on a real bridge with a real PTY:
the bridge's owner types, a member asks for access and the owner grants it in
the Bridges view, a viewer gets no input."""

from __future__ import annotations

import flet as ft

from tests.app.headless import Headless
from tests.bridges.conftest import Person
from tests.conftest import eventually
from tests.hosting.conftest import Hosting
from tests.hosting.conftest import bed as bed  # noqa: F401, PLC0414  (the fixtures)
from tests.hosting.conftest import hosting as hosting  # noqa: F401, PLC0414
from tests.hosting.conftest import live as live  # noqa: F401, PLC0414
from tests.hosting.conftest import own_home as own_home  # noqa: F401, PLC0414
from trace_app.ui.shell import Origin, ViewPlace

INPUT = "Type into this terminal (Enter sends)"


def app_of(hosting: Hosting, who: Person) -> Headless:
    return Headless(Origin(hosting.bed.live.url, who.token))


async def terminal_of(app: Headless, sid: str) -> ft.TextField:
    app.shell.go(ViewPlace("session", sid))
    await eventually(lambda: any(t.startswith("terminal") for t in app.texts()))
    await app.click(app.tagged("pane-terminal").content, "select")
    await eventually(lambda: INPUT in app.texts())
    field: ft.TextField = app.find(ft.TextField, INPUT)
    return field


async def idle_session(hosting: Hosting) -> str:
    """A shell session on the owner's bridge, its tool waiting."""
    sid = await hosting.start()
    await hosting.status(sid, "idle")
    return sid


async def type_line(app: Headless, field: ft.TextField, line: str) -> None:
    field.value = line
    await app.click(field, "submit")


async def test_the_bridges_owner_types_and_a_viewer_gets_no_input(hosting: Hosting) -> None:
    sid = await idle_session(hosting)
    async with (
        app_of(hosting, hosting.bed.owner) as owner,
        app_of(hosting, hosting.bed.viewer) as viewer,
    ):
        field = await terminal_of(owner, sid)
        await eventually(lambda: field.visible)
        await type_line(owner, field, "echo typed-$((6*7))")
        await eventually(lambda: "typed-42" in owner.text())
        assert not (await terminal_of(viewer, sid)).visible
        await eventually(lambda: "Viewers cannot type into terminals." in viewer.text())


async def test_a_member_asks_for_terminal_access_and_types_once_the_owner_approves(
    hosting: Hosting,
) -> None:
    sid = await idle_session(hosting)
    async with (
        app_of(hosting, hosting.bed.member) as member,
        app_of(hosting, hosting.bed.owner) as owner,
    ):
        owner.shell.go(ViewPlace("bridges"))  # open before anyone asks: it must follow
        await eventually(lambda: "yours" in owner.text())
        field = await terminal_of(member, sid)
        await eventually(lambda: "Ask for terminal access" in member.text())
        assert not field.visible
        await member.click(member.find(ft.Button, "Ask for terminal access"))
        await eventually(lambda: "terminal on one session · pending" in owner.text())
        await owner.click(owner.find(ft.OutlinedButton, "Approve"))
        await eventually(lambda: "terminal on one session · approved" in owner.text())
        await member.click(member.find(ft.OutlinedButton, "Check again"))
        await eventually(lambda: field.visible)
        await type_line(member, field, "echo by-$((40+2))")
        await eventually(lambda: "by-42" in member.text())
