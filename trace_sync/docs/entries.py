"""Entry models: the shape of every value stored in a document root.

Entries are plain JSON objects inside Yjs Maps and Arrays, so any Yjs client
reads them without Trace code. Unknown fields are kept (``extra="allow"``):
an older server or client never drops what a newer one wrote.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ModelWrapValidatorHandler, model_validator

from trace_sync.contract.session_status import SessionStatus as SessionStatus  # in the schema too
from trace_sync.contract.tools import Location, PermissionMode


class Entry(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- workspace/<wid> ---------------------------------------------------------


class WorkspaceMeta(Entry):
    id: str
    name: str


class MemberEntry(Entry):
    name: str
    role: Literal["owner", "admin", "member", "viewer"]


class RepoEntry(Entry):
    id: str
    name: str
    source: str = Field(description="local path or remote URL")
    path: str = Field(description="checkout on the server host")
    default_branch: str
    added_at: datetime


class SessionSummary(Entry):
    title: str
    status: SessionStatus
    tool: str
    branch: str | None = None
    repo_id: str
    owner_id: str
    private: bool = False
    last_activity: datetime
    cost_usd: float = 0.0
    cost_estimated: bool = False
    needs_attention: bool = False
    permission_mode: PermissionMode = "ask"
    #: Health of the hosting runtime, as last rolled up from io ``runtime`` (see
    #: :class:`RuntimeHealth`); absent until the first heartbeat.
    heartbeat_at: datetime | None = None
    cpu_percent: float | None = None
    memory_bytes: int | None = None
    disk_bytes: int | None = None
    #: Lines added and removed in the session's changed files, summed from io ``files``.
    lines_added: int = 0
    lines_removed: int = 0
    #: Why the session waits for a runtime (no bridge online, no cloud host); kept
    #: while it is created or starting, gone once a runtime has it.
    waiting_reason: str | None = None
    #: Its pull request, as the forge last said (see :class:`PullRequestEntry`):
    #: number, state, and its checks in one word (success, failure or pending).
    pr_number: int | None = None
    pr_state: str | None = None
    pr_checks: str | None = None


class RuntimeHealth(Entry):
    """How a hosted session fares: the runtime's last heartbeat, the CPU and memory
    of the session's processes, the disk its worktree takes."""

    heartbeat_at: datetime
    cpu_percent: float | None = None
    memory_bytes: int | None = None
    disk_bytes: int | None = None


class RuntimeTool(Entry):
    name: str
    available: bool
    version: str | None = None


class RuntimeEntry(Entry):
    """A bridge of a workspace member, as the server last knew it."""

    id: str
    name: str
    kind: Literal["desktop", "sandbox", "docker"]
    owner_id: str
    version: str = ""
    online: bool = False
    last_seen_at: datetime | None = None
    tools: list[RuntimeTool] = Field(default_factory=list)


# -- session/<sid> -------------------------------------------------------------


class Lineage(Entry):
    session_id: str
    checkpoint: int | None = None


class SessionMeta(Entry):
    """A session's facts. Its launch fields (``repo_id``, ``tool``, ``base_branch``,
    ``model``, ``permission_mode``, ``title``, ``private``, ``location``) are those of
    its :class:`~trace_sync.contract.session_spec.SessionSpec`, with defaults resolved
    (the repo's default branch, a title); ``tool`` stays a string so an older reader
    keeps a newer tool's sessions."""

    id: str
    workspace_id: str
    title: str
    tool: str
    model: str | None = None
    repo_id: str
    base_branch: str
    branch: str | None = None
    status: SessionStatus
    location: Location = "local"
    private: bool = False
    creator_id: str
    owner_id: str
    created_at: datetime
    parent: Lineage | None = None
    permission_mode: PermissionMode = "ask"
    #: True once a run was cut off (its runtime was lost or restarted); a resume clears it.
    interrupted: bool = False
    #: The io ``runtime.revivals`` last taken in: an interrupted session goes back
    #: to work only on a revival it has not seen (never on a stale io reading).
    revivals: int = 0
    #: Why the session failed; None while it is not failed.
    reason: str | None = None


class Desired(Entry):
    """What the services want the runtime to do; the bridge reconciles it."""

    state: Literal["running", "paused", "stopped", "archived"]
    generation: int = 0


class PromptEntry(Entry):
    id: str
    text: str
    author_id: str
    at: datetime
    mode: Literal["queue", "interrupt"] = "queue"


class TimelineEvent(Entry):
    id: str
    at: datetime
    actor_id: str
    kind: str
    payload: dict[str, Any] = Field(default_factory=dict)


class Usage(Entry):
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    estimated: bool = False


# -- session/<sid>/notes -----------------------------------------------------


class ReviewComment(Entry):
    id: str
    author_id: str
    path: str
    line: int
    text: str
    at: datetime
    resolved: bool = False


# -- session/<sid>/io (written by the runtime; validated by the server) --------


class TranscriptEntry(Entry):
    """One transcript item; ``kind`` says which fields follow (see :data:`TRANSCRIPT_KINDS`).

    Validating a value as ``TranscriptEntry`` yields the model of its kind, so
    a ``tool_call`` without a ``name`` is flagged. An unknown kind validates
    as this base model: newer runtimes may add kinds, and readers keep them.
    """

    id: str
    kind: str
    at: datetime

    @model_validator(mode="wrap")
    @classmethod
    def _of_its_kind(cls, value: Any, handler: ModelWrapValidatorHandler[TranscriptEntry]) -> Any:
        if cls is TranscriptEntry and isinstance(value, dict):
            variant = TRANSCRIPT_KINDS.get(value.get("kind", ""))
            if variant is not None:
                return variant.model_validate(value)
        return handler(value)


class UserPrompt(TranscriptEntry):
    kind: Literal["user_prompt"] = "user_prompt"
    text: str
    #: The ``prompts`` entry of ``session/<sid>`` this turn came from.
    prompt_id: str | None = None


class AssistantText(TranscriptEntry):
    """Streamed: the runtime replaces the entry as text arrives (coalesced),
    with ``streaming`` true until the message is complete."""

    kind: Literal["assistant_text"] = "assistant_text"
    text: str
    streaming: bool = False


class Thinking(TranscriptEntry):
    kind: Literal["thinking"] = "thinking"
    text: str
    streaming: bool = False


class ToolCall(TranscriptEntry):
    kind: Literal["tool_call"] = "tool_call"
    call_id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)
    status: Literal["pending", "running", "done", "failed", "denied"] = "running"


class ToolResult(TranscriptEntry):
    kind: Literal["tool_result"] = "tool_result"
    call_id: str
    output: str = ""
    is_error: bool = False
    exit_code: int | None = None


class FileChangeNote(TranscriptEntry):
    """The tool changed files (the diffs themselves are in the ``files`` root)."""

    kind: Literal["file_change"] = "file_change"
    paths: list[str]


class Question(TranscriptEntry):
    """The tool asks a person something; the answer goes to ``decisions``."""

    kind: Literal["question"] = "question"
    request_id: str
    text: str
    options: list[str] = Field(default_factory=list)


class Plan(TranscriptEntry):
    kind: Literal["plan"] = "plan"
    text: str
    request_id: str | None = None


class UsageNote(TranscriptEntry):
    """Tokens and cost of one turn."""

    kind: Literal["usage"] = "usage"
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    estimated: bool = False


class ErrorNote(TranscriptEntry):
    kind: Literal["error"] = "error"
    message: str


class RawEvent(TranscriptEntry):
    """A tool event no adapter understood, kept verbatim (never a crash)."""

    kind: Literal["raw"] = "raw"
    source: str
    data: Any = None


TRANSCRIPT_KINDS: dict[str, type[TranscriptEntry]] = {
    model.model_fields["kind"].default: model
    for model in (
        UserPrompt,
        AssistantText,
        Thinking,
        ToolCall,
        ToolResult,
        FileChangeNote,
        Question,
        Plan,
        UsageNote,
        ErrorNote,
        RawEvent,
    )
}


class TerminalInfo(Entry):
    """A terminal's facts; its output is the Text at the same key of ``output``.

    The live window keeps the last output (bounded); older output is sealed
    into log segments, and ``sealed_chars`` counts what left the window.
    """

    id: str
    title: str
    kind: Literal["tool", "shell"]
    state: Literal["running", "exited"] = "running"
    exit_code: int | None = None
    cols: int = 80
    rows: int = 24
    sealed_chars: int = 0
    #: Who opened a shell terminal (user id); absent for the tool's own.
    opened_by: str | None = None


class FileChange(Entry):
    path: str
    status: Literal["added", "modified", "deleted", "renamed", "untracked"]
    old_path: str | None = None
    added: int = 0
    removed: int = 0
    binary: bool = False
    diff: str | None = Field(default=None, description="unified diff; absent when summarized")
    summary: str | None = None


class ApprovalDetail(Entry):
    """Exactly what is asked, in the fields a person reads first."""

    command: str | None = None
    path: str | None = None
    diff: str | None = None
    description: str | None = None


class ApprovalRequest(Entry):
    """A pending request of the tool: a permission, a question or a plan.

    Permissions make the session ``waiting_approval``; questions and plans
    ``waiting_input``. The runtime removes the entry once it is answered.
    """

    id: str
    kind: Literal["permission", "question", "plan"] = "permission"
    tool: str
    title: str
    input: dict[str, Any] = Field(default_factory=dict)
    detail: ApprovalDetail = Field(default_factory=ApprovalDetail)
    #: Choices offered for a question (free text is always accepted).
    options: list[str] = Field(default_factory=list)
    at: datetime
    expires_at: datetime | None = None


class ToolPoint(Entry):
    """A point of the tool's own conversation: a checkpoint's ``tool_session_id`` and
    ``tool_point``."""

    tool_session_id: str
    tool_point: str


class RuntimeState(Entry):
    """What the runtime hosting the session reports about it (``io`` root ``runtime``)."""

    runtime_id: str | None = None
    #: What the tool is doing: a :class:`SessionStatus` the runtime may report
    #: (running, waiting_input, waiting_approval, idle, failed) or paused/stopped.
    status: SessionStatus | None = None
    heartbeat_at: datetime | None = None
    #: The ``desired.generation`` of ``session/<sid>`` last acted on.
    generation: int = 0
    #: How many entries of ``session/<sid>`` ``prompts`` were handed to the tool.
    prompts_taken: int = 0
    #: The tool's own conversation id (Claude session id, Codex thread id).
    tool_session_id: str | None = None
    worktree: str | None = None
    branch: str | None = None
    pid: int | None = None
    cpu_percent: float | None = None
    memory_bytes: int | None = None
    disk_bytes: int | None = None
    error: str | None = None
    #: How many times the runtime resumed, by itself, a turn a restart cut off.
    revivals: int = 0
    #: A restore's rewind not yet taken up: the tool's next start continues this
    #: conversation from this point (cleared once the tool names its new session).
    rewind: ToolPoint | None = None


class BranchStatus(Entry):
    """Where the session branch stands (``io`` root ``branch``), written by the
    runtime after every push, fetch, update, merge and turn. Counts are commits;
    the remote's are as of the last push or fetch (once when the session opens,
    then when a writer asks: the runtime never polls it)."""

    branch: str
    base: str
    ahead_base: int | None = None
    behind_base: int | None = None
    #: The remote's name (never its URL), or None when the repo has none.
    remote: str | None = None
    #: Whether the remote has a copy of the branch (pushed, or fetched).
    pushed: bool = False
    ahead_remote: int | None = None
    behind_remote: int | None = None
    #: Paths left in conflict by an update handed to the tool (empty otherwise).
    conflicts: list[str] = Field(default_factory=list)
    checked_at: datetime | None = None


class PullRequestEntry(Entry):
    """The session's pull (merge) request on its repo's forge (``session/<sid>``
    root ``pull_request``), as the forge last said, written by the server."""

    forge: str
    number: int
    url: str
    state: Literal["open", "merged", "closed"] | str
    title: str = ""
    head: str = ""
    base: str = ""
    mergeable: bool | None = None
    reviews: list[dict[str, str]] = Field(default_factory=list)
    checks: list[dict[str, str]] = Field(default_factory=list)
    checked_at: datetime | None = None

    @property
    def checks_state(self) -> str | None:
        """Its checks in one word: failure if one failed, else pending if one is still
        running, else success; None when it has none."""
        states = {check.get("state") for check in self.checks}
        for word in ("failure", "pending", "success"):
            if word in states:
                return word
        return None


class PreviewEntry(Entry):
    """The port of the session's dev server that its live preview shows
    (``session/<sid>`` root ``preview``), declared by a writer."""

    port: int = Field(ge=1, le=65535)
    declared_by: str
    declared_at: datetime


class Checkpoint(Entry):
    """A commit of the worktree on ``refs/trace/checkpoints/<sid>/<n>``, paired
    with the tool's conversation point so restore and fork bring both back."""

    n: int
    ref: str
    commit: str
    at: datetime
    label: str = ""
    tool_session_id: str | None = None
    tool_point: str | None = Field(default=None, description="message uuid or turn id")


class SegmentRef(Entry):
    """A sealed ``session/<sid>/log/<name>`` document."""

    name: str
    kind: Literal["terminal", "transcript"]
    terminal_id: str | None = None
    #: Position of the segment's first item (chars for terminals, entries for transcripts).
    first: int
    count: int
    at: datetime


# -- session/<sid> decisions (written by services) ------------------------------


class Decision(Entry):
    """A person's answer to an :class:`ApprovalRequest`."""

    request_id: str
    behavior: Literal["allow", "allow_always", "deny", "answer"]
    message: str | None = None
    answer: str | None = None
    by: str
    at: datetime
