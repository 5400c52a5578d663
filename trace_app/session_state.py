"""What a session's documents say, read into plain values the views draw.

Reads go through :mod:`trace_sync.docs.typed`, so a value in a bad shape
comes back flagged and is shown as raw, never trusted and never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from pycrdt import Doc, Map, Text
from pydantic import BaseModel, ValidationError

from trace_sync.docs import entries as e
from trace_sync.docs import typed
from trace_sync.docs.layouts import SESSION, SESSION_IO, SESSION_NOTES, WORKSPACE
from trace_sync.docs.typed import Flagged

M = TypeVar("M", bound=BaseModel)
#: How Claude Code marks a diagnostic it reports as an error result (not a failure).
DIAGNOSTIC = "[ede_diagnostic]"
#: Timeline kinds that say how the last push, update or merge went.
BRANCH_EVENTS = (
    "session.pushed",
    "session.updated",
    "session.update_failed",
    "session.merged",
    "session.merge_failed",
)
#: How far back the timeline is searched for the last of them.
LOOK_BACK = 50


@dataclass(frozen=True)
class Header:
    id: str
    title: str
    status: str
    tool: str
    model: str | None
    branch: str | None
    base_branch: str | None
    runtime: str | None
    owner_id: str | None
    cost_usd: float
    cost_estimated: bool
    tokens: int
    error: str | None = None
    #: Why the session failed (or how its run was cut off), as the server recorded it.
    reason: str | None = None
    #: What the hosting runtime last reported about itself (heartbeat, CPU, memory, disk).
    health: e.RuntimeState | None = None
    #: The port of the session's dev server its live preview shows, once declared.
    preview_port: int | None = None


@dataclass(frozen=True)
class Item:
    """One transcript item as drawn: ``kind`` picks the widget, ``raw`` is the stored value."""

    id: str
    kind: str
    text: str = ""
    title: str = ""
    streaming: bool = False
    status: str = ""
    options: tuple[str, ...] = ()
    request_id: str | None = None
    result: str | None = None
    is_error: bool = False
    raw: Any = None


@dataclass(frozen=True)
class TerminalView:
    """A terminal's facts; its output is read from its screen (``TraceClient.screen``)."""

    id: str
    title: str
    kind: str
    state: str
    sealed_chars: int
    cols: int = 80
    rows: int = 24
    segments: tuple[e.SegmentRef, ...] = ()


@dataclass
class SessionState:
    header: Header
    items: list[Item] = field(default_factory=list)
    approvals: list[e.ApprovalRequest] = field(default_factory=list)
    #: request id -> a person's decision (the request stays pending until the tool has it).
    decisions: dict[str, e.Decision] = field(default_factory=dict)
    terminals: list[TerminalView] = field(default_factory=list)
    files: list[e.FileChange] = field(default_factory=list)
    checkpoints: list[e.Checkpoint] = field(default_factory=list)
    comments: list[e.ReviewComment] = field(default_factory=list)
    #: Where the session branch stands (io ``branch``), and how its last push,
    #: update or merge went (from the timeline).
    branch: e.BranchStatus | None = None
    branch_event: e.TimelineEvent | None = None
    pull_request: e.PullRequestEntry | None = None
    draft: str = ""
    notes: str = ""


def read_session(
    sid: str, session: Doc[Any], io: Doc[Any], notes: Doc[Any], workspace: Doc[Any]
) -> SessionState:
    """Everything the session views show, from the three documents (and the
    workspace's listing of the session, until its own document has arrived)."""
    return SessionState(
        header=read_header(sid, session, io, workspace),
        items=read_transcript(io, _worktree(io)),
        approvals=_valid(typed.read_map(io, SESSION_IO, "approvals").values(), e.ApprovalRequest),
        decisions={
            d.request_id: d
            for d in _valid(typed.read_map(session, SESSION, "decisions").values(), e.Decision)
        },
        terminals=read_terminals(io),
        files=sorted(
            _valid(typed.read_map(io, SESSION_IO, "files").values(), e.FileChange),
            key=lambda f: f.path,
        ),
        checkpoints=_checkpoints(session, io),
        comments=_valid(typed.read_array(notes, SESSION_NOTES, "comments"), e.ReviewComment),
        branch=_branch(io),
        branch_event=_branch_event(session),
        pull_request=_pull_request(session),
        draft=str(notes.get("draft", type=Text)),
        notes=str(notes.get("notes", type=Text)),
    )


def _listed(workspace: Doc[Any], sid: str) -> dict[str, Any]:
    listed = typed.root_of(workspace, WORKSPACE, "sessions").get(sid)
    return dict(listed) if isinstance(listed, dict) else {}


def _branch(io: Doc[Any]) -> e.BranchStatus | None:
    found = typed.read_fields(io, SESSION_IO, "branch", e.BranchStatus)
    return None if isinstance(found, Flagged) else found


def _pull_request(session: Doc[Any]) -> e.PullRequestEntry | None:
    found = typed.read_fields(session, SESSION, "pull_request", e.PullRequestEntry)
    return None if isinstance(found, Flagged) else found


def _branch_event(session: Doc[Any]) -> e.TimelineEvent | None:
    """The latest push, update or merge among the timeline's last entries."""
    timeline = typed.root_of(session, SESSION, "timeline")
    for i in range(len(timeline) - 1, max(-1, len(timeline) - LOOK_BACK), -1):
        raw = timeline[i]
        if isinstance(raw, dict) and raw.get("kind") in BRANCH_EVENTS:
            try:
                return e.TimelineEvent.model_validate(raw)
            except ValidationError:
                return None
    return None


def read_header(sid: str, session: Doc[Any], io: Doc[Any], workspace: Doc[Any]) -> Header:
    # Until the session's document arrives, its title and status are the workspace's
    # (not "created", which would call a running session's requests unanswerable).
    meta = dict(session.get("meta", type=Map).items()) or _listed(workspace, sid)
    usage = dict(session.get("usage", type=Map).items()) or dict(io.get("usage", type=Map).items())
    runtime = dict(io.get("runtime", type=Map).items())
    return Header(
        id=sid,
        title=str(meta.get("title") or sid),
        status=str(meta.get("status") or "created"),
        tool=str(meta.get("tool") or ""),
        model=meta.get("model"),
        branch=meta.get("branch") or runtime.get("branch"),
        base_branch=meta.get("base_branch"),
        runtime=runtime.get("runtime_id"),
        owner_id=meta.get("owner_id"),
        cost_usd=float(usage.get("cost_usd") or 0.0),
        cost_estimated=bool(usage.get("estimated")),
        tokens=int(usage.get("input_tokens") or 0) + int(usage.get("output_tokens") or 0),
        error=runtime.get("error"),
        reason=meta.get("reason"),
        health=_health(runtime),
        preview_port=_preview_port(session),
    )


def _preview_port(session: Doc[Any]) -> int | None:
    port = session.get("preview", type=Map).get("port")
    return int(port) if isinstance(port, int | float) else None


def _health(runtime: dict[str, Any]) -> e.RuntimeState | None:
    try:
        return e.RuntimeState.model_validate(runtime) if runtime else None
    except ValidationError:  # shown without health rather than trusted
        return None


def read_transcript(io: Doc[Any], worktree: str | None = None) -> list[Item]:
    """The transcript window, tool results folded into their calls; paths inside
    ``worktree`` shown relative to it."""
    entries = typed.read_array(io, SESSION_IO, "transcript")
    results = {
        v.call_id: v for v in entries if isinstance(v, e.ToolResult)
    }  # a call shows its own result, not a separate row
    return [_item(v, results, worktree) for v in entries if not isinstance(v, e.ToolResult)]


def _worktree(io: Doc[Any]) -> str | None:
    worktree = io.get("runtime", type=Map).get("worktree")
    return str(worktree) if worktree else None


def read_terminals(io: Doc[Any]) -> list[TerminalView]:
    segments = _valid(typed.read_array(io, SESSION_IO, "segments"), e.SegmentRef)
    return [
        TerminalView(
            info.id,
            info.title,
            info.kind,
            info.state,
            info.sealed_chars,
            info.cols,
            info.rows,
            tuple(s for s in segments if s.terminal_id == info.id),
        )
        for info in _valid(typed.read_map(io, SESSION_IO, "terminals").values(), e.TerminalInfo)
    ]


def _checkpoints(session: Doc[Any], io: Doc[Any]) -> list[e.Checkpoint]:
    accepted = _valid(typed.read_array(session, SESSION, "checkpoints"), e.Checkpoint)
    made = _valid(typed.read_array(io, SESSION_IO, "checkpoints"), e.Checkpoint)
    by_n = {c.n: c for c in made} | {c.n: c for c in accepted}
    return [by_n[n] for n in sorted(by_n)]


def _item(
    value: BaseModel | Flagged, results: dict[str, e.ToolResult], worktree: str | None
) -> Item:
    if isinstance(value, Flagged):
        raw = value.raw
        kind = raw.get("kind", "?") if isinstance(raw, dict) else "?"
        return Item(str(_get(raw, "id")), "raw", title=f"unreadable {kind} entry", raw=raw)
    data = value.model_dump(mode="json")
    if isinstance(value, e.ToolCall):
        result = results.get(value.call_id)
        return Item(
            value.id,
            "tool_call",
            text=_brief(value.input, worktree),
            title=value.name,
            status=value.status,
            result=result.output if result else None,
            is_error=bool(result and result.is_error),
            raw=data,
        )
    if isinstance(value, e.Question):
        return Item(
            value.id,
            "question",
            value.text,
            options=tuple(value.options),
            request_id=value.request_id,
            raw=data,
        )
    if isinstance(value, e.UsageNote):
        text = f"{value.input_tokens + value.output_tokens} tokens, ${value.cost_usd:.4f}"
        return Item(value.id, "usage", text, raw=data)
    if isinstance(value, e.ErrorNote):
        diagnostic = value.message.startswith(DIAGNOSTIC)
        if diagnostic:  # the tool's own bookkeeping, not a failure of the session
            return Item(value.id, "diagnostic", value.message[len(DIAGNOSTIC) :].strip(), raw=data)
        return Item(value.id, "error", value.message, raw=data)
    if isinstance(value, e.RawEvent) and (said := _raw_text(value.data)):
        return Item(value.id, "note", said, title=value.source, raw=data)
    if isinstance(value, e.FileChangeNote):
        return Item(value.id, "file_change", ", ".join(value.paths), raw=data)
    if type(value) in (e.RawEvent, e.TranscriptEntry) and isinstance(value, e.TranscriptEntry):
        # raw, or a kind this app does not know: shown as it is, never dropped
        return Item(value.id, "raw", title=f"{value.kind} event", raw=data)
    return Item(
        str(data["id"]),
        data["kind"],
        str(data.get("text", "")),
        streaming=bool(data.get("streaming")),
        request_id=data.get("request_id"),
        raw=data,
    )


def _brief(tool_input: dict[str, Any], worktree: str | None) -> str:
    """One line saying what a tool call does (its subtitle)."""
    for key in ("command", "file_path", "notebook_path", "path", "pattern", "url", "description"):
        if key in tool_input:
            value = str(tool_input[key])
            return shown_path(value, worktree) if key.endswith("path") else value
    if isinstance(tool_input.get("questions"), list):  # AskUserQuestion
        return " ".join(q.text for q in questions(tool_input))
    return ", ".join(f"{k}: {_plain(v)}" for k, v in list(tool_input.items())[:3])


def shown_path(path: str, worktree: str | None) -> str:
    """``path`` relative to the session's worktree when it lies inside it."""
    if worktree:
        root = worktree.rstrip("/") + "/"
        if path.startswith(root):
            return path[len(root) :] or "."
        if path == worktree.rstrip("/"):
            return "."
    return path


@dataclass(frozen=True)
class AskedQuestion:
    """One question of an AskUserQuestion call, with its options as text."""

    text: str
    options: tuple[str, ...]


def questions(tool_input: dict[str, Any]) -> list[AskedQuestion]:
    """The questions of an AskUserQuestion input (``{"questions": [...]}``)."""
    asked = []
    for q in tool_input.get("questions") or []:
        if not isinstance(q, dict):
            continue
        options = []
        for o in q.get("options") or []:
            if isinstance(o, dict):
                label, why = str(o.get("label") or ""), str(o.get("description") or "")
                options.append(f"{label}: {why}" if why else label)
            else:
                options.append(str(o))
        asked.append(AskedQuestion(str(q.get("question") or q.get("header") or ""), tuple(options)))
    return asked


def _plain(value: Any) -> str:
    """A value as a person reads it (no Python repr of containers)."""
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def _raw_text(data: Any) -> str | None:
    """What a raw event says in words, when it says anything (a warning, a line of text)."""
    if isinstance(data, str):
        return data.strip() or None
    if not isinstance(data, dict):
        return None
    params = data.get("params")
    for holder in (data, params, params.get("msg") if isinstance(params, dict) else None):
        if isinstance(holder, dict):
            for key in ("message", "text"):
                if isinstance(holder.get(key), str) and holder[key].strip():
                    return str(holder[key]).strip()
    return None


def _get(raw: Any, key: str) -> Any:
    return raw.get(key) if isinstance(raw, dict) else None


def _valid(values: Any, model: type[M]) -> list[M]:
    return [v for v in values if isinstance(v, model)]
