"""A terminal's screen drawn as Flet controls, changing only what changed.

Every line is one Text, sent to a tab once: the screen's rows are the last
lines of the scrollback's blocks, so a row that scrolls off the top stays
where it is and becomes scrollback as it is (brought up to date only if it
changed since it was drawn), and only the rows new at the bottom are made.
Each Flet session (a tab) pays per control it is sent: a line drawn once as
a row and again as scrollback cost every tab twice, and the sending, not the
drawing, was most of a tab's CPU while output streams.

The lines are kept in blocks of about :data:`BLOCK` lines (a Column each), so
a new line touches the newest block, never the whole history: the cost of
drawing a kilobyte of output stays the same however long the scrollback
grows. Lines are as wide as the terminal (cells of the monospace font) and
scroll sideways rather than wrap, like a real terminal's window.
"""

from __future__ import annotations

import functools
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

    ``control``, each block and each line are isolated: a page update does not walk
    them (they would cost every redraw of the page), :meth:`draw` says what to send.
    """

    def __init__(self) -> None:
        self.blocks: list[ft.Column] = []
        self.history = ft.Column(spacing=0)
        self.lines = ft.ListView([self.history], expand=True, auto_scroll=True)
        self.page = ft.Container(self.lines, width=_width(80))
        self.control = _isolated(
            ft.Row(
                [ft.SelectionArea(content=self.page)],
                scroll=ft.ScrollMode.AUTO,
                expand=True,
                vertical_alignment=ft.CrossAxisAlignment.STRETCH,
            )
        )
        #: The screen's rows, top to bottom: the Text each is in (the last Texts of the
        #: last blocks; rows new above the cursor in one draw share one Text).
        self.rows: list[ft.Text] = []
        self._at: list[int] = []  # which of its Text's lines each row is
        self._held: dict[int, list[Line]] = {}  # the lines of each Text holding a row
        self._dirty: dict[int, ft.Text] = {}  # Texts to draw again (a line in them changed)
        self._drawn: list[Line] = []  # what each row shows
        self._filled: list[int] = []  # lines in each block
        self._grown: list[ft.Column] = []  # blocks that grew in this draw
        self._emulator: Emulator | None = None
        self._scrolled = 0
        self._cleared = 0
        self.revision = -1

    def draw(self, live: LiveScreen) -> list[ft.Control]:
        """Bring the controls up to ``live``; returns those to update, in order."""
        if live.revision == self.revision and live.emulator is self._emulator:
            return []
        self.revision = live.revision
        em = live.emulator
        screen = _screen(em)
        scrolled = em.scrolled - self._scrolled
        if (
            em is not self._emulator
            or em.cleared != self._cleared
            or len(screen) != len(self.rows)
            or scrolled > len(em.scrollback)  # lines left the scrollback before drawn
        ):
            self._restart(em, screen)
            return [self.control]
        blocks, self._grown, self._dirty = list(self.blocks), [], {}
        if scrolled:
            self._scroll(em, scrolled, screen)
        self._redraw(screen, len(screen) - min(scrolled, len(screen)))
        changed = self._changed()
        known = {id(b) for b in blocks}
        grown = [b for b in self._grown if id(b) in known]  # (an update does not walk them)
        width = _width(em.size[0])
        if width != self.page.width:
            self.page.width = width
            self.history.controls = list(self.blocks)
            return [*grown, self.control, *changed]  # with the history and its new blocks
        if [id(b) for b in self.blocks] == [id(b) for b in blocks]:
            return [*grown, *changed]
        self.history.controls = list(self.blocks)
        return [*grown, self.history, *changed]  # new blocks go with the history

    def forget(self) -> None:
        """Draw from scratch next time (another screen is shown)."""
        self.revision, self._emulator = -1, None

    def text(self) -> list[str]:
        """The lines as drawn, plain (what a person reads on the screen)."""
        chunks: list[ft.Column] = [c for block in self.blocks for c in block.controls]  # type: ignore[misc]
        texts: list[ft.Text] = [t for chunk in chunks for t in chunk.controls]  # type: ignore[misc]
        plain = ["".join(s.text or "" for s in (t.spans or [])) for t in texts]
        return [line.rstrip() for text in plain for line in text.split("\n")]

    def _restart(self, em: Emulator, screen: list[Line]) -> None:
        self._emulator, self._scrolled, self._cleared = em, em.scrolled, em.cleared
        self.blocks, self._filled, self._grown = [], [], []
        self._add([(lines_text(part), len(part)) for part in _parts(list(em.scrollback))])
        self.rows, self._at, self._held, self._drawn = [], [], {}, []
        self._add(self._new_rows(screen, 0))
        self.history.controls = list(self.blocks)
        self.page.width = _width(em.size[0])

    def _scroll(self, em: Emulator, scrolled: int, screen: list[Line]) -> None:
        """The top ``scrolled`` rows left the screen: they stay where they are, as the
        scrollback now has them (drawn again if they changed since); the rows new at
        the bottom, and lines that scrolled through unseen, are added."""
        self._scrolled = em.scrolled
        size, height = len(em.scrollback), len(self.rows)
        left = [em.scrollback[i] for i in range(size - scrolled, size)]
        for y, line in enumerate(left[:height]):
            self._set(y, line)
        unseen = [(lines_text(part), len(part)) for part in _parts(left[height:])]
        gone = min(scrolled, height)
        self.rows, self._at = self.rows[gone:], self._at[gone:]
        self._drawn = self._drawn[gone:]
        self._add(
            [*unseen, *self._new_rows(screen[height - gone :], em.cursor.row - height + gone)]
        )
        self._trim((em.scrollback.maxlen or size) + height)

    def _new_rows(self, lines: list[Line], cursor: int) -> list[tuple[ft.Text, int]]:
        """Rows for ``lines`` at the bottom of the screen (``cursor``: the cursor's row
        among them). Those above the cursor's row share one Text (output that streams
        rarely changes above it; if a line there does, its Text is drawn again); the
        cursor's row and those below, which change next, get a Text each."""
        above = max(0, min(cursor, len(lines)))
        parts = [lines[:above]] if above > 1 else [[line] for line in lines[:above]]
        parts += [[line] for line in lines[above:]]
        texts: list[tuple[ft.Text, int]] = []
        for part in parts:
            text = line_text(part[0]) if len(part) == 1 else lines_text(part)
            self._held[id(text)] = list(part)
            self.rows += [text] * len(part)
            self._at += list(range(len(part)))
            texts.append((text, len(part)))
        self._drawn += lines
        return texts

    def _redraw(self, screen: list[Line], rows: int) -> None:
        """The first ``rows`` rows (those not new) drawn again where they changed."""
        for y in range(rows):
            self._set(y, screen[y])
        self._drawn = screen

    def _set(self, y: int, line: Line) -> None:
        if line != self._drawn[y]:
            text = self.rows[y]
            self._held[id(text)][self._at[y]] = line
            self._dirty[id(text)] = text

    def _changed(self) -> list[ft.Control]:
        """The Texts a changed line is in, drawn again (only those still on the page)."""
        for key, text in self._dirty.items():
            text.spans = _joined(self._held[key])
        self._held = {id(t): self._held[id(t)] for t in self.rows}  # the others never change
        return list(self._dirty.values())

    def _add(self, texts: list[tuple[ft.Text, int]]) -> None:
        """Texts (each with how many lines it holds) after the last line: in one new
        column per block they reach, so a block lists a column per draw rather than a
        Text per line (each update of a block compares every item it lists)."""
        chunk: ft.Column | None = None
        for text, lines in texts:
            if not self.blocks or self._filled[-1] >= BLOCK:
                self.blocks.append(_isolated(ft.Column(spacing=0)))
                self._filled.append(0)
                chunk = None
            if chunk is None:
                chunk = _isolated(ft.Column(spacing=0))
                self.blocks[-1].controls.append(chunk)
                self._grown.append(self.blocks[-1])
            chunk.controls.append(text)
            self._filled[-1] += lines

    def _trim(self, keep: int) -> None:
        """Drop the oldest blocks while more than ``keep`` lines remain without them."""
        total = sum(self._filled)
        while len(self.blocks) > 1 and total - self._filled[0] >= keep:
            total -= self._filled.pop(0)
            self.blocks.pop(0)


def _screen(em: Emulator) -> list[Line]:
    screen, cursor = em.screen(), em.cursor
    if cursor.visible:
        screen[cursor.row] = with_cursor(screen[cursor.row], cursor.col)
    return screen


def _parts(lines: list[Line]) -> list[list[Line]]:
    return [lines[i : i + BLOCK] for i in range(0, len(lines), BLOCK)]


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
    """Several lines as one Text: a Text per line costs every tab a control."""
    text = ft.Text(
        spans=_joined(lines), font_family=w.MONO, size=FONT_SIZE, color=TERMINAL_FG, no_wrap=True
    )
    return _isolated(text)


def _joined(lines: list[Line]) -> list[ft.TextSpan]:
    """The spans of ``lines``, a line break after each but the last: at the end of the
    line's last span where that has the Text's own style (no span of its own to send)."""
    spans: list[ft.TextSpan] = []
    for n, line in enumerate(lines):
        last = n == len(lines) - 1
        if line and not last and _style(line[-1]) is None:
            spans += spans_of(line[:-1]) + [ft.TextSpan(line[-1].text + "\n")]
        else:
            spans += spans_of(line) + ([] if last else [ft.TextSpan("\n")])
    return spans


def spans_of(line: Line) -> list[ft.TextSpan]:
    return [ft.TextSpan(s.text, _style(s)) for s in line]


def _style(span: CellSpan) -> ft.TextStyle | None:
    if span == CellSpan(span.text):  # the Text's own style: no object to make and diff
        return None
    return _text_style(span.fg, span.bg, span.bold, span.italic, span.underline, span.inverse)


@functools.lru_cache(maxsize=1024)
def _text_style(
    fg: str | None, bg: str | None, bold: bool, italic: bool, underline: bool, inverse: bool
) -> ft.TextStyle:
    """One style object for each look, shared by every span that has it (a value, never
    changed once made): a terminal uses a few looks, and making one per span was an
    eighth of a tab's CPU while output streams."""
    fg = fg or TERMINAL_FG
    if inverse:
        fg, bg = bg or TERMINAL_BG, fg
    return ft.TextStyle(
        color=fg,
        bgcolor=bg,
        weight=ft.FontWeight.BOLD if bold else None,
        italic=italic,
        decoration=ft.TextDecoration.UNDERLINE if underline else None,
    )


def _width(cols: int) -> float:
    return cols * CELL_WIDTH + 4


def _isolated(control: C) -> C:
    """``control`` left out of its parents' updates (it is updated on its own)."""
    control._isolated = True  # type: ignore[attr-defined]  # what @control(isolated=True) sets
    return control
