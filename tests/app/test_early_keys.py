"""The page's early-keys script (``trace_app/early_keys.js``) against a stand-in for
Flutter's taking over of a field, in headless Chromium.

Flutter listens to a tapped field's ``<input>`` some time after the browser focused
it (10-50 ms; more on a slow phone), then writes the text it knows into it. The
stand-in does the same, at a moment the test chooses, so the keys are typed before it
for certain (the app's own browser tests type at once after the tap, where the order
is left to chance; a real Flutter submitting on the script's Enter is shown there).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.app.test_browser import ARGS, CHROMIUM, _require_browser

try:
    from playwright.async_api import Page, async_playwright
except ImportError:  # pragma: no cover - reported by _require_browser
    async_playwright = None  # type: ignore[assignment]

SCRIPT = (Path(__file__).resolve().parents[2] / "trace_app" / "early_keys.js").read_text()

#: Flutter's part, as the probes saw it: listen to input, then keydown, then write.
STAND_IN = """
window.heard = [];
window.takeOver = (id, known) => {
  const el = document.getElementById(id);
  el.addEventListener("input", () => window.heard.push("input:" + el.value));
  el.addEventListener("keydown", (e) => {
    if (e.key === "Enter") window.heard.push("enter:" + el.value);
  });
  el.value = known;
  el.setSelectionRange(known.length, known.length);
};
"""
PAGE = '<input id="line"><textarea id="lines"></textarea>'


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    _require_browser()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page()
        await page.add_init_script(SCRIPT + STAND_IN)
        await page.goto(f"data:text/html,{PAGE}")  # a navigation: the init script runs
        yield page
        await browser.close()


async def heard(page: Page) -> list[str]:
    return list(await page.evaluate("window.heard"))


async def test_letters_and_an_enter_typed_before_the_takeover_are_heard_after_it(
    page: Page,
) -> None:
    await page.focus("#line")
    await page.keyboard.type("ls")
    await page.keyboard.press("Enter")
    await page.evaluate("takeOver('line', 'git ')")  # the text the app knew: kept, then ours
    assert await heard(page) == ["input:git ls", "enter:git ls"]  # the letters, then the Enter


async def test_keys_typed_after_the_takeover_are_heard_once(page: Page) -> None:
    await page.focus("#line")
    await page.evaluate("takeOver('line', '')")
    await page.keyboard.type("ls")
    await page.keyboard.press("Enter")
    assert await heard(page) == ["input:l", "input:ls", "enter:ls"]


async def test_a_new_line_typed_early_in_a_textarea_is_a_letter_not_a_second_enter(
    page: Page,
) -> None:
    await page.focus("#lines")
    await page.keyboard.type("a")
    await page.keyboard.press("Enter")
    await page.keyboard.type("b")
    await page.evaluate("takeOver('lines', '')")
    assert await heard(page) == ["input:a\nb"]
