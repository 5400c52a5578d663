"""Real programs in a real PTY on a real bridge, read from the app's terminal pane as drawn:
the screen a terminal of the PTY's size would show, not the bytes in the document."""

from __future__ import annotations

import flet as ft
import pytest

from tests.app.headless import Headless
from tests.app.test_boundary import session_view
from tests.app.test_terminal import app_of, idle_session, terminal_of, type_line
from tests.conftest import eventually
from tests.hosting.conftest import Hosting
from tests.hosting.conftest import bed as bed  # noqa: F401, PLC0414  (the fixtures)
from tests.hosting.conftest import hosting as hosting  # noqa: F401, PLC0414
from tests.hosting.conftest import live as live  # noqa: F401, PLC0414
from tests.hosting.conftest import own_home as own_home  # noqa: F401, PLC0414
from trace_app.ui import terminal_pane


def screen(app: Headless) -> list[str]:
    """The pane's lines as drawn (scrollback and screen), plain."""
    return session_view(app).panes.terminal.view.text()


def rows(app: Headless) -> list[str]:
    """Only the screen's rows (what a terminal window shows now)."""
    view = session_view(app).panes.terminal.view
    return view.text()[-len(view.rows) :]


async def typed(app: Headless, field: ft.TextField, line: str, shows: str) -> None:
    await type_line(app, field, line)
    await eventually(lambda: any(shows in r for r in screen(app)), within=20)


@pytest.fixture(autouse=True)
def wide_typist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(terminal_pane, "TYPING_SIZE", "220x30")


async def test_a_progress_bar_a_wide_table_and_top_show_as_a_terminal_shows_them(
    hosting: Hosting,
) -> None:
    sid = await idle_session(hosting)
    async with app_of(hosting, hosting.bed.owner) as app:
        field = await terminal_of(app, sid)
        await eventually(lambda: field.visible)
        bar = "for i in 1 2 3 4 5; do printf '\\rprogress %d/5' $i; sleep 0.02; done; echo"
        await typed(app, field, bar, "progress 5/5")
        assert not any("progress 1/5" in line for line in screen(app))  # \r drew over it
        table = "for r in 1 2; do printf 'row%d' $r; printf ' | cell-%02d' $(seq 20); echo; done"
        await typed(app, field, table, "row2")
        row = "row1" + "".join(f" | cell-{n:02d}" for n in range(1, 21))
        assert len(row) > 200 and row in screen(app)  # one line, not wrapped
        await typed(app, field, "top -b -n 1 | head -12; echo top-$((40+2))", "top-42")
        assert any(line.split()[:2] == ["PID", "USER"] for line in screen(app))
        assert session_view(app).panes.terminal.live.emulator.size == (220, 30)  # type: ignore[union-attr]


async def test_clear_and_less_leave_the_screen_a_terminal_would(hosting: Hosting) -> None:
    sid = await idle_session(hosting)
    async with app_of(hosting, hosting.bed.owner) as app:
        field = await terminal_of(app, sid)
        await eventually(lambda: field.visible)
        await typed(app, field, "echo before-clear; clear; echo after-$((1+1))", "after-2")
        assert not any("before-clear" in line for line in screen(app))
        await typed(app, field, "echo shell-$((2*3))", "shell-6")
        await type_line(app, field, "seq 1000 1500 | less")
        await eventually(lambda: "1028" in rows(app), within=20)  # 29 lines and less's prompt
        assert "1029" not in rows(app) and "shell-6" not in rows(app)  # the alternate screen
        assert not any(">" in line or "\x1b" in line for line in rows(app))
        await type_line(app, field, "q")
        await eventually(lambda: "1000" not in rows(app))  # back on the shell's screen
        assert any("shell-6" in line for line in rows(app))
