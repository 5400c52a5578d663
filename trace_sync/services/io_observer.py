"""The io observer: what a runtime writes into ``session/<sid>/io``, taken in.

While an io document is loaded, every change to it is read back through the
typed layer and turned into the server's own facts:

- status: ``runtime.status``, overridden by pending ``approvals`` (a
  permission makes the session ``waiting_approval``, a question or plan
  ``waiting_input``) and by ``failed``, through the state machine;
- usage: tokens and cost into ``session/<sid>``, the session's row and the
  workspace index;
- health: the runtime's heartbeat and what the session's processes use into
  the session's row and the workspace index — at once the first time, then
  at most every ``health_every_s`` (a heartbeat every few seconds must not
  rewrite the workspace document every few seconds);
- diff stats: the lines added and removed over ``files``, into the session's
  row and the workspace index;
- checkpoints: into the ``session/<sid>`` registry (their refs checked), each
  once however many processes take the document in (one that another process
  is recording is looked at again on the next pass);
- completed transcript text, tool output and each terminal's live window: into
  the search index, each entry bounded (a terminal's newest ``MAX_TERMINAL``
  characters, a tool result's first ``MAX_TOOL_OUTPUT``), a terminal at most
  every ``terminal_every_s`` (output streams; the heartbeat brings a later pass).

Runtime-written values are never trusted: anything that does not validate
is logged (once) and ignored. Work for one session runs in one task, and
changes that arrive meanwhile are folded into its next pass.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

from pycrdt import Doc

from trace_sync.contract.errors import InvalidInput, TraceError
from trace_sync.docs import typed
from trace_sync.docs.entries import (
    ApprovalRequest,
    AssistantText,
    Checkpoint,
    ErrorNote,
    FileChange,
    Plan,
    Question,
    RuntimeHealth,
    RuntimeState,
    SessionStatus,
    TerminalInfo,
    ToolResult,
    TranscriptEntry,
    Usage,
    UserPrompt,
)
from trace_sync.docs.layouts import SESSION_IO
from trace_sync.docs.names import DocKind, parse_doc_name
from trace_sync.services.checkpoint_registry import CheckpointRegistry
from trace_sync.services.documents import DocumentChange
from trace_sync.services.sessions import SessionService
from trace_sync.store.search import SearchIndex, SearchKind

log = logging.getLogger(__name__)

_COMMIT = re.compile(r"[0-9a-f]{7,64}")
_SEARCHABLE = (UserPrompt, AssistantText, Question, Plan, ErrorNote)
N = TypeVar("N", int, float)
#: How often at most a session's health reaches the workspace index.
HEALTH_EVERY_S = 30.0
#: How often at most a terminal's live window is indexed again.
TERMINAL_EVERY_S = 10.0
#: What is indexed of one tool result, and of one terminal (its newest output).
MAX_TOOL_OUTPUT = 4_000
MAX_TERMINAL = 20_000
#: Escape sequences a terminal's text carries: not words anybody searches for.
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
#: An entry of the search index: (kind, key).
Searchable = tuple[SearchKind, str]


@dataclass(frozen=True)
class IoReading:
    """What one io document says, validated; taken in one synchronous read."""

    status: SessionStatus | None
    #: The runtime's error, said with a failed or interrupted status.
    error: str | None
    #: The ``desired.generation`` the runtime says it acted on.
    generation: int
    #: How many cut-off turns the runtime resumed by itself.
    revivals: int
    usage: Usage | None
    #: None until the runtime's first heartbeat.
    health: RuntimeHealth | None
    checkpoints: list[Checkpoint]
    #: Lines added and removed over the changed files.
    diff: tuple[int, int]
    #: Completed transcript text and tool output, by (kind, entry id).
    texts: dict[Searchable, str]
    #: Each terminal's live window as plain text, by terminal id (none if not read).
    terminals: dict[str, str]
    problems: list[str]


@dataclass
class _Taken:
    """What was already passed on for one session, so unchanged facts cost nothing."""

    #: The status reported, with the generation and revivals it was reported at.
    status: tuple[SessionStatus | None, int, int] | None = None
    usage: Usage | None = None
    health: RuntimeHealth | None = None
    #: When (event loop time) the health was passed on.
    health_at: float = float("-inf")
    checkpoints: set[int] = field(default_factory=set)
    diff: tuple[int, int] = (0, 0)
    texts: dict[Searchable, str] = field(default_factory=dict)
    terminals: dict[str, str] = field(default_factory=dict)
    #: When (event loop time) the terminals were last indexed.
    terminals_at: float = float("-inf")
    problems: set[str] = field(default_factory=set)


class IoObserver:
    """Long-lived, ``async with`` only::

    async with IoObserver(sessions, checkpoints, search) as observer:
        rooms.on_change(observer.changed)
    """

    def __init__(
        self,
        sessions: SessionService,
        checkpoints: CheckpointRegistry,
        search: SearchIndex,
        health_every_s: float = HEALTH_EVERY_S,
        terminal_every_s: float = TERMINAL_EVERY_S,
    ) -> None:
        self._sessions = sessions
        self._checkpoints = checkpoints
        self._search = search
        self._health_every_s = health_every_s
        self._terminal_every_s = terminal_every_s
        self._dirty: dict[str, Doc[Any]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._taken: dict[str, _Taken] = {}
        self._closed = False

    async def __aenter__(self) -> IoObserver:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closed = True
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def changed(self, change: DocumentChange) -> None:
        """The ``on_change`` hook: note the io document for a pass soon."""
        if self._closed or not change.name.endswith("/io"):
            return
        try:
            name = parse_doc_name(change.name)
        except InvalidInput:
            return
        if name.kind is not DocKind.SESSION_IO or name.session_id is None:
            return
        sid = name.session_id
        if change.loaded:
            self._taken.pop(sid, None)  # a fresh load: take everything in again
        self._dirty[sid] = change.doc
        if sid not in self._tasks:
            task = asyncio.get_running_loop().create_task(self._drain(sid), name=f"io-{sid}")
            self._tasks[sid] = task

    async def idle(self) -> None:
        """Wait until every noted change has been taken in (for tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def _drain(self, sid: str) -> None:
        try:
            while sid in self._dirty:
                doc = self._dirty.pop(sid)
                try:
                    await self._take(sid, read_io(sid, doc, windows=self._windows_due(sid, doc)))
                except TraceError as exc:  # e.g. the session was deleted meanwhile
                    log.warning(
                        "io observer skipped a change", extra={"session": sid, "reason": str(exc)}
                    )
        finally:
            del self._tasks[sid]

    async def _take(self, sid: str, reading: IoReading) -> None:
        taken = self._taken.setdefault(sid, _Taken())
        for problem in set(reading.problems) - taken.problems:
            log.warning(
                "session %s: runtime wrote a value that does not validate, ignored: %s",
                sid,
                problem,
                extra={"session": sid},
            )
        taken.problems = set(reading.problems)
        # Reported again when the runtime acts on a new command, even with the
        # same status: a person's command moved the row meanwhile.
        status = (reading.status, reading.generation, reading.revivals)
        if reading.status is not None and status != taken.status:
            await self._sessions.report_status(
                sid, reading.status, reading.error, reading.generation, reading.revivals
            )
            taken.status = status
        if reading.usage is not None and reading.usage != taken.usage:
            await self._sessions.report_usage(sid, reading.usage)
            taken.usage = reading.usage
        if reading.health is not None and self._health_due(taken, reading.health):
            await self._sessions.report_health(sid, reading.health)
            taken.health, taken.health_at = reading.health, asyncio.get_running_loop().time()
        if reading.diff != taken.diff:
            await self._sessions.report_diff(sid, *reading.diff)
            taken.diff = reading.diff
        fresh = [c for c in reading.checkpoints if c.n not in taken.checkpoints]
        if fresh:
            taken.checkpoints |= await self._checkpoints.record(sid, fresh)
        for (kind, key), body in reading.texts.items():
            if taken.texts.get((kind, key)) != body:
                await self._search.put(sid, kind, key, body)
        taken.texts = dict(reading.texts)  # only the live window: memory stays bounded
        await self._index_terminals(sid, taken, reading.terminals)

    async def _index_terminals(self, sid: str, taken: _Taken, terminals: dict[str, str]) -> None:
        fresh = {t: body for t, body in terminals.items() if taken.terminals.get(t) != body}
        now = asyncio.get_running_loop().time()
        first = any(t not in taken.terminals for t in fresh)
        if not fresh or (not first and now - taken.terminals_at < self._terminal_every_s):
            return
        for terminal_id, body in fresh.items():
            await self._search.put(sid, "terminal", terminal_id, body)
        taken.terminals = dict(terminals)
        taken.terminals_at = now

    def _windows_due(self, sid: str, doc: Doc[Any]) -> bool:
        """Whether this pass reads the terminals' windows: only when they may be indexed
        (reading one copies it, up to 256 KiB, and output changes ten times a second)."""
        taken = self._taken.get(sid)
        if taken is None:
            return True
        if asyncio.get_running_loop().time() - taken.terminals_at >= self._terminal_every_s:
            return True
        known, output = (typed.root_of(doc, SESSION_IO, r) for r in ("terminals", "output"))
        return any(t not in taken.terminals and t in output for t in known)  # a new one

    def _health_due(self, taken: _Taken, health: RuntimeHealth) -> bool:
        """The first health, a measure that became known (or unknown), or time for news."""
        if taken.health is None or _known(taken.health) != _known(health):
            return True
        return asyncio.get_running_loop().time() - taken.health_at >= self._health_every_s


def read_io(session_id: str, doc: Doc[Any], *, windows: bool = True) -> IoReading:
    """Read and validate what a runtime wrote into ``session/<sid>/io`` (the
    terminals' windows only if ``windows``)."""
    problems: list[str] = []
    read = typed.read_fields(doc, SESSION_IO, "runtime", RuntimeState)
    runtime = None if isinstance(read, typed.Flagged) else read
    if isinstance(read, typed.Flagged):
        problems.append(f"runtime: {read.problem}")
    pending = typed.read_map(doc, SESSION_IO, "approvals").values()
    approvals = _valid(pending, ApprovalRequest, "approvals", problems)
    transcript = _valid(
        typed.read_array(doc, SESSION_IO, "transcript"), TranscriptEntry, "transcript", problems
    )
    return IoReading(
        derive_status(runtime, approvals),
        runtime.error if runtime is not None else None,
        runtime.generation if runtime is not None else 0,
        runtime.revivals if runtime is not None else 0,
        _usage(doc, problems),
        _health(runtime),
        _checkpoints(session_id, doc, problems),
        _diff(typed.read_map(doc, SESSION_IO, "files").values(), problems),
        _texts(transcript),
        _terminals(doc) if windows else {},
        problems,
    )


def derive_status(
    runtime: RuntimeState | None, approvals: list[ApprovalRequest]
) -> SessionStatus | None:
    """A failure wins; then pending requests (a permission over a question); then
    what the runtime says the tool is doing."""
    reported = runtime.status if runtime is not None else None
    if reported is SessionStatus.FAILED:
        return reported
    kinds = {a.kind for a in approvals}
    if "permission" in kinds:
        return SessionStatus.WAITING_APPROVAL
    if kinds:
        return SessionStatus.WAITING_INPUT
    return reported


def checkpoint_problem(session_id: str, checkpoint: Checkpoint) -> str | None:
    """Why a runtime's checkpoint cannot be registered, or None."""
    expected = f"refs/trace/checkpoints/{session_id}/{checkpoint.n}"
    if checkpoint.n < 1 or checkpoint.ref != expected:
        return f"checkpoint {checkpoint.n} has ref {checkpoint.ref!r}, not {expected!r}"
    if not _COMMIT.fullmatch(checkpoint.commit):
        return f"checkpoint {checkpoint.n} names no commit ({checkpoint.commit!r})"
    return None


def _usage(doc: Doc[Any], problems: list[str]) -> Usage | None:
    usage = typed.read_fields(doc, SESSION_IO, "usage", Usage)
    if isinstance(usage, typed.Flagged):
        problems.append(f"usage: {usage.problem}")
        return None
    if usage.input_tokens < 0 or usage.output_tokens < 0:
        problems.append("usage: negative token counts")
        return None
    if not math.isfinite(usage.cost_usd) or usage.cost_usd < 0:
        problems.append(f"usage: cost {usage.cost_usd} is not an amount")
        return None
    return usage


def _health(runtime: RuntimeState | None) -> RuntimeHealth | None:
    if runtime is None or runtime.heartbeat_at is None:
        return None
    return RuntimeHealth(
        heartbeat_at=runtime.heartbeat_at,
        cpu_percent=_amount(runtime.cpu_percent),
        memory_bytes=_amount(runtime.memory_bytes),
        disk_bytes=_amount(runtime.disk_bytes),
    )


def _amount(value: N | None) -> N | None:
    """A measure, or None where the runtime wrote one no column holds (negative, huge)."""
    return value if value is not None and math.isfinite(value) and 0 <= value < 2**63 else None


def _known(health: RuntimeHealth) -> tuple[bool, ...]:
    measures = (health.cpu_percent, health.memory_bytes, health.disk_bytes)
    return tuple(measure is not None for measure in measures)


def _diff(files: Any, problems: list[str]) -> tuple[int, int]:
    changes = _valid(files, FileChange, "files", problems)
    # A negative count is a runtime's mistake, not a deletion of lines.
    added = sum(max(c.added, 0) for c in changes)
    removed = sum(max(c.removed, 0) for c in changes)
    return (min(added, 2**31 - 1), min(removed, 2**31 - 1))


def _checkpoints(session_id: str, doc: Doc[Any], problems: list[str]) -> list[Checkpoint]:
    made = typed.read_array(doc, SESSION_IO, "checkpoints")
    accepted = []
    for checkpoint in _valid(made, Checkpoint, "checkpoints", problems):
        problem = checkpoint_problem(session_id, checkpoint)
        if problem:
            problems.append(f"checkpoints: {problem}")
        else:
            accepted.append(checkpoint)
    return accepted


def _valid(values: Any, model: type[Any], root: str, problems: list[str]) -> list[Any]:
    valid = []
    for value in values:
        if isinstance(value, typed.Flagged):
            problems.append(f"{root}: {value.problem}")
        elif isinstance(value, model):
            valid.append(value)
    return valid


def _texts(transcript: list[TranscriptEntry]) -> dict[Searchable, str]:
    texts: dict[Searchable, str] = {}
    for entry in transcript:
        if isinstance(entry, ToolResult):
            texts[("tool_output", entry.id)] = entry.output[:MAX_TOOL_OUTPUT]
        elif isinstance(entry, _SEARCHABLE) and not getattr(entry, "streaming", False):
            body = entry.message if isinstance(entry, ErrorNote) else entry.text
            texts[("transcript", entry.id)] = body
    return texts


def _terminals(doc: Doc[Any]) -> dict[str, str]:
    """Each known terminal's newest output, escapes removed."""
    known = typed.read_map(doc, SESSION_IO, "terminals")
    output = typed.root_of(doc, SESSION_IO, "output")
    windows = {}
    for terminal_id in known:
        if isinstance(known[terminal_id], TerminalInfo) and terminal_id in output:
            window = str(output[terminal_id])[-2 * MAX_TERMINAL :]
            plain = _CONTROLS.sub("", _ESCAPES.sub("", window.replace("\r\n", "\n")))
            windows[terminal_id] = plain[-MAX_TERMINAL:]
    return windows
