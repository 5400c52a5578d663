"""A VT100/xterm screen with scrollback: the one module that speaks pyte.

Output is fed as it arrives; the screen is read as lines of styled spans
(xterm colours as hex), each line rendered once when it changes: a line
that scrolls off the top goes to the scrollback already rendered, so
reading the screen costs the same however long the scrollback grows.

pyte lacks the alternate screen (its issue #90), which ``less``, ``top``
and editors ask for with ``CSI ? 1049 h``; :class:`_Screen` adds it the way
xterm does: the normal screen and cursor are kept aside, the program draws
on a cleared screen that keeps no scrollback, and leaving brings them back.

>>> screen = Emulator(20, 2)
>>> screen.feed("a\\x1b[31mred\\x1b[0m\\r\\nok")
>>> [s.text for s in screen.lines()[0]], screen.lines()[0][1].fg
(['a', 'red'], '#cd3131')
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, replace
from typing import Any

import pyte
from pyte.screens import Char, StaticDefaultDict

#: How many lines scrolled off the top are kept.
SCROLLBACK = 5000
ALTERNATE = (1049 << 5, 1047 << 5, 47 << 5)  # pyte shifts private modes by 5 bits
PALETTE = (
    "#000000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
    "#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff",
)  # fmt: skip
_NAMES = ("black", "red", "green", "brown", "blue", "magenta", "cyan", "white")
COLOURS = {name: PALETTE[i] for i, name in enumerate(_NAMES)} | {
    f"bright{name}": PALETTE[8 + i] for i, name in enumerate(_NAMES)
}
COLOURS["bfightmagenta"] = PALETTE[13]  # pyte's spelling of background 105


@dataclass(frozen=True)
class CellSpan:
    """Text of one style; ``None`` colours are the terminal's own."""

    text: str
    fg: str | None = None
    bg: str | None = None
    bold: bool = False
    italic: bool = False
    underline: bool = False
    inverse: bool = False


Line = tuple[CellSpan, ...]


@dataclass(frozen=True)
class Cursor:
    row: int  # on the screen, 0 at its top
    col: int
    visible: bool


class Emulator:
    """One terminal's screen of ``cols`` × ``rows`` plus its scrollback."""

    def __init__(self, cols: int, rows: int, scrollback: int = SCROLLBACK) -> None:
        self.scrollback: deque[Line] = deque(maxlen=scrollback)
        self.scrolled = 0  # lines ever sent to the scrollback (tells readers what is new)
        self.cleared = 0  # times the scrollback was cleared (readers start over)
        self._screen = _Screen(cols, rows, self)
        self._stream = pyte.Stream(self._screen)
        self._rows: list[Line] = [() for _ in range(rows)]
        self._screen.dirty.update(range(rows))

    @property
    def size(self) -> tuple[int, int]:
        return self._screen.columns, self._screen.lines

    @property
    def alternate(self) -> bool:
        return self._screen.saved is not None

    def feed(self, text: str) -> None:
        self._stream.feed(text)

    def resize(self, cols: int, rows: int) -> None:
        if (cols, rows) != self.size:
            self._screen.resize(lines=rows, columns=cols)

    def clear_scrollback(self) -> None:
        self.scrollback.clear()
        self.cleared += 1

    def screen(self) -> list[Line]:
        """The screen's lines, top to bottom (only changed lines are rendered again)."""
        screen = self._screen
        if len(self._rows) != screen.lines:
            self._rows = [() for _ in range(screen.lines)]
            screen.dirty.update(range(screen.lines))
        for y in screen.dirty:
            if y < screen.lines:
                self._rows[y] = render(screen.buffer[y], screen.columns)
        screen.dirty.clear()
        return list(self._rows)

    def lines(self) -> list[Line]:
        """The scrollback, then the screen."""
        return [*self.scrollback, *self.screen()]

    def text(self) -> list[str]:
        """Every line as plain text without trailing blanks (what a person reads)."""
        return ["".join(s.text for s in line).rstrip() for line in self.lines()]

    @property
    def cursor(self) -> Cursor:
        c = self._screen.cursor
        return Cursor(
            min(c.y, self._screen.lines - 1), min(c.x, self._screen.columns - 1), not c.hidden
        )

    def rows_moved_up(self) -> None:
        self._rows = [*self._rows[1:], ()]

    def scrolled_off(self, line: Any) -> None:
        self.scrollback.append(render(line, self._screen.columns))
        self.scrolled += 1


class _Screen(pyte.Screen):
    """pyte's screen with the alternate screen, reporting lines that scroll off."""

    def __init__(self, cols: int, rows: int, emulator: Emulator) -> None:
        self.saved: tuple[Any, Any] | None = None  # the normal screen's buffer and cursor
        self.emulator = emulator
        super().__init__(cols, rows)

    def index(self) -> None:
        top, bottom = self.margins or (0, self.lines - 1)
        whole = top == 0 and bottom == self.lines - 1
        if self.cursor.y != bottom or not whole:
            super().index()
            return
        if self.saved is None:
            self.emulator.scrolled_off(self.buffer[0])
        dirty = {y - 1 for y in self.dirty if y > 0}
        super().index()  # marks every line dirty: the rows only moved up, one is new
        self.dirty = dirty | {bottom}
        self.emulator.rows_moved_up()

    def set_mode(self, *modes: int, **kwargs: Any) -> None:
        if kwargs.get("private") and any(m << 5 in ALTERNATE for m in modes):
            self._enter_alternate()
        super().set_mode(*modes, **kwargs)

    def reset_mode(self, *modes: int, **kwargs: Any) -> None:
        if kwargs.get("private") and any(m << 5 in ALTERNATE for m in modes):
            self._leave_alternate()
        super().reset_mode(*modes, **kwargs)

    def _enter_alternate(self) -> None:
        if self.saved is not None:  # programs do ask twice
            return
        self.saved = (self.buffer, self.cursor)
        self.buffer = defaultdict(lambda: StaticDefaultDict[int, Char](self.default_char))
        self.cursor = pyte.screens.Cursor(0, 0, self.cursor.attrs)
        self.dirty.update(range(self.lines))

    def _leave_alternate(self) -> None:
        if self.saved is None:
            return
        self.buffer, self.cursor = self.saved
        self.saved = None
        self.dirty.update(range(self.lines))

    def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
        super().erase_in_display(how, *args, **kwargs)
        if how == 3:  # "clear" also forgets the scrollback, as xterm does
            self.emulator.clear_scrollback()


def render(line: Any, cols: int) -> Line:
    """A pyte line (column -> Char) as spans, trailing default blanks dropped."""
    spans: list[CellSpan] = []
    text: list[str] = []
    style: tuple[Any, ...] | None = None
    last = max((x for x, c in line.items() if c.data != " " or _styled(c)), default=-1)
    for x in range(min(last + 1, cols)):
        char: Char = line[x]
        if char.data == "":  # the second cell of a wide character
            continue
        key = (char.fg, char.bg, char.bold, char.italics, char.underscore, char.reverse)
        if key != style and text:
            spans.append(_span("".join(text), style))
            text = []
        style = key
        text.append(char.data)
    if text:
        spans.append(_span("".join(text), style))
    return tuple(spans)


def with_cursor(line: Line, col: int) -> Line:
    """``line`` with the cell at ``col`` drawn inverse (padded with blanks to reach it)."""
    spans: list[CellSpan] = []
    x = 0
    for span in line:
        end = x + len(span.text)
        if x <= col < end:
            cut = col - x
            before, at, after = span.text[:cut], span.text[cut], span.text[cut + 1 :]
            spans += [replace(span, text=before)] if before else []
            spans.append(replace(span, text=at, inverse=not span.inverse))
            spans += [replace(span, text=after)] if after else []
        else:
            spans.append(span)
        x = end
    if col >= x:
        spans += [CellSpan(" " * (col - x))] if col > x else []
        spans.append(CellSpan(" ", inverse=True))
    return tuple(spans)


def _styled(char: Char) -> bool:
    return char.bg != "default" or char.reverse or char.underscore


def _span(text: str, style: tuple[Any, ...] | None) -> CellSpan:
    fg, bg, bold, italic, underline, inverse = style or ("default", "default", 0, 0, 0, 0)
    return CellSpan(
        text, _colour(fg), _colour(bg), bool(bold), bool(italic), bool(underline), bool(inverse)
    )


def _colour(name: str) -> str | None:
    if name == "default":
        return None
    if name in COLOURS:
        return COLOURS[name]
    return f"#{name}" if len(name) == 6 else None
