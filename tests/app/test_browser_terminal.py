"""The web app's terminal, drawn by the page (xterm.js laid over the pane, fed by the
session's io document over /sync), read as a person sees it: the rows on the screen,
their colours, output that follows, a screen wider than a phone, and what a member
whose access is taken away sees."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from playwright.async_api import Page
from pycrdt import Array, Map, Text

from tests.app.seed import OLDER
from tests.app.test_browser import (
    Site,
    choose_pane,
    explained,
    open_app,
    sees,
    shown,
    site,
)
from trace_app.client import UNREACHABLE
from trace_sync.auth.tokens import parse_token
from trace_sync.docs.entries import SegmentRef, TerminalInfo

__all__ = ["site"]  # the fixture, shared with the other browser tests

ROWS = "() => [...document.querySelectorAll('.trace-terminal .xterm-rows > div')]" \
       ".map(r => r.textContent.trimEnd())"  # fmt: skip


async def rows(page: Page) -> list[str]:
    """The terminal's rows as the page shows them now."""
    return list(await page.evaluate(ROWS))


async def shows(page: Page, text: str) -> None:
    """Wait until a row of the terminal shows ``text``."""
    async with explained(page, f"the terminal never showed {text!r}"):
        await page.wait_for_function(
            f"t => ({ROWS})().some(r => r.includes(t))", arg=text, polling=100
        )


def printed(on: Site, output: str, cols: int | None = None) -> None:
    """The runtime's terminal t1 prints ``output`` (and has ``cols`` columns)."""
    doc = on.runtime.io.doc
    with doc.transaction(origin="test"):
        if cols is not None:
            terminals = doc.get("terminals", type=Map)
            terminals["t1"] = dict(terminals["t1"]) | {"cols": cols}
        text: Text = doc.get("output", type=Map)["t1"]
        text += output


async def scroll_up(page: Page) -> None:
    """A wheel turned upwards over the terminal (it is at the top of what it holds)."""
    box = await page.locator(".trace-terminal").bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + 50, box["y"] + 50)
    await page.mouse.wheel(0, -300)


async def terminal_page(on: Site, size: str, url: str | None = None, touch: bool = False) -> Page:
    page = await open_app(on, size, url, touch)
    session = page.locator(f'[flt-semantics-identifier="session-{on.hosted}"]').first
    await (session.tap() if touch else session.click())
    await choose_pane(page, "terminal", "terminal screen")
    await shows(page, "FAILED")
    return page


@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_the_page_draws_the_screen_a_terminal_would(site: Site, size: str) -> None:
    page = await terminal_page(site, size)
    red = await page.evaluate(
        "() => [...document.querySelectorAll('.trace-terminal .xterm-rows span')]"
        ".filter(s => s.textContent === 'FAILED').map(s => getComputedStyle(s).color)"
    )
    assert red and all(c.startswith("rgb(") and int(c[4:].split(",")[0]) > 150 for c in red)
    # A progress bar redrawn with \r, then output that follows the screen as it comes.
    printed(site, "".join(f"\rprogress {n}/5" for n in range(1, 6)) + "\r\n$ ")
    await shows(page, "progress 5/5")
    assert not any("progress 1/5" in r for r in await rows(page))
    # A table 200 columns wide on a 220-column terminal: one row, scrolled sideways.
    row = "row1" + "".join(f" | cell-{n:02d}" for n in range(1, 21))
    printed(site, row + "\r\n", cols=220)
    await shows(page, "cell-20")
    assert any(row in r for r in await rows(page))
    if size == "phone":
        wider = await page.evaluate(
            "() => { const b = document.querySelector('.trace-terminal');"
            " return b.scrollWidth > b.clientWidth; }"
        )
        assert wider, "the phone scrolls the terminal sideways, it does not wrap it"
    # clear, then a full-screen program on the alternate screen, then back.
    printed(site, "before-clear\r\n\x1b[H\x1b[2Jafter-clear\r\n")
    await shows(page, "after-clear")
    assert not any("before-clear" in r for r in await rows(page))
    printed(site, "\x1b[?1049h\x1b[H\x1b[2Jfull-screen program\r\n")
    await shows(page, "full-screen program")
    assert not any("after-clear" in r for r in await rows(page))
    printed(site, "\x1b[?1049l")
    await shows(page, "after-clear")
    # Another pane takes the terminal away; coming back draws it again.
    await choose_pane(page, "files", "docs/")
    async with explained(page, "the terminal stayed over the files pane"):
        await page.wait_for_function("() => !document.querySelector('.trace-terminal')")
    await choose_pane(page, "terminal", "terminal screen")
    await shows(page, "after-clear")


@pytest.mark.parametrize(
    ("taken", "told"),
    [
        ("membership", "You no longer have access to this workspace"),
        ("token", "This sign-in is no longer valid"),
    ],
)
async def test_a_member_removed_while_watching_sees_why_in_place(
    site: Site, taken: str, told: str
) -> None:
    owner = {"Authorization": f"Bearer {site.server.token}"}
    members = f"{site.server.url}/api/workspaces/{site.seeded.seeded.workspace_id}/members"
    async with httpx.AsyncClient(base_url=site.server.url, headers=owner, timeout=30) as http:
        added = (await http.post(members, json={"name": "mia", "role": "member"})).json()
        hers = {"Authorization": f"Bearer {added['token']}"}
        link = await http.post("/api/signin-links", headers=hers)
        page = await terminal_page(site, "desktop", link.json()["url"])
        if taken == "membership":
            gone = await http.delete(f"{members}/{added['user']['id']}")
        else:  # mia revokes, from another device, the sign-in this browser holds
            tokens = (await http.get("/api/tokens", headers=hers)).json()["items"]
            [browser] = [t for t in tokens if t["id"] != _token_id(added["token"])]
            gone = await http.post(f"/api/tokens/{browser['id']}/revoke", headers=hers)
        assert gone.status_code in (200, 204), gone.text
    # The server closes the page's replica on the spot, and the pane says why.
    await page.wait_for_function(
        "() => document.body.innerText.includes('This terminal cannot be shown')", polling=100
    )
    printed(site, "after-removal\r\n")
    await sees(page, told)  # above the view
    await page.wait_for_timeout(1500)  # what the server still sent would be drawn by now
    assert "after-removal" not in await page.evaluate("document.body.innerText")
    assert UNREACHABLE not in await shown(page)  # the server answers: it said no


def _token_id(token: str) -> str:
    parsed = parse_token(token)
    assert parsed is not None
    return parsed.token_id


async def test_a_word_double_clicked_in_the_terminal_is_copied_and_the_keys_still_work(
    site: Site,
) -> None:
    page = await terminal_page(site, "desktop")
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    row = page.locator(".trace-terminal .xterm-rows > div", has_text="FAILED").first
    box = await row.bounding_box()
    assert box is not None
    await page.mouse.dblclick(box["x"] + 20, box["y"] + box["height"] / 2)
    await page.keyboard.press("Control+c")
    assert await page.evaluate("navigator.clipboard.readText()") == "FAILED"
    assert await page.evaluate("document.activeElement.className") == "xterm-helper-textarea"
    await page.keyboard.press("?")  # the terminal has the focus; the app hears its keys
    await sees(page, "Approve the focused request")


async def test_scrolling_to_the_top_brings_the_sealed_output_back(site: Site) -> None:
    page = await terminal_page(site, "desktop")
    assert not any("older output from a sealed segment" in r for r in await rows(page))
    await scroll_up(page)
    await shows(page, "older output from a sealed segment")
    printed(site, "after-older\r\n")  # what follows still comes, after it
    await shows(page, "after-older")
    shown = await rows(page)
    older = next(i for i, r in enumerate(shown) if "older output from a sealed segment" in r)
    assert older < shown.index("FAILED tests/test_models.py::test_email - AssertionError")


async def test_a_finger_swiped_down_on_a_phone_scrolls_the_terminal_back(site: Site) -> None:
    page = await terminal_page(site, "phone", touch=True)
    assert not any("older output from a sealed segment" in r for r in await rows(page))
    box = await page.locator(".trace-terminal").bounding_box()
    assert box is not None
    touch = await page.context.new_cdp_session(page)
    for _ in range(5):  # a few swipes, as a thumb does, until the oldest output shows
        await touch.send(
            "Input.synthesizeScrollGesture",
            {"x": box["x"] + box["width"] / 2, "y": box["y"] + 40, "yDistance": 400,
             "gestureSourceType": "touch", "speed": 1200},
        )  # fmt: skip
        if any("older output from a sealed segment" in r for r in await rows(page)):
            break
    await shows(page, "older output from a sealed segment")


async def test_output_sealed_while_watching_is_there_once_when_scrolling_back(site: Site) -> None:
    page = await terminal_page(site, "desktop")
    # The recorder seals the whole window into a second segment, then prints on.
    doc, runtime = site.runtime.io.doc, site.runtime
    text: Text = doc.get("output", type=Map)["t1"]
    window = str(text)
    sealed = await runtime.segment("t1-1")
    sealed.doc.get("entries", type=Array).append(window)
    await runtime.flush()  # the segment is there before the window refers to it
    info = TerminalInfo.model_validate(dict(doc.get("terminals", type=Map)["t1"]))
    with doc.transaction(origin=runtime.origin):
        del text[0 : len(window)]
        text += "fresh line\r\n"
        moved = {"sealed_chars": len(OLDER) + len(window)}
        runtime.put("terminals", "t1", info.model_copy(update=moved))
        at = datetime.now(UTC)
        ref = SegmentRef(name="t1-1", kind="terminal", terminal_id="t1", first=len(OLDER),
                         count=len(window), at=at)  # fmt: skip
        runtime.append("segments", ref)
    await shows(page, "fresh line")
    await scroll_up(page)
    await shows(page, "older output from a sealed segment")
    shown = await rows(page)
    lines = ["older output from a sealed segment", "1 failed, 4 passed in 0.12s", "fresh line"]
    where = [[i for i, r in enumerate(shown) if line in r] for line in lines]
    assert all(len(w) == 1 for w in where), shown  # each once
    assert where == sorted(where), shown  # in the order they were printed
