"""The coding-tool interface: what the bridge asks of an adapter, and what it gets back.

An adapter (``adapters/claude_code.py``, ``adapters/codex.py``, ``adapters/acp.py``)
knows one vendor's CLI; the bridge knows only this module and the registry::

    adapter = registry.adapter("claude_code")
    async with adapter.run(ToolContext(cwd=worktree, permission_mode="ask")) as run:
        await run.send("fix the failing test")
        async for event in run.events():
            ...  # transcript entries go to io/transcript, ApprovalRequested to io/approvals

Events are the transcript entry models of :mod:`trace_sync.docs.entries` (a
streamed entry is sent again with the same ``id`` as it grows) plus the control
events below. The last event of every run is :class:`Exited`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol, runtime_checkable

from pydantic import SecretStr

from trace_sync.contract.errors import InvalidInput
from trace_sync.contract.tools import PERMISSION_MODES, PermissionMode
from trace_sync.docs.entries import ApprovalRequest, Decision, TranscriptEntry, UsageNote


@dataclass(frozen=True)
class Capabilities:
    """What a tool can do; the bridge and the UI offer only these."""

    resume: bool = False
    fork: bool = False
    approvals: bool = False
    interrupt: bool = False
    #: The tool reports its own cost (others get estimates from the price table).
    cost: bool = False
    #: A model can be chosen per session.
    models: bool = False
    #: Its conversation can be brought back to a checkpoint's point on restore.
    rewind: bool = False


@dataclass(frozen=True)
class Provider:
    """Where the tool's model lives. The key is read from the environment variable
    named ``api_key_env`` or given in memory as ``api_key``; it is only ever put in
    the tool's process environment, never in a document, a log or a repr."""

    base_url: str | None = None
    api_key_env: str | None = None
    api_key: SecretStr | None = None
    model: str | None = None

    def key(self) -> str | None:
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.api_key_env:
            return os.environ.get(self.api_key_env)
        return None


@dataclass(frozen=True)
class ToolContext:
    """Everything one run of a tool needs; the bridge builds it per session."""

    cwd: Path
    provider: Provider = field(default_factory=Provider)
    #: ``bypass`` skips every approval: the bridge must show it (it is in :class:`RunStarted`).
    permission_mode: PermissionMode = "ask"
    #: The tool's own session/thread id to continue (see :class:`ToolSessionStarted`).
    resume_id: str | None = None
    #: With ``resume_id``: continue in a new tool session branched from that one.
    fork: bool = False
    #: With ``resume_id``: the conversation point (a checkpoint's ``tool_point``) to
    #: continue from, what came after it left out; only for tools with ``rewind``.
    resume_at: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    #: Seconds a request waits for a person before it is denied; None waits forever.
    approval_timeout: float | None = None

    def __post_init__(self) -> None:
        if self.permission_mode not in PERMISSION_MODES:
            raise InvalidInput(f"permission mode must be one of {', '.join(PERMISSION_MODES)}")
        if self.fork and not self.resume_id:
            raise InvalidInput("fork needs the tool session id to fork from (resume_id)")
        if self.resume_at and not self.resume_id:
            raise InvalidInput("resume_at needs the tool session id it is a point of (resume_id)")
        if not self.cwd.is_dir():
            raise InvalidInput(f"working directory {self.cwd} does not exist")


# -- control events --------------------------------------------------------------


@dataclass(frozen=True)
class RunStarted:
    """The tool process is up; ``permission_mode`` is shown to people (bypass is never silent)."""

    tool: str
    permission_mode: PermissionMode
    pid: int | None


@dataclass(frozen=True)
class ToolSessionStarted:
    """The tool's own conversation id, to store and pass back as ``resume_id``."""

    tool_session_id: str
    forked_from: str | None = None


@dataclass(frozen=True)
class ApprovalRequested:
    """The tool waits for a person: answer with ``run.decide(request.id, decision)``."""

    request: ApprovalRequest


@dataclass(frozen=True)
class ApprovalResolved:
    """A request is no longer pending. ``automatic`` when a session rule or the
    permission mode answered it without a person."""

    request_id: str
    outcome: Literal["allow", "allow_always", "deny", "answer", "expired", "cancelled"]
    automatic: bool = False


@dataclass(frozen=True)
class TurnEnded:
    """A turn is over: the moment for a checkpoint paired with ``tool_point``."""

    usage: UsageNote
    stop_reason: str
    tool_session_id: str | None
    #: The tool's conversation point (Claude message uuid, Codex turn id).
    tool_point: str | None = None
    #: The tool's own running total for its session, when it reports one.
    session_cost_usd: float | None = None


@dataclass(frozen=True)
class Exited:
    """The tool process is gone; always the last event."""

    code: int | None
    error: str | None = None
    stderr_tail: str = ""


@dataclass(frozen=True)
class TerminalOutput:
    """Bytes the tool wrote to its own terminal (a tool that runs in a PTY, like
    ``shell``); the bridge records them into io ``output``, ANSI escapes kept."""

    data: bytes


@dataclass(frozen=True)
class UsageSoFar:
    """The turn under way has used this much so far (a running total for the turn,
    not an increment): a session's cost moves while it works; the turn's
    :class:`TurnEnded` usage then replaces it."""

    usage: UsageNote


@dataclass(frozen=True)
class TurnStarted:
    """A turn began without a prompt from Trace (a person typed into the tool's terminal)."""


ControlEvent = RunStarted | ToolSessionStarted | ApprovalRequested | ApprovalResolved
ToolEvent = (
    TranscriptEntry | ControlEvent | TerminalOutput | TurnStarted | UsageSoFar | TurnEnded | Exited
)


# -- the interface -----------------------------------------------------------------


class ToolRun(Protocol):
    """One session of a tool, alive for the ``async with`` block."""

    @property
    def tool_session_id(self) -> str | None: ...

    @property
    def pending(self) -> Mapping[str, ApprovalRequest]:
        """Requests waiting for a decision, by id."""
        ...

    async def __aenter__(self) -> ToolRun: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def send(self, text: str, *, prompt_id: str | None = None) -> None:
        """Start a turn with this prompt. During a turn Claude Code and Codex take the
        text into the running turn (steering); ACP agents get it when the turn ends.
        To replace the running turn instead, :meth:`interrupt` first."""
        ...

    async def interrupt(self) -> None:
        """Stop the current turn; the run stays usable."""
        ...

    async def decide(self, request_id: str, decision: Decision) -> None:
        """Answer a pending request; raises NotFound for an unknown or answered one."""
        ...

    def events(self) -> AsyncIterator[ToolEvent]:
        """The run's events in order, ending with :class:`Exited`."""
        ...


@runtime_checkable
class TerminalRun(Protocol):
    """A run whose tool sits in a PTY: people may type into its terminal and resize it."""

    async def write(self, data: bytes) -> None:
        """Type ``data`` into the tool's terminal."""
        ...

    def resize(self, cols: int, rows: int) -> None: ...


class ToolAdapter(Protocol):
    name: str
    capabilities: Capabilities

    def binary(self) -> Path | None:
        """The executable this adapter would start (configured path, else PATH)."""
        ...

    def available(self) -> bool: ...

    def run(self, context: ToolContext) -> ToolRun: ...


def find_binary(configured: str | os.PathLike[str] | None, *names: str) -> Path | None:
    """``configured`` if it is an executable file, else the first of ``names`` on PATH."""
    if configured is not None:
        path = Path(configured).expanduser()
        found = shutil.which(str(path)) if path.parent == Path(".") else None
        if found:
            return Path(found)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None
