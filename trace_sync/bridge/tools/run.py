"""What every adapter's run shares: the event stream, pending approvals with
session rules and timeouts, streamed text, and the end of the process.

An adapter subclasses :class:`ToolRunBase` and implements ``_start`` (the
handshake), ``_on_line`` (one stdout line), ``send`` and ``interrupt``; where
the tool waits for a person it awaits :meth:`ask` in a task of its own
(:meth:`spawn`), so the tool's other output keeps flowing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from trace_sync.bridge.tools.interface import (
    ApprovalRequested,
    ApprovalResolved,
    Exited,
    RunStarted,
    ToolContext,
    ToolEvent,
    ToolSessionStarted,
    TurnEnded,
)
from trace_sync.bridge.tools.process import OVERLONG, ToolProcess, child_env
from trace_sync.contract.errors import InvalidInput, NotFound
from trace_sync.docs.entries import (
    ApprovalRequest,
    AssistantText,
    Decision,
    ErrorNote,
    RawEvent,
    Thinking,
)

#: Events buffered for a slow reader before the tool's output is held back.
EVENT_BUFFER = 1024
#: Raw entries keep at most this much of an unknown line.
RAW_LIMIT = 16 * 1024

_END = object()


def entry_id() -> str:
    return uuid.uuid4().hex[:16]


def now() -> datetime:
    return datetime.now(UTC)


def decision(behavior: str, *, message: str | None = None, by: str = "trace") -> Decision:
    """A decision made by Trace itself (a timeout, a cancelled request)."""
    return Decision.model_validate(
        {"request_id": "", "behavior": behavior, "message": message, "by": by, "at": now()}
    )


@dataclass
class _Pending:
    request: ApprovalRequest
    answer: asyncio.Future[Decision]
    rule: str | None


@dataclass
class _Stream:
    entry: str
    text: str
    kind: type[AssistantText] | type[Thinking]


class ToolRunBase:
    tool = "tool"
    #: Seconds the tool gets to exit after its stdin closes, before SIGTERM.
    exit_grace = 2.0

    def __init__(self, context: ToolContext, argv: Sequence[str], env: Mapping[str, str]) -> None:
        self.context = context
        self.process = ToolProcess(
            argv, context.cwd, child_env({**env, **context.env}), grace=self.exit_grace
        )
        self._queue: asyncio.Queue[Any] = asyncio.Queue(EVENT_BUFFER)
        self._pending: dict[str, _Pending] = {}
        self._rules: set[str] = set()
        self._streams: dict[str, _Stream] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._closing = False
        self._session_id: str | None = None
        self.turns_open = 0

    # -- the ToolRun protocol ------------------------------------------------------

    @property
    def tool_session_id(self) -> str | None:
        return self._session_id

    @property
    def pending(self) -> Mapping[str, ApprovalRequest]:
        return {key: p.request for key, p in self._pending.items()}

    async def __aenter__(self) -> Self:
        await self.process.__aenter__()
        await self.emit(RunStarted(self.tool, self.context.permission_mode, self.process.pid))
        self._reader = asyncio.create_task(self._read_output())
        try:
            await self._start()
        except BaseException as exc:
            await self.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing = True
        await self.process.__aexit__(exc_type, exc, tb)
        while self._reader is not None and not self._reader.done():
            if self._queue.full():  # nobody reads any more: make room so the reader can end
                self._queue.get_nowait()
            await asyncio.wait({self._reader}, timeout=0.05)

    async def events(self) -> AsyncIterator[ToolEvent]:
        """The events in order, up to :class:`Exited`; read by one consumer, once."""
        while (event := await self._queue.get()) is not _END:
            yield event

    async def decide(self, request_id: str, answer: Decision) -> None:
        pending = self._pending.get(request_id)
        if pending is None or pending.answer.done():
            raise NotFound(f"no pending request {request_id}")
        pending.answer.set_result(answer)

    # -- for adapters ------------------------------------------------------------------

    async def _start(self) -> None:
        """The tool's handshake, once the process runs."""

    async def _on_line(self, line: bytes) -> None:
        raise NotImplementedError

    async def emit(self, event: ToolEvent) -> None:
        if not self._closing:
            await self._queue.put(event)
            return
        # Nobody may be reading any more: never block the shutdown on a full buffer.
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(event)

    async def raw(self, data: Any, source: str | None = None) -> None:
        if isinstance(data, bytes | bytearray):
            data = data[:RAW_LIMIT].decode(errors="replace")
        await self.emit(RawEvent(id=entry_id(), at=now(), source=source or self.tool, data=data))

    async def error(self, message: str) -> None:
        await self.emit(ErrorNote(id=entry_id(), at=now(), message=message))

    async def session_started(self, session_id: str) -> None:
        if session_id != self._session_id:
            forked_from = self.context.resume_id if self.context.fork else None
            self._session_id = session_id
            await self.emit(ToolSessionStarted(session_id, forked_from))

    async def turn_ended(self, ended: TurnEnded) -> None:
        self.turns_open = max(0, self.turns_open - 1)
        await self.finish_streams()
        await self.emit(ended.usage)
        await self.emit(ended)

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``work`` beside the reader (e.g. waiting for a person); cancelled on exit."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def stream(
        self, key: str, delta: str, kind: type[AssistantText] | type[Thinking]
    ) -> None:
        """Append to the streamed entry ``key`` (created on first use) and emit it."""
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream(entry_id(), "", kind)
        stream.text += delta
        await self.emit(stream.kind(id=stream.entry, at=now(), text=stream.text, streaming=True))

    async def finish(
        self, key: str, text: str | None, kind: type[AssistantText] | type[Thinking]
    ) -> None:
        """Emit the final form of ``key`` (its full ``text``, or what streamed)."""
        stream = self._streams.pop(key, None)
        entry = stream.entry if stream else entry_id()
        final = text if text is not None else (stream.text if stream else "")
        await self.emit(kind(id=entry, at=now(), text=final, streaming=False))

    async def finish_streams(self) -> None:
        """End every entry still streaming (a turn ended or the tool stopped mid-message)."""
        for key, stream in list(self._streams.items()):
            await self.finish(key, None, stream.kind)

    def streaming(self, key: str) -> bool:
        return key in self._streams

    async def ask(self, request: ApprovalRequest, rule: str | None = None) -> Decision:
        """Show ``request`` to people and await their decision. A request matching a
        session rule (from an earlier allow_always) is allowed at once."""
        if rule is not None and rule in self._rules:
            await self.emit(ApprovalResolved(request.id, "allow_always", automatic=True))
            return decision("allow_always", by="session rule")
        if self.context.approval_timeout is not None:
            expires = now() + timedelta(seconds=self.context.approval_timeout)
            request = request.model_copy(update={"expires_at": expires})
        pending = _Pending(request, asyncio.get_running_loop().create_future(), rule)
        self._pending[request.id] = pending
        try:
            await self.emit(ApprovalRequested(request))
            answer, outcome = await self._await_answer(pending)
        except asyncio.CancelledError:  # the tool withdrew the request (see JsonRpcRun.withdraw)
            if self._pending.pop(request.id, None) is not None:
                await self.emit(ApprovalResolved(request.id, "cancelled"))
            raise
        finally:
            self._pending.pop(request.id, None)
        if answer.behavior == "allow_always" and rule is not None:
            self._rules.add(rule)
        await self.emit(ApprovalResolved(request.id, outcome))
        return answer

    async def _await_answer(self, pending: _Pending) -> tuple[Decision, Any]:
        try:
            answer = await asyncio.wait_for(
                asyncio.shield(pending.answer), self.context.approval_timeout
            )
        except TimeoutError:
            return decision("deny", message="No one answered in time.", by="timeout"), "expired"
        if answer.by == "cancelled":
            return answer, "cancelled"
        return answer, answer.behavior

    def cancel_request(self, request_id: str) -> None:
        """The tool withdrew a request (e.g. after an interrupt)."""
        pending = self._pending.get(request_id)
        if pending is not None and not pending.answer.done():
            pending.answer.set_result(decision("deny", message="Cancelled.", by="cancelled"))

    async def write_json(self, message: Mapping[str, Any]) -> None:
        await self.process.write_line(json.dumps(message).encode())

    # -- the reader ------------------------------------------------------------------

    async def _read_output(self) -> None:
        try:
            async for line in self.process.lines():
                await self._handle(line)
        finally:
            await self._finish()

    async def _handle(self, line: bytes) -> None:
        if line == OVERLONG:
            await self.error("The tool wrote a line too long to keep; it was dropped.")
        elif line.strip():
            await self._on_line(line)

    async def _finish(self) -> None:
        code = await self.process.wait()
        for request_id in list(self._pending):  # withdrawn with the tool: nobody may answer now
            del self._pending[request_id]
            await self.emit(ApprovalResolved(request_id, "cancelled"))
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.finish_streams()
        tail = self.process.stderr_tail[-4000:]
        error = None
        if self.turns_open and not self._closing:
            error = f"{self.tool} exited (code {code}) in the middle of a turn"
            await self.error(f"{error}.\n{tail[-1000:]}".strip())
        self._closing = True
        await self.emit(Exited(code, error, tail))
        await self.emit(_END)  # type: ignore[arg-type]


def in_worktree(cwd: Path, path: str) -> str:
    """``path`` as tools give it (absolute, or relative to ``cwd``) made relative to the
    worktree, for :mod:`trace_sync.bridge.git.files` to confine; InvalidInput if outside."""
    candidate = Path(os.path.normpath(path))
    if not candidate.is_absolute():
        return str(candidate)
    for root in (Path(os.path.normpath(cwd)), cwd.resolve()):
        if candidate.is_relative_to(root) and candidate != root:
            return str(candidate.relative_to(root))
    raise InvalidInput(f"{path!r} leads outside the worktree")


def shown_path(cwd: Path, path: str) -> str:
    """``path`` relative to the worktree where it is inside, else as given."""
    try:
        return in_worktree(cwd, path)
    except InvalidInput:
        return path


def parse_json(line: bytes) -> Any:
    """The JSON value of a line, or None when it is not JSON."""
    try:
        return json.loads(line)
    except ValueError:
        return None
