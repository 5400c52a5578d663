"""The views driven headless (Flet's Session in this process) against a real server."""

from __future__ import annotations

from typing import Any

import flet as ft
import pytest

from tests.app import seed
from tests.app.conftest import World
from tests.app.headless import Headless
from tests.conftest import eventually
from trace_app.ui.new_session_view import VIEWERS_CANNOT
from trace_app.ui.shell import Origin, ViewPlace
from trace_sync.services.accounts import AccountService
from trace_sync.store.records import Role


def origin(world: World, token: str | None = None) -> Origin:
    return Origin(world.live.url, token if token is not None else world.live.token)


async def test_sign_in_with_a_bad_token_says_so_then_a_good_one_shows_the_sessions(
    world: World,
) -> None:
    async with Headless(Origin(world.live.url, None)) as app:
        token = app.find(ft.TextField, "Token")
        await app.type_into(token, "t_nope.bad")
        await app.click(app.find(ft.Button, "Sign in"))
        await eventually(lambda: "Could not sign in" in app.text())
        await app.type_into(token, world.live.token)
        await app.click(app.find(ft.Button, "Sign in"))
        await eventually(lambda: "Add email to users" in app.text())
        assert "waiting for approval" in app.text()


async def test_desktop_shows_a_rail_and_split_panes_a_phone_a_bottom_bar(world: World) -> None:
    async with Headless(origin(world), width=1280) as desktop:
        assert any(isinstance(c, ft.NavigationRail) for c in desktop.controls())
        assert desktop.page.navigation_bar is None
    async with Headless(origin(world), width=390, height=844) as phone:
        assert isinstance(phone.page.navigation_bar, ft.NavigationBar)
        assert not any(isinstance(c, ft.NavigationRail) for c in phone.controls())


def listed(app: Headless) -> set[str]:
    tags = (c.identifier for c in app.controls() if isinstance(c, ft.Semantics))
    return {t.removeprefix("session-") for t in tags if t and t.startswith("session-")}


async def test_filters_search_and_the_attention_notice(world: World) -> None:
    ids = world.seeded.sessions
    async with Headless(origin(world)) as app:
        await eventually(lambda: len(listed(app)) == 3)
        await app.click(app.find(ft.Chip, "needs me (1)"), "select")
        assert listed(app) == {world.hosted}
        await app.click(app.find(ft.Chip, "all (3)"), "select")
        await app.type_into(app.find(ft.TextField, ""), "flaky")
        assert listed(app) == {ids["Fix flaky CI"]}
        assert "“Add email to users” needs your approval" in app.text()  # yours, and it waits


async def test_a_session_shows_what_the_runtime_wrote_and_approving_queues_the_command(
    world: World,
) -> None:
    async with Headless(origin(world)) as app:
        await eventually(lambda: "Add email to users" in app.text())
        await app.click(app.tagged(f"session-{world.hosted}").content)
        await eventually(lambda: "Run the test suite" in app.text())
        text = app.text()
        assert "pytest -q tests/test_models.py" in text  # exactly what is asked
        assert "I added **email**" in text and "sparkle event" in text  # unknown kinds shown
        assert "s ago · CPU 12% · memory 256.0 MB · disk 1.5 GB" in text  # the runtime's health
        await app.click(app.find(ft.Chip, "terminal"), "select")
        await eventually(lambda: "FAILED" in app.text())
        await app.click(app.find(ft.TextButton, "Load older output"))
        await eventually(lambda: "older output from a sealed segment" in app.text())
        await app.click(app.find(ft.Chip, "files (2)"), "select")
        assert 'email: str = ""' in app.text()


async def test_the_files_pane_shows_the_branch_and_its_buttons_reach_the_server(
    world: World,
) -> None:
    async with Headless(origin(world)) as app:
        await opened(app, world)
        await app.click(app.find(ft.Chip, "files (2)"), "select")
        shown = "trace/add-email · 3 ahead, 1 behind main · origin: 1 to push, 0 to pull"
        await eventually(lambda: shown in app.text())
        assert "No pull request." in app.text()
        await app.click(app.find(ft.OutlinedButton, "Push"))
        # The scripted runtime answers no git requests: the server's refusal comes back.
        await eventually(lambda: "push the branch failed" in app.text())


async def opened(app: Headless, world: World) -> None:
    await eventually(lambda: len(listed(app)) == 3)
    await app.click(app.tagged(f"session-{world.hosted}").content)
    await eventually(lambda: "Run the test suite" in app.text())
    # The io document can arrive before the session's: until its status does, the
    # request's buttons are drawn disabled, and drawn again once the session is live.
    await eventually(lambda: not app.find(ft.Button, "Approve").disabled)


def decided(world: World) -> Any:
    return seed.decided(world.live.url, world.hosted, world.live.token, "req-1")


@pytest.mark.parametrize(
    ("button", "behavior", "shown"),
    [
        ("Allow for this session", "allow_always", "Allowed for this session"),
        ("Deny", "deny", "Denied"),
    ],
)
async def test_allow_for_this_session_or_deny_is_the_decision_the_tool_gets(
    world: World, button: str, behavior: str, shown: str
) -> None:
    async with Headless(origin(world)) as app:
        await opened(app, world)
        await app.click(app.find(ft.OutlinedButton, button))
        assert (await decided(world))["behavior"] == behavior
        await eventually(
            lambda: (
                f"{shown} by {world.seeded.owner.user_name}, waiting for the tool…" in app.text()
            )
        )
        assert not any(isinstance(c, ft.Button) and c.content == "Approve" for c in app.controls())


async def test_an_approval_keeps_its_buttons_while_the_transcript_streams(world: World) -> None:
    """A redraw leaves an unchanged request's card alone: a new button in its place
    loses a tap made across the redraw (seen in the browser journeys)."""
    async with Headless(origin(world)) as app:
        await opened(app, world)
        approve = app.find(ft.Button, "Approve")
        world.runtime.stream(" and the next one")
        await world.runtime.io.flush()
        await eventually(lambda: any("and the next one" in t for t in app.texts()))
        assert app.find(ft.Button, "Approve") is approve


async def test_the_first_decision_wins_and_the_second_says_why_it_was_refused(
    world: World,
) -> None:
    async with Headless(origin(world)) as app:
        await opened(app, world)
        await app.click(app.find(ft.OutlinedButton, "Deny"))
        await app.click(app.find(ft.Button, "Approve"))  # before the first reached the server
        await eventually(lambda: "approve failed: request req-1 was already answered" in app.text())
        assert (await decided(world))["behavior"] == "deny"


async def test_a_question_is_answered_with_its_answer_buttons(world: World) -> None:
    async with Headless(origin(world)) as app:
        await opened(app, world)
        world.runtime.ask("Which database should the migration target?", ["PostgreSQL", "SQLite"])
        await world.runtime.io.flush()
        await eventually(lambda: "SQLite" in app.text())
        await app.click(app.find(ft.Button, "SQLite"))
        answer = await seed.decided(world.live.url, world.hosted, world.live.token, "req-2")
        assert (answer["behavior"], answer["answer"]) == ("answer", "SQLite")
        await eventually(
            lambda: f"Answered: SQLite by {world.seeded.owner.user_name}, waiting" in app.text()
        )
        world.runtime.took("req-2")  # the tool has the answer and moves on
        await world.runtime.io.flush()
        await eventually(lambda: "waiting for the tool" not in app.text())
        assert f"Answered: SQLite by {world.seeded.owner.user_name}" in app.text()


async def test_typing_in_the_draft_reaches_another_page(world: World) -> None:
    async with Headless(origin(world)) as ada, Headless(origin(world)) as bob:
        for app in (ada, bob):
            await opened(app, world)
        await ada.type_into(ada.find(ft.TextField, "Shared prompt draft"), "Also add a migration.")
        await eventually(lambda: "Also add a migration." in bob.texts())


async def test_a_late_change_event_does_not_put_older_text_back(world: World) -> None:
    async with Headless(origin(world)) as ada, Headless(origin(world)) as bob:
        for app in (ada, bob):
            await opened(app, world)
        draft = ada.find(ft.TextField, "Shared prompt draft")
        # In a browser the value patches run ahead of the change events that follow them.
        await ada.type_into(draft, "Also ad", event="Also a")
        await ada.type_into(draft, "Also add", event="Also ad")
        await eventually(lambda: "Also add" in bob.texts())
        ada.shell.redraw()
        assert draft.value == "Also add"  # what the person typed stays in their field


async def test_a_viewer_sees_what_is_asked_but_no_buttons_and_cannot_edit_the_draft(
    world: World,
) -> None:
    store = world.live.ctx.store
    viewer = await store.accounts.create_user("vera")
    await store.directory.set_member(world.seeded.workspace_id, viewer.id, Role.VIEWER)
    token = (await AccountService(store).issue_token(viewer.id, label="vera")).token
    async with Headless(origin(world, token)) as app:
        app.shell.go(ViewPlace("session", world.hosted))
        await eventually(lambda: "Run the test suite" in app.text())
        assert "Viewers cannot answer." in app.text()
        assert not any(isinstance(c, ft.Button) and c.content == "Approve" for c in app.controls())
        assert app.find(ft.TextField, "Shared prompt draft").read_only
        offered = [
            c.content
            for c in app.controls()
            if isinstance(c, ft.Button | ft.OutlinedButton) and not c.disabled
        ]  # the server refuses a viewer each of the session's actions, and their prompts
        assert not {"Pause", "Stop", "Fork", "Hand off", "Send", "Interrupt with it"} & set(offered)
        app.shell.go(ViewPlace("new"))
        await eventually(lambda: VIEWERS_CANNOT in app.text())
        assert "Start session" not in [
            c.content for c in app.controls() if isinstance(c, ft.Button) and not c.disabled
        ]


async def test_an_interrupted_session_says_why_and_offers_to_run_again(world: World) -> None:
    flaky = world.seeded.sessions["Fix flaky CI"]
    why = "the bridge restarted during a turn"
    await world.live.ctx.sessions.interrupt(flaky, "session.interrupted", reason=why)
    async with Headless(origin(world)) as app:
        await eventually(lambda: "Fix flaky CI" in app.text())
        await app.click(app.tagged(f"session-{flaky}").content)
        await eventually(lambda: f"Interrupted: {why}" in app.text())
        buttons = [c.content for c in app.controls() if isinstance(c, ft.OutlinedButton)]
        assert "Run again" in buttons and "Resume" in buttons


async def test_an_answer_tapped_while_the_transcript_streams_is_not_lost(world: World) -> None:
    """The button a person aims at stays the same control while other entries change."""
    async with Headless(origin(world)) as app:
        await opened(app, world)
        world.runtime.ask("Which database should the migration target?", ["PostgreSQL", "SQLite"])
        await world.runtime.io.flush()
        await eventually(lambda: "SQLite" in app.text())
        aimed_at = app.find(ft.Button, "SQLite")
        world.runtime.stream(" and more")  # another entry changes: the view is drawn again
        await world.runtime.io.flush()
        await eventually(lambda: "and more" in app.text())
        await app.click(aimed_at)
        answer = await seed.decided(world.live.url, world.hosted, world.live.token, "req-2")
        assert (answer["behavior"], answer["answer"]) == ("answer", "SQLite")


async def test_a_bridge_row_keeps_its_buttons_across_a_redraw(world: World) -> None:
    """A member's "Ask to run sessions" is the same button after a live redraw: a
    new one in its place loses a tap made across it (seen in the phone journey)."""
    store = world.live.ctx.store
    mia = await store.accounts.create_user("mia")
    await store.directory.set_member(world.seeded.workspace_id, mia.id, Role.MEMBER)
    token = (await AccountService(store).issue_token(mia.id, label="mia")).token
    async with Headless(origin(world, token)) as app:
        app.shell.go(ViewPlace("bridges"))
        await eventually(lambda: "Ask to run sessions" in app.texts())
        ask = app.find(ft.OutlinedButton, "Ask to run sessions")
        app.shell.redraw()
        assert app.find(ft.OutlinedButton, "Ask to run sessions") is ask
        await app.click(ask)
        await eventually(lambda: "session on every session · pending" in app.text(), state=app.text)


async def test_a_session_row_tapped_as_its_session_changes_still_opens_it(world: World) -> None:
    """A running session's row changes all the time (status, cost, last activity);
    a tap aimed at it across a redraw opens it (seen lost in the owner's journey)."""
    flaky = world.seeded.sessions["Fix flaky CI"]
    async with Headless(origin(world)) as app:
        await eventually(lambda: "Fix flaky CI" in app.text())
        aimed_at = app.tagged(f"session-{flaky}").content
        await world.live.ctx.sessions.interrupt(flaky, "session.interrupted", reason="a test")
        await eventually(lambda: "interrupted" in app.texts(), state=app.text)
        await app.click(aimed_at)
        await eventually(lambda: "Interrupted: a test" in app.text(), state=app.text)
