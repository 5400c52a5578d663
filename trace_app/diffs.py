"""Unified diffs cut into numbered lines, highlighted, paired side by side, with their
unchanged stretches folded; and changed paths into a tree. No UI here: the files
pane draws what these functions return.

>>> [(l.kind, l.new) for l in parse("@@ -1 +1,2 @@\\n a\\n+b")][1:]
[('context', 1), ('added', 2)]
>>> words("name = 1", "name = 2")
([(7, 8)], [(7, 8)])
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from trace_app import highlight

Kind = Literal["hunk", "context", "added", "removed", "meta"]
_HUNK = re.compile(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass(frozen=True)
class Line:
    kind: Kind
    text: str
    #: Line numbers in the old and new file (None where the line is not in that side).
    old: int | None = None
    new: int | None = None


def parse(diff: str) -> list[Line]:
    """Every line of a unified diff with its kind and line numbers."""
    lines: list[Line] = []
    old = new = 0
    header = True  # before a file's first hunk every line is a header ("deleted file mode")
    for text in diff.splitlines():
        hunk = _HUNK.match(text)
        if hunk:
            old, new = int(hunk.group(1)), int(hunk.group(2))
            header = False
            lines.append(Line("hunk", text))
        elif text.startswith("diff "):
            header = True
            lines.append(Line("meta", text))
        elif header or text.startswith(("+++", "---", "\\")):
            lines.append(Line("meta", text))
        elif text.startswith("+"):
            lines.append(Line("added", text[1:], None, new))
            new += 1
        elif text.startswith("-"):
            lines.append(Line("removed", text[1:], old, None))
            old += 1
        else:
            lines.append(Line("context", text[1:], old, new))
            old, new = old + 1, new + 1
    return lines


@dataclass(frozen=True)
class Node:
    """A row of the changed-file tree: a folder or a file, at its depth."""

    name: str
    path: str
    depth: int
    is_file: bool


def tree(paths: list[str]) -> list[Node]:
    """The folders and files of ``paths`` in display order (folders once, before their files)."""
    nodes: list[Node] = []
    seen: set[str] = set()
    for path in sorted(paths, key=lambda p: p.split("/")):
        parts = path.split("/")
        for depth, name in enumerate(parts[:-1]):
            folder = "/".join(parts[: depth + 1])
            if folder not in seen:
                seen.add(folder)
                nodes.append(Node(name + "/", folder, depth, False))
        nodes.append(Node(parts[-1], path, len(parts) - 1, True))
    return nodes


# -- what a diff shows: highlighted, paired, folded ------------------------------

#: A run of unchanged lines longer than this is folded, keeping ``KEEP`` on each side.
FOLD_OVER = 8
KEEP = 3
#: Lines longer than this get no word marks (matching is quadratic in the words).
WORDS_MAX = 1000
#: Below this likeness two paired lines are simply different: marking words would mark all.
LIKE = 0.3
_WORD = re.compile(r"\w+|\s+|[^\w\s]")


@dataclass(frozen=True)
class DiffSpan:
    """A stretch of a line drawn one way: its syntax class ("" for plain) and whether
    its words differ from the line it is paired with."""

    text: str
    syntax: str = ""
    changed: bool = False


@dataclass(frozen=True)
class Styled:
    """A line of the diff with its spans."""

    line: Line
    spans: tuple[DiffSpan, ...]

    @property
    def unchanged(self) -> bool:
        return self.line.kind == "context"


@dataclass(frozen=True)
class Pair:
    """A row of a side-by-side diff: the old line left, the new line right (either may be
    missing); a hunk or header line fills the row alone (``left`` None, ``right`` it)."""

    left: Styled | None
    right: Styled | None

    @property
    def unchanged(self) -> bool:
        return self.right is not None and self.right.unchanged


Row = TypeVar("Row", Styled, Pair)


@dataclass(frozen=True)
class DiffFold:
    """Unchanged lines not shown: ``count`` of them from position ``start``."""

    start: int
    count: int


def styled(path: str, lines: list[Line]) -> list[Styled]:
    """``lines`` with syntax classes (each side lexed as one text) and word marks."""
    olds = [i for i, x in enumerate(lines) if x.kind in ("context", "removed")]
    news = [i for i, x in enumerate(lines) if x.kind in ("context", "added")]
    syntax: dict[tuple[int, bool], highlight.Classes] = {}
    for side, rows in ((False, olds), (True, news)):
        for i, found in zip(
            rows, highlight.classes(path, [lines[i].text for i in rows]), strict=True
        ):
            syntax[i, side] = found
    marks: dict[int, list[tuple[int, int]]] = {}
    for old, new in _paired(lines):
        marks[old], marks[new] = words(lines[old].text, lines[new].text)
    return [
        Styled(x, spans(x.text, syntax.get((i, x.kind != "removed"), []), marks.get(i, [])))
        for i, x in enumerate(lines)
    ]


def side_by_side(lines: list[Styled]) -> list[Pair]:
    """Rows of two columns: removed lines beside the added lines that replace them."""
    rows: list[Pair] = []
    removed: list[Styled] = []
    added: list[Styled] = []

    def flush() -> None:
        for n in range(max(len(removed), len(added))):
            rows.append(Pair(_at(removed, n), _at(added, n)))
        removed.clear()
        added.clear()

    for s in lines:
        if s.line.kind == "removed" and not added:
            removed.append(s)
        elif s.line.kind == "added":
            added.append(s)
        else:
            flush()
            if s.line.kind == "removed":
                removed.append(s)
            else:
                rows.append(Pair(s if s.line.kind == "context" else None, s))
    flush()
    return rows


def fold(rows: Sequence[Row], opened: set[int]) -> list[Row | DiffFold]:
    """``rows`` with each long run of unchanged rows folded to its ends, except the runs
    whose fold starts at a position in ``opened`` (a person asked to see them)."""
    shown: list[Row | DiffFold] = []
    n = 0
    while n < len(rows):
        end = n
        while end < len(rows) and rows[end].unchanged:
            end += 1
        if end == n:
            shown.append(rows[n])
            n += 1
            continue
        keep_before = KEEP if n > 0 else 0  # a file's first lines lead to nothing
        keep_after = KEEP if end < len(rows) else 0
        hidden = end - n - keep_before - keep_after
        start = n + keep_before
        if end - n <= FOLD_OVER or hidden <= 0 or start in opened:
            shown.extend(rows[n:end])
        else:
            shown.extend(rows[n:start])
            shown.append(DiffFold(start, hidden))
            shown.extend(rows[start + hidden : end])
        n = end
    return shown


def words(old: str, new: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The (start, end) stretches of ``old`` and of ``new`` whose words differ."""
    if len(old) > WORDS_MAX or len(new) > WORDS_MAX:
        return [], []
    a, b = _WORD.findall(old), _WORD.findall(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.ratio() < LIKE:
        return [], []
    at_a, at_b = _offsets(a), _offsets(b)
    marks_a: list[tuple[int, int]] = []
    marks_b: list[tuple[int, int]] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if i2 > i1:
            marks_a.append((at_a[i1], at_a[i2]))
        if j2 > j1:
            marks_b.append((at_b[j1], at_b[j2]))
    return marks_a, marks_b


def spans(
    text: str, syntax: highlight.Classes, marks: list[tuple[int, int]]
) -> tuple[DiffSpan, ...]:
    """``text`` cut wherever its syntax class or its word marks change."""
    cuts = {0, len(text)}
    for start, end, _ in syntax:
        cuts |= {start, end}
    for start, end in marks:
        cuts |= {start, end}
    edges = sorted(c for c in cuts if 0 <= c <= len(text))
    out: list[DiffSpan] = []
    for start, end in zip(edges, edges[1:], strict=False):
        name = next((c for s, e, c in syntax if s <= start < e), "")
        changed = any(s <= start < e for s, e in marks)
        if out and out[-1].syntax == name and out[-1].changed == changed:
            out[-1] = DiffSpan(out[-1].text + text[start:end], name, changed)
        else:
            out.append(DiffSpan(text[start:end], name, changed))
    return tuple(out) or (DiffSpan(""),)


def _paired(lines: list[Line]) -> list[tuple[int, int]]:
    """(removed, added) positions of lines that replace one another, in order."""
    pairs: list[tuple[int, int]] = []
    removed: list[int] = []
    n = 0
    while n < len(lines):
        if lines[n].kind == "removed":
            removed.append(n)
        elif lines[n].kind == "added" and removed:
            pairs.append((removed.pop(0), n))
        else:
            removed.clear()
        n += 1
    return pairs


def _offsets(pieces: list[str]) -> list[int]:
    at = [0]
    for piece in pieces:
        at.append(at[-1] + len(piece))
    return at


def _at(items: list[Styled], n: int) -> Styled | None:
    return items[n] if n < len(items) else None
