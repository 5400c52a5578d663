"""Terminal output with ANSI escapes, cut into coloured spans.

Only SGR (``ESC [ ... m``: colours, bold, reverse) changes how text looks;
every other escape sequence (cursor moves, titles, ...) is removed, since
a scrollback view has no cursor. Colours are the xterm palette as hex.

>>> [(s.text, s.fg) for s in spans("a\\x1b[31mred\\x1b[0m")]
[('a', None), ('red', '#cd3131')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

#: CSI sequences (ESC [ params final), OSC (ESC ] ... BEL/ST), and lone two-byte escapes.
_ESCAPE = re.compile(r"\x1b\[([0-9;?]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

PALETTE = (
    "#000000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
    "#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff",
)  # fmt: skip


@dataclass(frozen=True)
class Style:
    fg: str | None = None
    bg: str | None = None
    bold: bool = False


@dataclass(frozen=True)
class Span:
    text: str
    fg: str | None = None
    bg: str | None = None
    bold: bool = False


def spans(output: str) -> list[Span]:
    """``output`` as spans of one style each; carriage returns keep the line's last write."""
    result: list[Span] = []
    style = Style()
    position = 0
    for match in _ESCAPE.finditer(output):
        _add(result, output[position : match.start()], style)
        if match.group(2) == "m":
            style = apply_sgr(style, match.group(1))
        position = match.end()
    _add(result, output[position:], style)
    return result


def plain(output: str) -> str:
    """``output`` without any escape sequence."""
    return "".join(s.text for s in spans(output))


def apply_sgr(style: Style, params: str) -> Style:
    codes = [int(c) if c.isdigit() else 0 for c in params.split(";")] if params else [0]
    i = 0
    while i < len(codes):
        code = codes[i]
        if code in (38, 48) and i + 1 < len(codes):
            colour, used = _extended(codes[i + 1 :])
            style = replace(style, fg=colour) if code == 38 else replace(style, bg=colour)
            i += used
        else:
            style = _basic(style, code)
        i += 1
    return style


def _basic(style: Style, code: int) -> Style:
    if code == 0:
        return Style()
    if code == 1:
        return replace(style, bold=True)
    if code == 22:
        return replace(style, bold=False)
    if 30 <= code <= 37 or 90 <= code <= 97:
        return replace(style, fg=PALETTE[code - 30 if code < 90 else code - 82])
    if 40 <= code <= 47 or 100 <= code <= 107:
        return replace(style, bg=PALETTE[code - 40 if code < 100 else code - 92])
    if code == 39:
        return replace(style, fg=None)
    if code == 49:
        return replace(style, bg=None)
    return style


def _extended(rest: list[int]) -> tuple[str | None, int]:
    """``5;n`` (256 colours) or ``2;r;g;b``: the colour and how many codes it used."""
    if rest[0] == 5 and len(rest) > 1:
        return _xterm256(rest[1]), 2
    if rest[0] == 2 and len(rest) > 3:
        r, g, b = (max(0, min(255, v)) for v in rest[1:4])
        return f"#{r:02x}{g:02x}{b:02x}", 4
    return None, 1


def _xterm256(n: int) -> str:
    if n < 16:
        return PALETTE[n]
    if n < 232:
        n -= 16
        levels = [0 if v == 0 else 55 + 40 * v for v in (n // 36, (n // 6) % 6, n % 6)]
        return "#{:02x}{:02x}{:02x}".format(*levels)
    grey = 8 + 10 * (min(n, 255) - 232)
    return f"#{grey:02x}{grey:02x}{grey:02x}"


def _add(result: list[Span], text: str, style: Style) -> None:
    text = _CONTROL.sub("", _overwrite(text))
    if not text:
        return
    if result and (result[-1].fg, result[-1].bg, result[-1].bold) == (
        style.fg,
        style.bg,
        style.bold,
    ):
        result[-1] = replace(result[-1], text=result[-1].text + text)
    else:
        result.append(Span(text, style.fg, style.bg, style.bold))


def _overwrite(text: str) -> str:
    # "\r\n" is a line end; a lone "\r" (progress bars) starts the line over.
    lines = text.replace("\r\n", "\n").split("\n")
    return "\n".join(line.rsplit("\r", 1)[-1] for line in lines)
