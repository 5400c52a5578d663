"""The files pane, headless against a real server: side by side on a desktop, unified on
a phone, folds that open, "viewed" marks, and line comments (Chromium reads the same in
tests/app/test_browser_diff.py)."""

from __future__ import annotations

import flet as ft

from tests.app import seed
from tests.app.conftest import World
from tests.app.headless import Headless
from tests.app.test_boundary import choose, session_view
from tests.conftest import eventually
from trace_app.ui.code_panes import FilesPane
from trace_app.ui.navigator import ViewPlace
from trace_app.ui.shell import Origin
from trace_sync.docs import entries as e
from trace_sync.docs import typed
from trace_sync.docs.layouts import SESSION_NOTES


async def _files(app: Headless, world: World) -> FilesPane:
    app.shell.go(ViewPlace("session", world.hosted))
    await eventually(lambda: "Run the test suite" in app.text())
    world.runtime.put("files", "app/settings.py", seed.long_change())
    await world.runtime.flush()
    await eventually(lambda: "files (3)" in app.text())
    await choose(app, "files")
    return session_view(app).panes.files


def _says(text: ft.Text, words: str) -> bool:
    return words in "".join(span.text or "" for span in text.spans or [])


def _level(app: Headless, old: str, new: str) -> bool:
    """Whether the cells tagged ``old`` and ``new`` sit side by side: the same row of
    the two sides of one stretch."""
    for c in app.controls():
        sides = c.controls if isinstance(c, ft.Row) else []
        if len(sides) == 2 and all(isinstance(x, ft.Row) and x.scroll for x in sides):
            left, right = (_ids(side.controls[0]) for side in sides)
            if old in left and new in right and left.index(old) == right.index(new):
                return True
    return False


def _ids(column: ft.Column) -> list[str | None]:
    return [x.identifier if isinstance(x, ft.Semantics) else None for x in column.controls]


async def test_a_desktop_shows_the_old_line_beside_the_new_a_phone_one_under_the_other(
    world: World,
) -> None:
    origin = Origin(world.live.url, world.live.token)
    async with Headless(origin, width=1280) as desktop:
        await _files(desktop, world)
        desktop.tagged("diff-side-by-side")
        assert _level(desktop, "diff-old-2", "diff-new-2")
        assert _level(desktop, "diff-old-1", "diff-new-1")  # the context line, both sides
        assert any(t.endswith('+    name: str = ""') for t in desktop.texts())  # spans joined
    async with Headless(origin, width=390, height=844) as phone:
        await _files(phone, world)
        phone.tagged("diff-unified")
        assert not _level(phone, "diff-old-2", "diff-new-2")  # each line fills its own row
        assert any(t.startswith("   2      -") for t in phone.texts())  # old number, sign
        assert any(t.startswith("        2 +") for t in phone.texts())


async def test_a_long_unchanged_run_folds_and_show_more_opens_it(world: World) -> None:
    async with Headless(Origin(world.live.url, world.live.token)) as app:
        files = await _files(app, world)
        files.choose("app/settings.py")
        await eventually(lambda: "Show 14 more unchanged lines" in app.text())
        assert "    value_3 = 3" not in app.texts() and " value_2 = 2" in app.text()
        await app.click(app.find(ft.TextButton, "Show 14 more unchanged lines"))
        await eventually(lambda: "Show 14 more unchanged lines" not in app.text())
        assert any(t.endswith(" value_10 = 10") for t in app.texts())
        [long] = [c for c in app.controls() if isinstance(c, ft.Text) and _says(c, seed.LONG_LINE)]
        assert long.no_wrap  # runs on to the right: the table scrolls sideways


async def test_viewed_marks_are_mine_and_go_when_the_file_changes(world: World) -> None:
    async with Headless(Origin(world.live.url, world.live.token)) as app:
        files = await _files(app, world)
        assert "✓ viewed" not in app.texts()
        await app.click(app.tagged("viewed").content, "change")
        await eventually(lambda: "✓ viewed" in app.texts())
        assert files.client.viewed(world.hosted, "app/models.py", files.files[0].diff)
        changed = seed.long_change().model_copy(update={"path": "app/models.py"})
        world.runtime.put("files", "app/models.py", changed)  # the agent edits it again
        await world.runtime.flush()
        await eventually(lambda: "✓ viewed" not in app.texts())


async def test_a_comment_on_a_line_of_the_side_by_side_diff_reaches_the_notes(
    world: World,
) -> None:
    async with Headless(Origin(world.live.url, world.live.token)) as app:
        files = await _files(app, world)
        await app.click(app.tagged("diff-new-3").content)  # the added email line
        field = app.find(ft.TextField, "Comment on this line")
        await app.type_into(field, "Validate the address")
        await app.click(field, "submit")
        notes = files.client.notes_of(world.hosted).doc
        [comment] = typed.read_array(notes, SESSION_NOTES, "comments")
        assert isinstance(comment, e.ReviewComment)
        assert (comment.path, comment.line, comment.text) == (
            "app/models.py",
            3,
            "Validate the address",
        )
        await eventually(lambda: "Comment: Validate the address" in app.texts())
