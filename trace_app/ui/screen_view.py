"""A terminal's screen drawn as Flet controls, changing only what changed.

The scrollback is kept in blocks of :data:`BLOCK` lines (a Column of line
Texts each), so a new line touches one block, never the whole history: the
cost of drawing a kilobyte of output stays the same however long the
scrollback grows. The screen's rows are redrawn only where their spans
differ. Lines are as wide as the terminal (cells of the monospace font) and
scroll sideways rather than wrap, like a real terminal's window.
"""

from __future__ import annotations

from typing import TypeVar

import flet as ft

from trace_app.emulator import CellSpan, Emulator, Line, with_cursor
from trace_app.terminal_screens import LiveScreen
from trace_app.ui import widgets as w

TERMINAL_BG = "#1e1e1e"
TERMINAL_FG = "#d4d4d4"
FONT_SIZE = 13
CELL_WIDTH = 7.9  # DejaVu Sans Mono advances 0.602 em
BLOCK = 50
C = TypeVar("C", bound=ft.Control)


class ScreenView:
    """``control`` shows a :class:`LiveScreen`; :meth:`draw` brings it up to date.

    ``control`` and each scrollback block are isolated: a page update does not walk
    them (they would cost every redraw of the page), :meth:`draw` says what to send.
    """

    def __init__(self) -> None:
        self.blocks: list[ft.Column] = []
        self.history = ft.Column(spacing=0)
        self.rows = ft.Column(spacing=0)
        self.lines = ft.ListView([self.history, self.rows], expand=True, auto_scroll=True)
        self.page = ft.Container(self.lines, width=_width(80))
        self.control = _isolated(
            ft.Row(
                [ft.SelectionArea(content=self.page)],
                scroll=ft.ScrollMode.AUTO,
                expand=True,
                vertical_alignment=ft.CrossAxisAlignment.STRETCH,
            )
        )
        self._emulator: Emulator | None = None
        self._filled = 0  # lines in the newest block
        self._scrolled = 0
        self._cleared = 0
        self._drawn: list[Line] = []
        self.revision = -1

    def draw(self, live: LiveScreen) -> list[ft.Control]:
        """Bring the controls up to ``live``; returns those to update (at most two)."""
        if live.revision == self.revision and live.emulator is self._emulator:
            return []
        self.revision = live.revision
        em = live.emulator
        if em is not self._emulator or em.cleared != self._cleared:
            self._restart(em)
            return [self.control]
        scrolled = em.scrolled - self._scrolled
        touched = self._scroll(em, scrolled) if scrolled else []
        changed = self._draw_rows(em, scrolled)
        self.page.width = _width(em.size[0])
        return [*touched, self.control, *changed]  # isolated parts are sent on their own

    def forget(self) -> None:
        """Draw from scratch next time (another screen is shown)."""
        self.revision, self._emulator = -1, None

    def text(self) -> list[str]:
        """The lines as drawn, plain (what a person reads on the screen)."""
        texts = [t for block in self.blocks for t in block.controls] + list(self.rows.controls)
        plain = ["".join(s.text or "" for s in (t.spans or [])) for t in texts]  # type: ignore[attr-defined]
        return [line.rstrip() for text in plain for line in text.split("\n")]

    def _restart(self, em: Emulator) -> None:
        self._emulator, self._scrolled, self._cleared = em, em.scrolled, em.cleared
        self.blocks, self._filled = [], 0
        self._append(list(em.scrollback))
        self.history.controls = list(self.blocks)
        self.rows.controls, self._drawn = [], []
        self._draw_rows(em, 0)
        self.page.width = _width(em.size[0])

    def _scroll(self, em: Emulator, scrolled: int) -> list[ft.Control]:
        """Lines that left the screen join the scrollback; returns the blocks that grew."""
        self._scrolled = em.scrolled
        size = len(em.scrollback)
        new = min(scrolled, size)
        grown = self._append([em.scrollback[i] for i in range(size - new, size)])
        limit = (em.scrollback.maxlen or size) // BLOCK + 1
        del self.blocks[: max(0, len(self.blocks) - limit)]  # older than the emulator keeps
        known = {id(b) for b in self.history.controls}
        self.history.controls = list(self.blocks)
        return [b for b in grown if id(b) in known]  # new blocks go with the history list

    def _append(self, lines: list[Line]) -> list[ft.Column]:
        """Lines as one Text (never changed again) in the newest block; returns grown blocks."""
        grown: list[ft.Column] = []
        while lines:
            if not self.blocks or self._filled >= BLOCK:
                self.blocks.append(_isolated(ft.Column(spacing=0)))
                self._filled = 0
            part, lines = lines[: BLOCK - self._filled], lines[BLOCK - self._filled :]
            self.blocks[-1].controls.append(lines_text(part))
            self._filled += len(part)
            grown.append(self.blocks[-1])
        return grown

    def _draw_rows(self, em: Emulator, scrolled: int) -> list[ft.Control]:
        """The screen's rows: shifted up as the screen scrolled, then changed rows redrawn;
        returns the rows to update (each is isolated: the others are not diffed)."""
        screen, cursor = em.screen(), em.cursor
        if cursor.visible:
            screen[cursor.row] = with_cursor(screen[cursor.row], cursor.col)
        rows: list[ft.Control] = self.rows.controls
        if len(rows) != len(screen) or scrolled >= len(screen):
            self.rows.controls, self._drawn = [line_text(line) for line in screen], screen
            return []
        fresh = len(rows)
        if scrolled:  # the same rows higher up: only the new ones are made
            fresh = len(rows) - scrolled
            rows = rows[scrolled:] + [line_text(line) for line in screen[fresh:]]
            self._drawn = self._drawn[scrolled:] + screen[fresh:]
            self.rows.controls = rows
        changed: list[ft.Control] = []
        for y, line in enumerate(screen[:fresh]):
            if line != self._drawn[y]:
                rows[y].spans = spans_of(line)  # type: ignore[attr-defined]
                changed.append(rows[y])
        self._drawn = screen
        return changed


def line_text(line: Line) -> ft.Text:
    return _isolated(
        ft.Text(
            spans=spans_of(line),
            font_family=w.MONO,
            size=FONT_SIZE,
            color=TERMINAL_FG,
            no_wrap=True,
            max_lines=1,
        )
    )


def lines_text(lines: list[Line]) -> ft.Text:
    """Several lines as one Text: a Text per line of scrollback costs every tab a control."""
    spans: list[ft.TextSpan] = []
    for n, line in enumerate(lines):
        spans += [ft.TextSpan("\n")] if n else []
        spans += spans_of(line)
    text = ft.Text(spans=spans, font_family=w.MONO, size=FONT_SIZE, color=TERMINAL_FG, no_wrap=True)
    return _isolated(text)


def spans_of(line: Line) -> list[ft.TextSpan]:
    return [ft.TextSpan(s.text, _style(s)) for s in line]


def _style(span: CellSpan) -> ft.TextStyle | None:
    if span == CellSpan(span.text):  # the Text's own style: no object to make and diff
        return None
    fg, bg = span.fg or TERMINAL_FG, span.bg
    if span.inverse:
        fg, bg = bg or TERMINAL_BG, fg
    return ft.TextStyle(
        color=fg,
        bgcolor=bg,
        weight=ft.FontWeight.BOLD if span.bold else None,
        italic=span.italic,
        decoration=ft.TextDecoration.UNDERLINE if span.underline else None,
    )


def _width(cols: int) -> float:
    return cols * CELL_WIDTH + 4


def _isolated(control: C) -> C:
    """``control`` left out of its parents' updates (it is updated on its own)."""
    control._isolated = True  # type: ignore[attr-defined]  # what @control(isolated=True) sets
    return control
