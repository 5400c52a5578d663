"""Browser tier: the web app in headless Chromium against a real server subprocess.

Seeded sessions, a scripted runtime writing the hosted session's io; at a
desktop (1280x800) and a phone (390x844) viewport. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.app.seed import (
    NOW,
    ORIGIN,
    ScriptedRuntime,
    SeededDir,
    decided,
    prompted,
    seed_data_dir,
)
from tests.conftest import eventually
from tests.support import parts
from tests.support.server_process import ROOT, ServerProcess
from trace_app.client import UNREACHABLE
from trace_sync.client.sync_client import SyncClient
from trace_sync.docs import entries as e
from trace_sync.docs import typed
from trace_sync.docs.layouts import SESSION_IO, SESSION_NOTES

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = ROOT / "test-artifacts"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}

try:
    from playwright.async_api import Browser, Locator, Page, async_playwright
    from playwright.async_api import TimeoutError as PlaywrightTimeout
except ImportError:  # pragma: no cover - reported by the fixture below
    async_playwright = None  # type: ignore[assignment]


def _require_browser() -> None:
    missing = []
    if async_playwright is None:
        missing.append("pip install playwright (make test does)")
    if not shutil.which(CHROMIUM):
        missing.append("apt-get install chromium fonts-dejavu-core (.ci/run does)")
    if missing:
        parts.missing("browser tier needs: " + "; ".join(missing))


@dataclass
class Site:
    server: ServerProcess
    seeded: SeededDir
    runtime: ScriptedRuntime
    browser: Browser

    @property
    def hosted(self) -> str:
        return self.seeded.seeded.sessions["Add email to users"]

    def sign_in_link(self) -> str:
        reply = httpx.post(
            f"{self.server.url}/api/signin-links",
            headers={"Authorization": f"Bearer {self.server.token}"},
        )
        return str(reply.json()["url"])


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    _require_browser()
    seeded = await seed_data_dir(tmp_path / "data", tmp_path)
    # The scripted runtime writes io over /sync but holds no /bridge link: a long lease
    # keeps the server from failing its session as lost while the tests run.
    server = ServerProcess(tmp_path / "data", extra_env={"TRACE_BRIDGE_LEASE_S": "600"})
    server.start()
    try:
        sid = seeded.seeded.sessions["Add email to users"]
        async with (
            ScriptedRuntime(server.url, sid, seeded.seeded) as runtime,
            async_playwright() as pw,
        ):
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            yield Site(server, seeded, runtime, browser)
            await browser.close()
    finally:
        if server.process is not None:
            server.stop(signal.SIGKILL)


#: How long a browser step may wait (Playwright's default is 30 s): a 2-core machine
#: running the whole suite draws a Flutter page slowly.
STEP_MS = 60_000


async def open_app(site: Site, size: str, url: str | None = None, touch: bool = False) -> Page:
    """The app at ``size``, signed in; ``touch``: a phone's touch screen and mobile
    browser (taps and swipes are touches, as on a phone)."""
    width, height = SIZES[size]
    context = await site.browser.new_context(
        viewport={"width": width, "height": height}, has_touch=touch, is_mobile=touch
    )
    context.set_default_timeout(STEP_MS)
    page = await context.new_page()
    await page.goto(url or site.sign_in_link())
    await accessible(page)
    return page


#: Clicks Flutter's offer of its semantics tree while there is one; true once the tree is on.
SEMANTICS_ON = """() => {
    document.querySelector('flt-semantics-placeholder')?.click();
    return document.querySelector('flt-semantics') !== null;
}"""


async def accessible(page: Page) -> None:
    """Once Flutter has drawn: its accessibility tree on (the tests read it). The web
    app's page switches it on itself (its terminals need it); a page that did not yet
    is switched on here."""
    await page.wait_for_function(SEMANTICS_ON, timeout=60_000, polling=100)


async def shot(page: Page, name: str, folder: Path | None = None) -> None:
    """A screenshot in ``folder`` (a test's tmp dir), by default test-artifacts/."""
    (folder or ARTIFACTS).mkdir(parents=True, exist_ok=True)
    await page.wait_for_timeout(800)  # let the canvas paint what the semantics tree has
    await page.screenshot(path=str((folder or ARTIFACTS) / f"{name}.png"))


def tagged(page: Page, identifier: str) -> object:
    return page.locator(f'[flt-semantics-identifier="{identifier}"]')


async def focused(page: Page, label: str, timeout: float = STEP_MS) -> None:
    """Until the field whose label starts with ``label`` has the keyboard (Flutter
    makes its input a frame after the tap: keys typed before then are not the field's)."""
    await page.wait_for_function(
        "l => document.activeElement?.getAttribute('aria-label')?.startsWith(l)",
        arg=label,
        timeout=timeout,
    )


async def press_for_focus(page: Page, key: str, label: str) -> None:
    """Press ``key`` until the field labelled ``label`` has the keyboard, as a person
    presses again when nothing happened: a loaded run waited a minute for a field that
    one press never focused (twice, at the phone size)."""
    for _ in range(2):
        await page.keyboard.press(key)
        with contextlib.suppress(PlaywrightTimeout):
            await focused(page, label, timeout=STEP_MS / 3)
            return
    await page.keyboard.press(key)
    await focused(page, label)


async def type_into(page: Page, label: str, text: str) -> None:
    """As a person types: tap the field, see the caret, then type."""
    await page.get_by_role("textbox", name=label, exact=True).click()
    await focused(page, label)
    await page.keyboard.type(text)


async def sees(page: Page, text: str, timeout: float = STEP_MS) -> None:
    """Wait until ``text`` is somewhere in the accessibility tree."""
    async with explained(page, f"never saw {text!r}"):
        await page.wait_for_function(
            "t => document.querySelector('flt-semantics-host, flt-glass-pane')"
            " && (document.body.innerText + [...document.querySelectorAll('[aria-label]')]"
            ".map(e => e.getAttribute('aria-label')).join(' ')).includes(t)",
            arg=text,
            timeout=timeout,
        )


@contextlib.asynccontextmanager
async def explained(page: Page, what: str) -> AsyncIterator[None]:
    """A step that times out says what the page showed then (and leaves a screenshot in
    test-artifacts/failed/), not only what it waited for: a failure in a loaded CI run
    is seldom seen again."""
    try:
        yield
    except PlaywrightTimeout as exc:
        name = f"{time.strftime('%H%M%S')}-{id(page):x}"
        with contextlib.suppress(Exception):
            await shot(page, name, ARTIFACTS / "failed")
        focus = await page.evaluate(
            "() => { const a = document.activeElement;"
            " return [a?.tagName, a?.getAttribute('aria-label'), a?.value]; }"
        )
        tags = await page.evaluate(
            "() => [...document.querySelectorAll('[flt-semantics-identifier]')]"
            ".map(e => e.getAttribute('flt-semantics-identifier'))"
        )
        raise PlaywrightTimeout(  # still a timeout: a step that retries catches it
            f"{what}; focused {focus}; screenshot failed/{name}.png; tagged {tags};"
            f" the page shows: {(await shown(page))[:3000]!r}"
        ) from exc


async def shown(page: Page) -> str:
    """All the page shows: its text and the accessibility tree's labels."""
    return str(
        await page.evaluate(
            "() => document.body.innerText + [...document.querySelectorAll('[aria-label]')]"
            ".map(e => e.getAttribute('aria-label')).join(' ')"
        )
    )


@pytest.mark.parametrize("size", list(SIZES))
async def test_sign_in_list_open_a_session_and_see_everything(site: Site, size: str) -> None:
    page = await open_app(site, size, url=site.server.url)  # no cookie yet: the form
    await sees(page, "Sign in to Trace")
    token = await page.get_by_role("textbox", name="Token").bounding_box()
    assert token is not None and token["x"] + token["width"] <= SIZES[size][0]  # fits
    await shot(page, f"{size}-signin")
    await page.goto(site.sign_in_link())
    await accessible(page)
    await sees(page, "Add email to users")
    await sees(page, "waiting for approval")
    await shot(page, f"{size}-sessions")
    await tagged(page, f"session-{site.hosted}").first.click()  # type: ignore[attr-defined]
    await sees(page, "Run the test suite")
    await sees(page, "pytest -q tests/test_models.py")
    await shot(page, f"{size}-session")
    if size == "phone":
        await tagged(page, "pane-transcript").first.click()  # type: ignore[attr-defined]
        await sees(page, "Add an email field to users")
        await shot(page, f"{size}-transcript")
    await tagged(page, "pane-terminal").first.click()  # type: ignore[attr-defined]
    await sees(page, "FAILED")
    await type_into(page, "Type into this terminal (Enter sends)", "ls")
    await page.keyboard.press("Enter")
    await sees(page, "Not typed:")  # the input reaches the server: no bridge link to pass it on
    await shot(page, f"{size}-terminal")
    await tagged(page, "pane-files").first.click()  # type: ignore[attr-defined]
    await sees(page, "docs/")
    await shot(page, f"{size}-files")
    role = "tab" if size == "phone" else "button"  # a bottom bar, or a rail
    await page.get_by_role(role, name=re.compile("^Bridges")).click()
    await sees(page, "scripted runtime")
    await shot(page, f"{size}-bridges")


async def draft_reads(page: Page, text: str, within_ms: int = 30_000) -> None:
    """Poll the focused draft field for ``text`` (Flutter's web semantics expose a text
    field's value only while it has the focus: then it is a real textarea)."""
    typed: list[str] = []
    for _ in range(within_ms // 250):
        typed = await page.evaluate(
            "() => [...document.querySelectorAll('textarea')].map(e => e.value)"
        )
        if text in typed:
            return
        await page.wait_for_timeout(250)
    raise AssertionError(f"the draft never read {text!r}: {typed}")


async def _draft(page: Page) -> object:
    return page.get_by_role("textbox", name="Shared prompt draft")


async def _open_session(site: Site, size: str, pane: str = "draft") -> Page:
    page = await open_app(site, size)
    await sees(page, "Add email to users")
    await tagged(page, f"session-{site.hosted}").first.click()  # type: ignore[attr-defined]
    await sees(page, "Run the test suite")
    if size == "phone":
        await tagged(page, f"pane-{pane}").first.click()  # type: ignore[attr-defined]
    return page


async def choose_pane(page: Page, pane: str, shows: str) -> None:
    """Tap a pane's chip until the pane shows ``shows``, as a person taps again when
    nothing happens (at most three taps)."""
    for _ in range(3):
        await tagged(page, f"pane-{pane}").first.click()  # type: ignore[attr-defined]
        try:
            await sees(page, shows, timeout=10_000)
            return
        except PlaywrightTimeout:
            continue
    await sees(page, shows)


@pytest.mark.parametrize("size", list(SIZES))
async def test_two_people_typing_in_the_shared_draft_converge(site: Site, size: str) -> None:
    ada = await _open_session(site, size)
    bob = await _open_session(site, "desktop")
    await type_into(ada, "Shared prompt draft", "Also add a migration.")
    await (await _draft(bob)).click()  # type: ignore[attr-defined]
    await focused(bob, "Shared prompt draft")
    await draft_reads(bob, "Also add a migration.")
    await bob.keyboard.press("End")
    await bob.keyboard.type(" And docs.")
    for page in (ada, bob):
        await draft_reads(page, "Also add a migration. And docs.")
    await sees(ada, "Also here:")  # bob's presence
    await shot(ada, f"{size}-draft")


@pytest.mark.parametrize("size", list(SIZES))
async def test_approving_a_request_changes_the_status(site: Site, size: str) -> None:
    page = await _open_session(site, size, pane="approvals")
    await page.get_by_role("button", name="Approve").first.click()
    decision = await decided(site.server.url, site.hosted, site.server.token)
    assert decision["behavior"] == "allow"
    await sees(page, "Approved by")
    await shot(page, f"{size}-approve")
    site.runtime.answer_approval("running")  # the decision reached the tool: it goes on
    await site.runtime.io.flush()
    await sees(page, "status running")
    await sees(page, "No pending approvals.")
    await shot(page, f"{size}-approved")


async def members_of(site: Site) -> dict[str, str]:
    """Name -> role, as the server has them."""
    async with httpx.AsyncClient(base_url=site.server.url) as http:
        wid = site.seeded.seeded.workspace_id
        reply = await http.get(
            f"/api/workspaces/{wid}/members",
            headers={"Authorization": f"Bearer {site.server.token}"},
        )
    return {m["user"]["name"]: m["role"] for m in reply.json()["items"]}


@pytest.mark.parametrize("size", list(SIZES))
async def test_the_owner_changes_a_role_invites_and_removes_a_member(
    site: Site, size: str, tmp_path: Path
) -> None:
    page = await open_app(site, size)
    await sees(page, "Add email to users")
    role = "tab" if size == "phone" else "button"
    await page.get_by_role(role, name=re.compile("^Members")).click()
    await sees(page, "bob")
    await shot(page, f"{size}-members", tmp_path)
    await tagged(page, "role-of-bob").first.click()  # type: ignore[attr-defined]
    await page.get_by_role("button", name="viewer", exact=True).click()
    await eventually(lambda: _has(site, "bob", "viewer"), within=30)
    await page.get_by_role("button", name="Invite").click()
    await sees(page, "Invitation code for a new member")
    await shot(page, f"{size}-members-invited", tmp_path)
    await tagged(page, "remove-bob").first.click()  # type: ignore[attr-defined]
    await eventually(lambda: _has(site, "bob", None), within=30)
    await shot(page, f"{size}-members-removed", tmp_path)


async def _has(site: Site, name: str, role: str | None) -> bool:
    return (await members_of(site)).get(name) == role


def _long_transcript(runtime: ScriptedRuntime, entries: int) -> None:
    """A turn's worth of text, enough to pass the height of a window, and the
    tool's stderr as the runtime's error (as a crashed tool leaves it)."""
    trace = "\n".join(f'  File "app/models.py", line {n}, in greet' for n in range(30))
    with runtime.io.doc.transaction(origin=ORIGIN):
        runtime_map = typed.root_of(runtime.io.doc, SESSION_IO, "runtime")
        runtime_map["error"] = f"the tool wrote to stderr:\nTraceback:\n{trace}"
    for n in range(entries):
        said = e.AssistantText(
            id=f"long-{n}", at=NOW, text=f"Step {n}: looked at the models.\n\nThen at the tests."
        )
        typed.append(runtime.io.doc, SESSION_IO, "transcript", said, origin=ORIGIN)


async def test_the_draft_and_send_stay_in_the_window_under_a_long_transcript(
    site: Site, tmp_path: Path
) -> None:
    _long_transcript(site.runtime, 8)
    await site.runtime.io.flush()
    page = await _open_session(site, "desktop")
    await sees(page, "the tool wrote to stderr")
    await shot(page, "desktop-long-transcript", tmp_path)
    send = await page.get_by_role("button", name="Send", exact=True).bounding_box()
    draft = await (await _draft(page)).bounding_box()  # type: ignore[attr-defined]
    assert send is not None and draft is not None
    assert send["y"] + send["height"] <= SIZES["desktop"][1]  # in the window: it can be clicked
    assert draft["y"] >= 0
    await type_into(page, "Shared prompt draft", "Now add a migration.")
    await draft_reads(page, "Now add a migration.")
    await page.get_by_role("button", name="Send", exact=True).click()
    # The server has it (its "pending" line can be gone before the page is read).
    await prompted(site.server.url, site.hosted, site.server.token, "Now add a migration.")


async def _agent_working(runtime: ScriptedRuntime, stop: asyncio.Event) -> None:
    """The agent streams text while a person reviews (each piece redraws their page)."""
    while not stop.is_set():
        runtime.stream(".")
        await runtime.io.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


async def comment_on_line(page: Page, field: Locator) -> None:
    """Open line 1's comment field and focus it, as a person would before typing."""
    await open_comment_field(page, field)
    await field.click()
    await focused(page, "Comment on this line")


async def open_comment_field(page: Page, field: Locator) -> None:
    """Tap line 1 until its comment field opens. A tap that lands just as the row is
    redrawn (the previous comment arriving) is lost, and under heavy load the row was
    once missing from the page's semantics tree for a whole step (while the screen
    showed it); a person taps again, and so does this, at most twice more."""
    for attempt in range(3):
        try:
            async with explained(page, "line 1 of the diff was not there to tap"):
                await tagged(page, "diff-new-1").first.click(timeout=20_000)  # type: ignore[attr-defined]
            await field.wait_for(timeout=15_000)
            return
        except PlaywrightTimeout:
            if attempt == 2:
                raise


async def comments_in_notes(site: Site) -> int:
    async with SyncClient(
        site.server.url, f"session/{site.hosted}/notes", site.server.token, read_only=True
    ) as notes:
        await notes.wait_synced()
        return len(typed.read_array(notes.doc, SESSION_NOTES, "comments"))


@pytest.mark.timeout(600)
@pytest.mark.parametrize("size", list(SIZES))
async def test_thirty_review_comments_typed_at_speed_all_arrive(site: Site, size: str) -> None:
    page = await _open_session(site, size, pane="files")
    await choose_pane(page, "files", "app/models.py")
    stop = asyncio.Event()
    working = asyncio.create_task(_agent_working(site.runtime, stop))
    field = page.get_by_role("textbox", name="Comment on this line")
    notes = SyncClient(
        site.server.url, f"session/{site.hosted}/notes", site.server.token, read_only=True
    )
    async with notes:
        await notes.wait_synced()
        arrived = lambda: len(typed.read_array(notes.doc, SESSION_NOTES, "comments"))  # noqa: E731
        try:
            for n in range(30):
                await comment_on_line(page, field)
                await page.keyboard.type(f"comment {n}: name the type", delay=10 + n % 11)
                await page.keyboard.press("Enter")
                with contextlib.suppress(AssertionError):  # a lost comment: on to the next
                    await eventually(lambda n=n: arrived() == n + 1, within=5)  # type: ignore[misc]
        finally:
            stop.set()
            await working
            await shot(page, f"{size}-comments")
        assert arrived() == 30
    await sees(page, "30 review comments")


@pytest.mark.parametrize("size", list(SIZES))
async def test_a_server_restart_is_said_in_place_and_the_tab_returns_where_it_was(
    site: Site, size: str
) -> None:
    page = await _open_session(site, size, pane="files")
    if size == "desktop":
        await tagged(page, "pane-files").first.click()  # type: ignore[attr-defined]
    await sees(page, "app/models.py")
    await page.wait_for_url(f"**/session/{site.hosted}/files")
    # A crash on one size, a graceful restart on the other: the tab cannot tell them apart.
    site.server.stop(signal.SIGKILL if size == "phone" else signal.SIGTERM)
    banner = page.get_by_role("alert")
    await banner.wait_for(timeout=15_000)
    assert await banner.inner_text() == UNREACHABLE
    await sees(page, "app/models.py")  # the last view stays under the banner
    await shot(page, f"{size}-server-away")
    async with page.expect_websocket(lambda ws: ws.url.endswith("/ws"), timeout=60_000) as link:
        await asyncio.to_thread(site.server.start)
    await banner.wait_for(state="detached", timeout=15_000)
    await (await link.value).wait_for_event("framereceived")  # the new server's page
    await sees(page, "Add email to users")
    await sees(page, "app/models.py")
    assert page.url.endswith(f"/session/{site.hosted}/files")
    await shot(page, f"{size}-server-back")


async def test_the_tab_title_counts_what_needs_you_until_it_is_read(site: Site) -> None:
    page = await open_app(site, "desktop")
    await page.wait_for_function("/^\\(\\d+\\) Trace$/.test(document.title)", timeout=60_000)
    await page.get_by_role("button", name=re.compile("Inbox")).click()
    await sees(page, "Add email to users needs your approval")
    await shot(page, "desktop-inbox")
    await tagged(page, "inbox-read-all").first.click()  # type: ignore[attr-defined]
    await page.wait_for_function("document.title === 'Trace'", timeout=30_000)


async def test_the_usage_chart_draws_in_the_browser(site: Site) -> None:
    page = await open_app(site, "desktop")
    await page.get_by_role("button", name=re.compile("^Settings")).click()
    await page.get_by_role("button", name="Usage and budgets").click()
    await sees(page, "spent $0.42")
    await tagged(page, "usage-by-tool").first.click()  # type: ignore[attr-defined]
    await sees(page, "claude_code: $0.42 · 1,540 tokens")  # the totals beside the chart
    await shot(page, "desktop-usage")
    assert "Unknown control" not in await page.evaluate("document.body.innerText")
