"""The roots of every kind of document: name, Yjs type, entry model, writer.

This table is the single source of truth for the document layout; the
reference page (``REFERENCE.md`` beside this file) is checked against it.
Every document carries ``meta["schema"]``, the layout version it was
written with (see :mod:`trace_sync.docs.migrations`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from trace_sync.docs import entries as e
from trace_sync.docs.names import DocKind

RootType = Literal["Map", "Array", "Text"]
Writer = Literal["server", "runtime", "members"]


@dataclass(frozen=True)
class Root:
    name: str
    ytype: RootType
    #: Model of each value (Map values, Array items); None for Text and free-form Maps.
    entry: type[BaseModel] | None
    description: str


@dataclass(frozen=True)
class Layout:
    kind: DocKind
    writer: Writer
    version: int
    roots: tuple[Root, ...]

    def root(self, name: str) -> Root:
        for root in self.roots:
            if root.name == name:
                return root
        raise KeyError(f"{self.kind.value} has no root {name!r}")


META = Root("meta", "Map", None, "schema version and the document's own fields")

WORKSPACE = Layout(
    DocKind.WORKSPACE,
    "server",
    1,
    (
        META,
        Root("members", "Map", e.MemberEntry, "user id -> name and role"),
        Root("repos", "Map", e.RepoEntry, "repo id -> connected repository"),
        Root("sessions", "Map", e.SessionSummary, "session id -> summary (private ones left out)"),
        Root("runtimes", "Map", e.RuntimeEntry, "runtime id -> a member's bridge, online or not"),
        Root("timeline", "Array", e.TimelineEvent, "workspace changes: members, repos, names"),
    ),
)

SESSION = Layout(
    DocKind.SESSION,
    "server",
    1,
    (
        META,
        Root("desired", "Map", None, "what the runtime should do: state, generation"),
        Root("prompts", "Array", e.PromptEntry, "prompts in order, queued or interrupting"),
        Root("decisions", "Map", e.Decision, "approval request id -> a person's decision"),
        Root("checkpoints", "Array", e.Checkpoint, "checkpoint registry, oldest first"),
        Root("usage", "Map", None, "tokens and cost so far (fields of Usage)"),
        Root("pull_request", "Map", None, "the session's pull request (PullRequestEntry)"),
        Root("preview", "Map", None, "the port its live preview shows (PreviewEntry)"),
        Root("timeline", "Array", e.TimelineEvent, "every transition and command, in order"),
    ),
)

SESSION_IO = Layout(
    DocKind.SESSION_IO,
    "runtime",
    1,
    (
        META,
        Root("runtime", "Map", None, "runtime state, heartbeat, resource use (RuntimeState)"),
        Root("transcript", "Array", e.TranscriptEntry, "the live window of the transcript"),
        Root("terminals", "Map", e.TerminalInfo, "terminal id -> its facts"),
        Root("output", "Map", None, "terminal id -> Text: the live window of its output"),
        Root("files", "Map", e.FileChange, "path -> change against the base branch"),
        Root("approvals", "Map", e.ApprovalRequest, "request id -> pending request"),
        Root("checkpoints", "Array", e.Checkpoint, "checkpoints the runtime made"),
        Root("branch", "Map", None, "ahead/behind of the base and the remote (BranchStatus)"),
        Root("usage", "Map", None, "tokens and cost the tool reported (fields of Usage)"),
        Root("segments", "Array", e.SegmentRef, "sealed log segment documents, oldest first"),
    ),
)

SESSION_NOTES = Layout(
    DocKind.SESSION_NOTES,
    "members",
    1,
    (
        META,
        Root("draft", "Text", None, "the shared prompt draft"),
        Root("comments", "Array", e.ReviewComment, "review comments on diff lines"),
        Root("notes", "Text", None, "free notes"),
    ),
)

SESSION_LOG = Layout(
    DocKind.SESSION_LOG,
    "runtime",
    1,
    (
        META,
        Root("entries", "Array", None, "sealed transcript entries, or terminal output strings"),
    ),
)

PERSON = Layout(
    DocKind.PERSON,
    "server",
    1,
    (
        META,
        Root("inbox", "Map", None, "changes: bumped whenever the person's inbox may have changed"),
    ),
)

LAYOUTS: dict[DocKind, Layout] = {
    layout.kind: layout
    for layout in (WORKSPACE, SESSION, SESSION_IO, SESSION_NOTES, SESSION_LOG, PERSON)
}
