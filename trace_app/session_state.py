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
from trace_sync.docs.layouts import SESSION, SESSION_IO, SESSION_NOTES
from trace_sync.docs.typed import Flagged

M = TypeVar("M", bound=BaseModel)


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
    #: What the hosting runtime last reported about itself (heartbeat, CPU, memory, disk).
    health: e.RuntimeState | None = None


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
class Terminal:
    id: str
    title: str
    kind: str
    state: str
    output: str
    sealed_chars: int
    segments: tuple[str, ...] = ()


@dataclass
class SessionState:
    header: Header
    items: list[Item] = field(default_factory=list)
    approvals: list[e.ApprovalRequest] = field(default_factory=list)
    #: request id -> a person's decision (the request stays pending until the tool has it).
    decisions: dict[str, e.Decision] = field(default_factory=dict)
    terminals: list[Terminal] = field(default_factory=list)
    files: list[e.FileChange] = field(default_factory=list)
    checkpoints: list[e.Checkpoint] = field(default_factory=list)
    comments: list[e.ReviewComment] = field(default_factory=list)
    draft: str = ""
    notes: str = ""


def read_session(sid: str, session: Doc[Any], io: Doc[Any], notes: Doc[Any]) -> SessionState:
    """Everything the session views show, from the three documents."""
    return SessionState(
        header=read_header(sid, session, io),
        items=read_transcript(io),
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
        draft=str(notes.get("draft", type=Text)),
        notes=str(notes.get("notes", type=Text)),
    )


def read_header(sid: str, session: Doc[Any], io: Doc[Any]) -> Header:
    meta = dict(session.get("meta", type=Map).items())
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
        health=_health(runtime),
    )


def _health(runtime: dict[str, Any]) -> e.RuntimeState | None:
    try:
        return e.RuntimeState.model_validate(runtime) if runtime else None
    except ValidationError:  # shown without health rather than trusted
        return None


def read_transcript(io: Doc[Any]) -> list[Item]:
    """The transcript window, tool results folded into their calls."""
    entries = typed.read_array(io, SESSION_IO, "transcript")
    results = {
        v.call_id: v for v in entries if isinstance(v, e.ToolResult)
    }  # a call shows its own result, not a separate row
    return [_item(v, results) for v in entries if not isinstance(v, e.ToolResult)]


def read_terminals(io: Doc[Any]) -> list[Terminal]:
    output = io.get("output", type=Map)
    segments = typed.read_array(io, SESSION_IO, "segments")
    terminals = []
    for info in _valid(typed.read_map(io, SESSION_IO, "terminals").values(), e.TerminalInfo):
        text = output.get(info.id)
        names = tuple(
            s.name for s in segments if isinstance(s, e.SegmentRef) and s.terminal_id == info.id
        )
        terminals.append(
            Terminal(
                info.id,
                info.title,
                info.kind,
                info.state,
                str(text) if isinstance(text, Text) else "",
                info.sealed_chars,
                names,
            )
        )
    return terminals


def _checkpoints(session: Doc[Any], io: Doc[Any]) -> list[e.Checkpoint]:
    accepted = _valid(typed.read_array(session, SESSION, "checkpoints"), e.Checkpoint)
    made = _valid(typed.read_array(io, SESSION_IO, "checkpoints"), e.Checkpoint)
    by_n = {c.n: c for c in made} | {c.n: c for c in accepted}
    return [by_n[n] for n in sorted(by_n)]


def _item(value: BaseModel | Flagged, results: dict[str, e.ToolResult]) -> Item:
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
            text=_brief(value.input),
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
        return Item(value.id, "error", value.message, raw=data)
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


def _brief(tool_input: dict[str, Any]) -> str:
    for key in ("command", "file_path", "path", "pattern", "url", "description"):
        if key in tool_input:
            return str(tool_input[key])
    return ", ".join(f"{k}={v}" for k, v in list(tool_input.items())[:3])


def _get(raw: Any, key: str) -> Any:
    return raw.get(key) if isinstance(raw, dict) else None


def _valid(values: Any, model: type[M]) -> list[M]:
    return [v for v in values if isinstance(v, model)]
