"""The ``/bridge`` control socket: versioned JSON messages between a bridge and the server.

Documents (desired state, io) travel over ``/sync``; this socket carries what
is ephemeral or request/response. Every frame is one JSON object with a
``type``. Unknown types parse as :class:`Unknown` (logged and ignored, so a
newer peer can add messages); malformed JSON or a known type with bad fields
raises :class:`BridgeProtocolError` (the server closes with 4400).

    bridge -> server   hello, heartbeat, reply, event
    server -> bridge   welcome, assign, unassign, terminal_open, terminal_input,
                       terminal_resize, terminal_close, request, error

A session: ``hello`` (what the bridge hosts now) -> ``welcome`` (its runtime
id, timings and every session assigned to it that is not archived) ->
heartbeats every ``heartbeat_s``; the server sends ``assign``/``unassign``
as placements change. The bridge keeps the worktree of every assigned
session and acts on a ``desired`` generation of ``session/<sid>`` once
(recording it in io ``runtime.generation``), so after its own restart it
does not restart a tool by itself: the server marks such runs interrupted
and a person resumes them (a new generation).

>>> encode(Unassign(session_id="s_1"))
'{"type":"unassign","session_id":"s_1"}'
>>> parse_server_message('{"type": "unassign", "session_id": "s_1"}')
Unassign(type='unassign', session_id='s_1')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from trace_sync.contract.errors import InvalidInput
from trace_sync.contract.session_spec import SessionSpec

#: 2: ``assign`` carries the session's :class:`SessionSpec` (``spec``).
PROTOCOL = 2
#: The operations a server ``request`` may ask for (a bridge replies
#: ``unsupported`` to any other, so newer servers can add some).
OPS = (
    "checkpoint",
    "restore",
    "merge",
    "commit",
    "push",
    "fetch",
    "update",
    "read_file",
    "write_file",
    "forget",
    "preview_ports",
    "preview_http",
    "preview_ws_open",
    "preview_ws_send",
    "preview_ws_close",
)
RuntimeKind = Literal["desktop", "sandbox", "docker"]
#: Largest terminal input in one message (a big paste is split by the sender).
MAX_TERMINAL_DATA = 64 * 1024

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Name = Annotated[str, Field(max_length=200)]
Cells = Annotated[int, Field(ge=1, le=1000)]


class BridgeProtocolError(InvalidInput):
    """A frame that is not a valid control message (close code 4400)."""


class Message(BaseModel):
    # Unknown fields are ignored: a newer peer may add some.
    model_config = ConfigDict(
        extra="ignore", frozen=True, serialize_by_alias=True, validate_by_name=True
    )


# -- pieces ----------------------------------------------------------------------


class ToolInfo(Message):
    """A coding tool the bridge found (on PATH, or built in)."""

    name: Name
    available: bool
    version: Name | None = None
    capabilities: list[Name] = Field(default_factory=list, max_length=100)


class HostedTerminal(Message):
    """A terminal the bridge has open (so the server knows who opened it after a restart)."""

    session_id: Id
    terminal_id: Id
    #: The user who opened it; ``None`` for the tool's own terminal.
    opened_by: Id | None = None


class SessionHealth(Message):
    status: str | None = None
    cpu_percent: float | None = None
    memory_bytes: int | None = None
    disk_bytes: int | None = None


class RepoRef(Message):
    id: Id
    name: Name
    source: str = Field(max_length=4096)
    path: str = Field(max_length=4096)
    default_branch: Name


class SetupSpec(Message):
    """What to do in a fresh worktree before the tool starts."""

    #: Globs of git-ignored files to copy from the repo's checkout (``.env``).
    copy_files: list[str] = Field(default_factory=list, alias="copy", max_length=100)
    command: str | None = Field(default=None, max_length=4096)


class ParentRef(Message):
    session_id: Id
    checkpoint: int | None = None


class Assignment(Message):
    """A session placed on this runtime: everything needed to make its worktree and
    start its tool. ``spec`` is the one source of the session's tool, model,
    permission mode and base branch on the bridge (its title lives in ``meta``)."""

    session_id: Id
    workspace_id: Id
    spec: SessionSpec
    repo: RepoRef | None = None
    branch: Name | None = None
    setup: SetupSpec = Field(default_factory=SetupSpec)
    parent: ParentRef | None = None


class ReplyError(Message):
    #: A :mod:`trace_sync.contract.errors` code (not_found, invalid, conflict, forbidden, ...).
    code: Name
    message: str = Field(max_length=4096)


# -- bridge -> server --------------------------------------------------------------


class Hello(Message):
    type: Literal["hello"] = "hello"
    protocol: int = PROTOCOL
    instance_id: Id
    version: Name = ""
    name: Name
    kind: RuntimeKind = "desktop"
    tools: list[ToolInfo] = Field(default_factory=list, max_length=100)
    #: Sessions the bridge really hosts now (a tool or worktree it holds).
    hosting: list[Id] = Field(default_factory=list, max_length=10_000)
    terminals: list[HostedTerminal] = Field(default_factory=list, max_length=10_000)


class Heartbeat(Message):
    type: Literal["heartbeat"] = "heartbeat"
    at: datetime
    sessions: dict[str, SessionHealth] = Field(default_factory=dict, max_length=10_000)


class Reply(Message):
    type: Literal["reply"] = "reply"
    id: Id
    ok: bool
    result: Any = None
    error: ReplyError | None = None

    @model_validator(mode="after")
    def _error_when_not_ok(self) -> Reply:
        if not self.ok and self.error is None:
            raise ValueError("a reply that is not ok carries an error")
        return self


class Event(Message):
    """Something that happened on the bridge (``terminal.opened``, ``terminal.closed``)."""

    type: Literal["event"] = "event"
    session_id: Id
    kind: Name
    payload: dict[str, Any] = Field(default_factory=dict)


# -- server -> bridge --------------------------------------------------------------


class Forget(Message):
    """A deleted session: its worktree, checkpoint refs and (unless pushed or
    merged) branch are removed. Asked as the ``forget`` request while the bridge
    is online, else carried by its next welcome."""

    session_id: Id
    repo: RepoRef | None = None
    branch: Name | None = None
    base_branch: Name | None = None


class Welcome(Message):
    type: Literal["welcome"] = "welcome"
    protocol: int = PROTOCOL
    runtime_id: Id
    heartbeat_s: float
    lease_s: float
    assignments: list[Assignment] = Field(default_factory=list)
    #: Sessions deleted while this bridge was away: what they made goes.
    forget: list[Forget] = Field(default_factory=list)


class Assign(Assignment):
    type: Literal["assign"] = "assign"


class Unassign(Message):
    type: Literal["unassign"] = "unassign"
    session_id: Id


class TerminalOpen(Message):
    type: Literal["terminal_open"] = "terminal_open"
    session_id: Id
    terminal_id: Id
    opened_by: Id
    cols: Cells = 80
    rows: Cells = 24


class TerminalInput(Message):
    type: Literal["terminal_input"] = "terminal_input"
    session_id: Id
    terminal_id: Id
    data: str = Field(max_length=MAX_TERMINAL_DATA)


class TerminalResize(Message):
    type: Literal["terminal_resize"] = "terminal_resize"
    session_id: Id
    terminal_id: Id
    cols: Cells
    rows: Cells


class TerminalClose(Message):
    type: Literal["terminal_close"] = "terminal_close"
    session_id: Id
    terminal_id: Id


class Request(Message):
    """An operation the server asks for; the bridge answers with a :class:`Reply`."""

    type: Literal["request"] = "request"
    id: Id
    op: Name
    session_id: Id
    args: dict[str, Any] = Field(default_factory=dict)


class ErrorMessage(Message):
    """Why the server is about to close the socket."""

    type: Literal["error"] = "error"
    code: int
    message: str


@dataclass(frozen=True)
class Unknown:
    """A message of a type this side does not know (kept for logging only)."""

    type: str


BridgeMessage = Hello | Heartbeat | Reply | Event
TerminalMessage = TerminalOpen | TerminalInput | TerminalResize | TerminalClose
ServerMessage = Welcome | Assign | Unassign | TerminalMessage | Request | ErrorMessage

_FROM_BRIDGE: TypeAdapter[BridgeMessage] = TypeAdapter(
    Annotated[BridgeMessage, Field(discriminator="type")]
)
_FROM_SERVER: TypeAdapter[ServerMessage] = TypeAdapter(
    Annotated[ServerMessage, Field(discriminator="type")]
)
_BRIDGE_TYPES = frozenset(m.model_fields["type"].default for m in (Hello, Heartbeat, Reply, Event))
_SERVER_TYPES = frozenset(
    m.model_fields["type"].default
    for m in (
        Welcome,
        Assign,
        Unassign,
        TerminalOpen,
        TerminalInput,
        TerminalResize,
        TerminalClose,
        Request,
        ErrorMessage,
    )
)


def encode(message: BaseModel) -> str:
    """One text frame."""
    return message.model_dump_json(exclude_none=True)


def parse_bridge_message(frame: str | bytes) -> BridgeMessage | Unknown:
    """A frame the bridge sent, or :class:`Unknown`; raises :class:`BridgeProtocolError`."""
    found: BridgeMessage | Unknown = _parse(frame, _FROM_BRIDGE, _BRIDGE_TYPES)
    return found


def parse_server_message(frame: str | bytes) -> ServerMessage | Unknown:
    """A frame the server sent, or :class:`Unknown`; raises :class:`BridgeProtocolError`."""
    found: ServerMessage | Unknown = _parse(frame, _FROM_SERVER, _SERVER_TYPES)
    return found


def _parse(frame: str | bytes, adapter: TypeAdapter[Any], known: frozenset[str]) -> Any:
    try:
        data = json.loads(frame)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise BridgeProtocolError(f"not JSON: {exc}") from exc
    kind = data.get("type") if isinstance(data, dict) else None
    if not isinstance(kind, str):
        raise BridgeProtocolError("a control message is a JSON object with a string 'type'")
    if kind not in known:
        return Unknown(kind)
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        raise BridgeProtocolError(f"bad {kind} message: {_problems(exc)}") from exc


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
