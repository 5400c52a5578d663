"""Response bodies of the session reads and usage API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from trace_sync.api.models import Model
from trace_sync.api.pages import Page, PageQuery


class TranscriptItemOut(Model):
    #: Position since the session began (sealed entries keep theirs).
    n: int
    #: The entry as the runtime wrote it: ``id``, ``kind``, ``at`` and the kind's fields
    #: (see ``trace_sync/docs/REFERENCE.md``).
    entry: dict[str, Any]


class TranscriptPage(Page[TranscriptItemOut]):
    #: Entries so far; ``?cursor=`` of a later read starts after what was read.
    total: int


class TerminalInfoOut(Model):
    id: str
    title: str
    kind: str
    state: str
    exit_code: int | None
    cols: int
    rows: int
    sealed_chars: int
    opened_by: str | None


class TerminalPage(Page[TerminalInfoOut]):
    pass


class ChunkOut(Model):
    #: Character position of ``text`` in the terminal's whole output.
    offset: int
    text: str
    #: True when read from a sealed log segment, false for the live window.
    sealed: bool


class OutputPage(Page[ChunkOut]):
    #: Characters of output so far.
    total_chars: int


class SegmentOut(Model):
    name: str
    kind: Literal["terminal", "transcript"]
    terminal_id: str | None
    first: int
    count: int
    at: datetime
    #: Its document, to open at ``/sync/<name>`` or read at ``.../segments/{name}``.
    document: str


class SegmentPage(Page[SegmentOut]):
    pass


class SegmentEntriesPage(Page[Any]):
    pass


class FileChangeOut(Model):
    path: str
    status: str
    old_path: str | None
    added: int
    removed: int
    binary: bool
    #: Unified diff; left out of lists (ask ``/diff?path=`` for one file's).
    diff: str | None = None
    summary: str | None = None


class FileChangePage(Page[FileChangeOut]):
    pass


class DiffQuery(Model):
    path: str = Field(min_length=1, max_length=4096)


class CheckpointDiffQuery(PageQuery):
    path: str | None = Field(None, min_length=1, max_length=4096)


class CheckpointOut(Model):
    n: int
    ref: str
    commit: str
    at: datetime
    label: str
    tool_session_id: str | None
    tool_point: str | None


class CheckpointPage(Page[CheckpointOut]):
    pass


class UsageQuery(PageQuery):
    by: Literal["day", "member", "tool"] = "day"


class UsageOut(Model):
    #: The day (YYYY-MM-DD, UTC), the member's user id, or the tool.
    key: str
    #: The member's name; else the key.
    label: str
    sessions: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    #: True when some of the cost was computed from token counts.
    estimated: bool


class UsagePage(Page[UsageOut]):
    by: Literal["day", "member", "tool"]
