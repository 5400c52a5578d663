"""A diff drawn from :mod:`trace_app.diffs`: syntax colours, changed words, side by side
or unified, unchanged runs folded behind "Show N more lines". Long lines run on to the
right (the table scrolls sideways) instead of wrapping under the line numbers.

Cells are tagged for tests and screen readers: ``diff-new-<n>`` shows line n of the
new file, ``diff-old-<n>`` line n of the old one (a removed line, or the left side).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import flet as ft

from trace_app import diffs
from trace_app.ui import widgets as w

LINE_COLOURS = {"added": "#e6ffec", "removed": "#ffebe9", "hunk": "#ddf4ff", "meta": "#f6f8fa"}
#: Words that differ from the paired line: a stronger shade of the line's colour.
WORD_COLOURS = {"added": "#abf2bc", "removed": "#ffcecb"}
#: The syntax classes of :mod:`trace_app.highlight` in GitHub's light colours.
SYNTAX_COLOURS = {
    "keyword": "#cf222e",
    "string": "#0a3069",
    "number": "#0550ae",
    "comment": "#6e7781",
    "builtin": "#0550ae",
    "function": "#8250df",
    "type": "#953800",
    "decorator": "#8250df",
    "operator": "#0550ae",
}
GUTTER_COLOUR = "#6e7781"
SIZE = 12
#: Width of one character of the 12 px monospace font (DejaVu Sans Mono: 0.602 em), a bit over.
CHAR_PX = 7.3
#: Characters of one line number.
DIGITS = 4
PAD = 4
#: Height of a line's row (the font's line and a pixel above and below): both sides level.
ROW_PX = 19


@dataclass
class DiffTable:
    """``draw()`` gives the table's control; what it calls back is the pane's business."""

    lines: list[diffs.Styled]
    split: bool
    #: Room the table fills at least (px): rows span it even when lines are short.
    room: float
    opened: set[int] = field(default_factory=set)
    #: A tap on a line: the number a comment on it takes.
    on_line: Callable[[int], None] | None = None
    #: "Show more" on the fold that starts at a row.
    on_open: Callable[[int], None] | None = None
    #: What goes under the row of line n (its comments, the comment field).
    under: Callable[[int], list[ft.Control]] = lambda _n: []

    def draw(self) -> ft.Control:
        self.done: set[int] = set()
        return self._split() if self.split else self._unified()

    def _unified(self) -> ft.Control:
        """One column, scrolled sideways as a whole."""
        rows: list[ft.Control] = []
        for row in diffs.fold(self.lines, self.opened):
            if isinstance(row, diffs.DiffFold):
                rows.append(self._fold(row, self.width))
                continue
            rows.append(self._line(row))
            rows += self._under(row)
        body = ft.Column(rows, spacing=0, width=self.width, tight=True)
        return ft.Row(
            [body], scroll=ft.ScrollMode.AUTO, vertical_alignment=ft.CrossAxisAlignment.START
        )

    def _split(self) -> ft.Control:
        """Stretches of rows whose two sides scroll sideways each on their own (a long line
        on one side leaves the other in view), between full-width rows: hunk headers,
        folds, comments. Every cell is one line high, so the sides stay level."""
        out: list[ft.Control] = []
        left: list[ft.Control] = []
        right: list[ft.Control] = []

        def close() -> None:
            if left:
                out.append(ft.Row([_sideways(left), _sideways(right)], spacing=0))
            left.clear()  # the Row holds copies: lists are taken as they are now
            right.clear()

        for row in diffs.fold(diffs.side_by_side(self.lines), self.opened):
            if isinstance(row, diffs.DiffFold):
                close()
                out.append(self._fold(row, None))
            elif row.right is not None and not _numbered(row.right):
                close()
                out.append(self._header(row.right, None))
            else:
                left.append(self._side(row.left, "old"))
                right.append(self._side(row.right, "new"))
                under = self._under(row)
                if under:
                    close()
                    out += under
        close()
        return ft.Column(out, spacing=0, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)

    def _under(self, row: diffs.Styled | diffs.Pair) -> list[ft.Control]:
        found: list[ft.Control] = []
        for number in _numbers(row):
            if number not in self.done:  # a removed and an added line may share a number: once
                self.done.add(number)
                found += self.under(number)
        return found

    @property
    def width(self) -> float:
        """The unified table's width: its longest line, or the room if that is more."""
        longest = max((len(s.line.text) for s in self.lines if _numbered(s)), default=0)
        return max((2 * DIGITS + 3 + longest) * CHAR_PX + 2 * PAD, self.room)

    def _half(self, side: str) -> float:
        kinds = ("context", "removed") if side == "old" else ("context", "added")
        longest = max((len(s.line.text) for s in self.lines if s.line.kind in kinds), default=0)
        return max((DIGITS + 2 + longest) * CHAR_PX + 2 * PAD, self.room / 2)

    # -- rows ----------------------------------------------------------------------

    def _line(self, s: diffs.Styled) -> ft.Control:
        if not _numbered(s):
            return self._header(s, self.width)
        old, new = s.line.old or "", s.line.new or ""
        gutter = ft.TextSpan(f"{old:>{DIGITS}} {new:>{DIGITS}} ", _gutter())
        side = "old" if s.line.kind == "removed" else "new"
        return self._cell(s, [gutter, *_spans(s)], self.width, side)

    def _side(self, s: diffs.Styled | None, side: str) -> ft.Control:
        if s is None:
            return ft.Container(width=self._half(side), bgcolor="#f6f8fa", height=ROW_PX)
        number = s.line.old if side == "old" else s.line.new
        gutter = ft.TextSpan(f"{number or '':>{DIGITS}} ", _gutter())
        return self._cell(s, [gutter, *_spans(s)], self._half(side), side)

    def _cell(
        self, s: diffs.Styled, spans: list[ft.TextSpan], width: float, side: str
    ) -> ft.Control:
        number = s.line.new or s.line.old
        text = ft.Text(spans=spans, font_family=w.MONO, size=SIZE, no_wrap=True)
        on_line = self.on_line

        def tapped(_e: object) -> None:
            if on_line is not None and number is not None:
                on_line(number)

        cell = ft.Container(
            text,
            width=width,
            height=ROW_PX,
            bgcolor=LINE_COLOURS.get(s.line.kind),
            on_click=tapped if on_line is not None else None,
            padding=ft.Padding.symmetric(horizontal=PAD, vertical=1),
        )
        return w.tag(f"diff-{side}-{s.line.old if side == 'old' else s.line.new}", cell)

    def _header(self, s: diffs.Styled, width: float | None) -> ft.Control:
        return ft.Container(
            w.mono(s.line.text, SIZE),
            width=width,
            bgcolor=LINE_COLOURS.get(s.line.kind),
            padding=ft.Padding.symmetric(horizontal=PAD, vertical=1),
        )

    def _fold(self, f: diffs.DiffFold, width: float | None) -> ft.Control:
        on_open = self.on_open
        button = ft.TextButton(
            content=f"Show {f.count} more unchanged lines",
            icon=ft.Icons.UNFOLD_MORE,
            on_click=(lambda _e: on_open(f.start)) if on_open is not None else None,
        )
        box = ft.Container(
            button, width=width, bgcolor="#f6f8fa", alignment=ft.Alignment.CENTER_LEFT
        )
        return w.tag(f"fold-{f.start}", box)


def _sideways(cells: list[ft.Control]) -> ft.Control:
    """One side of a stretch of rows, scrolled sideways on its own."""
    column = ft.Column(list(cells), spacing=0, tight=True)
    return ft.Row([column], scroll=ft.ScrollMode.AUTO, expand=1, spacing=0)


def _numbered(s: diffs.Styled) -> bool:
    return s.line.kind not in ("hunk", "meta")


def _numbers(row: diffs.Styled | diffs.Pair) -> list[int]:
    """The comment numbers of a row's lines (a line's new number, else its old one)."""
    lines = [row] if isinstance(row, diffs.Styled) else [row.left, row.right]
    found = []
    for s in lines:
        if s is not None and _numbered(s):
            number = s.line.new or s.line.old
            if number is not None:
                found.append(number)
    return found


def _gutter() -> ft.TextStyle:
    return ft.TextStyle(color=GUTTER_COLOUR)


def _spans(s: diffs.Styled) -> list[ft.TextSpan]:
    sign = {"added": "+", "removed": "-"}.get(s.line.kind, " ")
    word = WORD_COLOURS.get(s.line.kind)
    out = [ft.TextSpan(sign, _gutter())]
    for span in s.spans:
        style = ft.TextStyle(
            color=SYNTAX_COLOURS.get(span.syntax),
            bgcolor=word if span.changed else None,
            italic=span.syntax == "comment",
        )
        out.append(ft.TextSpan(span.text, style))
    return out
