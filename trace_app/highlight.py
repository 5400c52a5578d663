"""Syntax classes of source lines, by the file's language (Pygments, kept inside this module).

>>> highlight.classes("app.py", ["def f(): pass"])[0][0]
(0, 3, 'keyword')

The rest of the app sees only a few class names (:data:`CLASSES`), never a
Pygments token type, so the colours live with the widgets and the lexer can
be swapped here alone.
"""

from __future__ import annotations

import functools
from pathlib import PurePosixPath

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_for_filename
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    String,
    _TokenType,
)
from pygments.util import ClassNotFound

#: Pygments token types -> the app's class names; the first that contains a token wins.
_CLASSES: tuple[tuple[_TokenType, str], ...] = (
    (Comment, "comment"),
    (String, "string"),
    (Number, "number"),
    (Keyword, "keyword"),
    (Name.Builtin, "builtin"),
    (Name.Function, "function"),
    (Name.Class, "type"),
    (Name.Decorator, "decorator"),
    (Operator.Word, "keyword"),
    (Operator, "operator"),
)
CLASSES = frozenset(name for _, name in _CLASSES)
#: Beyond this many characters a side is drawn plain: lexing is linear, but a phone
#: waits for every span it is sent.
MAX_CHARS = 200_000

#: (start, end, class) of the highlighted stretches of one line.
Classes = list[tuple[int, int, str]]


def lexer_for(path: str) -> Lexer | None:
    """The lexer of ``path``'s language by its name, or None (plain text)."""
    return _lexer(PurePosixPath(path).name)


@functools.lru_cache(maxsize=512)
def _lexer(name: str) -> Lexer | None:
    # Finding a lexer by name matches ~600 patterns; a redraw must not pay for it again.
    try:
        return get_lexer_for_filename(name, stripnl=False, stripall=False, ensurenl=True)
    except ClassNotFound:
        return None


def classes(path: str, lines: list[str]) -> list[Classes]:
    """Per line of ``lines`` (consecutive lines of one file), its highlighted stretches."""
    found: list[Classes] = [[] for _ in lines]
    lexer = lexer_for(path)
    if lexer is None or not lines or sum(map(len, lines)) > MAX_CHARS:
        return found
    row = column = 0
    for token, value in lexer.get_tokens("\n".join(lines) + "\n"):
        name = _class_of(token)
        for n, piece in enumerate(value.split("\n")):
            if n:
                row, column = row + 1, 0
            if row >= len(lines):
                return found
            if piece and name:
                found[row].append((column, column + len(piece), name))
            column += len(piece)
    return found


@functools.cache  # a few hundred token types, asked once per token
def _class_of(token: _TokenType) -> str | None:
    for parent, name in _CLASSES:
        if token in parent:
            return name
    return None
