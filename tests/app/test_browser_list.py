"""Browser tier: the session list, search and the new-session form in headless Chromium,
at a desktop (1280x800) and a phone (390x844). Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.app.test_browser import (
    SIZES,
    Site,
    explained,
    focused,
    open_app,
    sees,
    shot,
    site,
    tagged,
)

__all__ = ["site"]  # the fixture, shared with the other browser tests

FILTERS = ("active", "needs me", "paused", "failed", "archived", "all")
PANES = ("transcript", "draft", "approvals", "terminal", "files", "checkpoints", "notes")


async def boxes(page: Any, identifiers: list[str]) -> list[dict[str, float]]:
    found = []
    for identifier in identifiers:
        control: Any = tagged(page, identifier)
        box = None
        async with explained(page, f"no node tagged {identifier!r} to measure"):
            for _ in range(50):  # a redraw may replace the node between finding and measuring
                await control.first.wait_for(state="visible")  # semantics follow the 1st frame
                box = await control.first.bounding_box()
                if box is not None:
                    break
                await page.wait_for_timeout(100)
        assert box is not None, f"{identifier} is not drawn"
        found.append(box)
    return found


@pytest.mark.parametrize("size", list(SIZES))
async def test_the_list_says_what_each_session_is_at_and_search_shows_the_match(
    site: Site, size: str
) -> None:
    page = await open_app(site, size)
    await sees(page, "Claude Code · repo")
    await sees(page, "+3\u00a0−1")  # the hosted session's changed files, summed by the server
    await sees(page, "just now")
    # One row of filter chips, however many there are: the later ones scroll into view.
    filters = await boxes(page, [f"filter-{f}" for f in FILTERS[:3]])
    assert len({round(b["y"]) for b in filters}) == 1
    await shot(page, f"{size}-list")
    await page.get_by_role("textbox", name=re.compile("Search sessions")).click()
    await focused(page, "Search sessions")
    await page.keyboard.type("AssertionError")
    await page.keyboard.press("Enter")
    await sees(page, "terminal:")  # where it matched, then the server's snippet
    await sees(page, "AssertionError 1 failed")
    await shot(page, f"{size}-search")


async def test_a_phone_s_pane_chips_are_one_row_under_a_short_header(site: Site) -> None:
    page = await open_app(site, "phone")
    await sees(page, "Add email to users")
    await tagged(page, f"session-{site.hosted}").first.click()  # type: ignore[attr-defined]
    await sees(page, "Run the test suite")
    chips = await boxes(page, [f"pane-{p}" for p in PANES[:3]])
    assert len({round(b["y"]) for b in chips}) == 1
    bottom = max(b["y"] + b["height"] for b in chips)
    # Two wrapped rows of chips ended at 30 % of the screen; one row ends near 25 %.
    assert bottom < 0.27 * SIZES["phone"][1], f"header and chips end at {bottom} px"
    await shot(page, "phone-session-chips")


@pytest.mark.parametrize("size", list(SIZES))
async def test_the_form_has_every_choice_and_fits_a_phone(site: Site, size: str) -> None:
    page = await open_app(site, size)
    await sees(page, "Add email to users")
    role = "tab" if size == "phone" else "button"
    await page.get_by_role(role, name=re.compile("^New")).click()
    await sees(page, "Private (only you and admins see it)")
    title = page.get_by_role("textbox", name=re.compile("^Title"))
    fields = ["field-repo", "field-tool", "field-permissions", "field-location"]
    widths = [b["width"] for b in [await title.bounding_box(), *await boxes(page, fields)] if b]
    assert len(widths) == 5
    if size == "phone":  # the screen's width, less the padding: no half-width dropdowns
        assert min(widths) >= SIZES["phone"][0] - 2 * 12 - 2, widths
    else:
        assert all(400 <= width <= 440 for width in widths), widths
    await shot(page, f"{size}-form")  # the tools by name ("Claude Code"), not by id
