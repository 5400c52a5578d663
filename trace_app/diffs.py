"""Unified diffs cut into numbered lines, and changed paths into a tree.

>>> [(l.kind, l.new) for l in parse("@@ -1 +1,2 @@\\n a\\n+b")][1:]
[('context', 1), ('added', 2)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

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
    for text in diff.splitlines():
        hunk = _HUNK.match(text)
        if hunk:
            old, new = int(hunk.group(1)), int(hunk.group(2))
            lines.append(Line("hunk", text))
        elif text.startswith(("+++", "---", "diff ", "index ", "\\")):
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
