"""Browser tier: the keyboard in headless Chromium, at a desktop (1280x800) and a phone
(390x844): real key presses move between sessions and panes, approve the focused
request, send the draft, search, and ``?`` lists the keys. No mouse after the first
click that gives the page the focus.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.app.seed import decided
from tests.app.test_browser import (
    SIZES,
    Site,
    _open_session,
    choose_pane,
    draft_reads,
    focused,
    open_app,
    open_comment_field,
    press_for_focus,
    sees,
    shot,
    site,
    type_into,
)
from tests.conftest import eventually
from trace_sync.client.sync_client import SyncClient
from trace_sync.docs import entries as e
from trace_sync.docs import typed
from trace_sync.docs.layouts import SESSION, SESSION_NOTES

__all__ = ["site"]  # the fixture, shared with the other browser tests


async def _list(site: Site, size: str) -> Any:
    """The list, drawn: its search field, and the hosted session's title (which the
    approval banner shows on every view too). Keys need no tag in Flutter's semantics
    tree, which a loaded CI run once saw and then did not find for a minute."""
    page = await open_app(site, size)
    await page.get_by_role("textbox", name="Search sessions").wait_for()
    await sees(page, "Add email to users")
    return page


async def _route(page: Any, part: str, within_ms: int = 20_000) -> None:
    """Wait until the browser's address holds ``part`` (the app keeps its place there)."""
    await page.wait_for_function("p => location.pathname.includes(p)", arg=part, timeout=within_ms)


async def _open_hosted_by_keys(page: Any, site: Site) -> None:
    """j until the hosted session is highlighted... Enter: its id lands in the address."""
    for _ in range(3):
        await page.keyboard.press("j")
        await page.keyboard.press("Enter")
        await _route(page, "/session/")
        if site.hosted in page.url:
            return
        await page.keyboard.press("Escape")  # back to the list, which keeps its highlight
        await _route(page, "/sessions")
    await _route(page, site.hosted)


@pytest.mark.parametrize("size", list(SIZES))
async def test_keys_move_between_sessions_and_panes_and_approve(site: Site, size: str) -> None:
    page = await _list(site, size)
    await _open_hosted_by_keys(page, site)
    await sees(page, "Run the test suite")
    await sees(page, "status waiting for approval")  # the tool waits: keys may answer
    await page.keyboard.press("]")
    await _route(page, f"{site.hosted}/terminal" if size == "desktop" else "/terminal")
    await page.keyboard.press("[")
    await _route(page, "/approvals")
    await page.keyboard.press("a")
    decision = await decided(site.server.url, site.hosted, site.server.token)
    assert decision["behavior"] == "allow"
    await sees(page, "Approved by")
    await shot(page, f"{size}-keys-approved")
    await page.keyboard.press("k")  # the previous session: another one opens
    await page.wait_for_function("sid => !location.pathname.includes(sid)", arg=site.hosted)


@pytest.mark.parametrize("size", list(SIZES))
async def test_question_mark_lists_the_keys_and_escape_closes_the_list(
    site: Site, size: str
) -> None:
    page = await _list(site, size)
    await page.keyboard.press("?")
    await sees(page, "Approve the focused request")  # the table, as the overlay renders it
    await sees(page, "Ctrl+Enter or Meta+Enter")
    await shot(page, f"{size}-keys-overlay")
    await page.keyboard.press("Escape")
    await page.wait_for_function(
        "() => ![...document.querySelectorAll('[aria-label]')]"
        ".some(e => e.getAttribute('aria-label').includes('Approve the focused request'))"
    )


@pytest.mark.parametrize("size", list(SIZES))
async def test_search_and_send_the_draft_from_the_keyboard(site: Site, size: str) -> None:
    page = await _list(site, size)
    await press_for_focus(page, "/", "Search sessions")
    await page.keyboard.type("flaky")  # letters typed into the search are not shortcuts
    await page.wait_for_function(
        "() => !document.body.innerText.includes('Explore the parser')"
        " && ![...document.querySelectorAll('[aria-label]')]"
        ".some(e => e.getAttribute('aria-label').includes('Explore the parser'))"
    )
    await page.keyboard.press("Tab")  # out of the field: keys are shortcuts again
    await page.wait_for_function("() => document.activeElement?.tagName !== 'INPUT'")
    await page.keyboard.press("j")
    await page.keyboard.press("Enter")
    flaky = site.seeded.seeded.sessions["Fix flaky CI"]
    await _route(page, flaky)
    await press_for_focus(page, "c", "Shared prompt draft")
    await page.keyboard.type("Just rerun the job")  # a j and an r: text, not keys
    await draft_reads(page, "Just rerun the job")
    await page.keyboard.press("Control+Enter")
    await eventually(lambda: _prompted(site, flaky, "Just rerun the job"), within=30)
    assert flaky in page.url
    await shot(page, f"{size}-keys-sent")


async def _prompted(site: Site, sid: str, text: str) -> bool:
    """Whether ``text`` is among the session's prompts, as the server has them."""
    async with SyncClient(
        site.server.url, f"session/{sid}", site.server.token, read_only=True
    ) as session:
        await session.wait_synced()
        prompts = typed.read_array(session.doc, SESSION, "prompts")
        return any(isinstance(p, e.PromptEntry) and p.text == text for p in prompts)


#: Comments typed at once after the tap: without the page's early-keys script about
#: one in five lost its first letter (34 of 164 over nine runs here, 0 to 18 a run).
AT_ONCE = 12


@pytest.mark.parametrize("size", list(SIZES))
async def test_a_comment_typed_at_once_after_the_tap_keeps_every_letter(
    site: Site, size: str
) -> None:
    page = await _open_session(site, size, pane="files")
    await choose_pane(page, "files", "app/models.py")
    field = page.get_by_role("textbox", name="Comment on this line")
    async with SyncClient(
        site.server.url, f"session/{site.hosted}/notes", site.server.token, read_only=True
    ) as notes:
        await notes.wait_synced()
        said = lambda: [c.text for c in typed.read_array(notes.doc, SESSION_NOTES, "comments")]  # noqa: E731
        for n in range(AT_ONCE):
            await open_comment_field(page, field)
            await field.click()
            await page.keyboard.type(f"comment {n}: check the caller")  # no pause after the tap
            await page.keyboard.press("Enter")
            await eventually(lambda n=n: len(said()) == n + 1, within=30)  # type: ignore[misc]
        assert said() == [f"comment {n}: check the caller" for n in range(AT_ONCE)]
    await sees(page, f"{AT_ONCE} review comments")


#: The keydown trace_app/early_keys.js presses again for an Enter typed before Flutter
#: listened to the field (its ``ENTER``), dispatched on the field alone.
EARLY_ENTER = """() => document.activeElement.dispatchEvent(new KeyboardEvent("keydown",
    {key: "Enter", code: "Enter", keyCode: 13, which: 13, cancelable: true}))"""


async def test_the_enter_pressed_again_for_early_keys_submits_the_field(site: Site) -> None:
    """The script's own test plays Flutter with a stand-in; here the real app hears it."""
    page = await _open_session(site, "phone", pane="terminal")
    await choose_pane(page, "terminal", "FAILED")
    await type_into(page, "Type into this terminal (Enter sends)", "ls")
    await page.wait_for_function("() => document.activeElement?.value === 'ls'")
    await page.evaluate(EARLY_ENTER)
    await sees(page, "Not typed:")  # submitted: the server has no bridge link to pass it on


async def test_keys_typed_after_the_phone_bar_stay_in_the_field(site: Site) -> None:
    """The mouse taps New on the bottom bar, then the prompt: the bar's tooltip coming or
    going (the mouse rested on it, then left) took the keyboard from the field."""
    page = await open_app(site, "phone")
    await sees(page, "Add email to users")
    for n in range(3):
        await page.get_by_role("tab", name=re.compile("^New")).click()
        await sees(page, "New session")
        await page.get_by_role("textbox", name="Prompt", exact=True).click()
        await focused(page, "Prompt")
        text = f" prompt {n}: write the notes"
        await page.keyboard.type(text)
        await page.wait_for_function(
            "t => document.activeElement?.value?.endsWith(t)", arg=text, timeout=10_000
        )
        await page.get_by_role("tab", name=re.compile("^Sessions")).click()
        # The list itself (its title is in the banner on every view): a tap on New
        # before the list was drawn went to the form about to be replaced.
        await page.get_by_role("textbox", name="Search sessions").wait_for()
