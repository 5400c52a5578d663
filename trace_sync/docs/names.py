"""Document names: the grammar of ``/sync/<document name>``.

>>> parse_doc_name("session/s_1a2b/io").session_id
's_1a2b'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from trace_sync.contract.errors import InvalidInput

#: Ids are short, URL-safe and never contain "/" so names split unambiguously.
ID_PATTERN = r"[A-Za-z0-9_-]{1,64}"
MAX_NAME_LENGTH = 256


class DocKind(StrEnum):
    WORKSPACE = "workspace"
    SESSION = "session"
    SESSION_IO = "session_io"
    SESSION_NOTES = "session_notes"
    SESSION_LOG = "session_log"
    PERSON = "person"


_GRAMMAR: list[tuple[DocKind, re.Pattern[str]]] = [
    (DocKind.WORKSPACE, re.compile(rf"workspace/(?P<wid>{ID_PATTERN})")),
    (DocKind.SESSION, re.compile(rf"session/(?P<sid>{ID_PATTERN})")),
    (DocKind.SESSION_IO, re.compile(rf"session/(?P<sid>{ID_PATTERN})/io")),
    (DocKind.SESSION_NOTES, re.compile(rf"session/(?P<sid>{ID_PATTERN})/notes")),
    (DocKind.SESSION_LOG, re.compile(rf"session/(?P<sid>{ID_PATTERN})/log/(?P<seg>{ID_PATTERN})")),
    (DocKind.PERSON, re.compile(rf"person/(?P<uid>{ID_PATTERN})")),
]


@dataclass(frozen=True)
class DocName:
    kind: DocKind
    workspace_id: str | None = None
    session_id: str | None = None
    segment: str | None = None
    user_id: str | None = None

    def __str__(self) -> str:
        if self.kind is DocKind.WORKSPACE:
            return f"workspace/{self.workspace_id}"
        if self.kind is DocKind.PERSON:
            return f"person/{self.user_id}"
        suffix = {
            DocKind.SESSION: "",
            DocKind.SESSION_IO: "/io",
            DocKind.SESSION_NOTES: "/notes",
            DocKind.SESSION_LOG: f"/log/{self.segment}",
        }[self.kind]
        return f"session/{self.session_id}{suffix}"


def parse_doc_name(name: str) -> DocName:
    """Parse a document name, raising :class:`InvalidInput` for anything off-grammar."""
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"document name longer than {MAX_NAME_LENGTH} characters")
    for kind, pattern in _GRAMMAR:
        match = pattern.fullmatch(name)
        if match:
            groups = match.groupdict()
            return DocName(
                kind, groups.get("wid"), groups.get("sid"), groups.get("seg"), groups.get("uid")
            )
    raise InvalidInput(f"not a document name: {name!r}")
