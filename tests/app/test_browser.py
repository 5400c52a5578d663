"""Browser tier: the web app in headless Chromium against a real server subprocess.

Seeded sessions, a scripted runtime writing the hosted session's io; at a
desktop (1280x800) and a phone (390x844) viewport. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import re
import shutil
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.app.seed import ScriptedRuntime, SeededDir, decided, seed_data_dir
from tests.support import parts
from tests.support.server_process import ROOT, ServerProcess

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = ROOT / "test-artifacts"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}

try:
    from playwright.async_api import Browser, Page, async_playwright
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


async def open_app(site: Site, size: str, url: str | None = None) -> Page:
    width, height = SIZES[size]
    context = await site.browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    await page.goto(url or site.sign_in_link())
    await accessible(page)
    return page


async def accessible(page: Page) -> None:
    """Once Flutter has drawn: switch its accessibility tree on (the tests read it)."""
    await page.wait_for_selector("flt-semantics-placeholder", state="attached", timeout=60_000)
    await page.evaluate("document.querySelector('flt-semantics-placeholder').click()")


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.wait_for_timeout(800)  # let the canvas paint what the semantics tree has
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def tagged(page: Page, identifier: str) -> object:
    return page.locator(f'[flt-semantics-identifier="{identifier}"]')


async def sees(page: Page, text: str, timeout: float = 30_000) -> None:
    """Wait until ``text`` is somewhere in the accessibility tree."""
    await page.wait_for_function(
        "t => document.querySelector('flt-semantics-host, flt-glass-pane')"
        " && (document.body.innerText + [...document.querySelectorAll('[aria-label]')]"
        ".map(e => e.getAttribute('aria-label')).join(' ')).includes(t)",
        arg=text,
        timeout=timeout,
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
    await page.get_by_role("textbox", name="Type into this terminal (Enter sends)").click()
    await page.keyboard.type("ls")
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


@pytest.mark.parametrize("size", list(SIZES))
async def test_two_people_typing_in_the_shared_draft_converge(site: Site, size: str) -> None:
    ada = await _open_session(site, size)
    bob = await _open_session(site, "desktop")
    ada_draft, bob_draft = await _draft(ada), await _draft(bob)
    await ada_draft.click()  # type: ignore[attr-defined]
    await ada.keyboard.type("Also add a migration.")
    await bob_draft.click()  # type: ignore[attr-defined]
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
