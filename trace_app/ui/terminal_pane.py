"""A session's terminals: output in ANSI colours (older segments loaded on scroll),
and an input for those who may type into them.

Keystrokes are ephemeral: they go straight to the API (and on to the bridge),
never into the outbox, so nothing typed offline runs minutes later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import flet as ft

from trace_app import ansi, commands
from trace_app.access import TYPING, Access, terminal_access
from trace_app.client import TraceClient
from trace_app.session_state import Terminal
from trace_app.ui import widgets as w
from trace_app.workspace_state import runtimes
from trace_sync.errors import TraceError

if TYPE_CHECKING:
    from trace_app.ui.shell import Shell

TERMINAL_BG = "#1e1e1e"
TERMINAL_FG = "#d4d4d4"
WHY_NOT: dict[Access, str] = {
    "viewer": "Viewers cannot type into terminals.",
    "no runtime": "No bridge you may use hosts this session: nothing to type into.",
    "asked": "You asked the bridge's owner for terminal access; waiting for an answer.",
    "ask": "Typing here needs terminal access to the bridge hosting this session.",
}


def coloured(output: str, size: int = 13) -> ft.Text:
    """Terminal output as one Text of coloured spans in the bundled monospace font."""
    spans = [
        ft.TextSpan(
            s.text,
            ft.TextStyle(
                color=s.fg or TERMINAL_FG,
                bgcolor=s.bg,
                weight=ft.FontWeight.BOLD if s.bold else None,
                font_family=w.MONO,
            ),
        )
        for s in ansi.spans(output)
    ]
    return ft.Text(spans=spans, font_family=w.MONO, size=size, color=TERMINAL_FG)


class TerminalPane:
    def __init__(self, shell: Shell, sid: str) -> None:
        self.shell = shell
        self.sid = sid
        self.chosen: str | None = None
        self.older: dict[str, list[str]] = {}  # terminal id -> loaded segment names, newest first
        self.texts: dict[str, str] = {}
        self.terminals: list[Terminal] = []
        self.runtime_id: str | None = None
        self.access: Access | None = None  # not known yet
        self.checked = False
        self.chips = ft.Row(wrap=True, spacing=6)
        self.screen = ft.ListView(expand=True, auto_scroll=True, on_scroll=self._scrolled)
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
        screen = ft.Container(
            self.screen, bgcolor=TERMINAL_BG, padding=8, expand=True, border_radius=6
        )
        column = ft.Column(
            [self.chips, ft.Row([self.more]), screen, self.input, self.problem, self.gate],
            expand=True,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,  # the input as wide as the screen
        )
        self.box = w.tag("terminal", column)

    @property
    def client(self) -> TraceClient:
        assert self.shell.client is not None
        return self.shell.client

    def refresh(self, terminals: list[Terminal], runtime_id: str | None) -> None:
        self.terminals = terminals
        if not self.checked or runtime_id != self.runtime_id:
            self.checked, self.runtime_id = True, runtime_id
            self.shell.page.run_task(self.check_access)
        self._draw_gate()
        if not terminals:
            self.chips.controls = []
            self.more.visible = False
            self.screen.controls = [ft.Text("No terminal yet.", color=TERMINAL_FG)]
            return
        ids = [t.id for t in terminals]
        if self.chosen not in ids:
            self.chosen = ids[0]
        self.chips.controls = [self._chip(t) for t in terminals]
        current = next(t for t in terminals if t.id == self.chosen)
        loaded = self.older.get(current.id, [])
        self.more.visible = len(loaded) < len(current.segments)
        older = "".join(self.texts.get(n, "") for n in reversed(loaded))
        self.screen.controls = [coloured(older + current.output)]

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
        self.shell.redraw()

    def _draw_gate(self) -> None:
        typing = self.access in TYPING and bool(self.terminals)
        self.input.visible = typing
        self.gate.controls = []
        if self.access is None or typing:
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
        self.shell.redraw()

    async def _submit(self, _e: object) -> None:
        line = self.input.value or ""
        if self.chosen is None:
            return
        path = f"/api/sessions/{self.sid}/terminals/{self.chosen}/input"
        try:
            await self.client.api.call("POST", path, {"data": line + "\r"})
        except TraceError as exc:
            self.problem.value = f"Not typed: {exc}"
            self.problem.visible = True
        else:
            self.input.value = ""
            self.problem.visible = False
        self.shell.redraw()

    # -- output --------------------------------------------------------------------

    def _chip(self, t: Terminal) -> ft.Control:
        def choose(_e: object) -> None:
            self.chosen = t.id
            self.shell.redraw()

        label = f"{t.title} ({t.state})"
        return ft.Chip(label=ft.Text(label), selected=t.id == self.chosen, on_select=choose)

    async def _scrolled(self, event: Any) -> None:
        at_top = getattr(event, "pixels", 1) <= getattr(event, "min_scroll_extent", 0) + 4
        if at_top and self.more.visible:
            await self._load_older(None)

    async def _load_older(self, _e: object = None) -> None:
        current = next((t for t in self.terminals if t.id == self.chosen), None)
        if current is None:
            return
        loaded = self.older.setdefault(current.id, [])
        waiting = [n for n in reversed(current.segments) if n not in loaded]
        if not waiting:
            return
        name = waiting[0]
        self.texts[name] = await self.client.older_output(self.sid, name)
        loaded.append(name)
        self.shell.redraw()
