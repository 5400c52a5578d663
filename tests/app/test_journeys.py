"""Journeys: the web app in headless Chromium, used as its people use it, with a real
session on a real bridge (the real Claude Code CLI against the scripted model server).

The owner at a desktop starts a session from the form, follows it, approves a
command, answers the tool's question, reviews the diff with line comments typed at
speed and sends them to the agent, pauses, resumes and forks; the same owner on a
phone approves the next command across a server restart, the tab returning where it
was; a viewer reads everything and is offered no control the server would refuse.
Codex started from the form is approved from a phone and its command runs. A viewer
made a member sees her new rights at once, asks for the owner's bridge, has it
approved and runs a session on it.
After every step no "Error running app" is shown; every step leaves a screenshot in
test-artifacts/journeys/.
"""

from __future__ import annotations

import re
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.app.test_browser import (
    ARGS,
    ARTIFACTS,
    CHROMIUM,
    SIZES,
    STEP_MS,
    _require_browser,
    accessible,
    choose_pane,
    comment_on_line,
    sees,
    shot,
    shown,
    tagged,
    type_into,
)
from tests.conftest import eventually
from tests.hosting.test_restarts import follow, reaches, trace
from tests.support.bridge_process import BridgeProcess
from tests.support.git import make_repo
from tests.support.model_server import ModelServer, reply, text, tool
from tests.support.server_process import ServerProcess
from tests.support.tool_config import configure_tools
from trace_app.client import UNREACHABLE
from trace_app.ui.new_session_view import VIEWERS_CANNOT
from trace_sync.client.sync_client import SyncClient
from trace_sync.docs import typed
from trace_sync.docs.entries import ReviewComment
from trace_sync.docs.layouts import SESSION_NOTES

try:
    from playwright.async_api import Browser, Page, async_playwright
except ImportError:  # pragma: no cover - reported by _require_browser
    async_playwright = None  # type: ignore[assignment]

SHOTS = ARTIFACTS / "journeys"
TITLE = "Journey notes"
#: Review comments typed into the diff, each at 10-20 ms per key.
COMMENTS = 30
#: Generous: the machines these run on are shared and loaded.
SLOW_S = 180
WRITE_NOTES = "printf 'one\\ntwo\\n' > notes.txt"
QUESTION = {"question": "Which colour?", "header": "Colour", "multiSelect": False}
OPTIONS = [{"label": "red", "description": "warm"}, {"label": "blue", "description": "cool"}]
#: What a viewer must never be offered enabled: the server refuses each of them.
REFUSED = (
    "Approve", "Allow for this session", "Deny", "Answer", "red", "blue", "Send",
    "Interrupt with it", "Pause", "Resume", "Stop", "Archive", "Fork", "Hand off",
    "Send review to the agent", "Add", "Start session",
)  # fmt: skip


@dataclass
class Journey:
    server: ServerProcess
    bridge: BridgeProcess
    models: ModelServer
    browser: Browser
    checkout: Path

    def api(self, method: str, path: str, token: str | None = None, **body: Any) -> Any:
        reply = httpx.request(
            method,
            f"{self.server.url}{path}",
            json=body or None,
            headers={"Authorization": f"Bearer {token or self.server.token}"},
            timeout=30,
        )
        assert reply.status_code < 300, reply.text
        return reply.json() if reply.content else None

    def workspace_id(self) -> str:
        return str(self.api("GET", "/api/me")["workspaces"][0]["id"])

    def sessions(self) -> list[dict[str, Any]]:
        items = self.api("GET", f"/api/workspaces/{self.workspace_id()}/sessions")["items"]
        return list(items)

    async def open(self, size: str, token: str | None = None) -> Page:
        """A new tab at ``size``, signed in with ``token`` (the owner's by default)."""
        width, height = SIZES[size]
        context = await self.browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(STEP_MS)
        page = await context.new_page()
        await page.goto(self.api("POST", "/api/signin-links", token)["url"])
        await accessible(page)
        return page


@pytest.fixture
async def journey(
    tmp_path: Path, models: ModelServer, tools_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Journey]:
    _require_browser()
    home = tmp_path / "home"  # the tools' own: no configs of this machine
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    tool_env = configure_tools(tmp_path / "bridge", models, tools_bin, home)
    checkout = make_repo(tmp_path / "shop", branch="main")
    server = ServerProcess(tmp_path / "data", extra_env={"TRACE_BRIDGE_LEASE_S": "60"})
    server.start()
    bridge = BridgeProcess(server.url, server.token, tmp_path / "bridge", extra_env=tool_env)
    try:
        bridge.start()
        await trace(server, "repo", "add", str(checkout))
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            yield Journey(server, bridge, models, browser, checkout)
            await browser.close()
    finally:
        bridge.__exit__()
        server.close()


async def step(page: Page, name: str) -> None:
    """The end of a step: the app still stands (no error page), and a screenshot."""
    text = await shown(page)
    assert "Error running app" not in text, f"{name}: {text[:2000]}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    await shot(page, name, SHOTS)


def status(journey: Journey, sid: str) -> str:
    return str(journey.api("GET", f"/api/sessions/{sid}")["status"])


async def status_is(journey: Journey, sid: str, status: str) -> None:
    await reaches(journey.server, sid, status, within=SLOW_S)


async def click(page: Page, name: str) -> None:
    await page.get_by_role("button", name=name, exact=True).first.click()


@pytest.mark.timeout(1800)
async def test_an_owner_and_a_viewer_through_a_day_with_claude_code(journey: Journey) -> None:
    journey.models.script(
        reply(text("Making the notes."), tool("Bash", {"command": WRITE_NOTES})),
        reply(tool("AskUserQuestion", {"questions": [QUESTION | {"options": OPTIONS}]})),
        reply(text("Wrote the notes in blue.")),
        reply(text("Addressed the review.")),
    )
    desktop = await journey.open("desktop")
    sid = await start_from_the_form(journey, desktop)
    await follow_and_approve(journey, desktop, sid)
    await answer_the_question(journey, desktop, sid)
    await review_the_diff(journey, desktop, sid)
    await pause_and_resume(journey, desktop, sid)
    await fork(journey, desktop, sid)
    await desktop.context.close()
    await approve_from_the_phone_across_a_restart(journey, sid)
    await a_viewer_reads_everything(journey, sid)


async def start_from_the_form(journey: Journey, page: Page) -> str:
    await sees(page, "Sessions", timeout=60_000)
    await page.get_by_role("button", name=re.compile("^New")).click()
    await sees(page, "New session")
    await type_into(page, "Title (default: the prompt's first line)", TITLE)
    await type_into(page, "Prompt", "write the notes")
    await step(page, "desktop-1-form")
    await click(page, "Start session")
    await sees(page, "Starting")
    await eventually(lambda: any(s["title"] == TITLE for s in journey.sessions()), within=60)
    [session] = journey.sessions()
    assert session["tool"] == "claude_code" and session["permission_mode"] == "ask"
    assert session["repo_id"] and session["location"] == "local"  # the form's defaults
    await step(page, "desktop-2-started")
    return str(session["id"])


async def follow_and_approve(journey: Journey, page: Page, sid: str) -> None:
    await page.get_by_role("button", name=re.compile("^Sessions")).click()
    await sees(page, TITLE)
    await tagged(page, f"session-{sid}").first.click()  # type: ignore[attr-defined]
    await sees(page, "Making the notes.", timeout=SLOW_S * 1000)
    await sees(page, WRITE_NOTES, timeout=SLOW_S * 1000)  # the approval, on its pane
    await status_is(journey, sid, "waiting_approval")
    await step(page, "desktop-3-asked")
    await click(page, "Approve")
    await made(journey, sid, "notes.txt")
    await step(page, "desktop-4-approved")


async def made(journey: Journey, sid: str, name: str) -> None:
    """The tool made ``name`` in the session's worktree (so the approval reached it)."""
    async with follow(journey.server, f"session/{sid}/io") as io:
        tree = Path(io.runtime()["worktree"])
    await eventually(lambda: (tree / name).exists(), within=SLOW_S)


async def answer_the_question(journey: Journey, page: Page, sid: str) -> None:
    await sees(page, "Which colour?", timeout=SLOW_S * 1000)
    await status_is(journey, sid, "waiting_input")
    await step(page, "desktop-5-question")
    await click(page, "blue")
    await sees(page, "Wrote the notes in blue.", timeout=SLOW_S * 1000)
    await status_is(journey, sid, "idle")
    await sees(page, "Answered: blue by")  # the tool has it: no longer "waiting for the tool"
    await sees_gone(page, "waiting for the tool")
    told = str(journey.models.agent_requests[-1].body["messages"][-1])
    assert "Which colour?" in told and "blue" in told
    await step(page, "desktop-6-answered")


async def review_the_diff(journey: Journey, page: Page, sid: str) -> None:
    await tagged(page, "pane-files").first.click()  # type: ignore[attr-defined]
    await sees(page, "notes.txt", timeout=60_000)
    await sees(page, "+one")
    await step(page, "desktop-7-diff")
    field = page.get_by_role("textbox", name="Comment on this line")
    async with follow(journey.server, f"session/{sid}/notes") as notes:
        for n in range(COMMENTS):
            await comment_on_line(page, field)
            await page.keyboard.type(f"comment {n}: say why", delay=10 + n % 11)
            await page.keyboard.press("Enter")
            await eventually(lambda n=n: len(said(notes.client)) == n + 1, within=60)  # type: ignore[misc]
        # every one arrived whole: a key lost is a comment lost
        assert said(notes.client) == [f"comment {n}: say why" for n in range(COMMENTS)]
    await sees(page, f"{COMMENTS} review comments")
    await step(page, "desktop-8-commented")
    await click(page, "Send review to the agent")
    await sees(page, "Addressed the review.", timeout=SLOW_S * 1000)
    [sent] = [r.text for r in journey.models.agent_requests if "review comments" in r.text][:1]
    missing = [n for n in range(COMMENTS) if f"notes.txt:1: comment {n}: say why" not in sent]
    assert not missing, sent[sent.index("Please address") :][:1500]
    await status_is(journey, sid, "idle")
    await step(page, "desktop-9-review-sent")


def said(notes: SyncClient) -> list[str]:
    """The review comments' texts, in the order they were made."""
    comments = typed.read_array(notes.doc, SESSION_NOTES, "comments")
    return [c.text for c in comments if isinstance(c, ReviewComment)]


async def pause_and_resume(journey: Journey, page: Page, sid: str) -> None:
    await tap_until(page, "Pause", lambda: status(journey, sid) == "paused")
    await sees(page, "Resume")
    await step(page, "desktop-10-paused")
    await tap_until(page, "Resume", lambda: status(journey, sid) != "paused")
    await status_is(journey, sid, "idle")
    await sees(page, "Pause")
    await step(page, "desktop-11-resumed")


async def tap_until(page: Page, name: str, done: Callable[[], bool], taps: int = 3) -> None:
    """Tap ``name`` until ``done()``. Known gap: a tap on a header button can be lost
    when the session's live state redraws the header between press and release (seen
    once in a few runs under load); a person taps again, and so does this, saying so."""
    for tap in range(taps):
        await click(page, name)
        try:
            await eventually(done, within=30)
        except AssertionError:
            print(f"\njourney: tap {tap + 1} on {name!r} was lost")
            continue
        return
    raise AssertionError(f"{taps} taps on {name!r} never took")


async def fork(journey: Journey, page: Page, sid: str) -> None:
    await tap_until(page, "Fork", lambda: len(journey.sessions()) == 2)
    [forked] = [s for s in journey.sessions() if s["id"] != sid]
    assert forked["parent_id"] == sid
    await page.get_by_role("button", name=re.compile("^Sessions")).click()
    await sees(page, forked["title"])
    await step(page, "desktop-12-forked")


async def approve_from_the_phone_across_a_restart(journey: Journey, sid: str) -> None:
    journey.models.script(
        reply(tool("Bash", {"command": "touch phoned.txt"})), reply(text("Made it."))
    )
    journey.api("POST", f"/api/sessions/{sid}/prompts", text="make a file from the phone")
    phone = await journey.open("phone")
    await sees(phone, TITLE)
    await tagged(phone, f"session-{sid}").first.click()  # type: ignore[attr-defined]
    await tagged(phone, "pane-approvals").first.click()  # type: ignore[attr-defined]
    await sees(phone, "touch phoned.txt", timeout=SLOW_S * 1000)
    await phone.wait_for_url(f"**/session/{sid}/approvals")
    await step(phone, "phone-1-asked")
    journey.server.stop(signal.SIGTERM)
    banner = phone.get_by_role("alert")
    await banner.wait_for(timeout=60_000)
    assert await banner.inner_text() == UNREACHABLE
    await step(phone, "phone-2-server-away")
    journey.server.start()
    await banner.wait_for(state="detached", timeout=120_000)
    await sees(phone, "touch phoned.txt", timeout=SLOW_S * 1000)
    assert phone.url.endswith(f"/session/{sid}/approvals")
    await step(phone, "phone-3-server-back")
    await status_is(journey, sid, "waiting_approval")
    await click(phone, "Approve")
    await made(journey, sid, "phoned.txt")
    await status_is(journey, sid, "idle")
    await step(phone, "phone-4-approved")
    await phone.context.close()


async def a_viewer_reads_everything(journey: Journey, sid: str) -> None:
    added = journey.api(
        "POST", f"/api/workspaces/{journey.workspace_id()}/members", name="vera", role="viewer"
    )
    page = await journey.open("desktop", added["token"])
    await sees(page, TITLE)
    await tagged(page, f"session-{sid}").first.click()  # type: ignore[attr-defined]
    await sees(page, "Wrote the notes in blue.")
    await sees(page, "Made it.")
    await no_refused_control(page, "viewer-1-session")
    for n, pane in enumerate(("approvals", "terminal", "files", "checkpoints", "notes"), 2):
        await tagged(page, f"pane-{pane}").first.click()  # type: ignore[attr-defined]
        await page.wait_for_url(f"**/session/{sid}/{pane}")
        await no_refused_control(page, f"viewer-{n}-{pane}")
    await page.get_by_role("button", name=re.compile("^New")).click()
    await sees(page, VIEWERS_CANNOT)
    await no_refused_control(page, "viewer-7-new")


async def no_refused_control(page: Page, name: str) -> None:
    await step(page, name)
    offered = []
    for label in REFUSED:
        for button in await page.get_by_role("button", name=label, exact=True).all():
            if await button.is_enabled():
                offered.append(label)
    assert not offered, f"{name}: a viewer is offered {offered}"


@pytest.mark.timeout(900)
async def test_an_owner_starts_codex_from_the_form_and_approves_from_the_phone(
    journey: Journey,
) -> None:
    journey.models.script(
        reply(tool("exec_command", {"cmd": "touch codexed.txt"})), reply(text("Codex did it."))
    )
    desktop = await journey.open("desktop")
    await sees(desktop, "Sessions", timeout=60_000)
    await desktop.get_by_role("button", name=re.compile("^New")).click()
    await sees(desktop, "New session")
    await tagged(desktop, "field-tool").first.click()  # type: ignore[attr-defined]
    await desktop.get_by_text("Codex", exact=True).last.click()
    await type_into(desktop, "Prompt", "make a file")
    await step(desktop, "codex-1-form")
    await click(desktop, "Start session")
    await eventually(lambda: len(journey.sessions()) == 1, within=60)
    [session] = journey.sessions()
    assert session["tool"] == "codex"
    sid = str(session["id"])
    await desktop.context.close()
    phone = await journey.open("phone")
    await tagged(phone, f"session-{sid}").first.click()  # type: ignore[attr-defined]
    await tagged(phone, "pane-approvals").first.click()  # type: ignore[attr-defined]
    await sees(phone, "touch codexed.txt", timeout=SLOW_S * 1000)
    await step(phone, "codex-2-asked")
    await click(phone, "Approve")
    await made(journey, sid, "codexed.txt")  # the approved command ran, in the worktree
    await sees(phone, "No pending approvals.", timeout=60_000)
    await status_is(journey, sid, "idle")
    await tagged(phone, "pane-transcript").first.click()  # type: ignore[attr-defined]
    await sees(phone, "Codex did it.", timeout=SLOW_S * 1000)
    await step(phone, "codex-3-done")


MEMBER = "mia"
HELLO = "Hello from the owner's bridge."
ASKED = "say hello from the bridge you lent me"


@pytest.mark.timeout(1200)
async def test_a_viewer_made_member_borrows_the_owners_bridge_for_a_session(
    journey: Journey,
) -> None:
    """The owner (desktop) makes a viewer a member: her phone shows it at once; she
    asks for the owner's bridge in Bridges, the owner approves, and she runs a
    session on it."""
    journey.models.script(reply(text(HELLO)))
    added = journey.api(
        "POST", f"/api/workspaces/{journey.workspace_id()}/members", name=MEMBER, role="viewer"
    )
    phone = await journey.open("phone", added["token"])
    await go(phone, "New")
    await sees(phone, VIEWERS_CANNOT, timeout=60_000)
    assert not await start_button(phone).is_enabled()
    await step(phone, "member-1-a-viewer")
    owner = await journey.open("desktop")
    await promote(journey, owner)
    await sees_gone(phone, VIEWERS_CANNOT)  # no reload: the same page
    assert await start_button(phone).is_enabled()
    await step(phone, "member-2-made-member")
    grant = await ask_and_approve(journey, phone, owner, added["token"])
    await start_on_the_owners_bridge(journey, phone, grant["runtime_id"])
    await owner.context.close()
    await phone.context.close()


async def go(page: Page, place: str) -> None:
    """The navigation rail's (desktop) or bar's (phone) entry for ``place``."""
    phone = (page.viewport_size or {}).get("width", 0) < 600
    await page.get_by_role("tab" if phone else "button", name=re.compile(f"^{place}")).click()
    if phone:
        # The finger lifts. A mouse left on the bar shows the destination's tooltip,
        # and keys typed into a field while it comes or goes are lost (seen: a prompt
        # of one letter); a person with a mouse in a narrow window can meet that too.
        await page.mouse.move(0, 0)


def start_button(page: Page) -> Any:
    return page.get_by_role("button", name="Start session", exact=True)


async def sees_gone(page: Page, text: str, timeout: float = STEP_MS) -> None:
    await page.wait_for_function(
        "t => !(document.body.innerText + [...document.querySelectorAll('[aria-label]')]"
        ".map(e => e.getAttribute('aria-label')).join(' ')).includes(t)",
        arg=text,
        timeout=timeout,
    )


def role_of(journey: Journey, name: str) -> str | None:
    listed = journey.api("GET", f"/api/workspaces/{journey.workspace_id()}/members")["items"]
    return next((m["role"] for m in listed if m["user"]["name"] == name), None)


async def promote(journey: Journey, owner: Page) -> None:
    await sees(owner, "Sessions", timeout=60_000)
    await go(owner, "Members")
    await sees(owner, MEMBER)
    await tagged(owner, f"role-of-{MEMBER}").first.click()  # type: ignore[attr-defined]
    await owner.get_by_role("button", name="member", exact=True).click()
    await eventually(lambda: role_of(journey, MEMBER) == "member", within=30)
    await step(owner, "owner-1-made-mia-member")


async def ask_and_approve(journey: Journey, phone: Page, owner: Page, token: str) -> dict[str, Any]:
    """The member asks to run sessions on the owner's bridge; the owner approves."""
    [runtime] = journey.api("GET", "/api/runtimes")["items"]
    grants = f"/api/runtimes/{runtime['id']}/grants"
    await go(phone, "Bridges")
    await sees(phone, "test-bridge")
    await click(phone, "Ask to run sessions")
    await eventually(lambda: len(journey.api("GET", grants)["items"]) == 1, within=30)
    await sees(phone, "session on every session · pending")
    await step(phone, "member-3-asked")
    await go(owner, "Bridges")
    await sees(owner, f"{MEMBER}: session on every session · pending")
    await step(owner, "owner-2-asked")
    await click(owner, "Approve")
    await eventually(
        lambda: journey.api("GET", grants)["items"][0]["state"] == "approved", within=30
    )
    await sees(owner, f"{MEMBER}: session on every session · approved")
    await step(owner, "owner-3-approved")
    [grant] = journey.api("GET", grants, token)["items"]  # hers to see as well
    return dict(grant)


async def start_on_the_owners_bridge(journey: Journey, phone: Page, runtime_id: str) -> None:
    """She has no bridge: the session waits, and she runs it on the one she was granted."""
    await go(phone, "New")
    await sees(phone, "New session")
    await step(phone, "member-4-form")
    await type_into(phone, "Prompt", ASKED)
    await click(phone, "Start session")
    await eventually(lambda: len(journey.sessions()) == 1, within=60)
    [session] = journey.sessions()
    sid = str(session["id"])
    assert session["title"] == ASKED  # every key typed on the phone arrived
    await go(phone, "Sessions")
    await tagged(phone, f"session-{sid}").first.click()  # type: ignore[attr-defined]
    await sees(phone, "Run on test-bridge", timeout=60_000)
    assert status(journey, sid) == "starting" and session["runtime_id"] is None
    await step(phone, "member-5-waiting-for-a-bridge")
    await tap_until(phone, "Run on test-bridge", lambda: placed(journey, sid) == runtime_id)
    await status_is(journey, sid, "idle")
    await choose_pane(phone, "transcript", HELLO)
    await step(phone, "member-6-ran-on-the-owners-bridge")


def placed(journey: Journey, sid: str) -> str | None:
    """The runtime the session runs on."""
    found = journey.api("GET", f"/api/sessions/{sid}")["runtime_id"]
    return str(found) if found else None
