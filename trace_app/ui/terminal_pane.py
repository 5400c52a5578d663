"""A session's terminals: the screen a real terminal of the PTY's size would show
(older output loaded on scroll), and an input for those who may type into them.

The screen is the process's shared emulator (:mod:`trace_app.terminal_screens`),
fed once by the output's deltas; a pane only draws what changed in it, at most
every :data:`FRAME_S`, without redrawing the rest of the page. In the web app the
page draws the screen itself (``trace_app/web_terminal/terminal.js``, xterm.js fed by
the io document over /sync): the pane only holds a placeholder tagged with what to show.

Keystrokes are ephemeral: they go straight to the API (and on to the bridge),
never into the outbox, so nothing typed offline runs minutes later.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any

import flet as ft

from trace_app import commands
from trace_app.access import TYPING, Access, terminal_access
from trace_app.client import TraceClient
from trace_app.session_state import TerminalView
from trace_app.terminal_screens import LiveScreen, output_of, terminal_info
from trace_app.ui import widgets as w
from trace_app.ui.navigator import Navigator
from trace_app.ui.screen_view import TERMINAL_BG, TERMINAL_FG, ScreenView
from trace_app.workspace_state import runtimes
from trace_sync.contract.errors import TraceError

log = logging.getLogger(__name__)

#: The size a person's typing gives the PTY (``TRACE_TERMINAL_SIZE``, e.g. ``120x32``).
TYPING_SIZE = os.environ.get("TRACE_TERMINAL_SIZE", "120x32")
#: How often a pane shows new output at most (its screen is shared; drawing is per tab).
FRAME_S = 0.25
WHY_NOT: dict[Access, str] = {
    "viewer": "Viewers cannot type into terminals.",
    "no runtime": "No bridge you may use hosts this session: nothing to type into.",
    "asked": "You asked the bridge's owner for terminal access; waiting for an answer.",
    "ask": "Typing here needs terminal access to the bridge hosting this session.",
}


class TerminalPane:
    def __init__(self, nav: Navigator, sid: str) -> None:
        self.nav = nav
        self.sid = sid
        self.chosen: str | None = None
        self.live: LiveScreen | None = None  # held while shown
        self._unwatch: Callable[[], None] | None = None
        self._painting: asyncio.TimerHandle | None = None
        self._painted = 0.0  # loop time of the last paint
        self.view = ScreenView()
        self.terminals: list[TerminalView] = []
        self.runtime_id: str | None = None
        self.access: Access | None = None  # not known yet
        self.checked = False
        self.chips = ft.Row(wrap=True, spacing=6)
        self.view.lines.on_scroll = self._scrolled
        self.empty = ft.Text("No terminal yet.", color=TERMINAL_FG)
        self.more = ft.TextButton(content="Load older output", on_click=self._load_older)
        self.input = ft.TextField(
            label="Type into this terminal (Enter sends)",
            dense=True,
            text_style=ft.TextStyle(font_family=w.MONO),
            on_submit=self._submit,
            visible=False,
        )
        self.gate = ft.Row(wrap=True, spacing=8)
        self.problem = ft.Text("", color=ft.Colors.ERROR, size=13, visible=False)
        #: Where the page lays its own terminal (tagged with what to show), if it draws them.
        self.in_page = w.tag("xterm", ft.Container(), label="terminal screen")
        self.in_page.visible, self.in_page.expand = False, True  # an empty node is not shown
        shown = self.in_page if nav.terminals_in_page else self.view.control
        screen = ft.Container(
            ft.Column([self.empty, shown], expand=True),
            bgcolor=TERMINAL_BG,
            padding=8,
            expand=True,
            border_radius=6,
        )
        column = ft.Column(
            [self.chips, ft.Row([self.more]), screen, self.input, self.problem, self.gate],
            expand=True,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,  # the input as wide as the screen
        )
        self.box = w.tag("terminal", column)

    @property
    def client(self) -> TraceClient:
        assert self.nav.client is not None
        return self.nav.client

    def refresh(self, terminals: list[TerminalView], runtime_id: str | None) -> None:
        self.terminals = terminals
        if not self.checked or runtime_id != self.runtime_id:
            self.checked, self.runtime_id = True, runtime_id
            self.nav.page.run_task(self.check_access)
        self._draw_gate()
        ids = [t.id for t in terminals]
        if self.chosen not in ids:
            self.chosen = ids[0] if ids else None
        self.chips.controls = [self._chip(t) for t in terminals]
        if self.nav.terminals_in_page:
            self._place(self.chosen)
            return
        self._show(self.chosen)
        self.empty.visible = self.live is None
        self.view.control.visible = self.live is not None
        self.more.visible = self.live is not None and self.live.first > 0
        if self.live is not None and self.view.revision != self.live.revision:
            self._wake()  # the screen is isolated from page updates: it paints itself

    # -- who may type --------------------------------------------------------------

    async def check_access(self, _e: object = None) -> None:
        client = self.client
        try:
            runtime = runtimes(client.workspace.doc).get(self.runtime_id or "")
            self.access = await terminal_access(
                client.api, client.user_id, client.role, self.sid, runtime
            )
        except TraceError as exc:  # offline: no typing until the server answers
            self.access = "no runtime"
            self.problem.value = f"Could not check terminal access: {exc}"
        self.nav.redraw()

    def _draw_gate(self) -> None:
        """The input for those who may type (once there is a terminal), else why not."""
        current = next((t for t in self.terminals if t.id == self.chosen), None)
        live = current is not None and current.state == "running"  # an exited one reads nothing
        self.input.visible = self.access in TYPING and live
        self.gate.controls = []
        if self.access is None or self.access in TYPING:
            return
        self.gate.controls = [w.muted(WHY_NOT[self.access], 13)]
        if self.access == "ask" and self.runtime_id:
            self.gate.controls.append(w.button("Ask for terminal access", self._ask, big=True))
        if self.access == "asked":
            self.gate.controls.append(
                ft.OutlinedButton(content="Check again", on_click=self.check_access, height=48)
            )

    def _ask(self, _e: object) -> None:
        assert self.runtime_id is not None
        self.client.send(commands.ask_for_access(self.runtime_id, ["terminal"], self.sid))
        self.access = "asked"
        self.nav.redraw()

    async def _submit(self, _e: object) -> None:
        line = self.input.value or ""
        if self.chosen is None:
            return
        path = f"/api/sessions/{self.sid}/terminals/{self.chosen}"
        try:
            await self._follow_typist(path)
            await self.client.api.call("POST", f"{path}/input", {"data": line + "\r"})
        except TraceError as exc:
            self.problem.value = f"Not typed: {exc}"
            self.problem.visible = True
        else:
            self.input.value = ""
            self.problem.visible = False
        self.nav.redraw()

    async def _follow_typist(self, path: str) -> None:
        """The PTY takes the size of whoever types (:data:`TYPING_SIZE`)."""
        cols, rows = typing_size()
        current = next((t for t in self.terminals if t.id == self.chosen), None)
        if current is not None and (current.cols, current.rows) != (cols, rows):
            await self.client.api.call("POST", f"{path}/resize", {"cols": cols, "rows": rows})

    # -- output --------------------------------------------------------------------

    def _place(self, tid: str | None) -> None:
        """Tag the placeholder with the terminal the page is to draw over it."""
        self.empty.visible = tid is None
        self.more.visible = False  # the page's terminal loads older output itself, on scrolling up
        self.in_page.visible = tid is not None
        self.in_page.identifier = f"xterm session/{self.sid}/io {tid}"

    def _show(self, tid: str | None) -> None:
        """Hold and watch the screen of ``tid`` (letting go of the one shown before)."""
        key = (self.client.server_url, self.sid, tid)
        if self.live is not None and self.live.key == key:
            return
        if self._unwatch is not None:
            self._unwatch()
        self.live, self._unwatch = None, None
        if tid is not None:
            self.live = self.client.screen(self.sid, tid)
        if self.live is not None:
            self._unwatch = self.live.watch(self._wake)
            self.view.forget()

    def _wake(self) -> None:
        """Paint soon: at once after a quiet spell (an echo of typing), else at most
        every :data:`FRAME_S` (a flood is drawn a frame at a time, not a line)."""
        if self._painting is None:
            loop = asyncio.get_running_loop()
            wait = max(0.0, self._painted + FRAME_S - loop.time())
            self._painting = loop.call_later(wait, self._paint)

    def _paint(self) -> None:
        """Draw the screen's news on this tab alone (not the whole page)."""
        self._painting = None
        self._painted = asyncio.get_running_loop().time()
        if self.live is None:
            return
        changed = self.view.draw(self.live)
        if not self._shown():
            return  # sent whole when the pane is put on the page
        try:
            for control in changed:
                control.update()
        except RuntimeError as exc:  # left the page meanwhile: sent when put back
            log.debug("terminal pane not shown: %s", exc)

    def _shown(self) -> bool:
        try:
            return self.view.control.page is not None
        except RuntimeError:  # Flet's way of saying "not on a page"
            return False

    def _chip(self, t: TerminalView) -> ft.Control:
        def choose(_e: object) -> None:
            self.chosen = t.id
            self.nav.redraw()

        label = f"{t.title} ({t.state})"
        return ft.Chip(label=ft.Text(label), selected=t.id == self.chosen, on_select=choose)

    # -- older output --------------------------------------------------------------

    async def _scrolled(self, event: Any) -> None:
        at_top = getattr(event, "pixels", 1) <= getattr(event, "min_scroll_extent", 0) + 4
        if at_top and self.more.visible:
            await self._load_older(None)

    async def _load_older(self, _e: object = None) -> None:
        """Replay the screen from the newest sealed segment it lacks (and those after it)."""
        current = next((t for t in self.terminals if t.id == self.chosen), None)
        live = self.live
        if current is None or live is None:
            return
        older = [s for s in current.segments if s.first < live.first]
        if not older:
            return
        wanted = [older[-1], *(s for s in current.segments if s.first >= live.first)]
        texts = [await self.client.older_output(self.sid, s.name) for s in wanted]
        io = self.client.replicas.get(f"session/{self.sid}/io")
        info = terminal_info(io.roots, current.id) if io is not None else None
        window = output_of(io.roots, current.id) if io is not None else None
        if info is not None and window is not None:
            live.replay("".join(texts), window, info, wanted[0].first)
        self.nav.redraw()


def typing_size() -> tuple[int, int]:
    cols, _, rows = TYPING_SIZE.partition("x")
    return max(20, min(500, int(cols))), max(5, min(200, int(rows)))
