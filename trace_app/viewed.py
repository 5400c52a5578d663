"""Which changed files a person marked viewed, kept in their own local document
(``local/app``: one per server and credential, on disk on a desktop or phone, in the
server's memory for a web tab, where a reload keeps it). Never synced: what one person
has read is nobody else's business.

A mark names the diff it was made on: once the agent changes the file again, the file
is unviewed again (as on GitHub).

>>> mark(doc, "s1", "app.py", "@@ -1 +1 @@", True); is_viewed(doc, "s1", "app.py", "@@ -1 +1 @@")
True
"""

from __future__ import annotations

import hashlib
from typing import Any

from pycrdt import Doc, Map

ORIGIN = "trace-app-viewed"
ROOT = "viewed"


def is_viewed(doc: Doc[Any], sid: str, path: str, diff: str | None) -> bool:
    return bool(doc.get(ROOT, type=Map).get(_key(sid, path)) == _digest(diff))


def mark(doc: Doc[Any], sid: str, path: str, diff: str | None, viewed: bool) -> None:
    marks = doc.get(ROOT, type=Map)
    with doc.transaction(origin=ORIGIN):
        if viewed:
            marks[_key(sid, path)] = _digest(diff)
        elif _key(sid, path) in marks:
            del marks[_key(sid, path)]


def _key(sid: str, path: str) -> str:
    return f"{sid}\n{path}"  # a newline is in no session id


def _digest(diff: str | None) -> str:
    return hashlib.sha256((diff or "").encode()).hexdigest()[:16]
