"""The session list, search and the new-session form, driven headless against a real
server: what a row says, the attention notice, search snippets, and the form's fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import flet as ft

from tests.app import seed
from tests.app.conftest import World
from tests.app.headless import Headless
from tests.conftest import eventually
from trace_app.ui.navigator import ViewPlace
from trace_app.ui.new_session_view import PADDING
from trace_app.ui.sessions_view import TOOL_ICONS
from trace_app.ui.shell import Origin
from trace_app.workspace_state import SessionListRow, ago
from trace_sync.docs import entries as e


def origin(world: World) -> Origin:
    return Origin(world.live.url, world.live.token)


def tagged_text(app: Headless, identifier: str) -> str:
    """What a tagged control says: its label, then every text inside it."""
    found = app.tagged(identifier)
    texts = [found.label or ""]
    inner = found.content
    for attr in ("value", "label", "tooltip"):
        value = getattr(inner, attr, None)
        if isinstance(value, str):
            texts.append(value)
    for span in getattr(inner, "spans", None) or []:
        texts.append(span.text or "")
    return " ".join(texts)


def row_subtitle(app: Headless, sid: str) -> str:
    tile = app.tagged(f"session-{sid}").content
    return " ".join(c.value for c in tile.subtitle.controls if isinstance(c, ft.Text) and c.value)


async def test_a_row_says_its_tool_repo_diff_cost_and_last_activity(world: World) -> None:
    ids = world.seeded.sessions
    async with Headless(origin(world)) as app:
        hosted = world.hosted
        # +3 −1: the scripted runtime's two changed files, summed by the server.
        await eventually(lambda: "+3\u00a0−1" in row_subtitle(app, hosted), within=20)
        # The repo's name comes with the repo list, which the app loads on its own.
        await eventually(lambda: " · repo · " in row_subtitle(app, hosted), within=20)
        said = row_subtitle(app, hosted).split(" · ")
        assert said[:2] == ["Claude Code", "repo"] and said[2].startswith("trace/")
        assert said[3:] == ["+3\u00a0−1", "$0.42", "just now"]
        assert row_subtitle(app, ids["Fix flaky CI"]).startswith("Codex · repo")
        icons = {ids[t]: app.tagged(f"tool-{ids[t]}").content.icon for t in ids}
        assert icons == {
            ids["Add email to users"]: TOOL_ICONS["claude_code"],
            ids["Fix flaky CI"]: TOOL_ICONS["codex"],
            ids["Explore the parser"]: TOOL_ICONS["shell"],
        }
        assert len(set(TOOL_ICONS.values())) == 4  # acp has its own too


def test_last_activity_reads_as_time_ago() -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    stamps = [now - timedelta(seconds=s) for s in (20, 180, 7_200, 3 * 86_400)]
    said = [ago(t.isoformat(), now) for t in stamps]
    assert said == ["just now", "3 min ago", "2 h ago", "3 d ago"]


async def test_the_attention_notice_names_every_session_that_needs_me(world: World) -> None:
    flaky = world.seeded.sessions["Fix flaky CI"]
    async with (
        Headless(origin(world)) as app,
        seed.hosted_without_terminal(
            world.live.url, world.live.ctx.store, world.seeded, flaky
        ) as io,
    ):
        asked = seed.e.ApprovalRequest(
            id="q1", kind="question", tool="AskUserQuestion", title="Which CI?", at=seed.NOW
        )
        with io.doc.transaction(origin=seed.ORIGIN):
            seed.typed.put(io.doc, seed.SESSION_IO, "approvals", "q1", asked, origin=seed.ORIGIN)
        await io.flush()
        both = "“Add email to users” needs your approval; “Fix flaky CI” needs your input"
        await eventually(lambda: both in app.text(), within=20)


async def test_search_shows_where_it_matched_with_the_snippet(world: World) -> None:
    """The terminal's 'AssertionError' and the tool result's 'edited' are in no title,
    prompt or transcript text: only the server's index of their output finds them."""
    async with Headless(origin(world)) as app:
        field = app.find(ft.TextField, "")
        await app.type_into(field, "AssertionError")

        async def snippet() -> str:
            await app.session.dispatch_event(field._i, "submit", None)
            try:
                return tagged_text(app, f"match-{world.hosted}")
            except LookupError:
                return ""

        await eventually(lambda: _has(snippet(), "terminal:"), within=20)
        said = await snippet()
        assert "AssertionError" in said and "test_email" in said
        bold = [s.text for s in app.tagged(f"match-{world.hosted}").content.spans if s.style]
        assert "AssertionError" in bold
        await app.type_into(field, "edited")
        await eventually(lambda: _has(snippet(), "tool output:"), within=20)


async def _has(pending: Any, text: str) -> bool:
    return text in await pending


async def test_the_form_starts_a_titled_private_or_bypass_session_where_asked(
    world: World,
) -> None:
    async with Headless(origin(world)) as app:
        app.shell.go(ViewPlace("new"))
        tool = app.find(ft.Dropdown, "Tool")
        assert [o.text for o in tool.options] == ["Claude Code", "Codex", "ACP agent", "Shell"]
        await _start(app, "Try bypass on cloud", permission_mode="bypass", location="cloud")
        await _start(app, "A private look", private=True)
        rows = await _rows(app, world, {"Try bypass on cloud", "A private look"})
        cloud, private = rows["Try bypass on cloud"], rows["A private look"]
        stored = await world.live.ctx.store.sessions.get(cloud.id)
        assert (stored.location, stored.permission_mode, stored.private) == (
            "cloud",
            "bypass",
            False,
        )
        assert (await world.live.ctx.store.sessions.get(private.id)).private
        app.shell.go(ViewPlace("sessions"))
        await eventually(lambda: _waiting_shown(app, cloud.id), within=20)
        assert tagged_text(app, f"bypass-{cloud.id}").startswith("bypass")
        assert "waiting for a runtime: no cloud host is configured" in app.text()
        assert tagged_text(app, f"status-{cloud.id}") == "status waiting for a runtime"


def _waiting_shown(app: Headless, sid: str) -> bool:
    try:
        return tagged_text(app, f"status-{sid}") == "status waiting for a runtime"
    except LookupError:
        return False


async def test_the_form_fills_a_phone_s_width_and_keeps_a_desktop_s(world: World) -> None:
    for width, expected in ((390, 390 - 2 * PADDING), (1280, 420)):
        async with Headless(origin(world), width=width, height=844) as app:
            app.shell.go(ViewPlace("new"))
            for label in ("Repository", "Tool", "Permissions", "Runs on"):
                assert app.find(ft.Dropdown, label).width == expected
            assert app.find(ft.TextField, "Title (default: the prompt's first line)").width == (
                expected
            )


async def test_a_phone_s_chips_are_single_scrolling_rows(world: World) -> None:
    async with Headless(origin(world), width=390, height=844) as app:
        filters = next(c for c in app.controls() if isinstance(c, ft.Row) and _chips(c) == 6)
        assert (filters.wrap, filters.scroll) == (False, ft.ScrollMode.AUTO)
        app.shell.go(ViewPlace("session", world.hosted))
        await eventually(lambda: "pane-transcript" in _tags(app), within=20)
        panes = next(c for c in app.controls() if isinstance(c, ft.Row) and _chips(c) == 7)
        assert (panes.wrap, panes.scroll) == (False, ft.ScrollMode.AUTO)


def _chips(row: ft.Row) -> int:
    inner = (getattr(c, "content", c) for c in row.controls)
    return sum(isinstance(c, ft.Chip) for c in inner)


def _tags(app: Headless) -> set[str]:
    return {c.identifier for c in app.controls() if isinstance(c, ft.Semantics) and c.identifier}


async def _start(app: Headless, title: str, **choices: Any) -> None:
    for label, key in (("Permissions", "permission_mode"), ("Runs on", "location")):
        if key in choices:
            app.find(ft.Dropdown, label).value = choices[key]
    app.find(ft.TextField, "Title (default: the prompt's first line)").value = title
    switch = next(c for c in app.controls() if isinstance(c, ft.Switch))
    switch.value = bool(choices.get("private"))
    app.find(ft.TextField, "Prompt").value = f"{title}, please"
    await app.click(app.find(ft.Button, "Start session"))


async def _rows(app: Headless, world: World, titles: set[str]) -> dict[str, SessionListRow]:
    client = app.shell.client
    assert client is not None

    async def listed() -> bool:
        await client.refresh()  # private sessions come from the API, not the document
        return titles <= {r.title for r in client.sessions()}

    await eventually(listed, within=30)
    return {r.title: r for r in client.sessions() if r.title in titles}


async def test_cost_moves_while_a_turn_runs(world: World) -> None:
    """The runtime reports usage during a turn (UsageSoFar): the row follows it."""
    async with Headless(origin(world)) as app:
        await eventually(lambda: "$0.42" in row_subtitle(app, world.hosted), within=20)
        io = world.runtime.io.doc
        with io.transaction(origin=seed.ORIGIN):
            seed.typed.root_of(io, seed.SESSION_IO, "usage")["cost_usd"] = 0.57
        await world.runtime.io.flush()
        await eventually(lambda: "$0.57" in row_subtitle(app, world.hosted), within=20)


def pull_chip_text(app: Headless, sid: str) -> str:
    try:
        return tagged_text(app, f"pr-{sid}")
    except LookupError:
        return ""


async def test_a_row_shows_its_pull_request_and_its_state(world: World) -> None:
    hosted, other = world.hosted, world.seeded.sessions["Fix flaky CI"]
    pr = e.PullRequestEntry(
        forge="github",
        number=12,
        url="https://github.com/acme/shop/pull/12",
        state="open",
        checks=[{"name": "ci", "state": "failure"}, {"name": "lint", "state": "success"}],
    )
    async with Headless(origin(world)) as app:
        await eventually(lambda: "Add email to users" in app.text())
        assert pull_chip_text(app, hosted) == ""  # none yet: no chip
        await world.live.ctx.sessions.report_pull_request(hosted, pr)
        await eventually(lambda: "PR #12 open · checks failed" in pull_chip_text(app, hosted))
        merged = pr.model_copy(update={"state": "merged", "checks": []})
        await world.live.ctx.sessions.report_pull_request(hosted, merged)
        await eventually(lambda: "PR #12 merged" in pull_chip_text(app, hosted))
        assert "checks" not in pull_chip_text(app, hosted)
        assert pull_chip_text(app, other) == ""
