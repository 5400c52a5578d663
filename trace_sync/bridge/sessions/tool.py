"""A session's coding tool: at most one run at a time, its events pumped into ``io``.

The slot starts a run, reads its events in a task of its own (transcript,
approvals and usage to the :class:`IoWriter`, terminal output to the tool's
terminal), keeps ``runtime.status`` true to what the tool does — ``running``
during a turn, ``waiting_approval`` / ``waiting_input`` while a request is
pending, ``idle`` between turns, ``paused`` while its processes are stopped,
``failed`` with ``runtime.error`` when it ends by itself — and tells the
session at each turn end (the moment for a checkpoint and the next prompt).
Stopping ends the process; the tool's session id stays in ``io`` to resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

from trace_sync.bridge import process_tree
from trace_sync.bridge.sessions.io_writer import IoWriter
from trace_sync.bridge.sessions.terminals import SessionTerminals
from trace_sync.bridge.tools.interface import (
    ApprovalRequested,
    ApprovalResolved,
    Exited,
    RunStarted,
    TerminalOutput,
    TerminalRun,
    ToolAdapter,
    ToolContext,
    ToolEvent,
    ToolRun,
    TurnEnded,
    TurnStarted,
)
from trace_sync.contract.errors import Conflict, InvalidInput, TraceError
from trace_sync.docs.entries import Decision, SessionStatus

log = logging.getLogger(__name__)

#: How much of the tool's stderr an error in ``runtime.error`` keeps.
ERROR_TAIL = 1000

TurnHook = Callable[[TurnEnded], Awaitable[None]]


class ToolSlot:
    """The tool of one session; ``stop()`` before dropping it."""

    def __init__(
        self,
        writer: IoWriter,
        terminals: SessionTerminals,
        on_turn: TurnHook,
        on_change: Callable[[], None],
    ) -> None:
        self._writer = writer
        self._terminals = terminals
        self._on_turn = on_turn
        self._on_change = on_change
        self._run: ToolRun | None = None
        self._stack: AsyncExitStack | None = None
        self._pump: asyncio.Task[None] | None = None
        self._name = ""
        self.pid: int | None = None
        self.paused = False
        self.in_turn = False
        self._stopping = False

    @property
    def alive(self) -> bool:
        return self._run is not None

    @property
    def run(self) -> ToolRun:
        if self._run is None:
            raise Conflict("the tool is not running")
        return self._run

    def status(self) -> SessionStatus:
        if self.paused:
            return SessionStatus.PAUSED
        kinds = {request.kind for request in self.run.pending.values()} if self._run else set()
        if "permission" in kinds:
            return SessionStatus.WAITING_APPROVAL
        if kinds:
            return SessionStatus.WAITING_INPUT
        return SessionStatus.RUNNING if self.in_turn else SessionStatus.IDLE

    # -- lifecycle -------------------------------------------------------------------

    async def start(
        self, adapter: ToolAdapter, context: ToolContext, prompt: str | None = None
    ) -> None:
        """Start the tool; returns once it is ready for a prompt, or has taken
        ``prompt`` (not a person's: one the bridge sends itself) as its first turn."""
        if self._run is not None:
            raise Conflict("the tool already runs")
        stack = AsyncExitStack()
        run = adapter.run(context)
        await stack.enter_async_context(run)
        self._run, self._stack, self._name = run, stack, adapter.name
        self._stopping, self.paused, self.in_turn = False, False, False
        self._pump = asyncio.create_task(self._read(run), name=f"{adapter.name} events")
        if prompt is not None:
            self.in_turn = True
            await run.send(prompt)
        self._report()

    async def stop(self) -> None:
        """End the tool (continued first if paused); its session id stays in io."""
        if self._run is None:
            return
        self._stopping = True
        if self.paused:
            self.resume()
        await self._close()
        if self._pump is not None:
            await asyncio.gather(self._pump, return_exceptions=True)

    def pause(self) -> None:
        if self.pid is not None and not self.paused:
            process_tree.pause(self.pid)
            self.paused = True
            self._report()

    def resume(self) -> None:
        if self.pid is not None and self.paused:
            process_tree.resume(self.pid)
            self.paused = False
            self._report()

    # -- what people send -----------------------------------------------------------

    async def send(self, text: str, prompt_id: str) -> None:
        self.in_turn = True
        await self.run.send(text, prompt_id=prompt_id)
        self._report()

    async def interrupt(self) -> None:
        await self.run.interrupt()

    async def decide(self, request_id: str, decision: Decision) -> None:
        await self.run.decide(request_id, decision)

    async def type(self, data: str) -> None:
        """Keystrokes for the tool's own terminal."""
        run = self.run
        if not isinstance(run, TerminalRun):
            raise InvalidInput(f"{self._name} does not run in a terminal")
        await run.write(data.encode())

    def resize(self, cols: int, rows: int) -> None:
        run = self.run
        if isinstance(run, TerminalRun):
            run.resize(cols, rows)
            self._terminals.tool_resized(cols, rows)

    # -- events ------------------------------------------------------------------------

    async def _read(self, run: ToolRun) -> None:
        async for event in run.events():
            try:
                await self._take(event)
            except TraceError as exc:  # one bad event must not end the session's record
                log.error("a tool event was not recorded", exc_info=exc)
        await self._close()

    async def _take(self, event: ToolEvent) -> None:
        if isinstance(event, TerminalOutput):
            await self._terminals.tool_output(event.data, self._name)
            return
        self._writer.event(event)
        if isinstance(event, RunStarted):
            self.pid = event.pid
            self._writer.runtime(pid=event.pid, error=None)
        elif isinstance(event, TurnStarted):
            self.in_turn = True
        elif isinstance(event, TurnEnded):
            self.in_turn = False
            await self._on_turn(event)  # its checkpoint exists by the time it shows idle
        elif isinstance(event, Exited):
            await self._exited(event)
            return
        elif isinstance(event, ApprovalRequested | ApprovalResolved):
            self._on_change()  # a decision may wait for it already
        self._report()

    async def _exited(self, event: Exited) -> None:
        await self._terminals.tool_exited(event.code)
        self.pid, self.in_turn = None, False
        if self._stopping:
            self._writer.runtime(pid=None)
            return
        why = event.error or f"{self._name} exited by itself (code {event.code})"
        tail = event.stderr_tail.strip()[-ERROR_TAIL:]
        error = f"{why}\n{tail}".strip() if tail and tail not in why else why
        self._writer.runtime(status=SessionStatus.FAILED, pid=None, error=error)

    async def _close(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            with contextlib.suppress(TraceError, OSError):
                await stack.aclose()
            self._run = None
            self._on_change()

    def _report(self) -> None:
        if self._run is not None and not self._stopping:
            self._writer.runtime(status=self.status())
