"""Browser tier: what the files pane's diff shows in headless Chromium, at a desktop
(1280x800) and a phone (390x844): colours in the pixels, old and new lines beside or
under each other, long lines on one row, a fold that opens, a "viewed" mark that a
reload keeps. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.app import seed
from tests.app.test_browser import (
    SIZES,
    Site,
    accessible,
    choose_pane,
    open_app,
    sees,
    shot,
    site,
    tagged,
)
from tests.app.test_browser_list import boxes

__all__ = ["site"]  # the fixture, shared with the other browser tests

#: The keyword colour (trace_app.ui.diff_table.SYNTAX_COLOURS) and the changed-word shade.
KEYWORD = (0xCF, 0x22, 0x2E)
ADDED_WORD = (0xAB, 0xF2, 0xBC)
ADDED_LINE = (0xE6, 0xFF, 0xEC)

_COUNT = """async ([png, rgb, tolerance]) => {
  const image = new Image();
  image.src = 'data:image/png;base64,' + png;
  await image.decode();
  const canvas = new OffscreenCanvas(image.width, image.height);
  const g = canvas.getContext('2d');
  g.drawImage(image, 0, 0);
  const d = g.getImageData(0, 0, image.width, image.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (Math.abs(d[i] - rgb[0]) <= tolerance && Math.abs(d[i + 1] - rgb[1]) <= tolerance
        && Math.abs(d[i + 2] - rgb[2]) <= tolerance) n++;
  }
  return n;
}"""


async def pixels(page: Any, identifier: str, rgb: tuple[int, int, int], tolerance: int) -> int:
    """How many pixels of the control tagged ``identifier`` are drawn in ``rgb``."""
    [box] = await boxes(page, [identifier])
    await page.wait_for_timeout(500)  # the canvas paints after the semantics tree updates
    png = await page.screenshot(clip=box)
    found: int = await page.evaluate(_COUNT, [base64.b64encode(png).decode(), rgb, tolerance])
    return found


async def _files(site: Site, size: str) -> Any:
    site.runtime.put("files", "app/settings.py", seed.long_change())
    await site.runtime.io.flush()
    page = await open_app(site, size)
    await sees(page, "Add email to users")
    await tagged(page, f"session-{site.hosted}").first.click()  # type: ignore[attr-defined]
    await sees(page, "Run the test suite")
    await choose_pane(page, "files", "app/models.py")
    return page


@pytest.mark.parametrize("size", list(SIZES))
async def test_the_diff_is_coloured_and_side_by_side_only_where_there_is_room(
    site: Site, size: str
) -> None:
    page = await _files(site, size)
    old, new = await boxes(page, ["diff-old-2", "diff-new-2"])  # name = "" -> name: str = ""
    if size == "desktop":
        assert abs(old["y"] - new["y"]) < 2 and old["x"] + old["width"] <= new["x"] + 1
    else:
        assert old["y"] + old["height"] <= new["y"] + 1 and abs(old["x"] - new["x"]) < 2
    await shot(page, f"{size}-diff")
    assert await pixels(page, "diff-new-1", KEYWORD, 40) > 5  # "class" in the keyword colour
    assert await pixels(page, "diff-new-2", ADDED_WORD, 6) > 100  # ": str" marked
    assert await pixels(page, "diff-new-3", ADDED_WORD, 6) == 0  # a new line: no word marks
    assert await pixels(page, "diff-new-3", ADDED_LINE, 6) > 100


@pytest.mark.parametrize("size", list(SIZES))
async def test_a_long_line_stays_one_row_and_a_fold_opens_on_show_more(
    site: Site, size: str
) -> None:
    page = await _files(site, size)
    await tagged(page, "file-app/settings.py").first.click()  # type: ignore[attr-defined]
    await sees(page, "Show 14 more unchanged lines")
    [line] = await boxes(page, ["diff-new-1"])
    assert line["height"] < 24  # one row: the rest of the line is to the right
    await shot(page, f"{size}-diff-folded")
    assert await page.locator('[flt-semantics-identifier="diff-new-12"]').count() == 0
    await page.get_by_role("button", name="Show 14 more unchanged lines").click()
    await sees(page, "value_10 = 10")
    await boxes(page, ["diff-new-12"])
    await shot(page, f"{size}-diff-opened")


@pytest.mark.parametrize("size", list(SIZES))
async def test_a_viewed_mark_survives_a_reload(site: Site, size: str) -> None:
    page = await _files(site, size)
    await tagged(page, "viewed").first.click()  # type: ignore[attr-defined]
    await boxes(page, ["viewed-app/models.py"])
    await page.reload()
    await accessible(page)
    await sees(page, "app/models.py")  # the tab comes back to the files pane
    await boxes(page, ["viewed-app/models.py"])
    await shot(page, f"{size}-diff-viewed")
