"""A fake coding tool: a :class:`~trace_sync.bridge.tools.interface.ToolAdapter`
that runs no process and answers every prompt at once.

It serves the tests of the layers above the adapters (the bridge's sessions,
services, the app): they need a tool that takes prompts, asks for approvals
and ends turns, not a vendor CLI. Construct it directly, or put it in the
registry's place for a tool name in a test::

    monkeypatch.setitem(registry.ADAPTERS, "shell", "trace_sync.bridge.tools.fake:FakeToolAdapter")

Each prompt is one turn: a ``user_prompt`` entry, then (with ``approval``
set) a permission request the turn waits on, then the ``reply`` as assistant
text and a :class:`TurnEnded`. The adapters' own tests and every end-to-end
journey use the real tools.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from trace_sync.bridge.tools.interface import (
    ApprovalRequested,
    ApprovalResolved,
    Capabilities,
    Exited,
    RunStarted,
    ToolAdapter,
    ToolContext,
    ToolEvent,
    ToolSessionStarted,
    TurnEnded,
)
from trace_sync.contract.errors import NotFound
from trace_sync.docs.entries import (
    ApprovalRequest,
    AssistantText,
    Decision,
    UsageNote,
    UserPrompt,
)


def echo(prompt: str) -> str:
    return f"done: {prompt}"


class FakeToolAdapter:
    """A tool named ``name`` that replies ``reply(prompt)``; with ``approval`` each
    turn first asks permission to run that command and waits for a person."""

    capabilities = Capabilities(approvals=True, interrupt=True)

    def __init__(
        self,
        name: str = "fake",
        reply: Callable[[str], str] = echo,
        approval: str | None = None,
    ) -> None:
        self.name = name
        self._reply = reply
        self._approval = approval
        #: Every run this adapter made, newest last.
        self.runs: list[FakeToolRun] = []

    def binary(self) -> Path | None:
        return None

    def available(self) -> bool:
        return True

    def run(self, context: ToolContext) -> FakeToolRun:
        made = FakeToolRun(self.name, context, self._reply, self._approval)
        self.runs.append(made)
        return made


class FakeToolRun:
    """One run of :class:`FakeToolAdapter`; ``prompts`` holds what it was sent."""

    def __init__(
        self,
        tool: str,
        context: ToolContext,
        reply: Callable[[str], str],
        approval: str | None,
    ) -> None:
        self._tool = tool
        self._context = context
        self._reply = reply
        self._approval = approval
        self._events: asyncio.Queue[ToolEvent] = asyncio.Queue()
        self._pending: dict[str, ApprovalRequest] = {}
        self._decisions: dict[str, asyncio.Future[Decision]] = {}
        self._turns: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self._session_id = context.resume_id or "fake-session"
        self.prompts: list[str] = []

    @property
    def tool_session_id(self) -> str | None:
        return self._session_id

    @property
    def pending(self) -> Mapping[str, ApprovalRequest]:
        return dict(self._pending)

    async def __aenter__(self) -> FakeToolRun:
        self._put(RunStarted(self._tool, self._context.permission_mode, pid=None))
        self._put(ToolSessionStarted(self._session_id))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.interrupt()
        self._put(Exited(code=0))

    async def send(self, text: str, *, prompt_id: str | None = None) -> None:
        self.prompts.append(text)
        turn = asyncio.create_task(self._turn(text, prompt_id))
        self._turns.add(turn)
        turn.add_done_callback(self._turns.discard)

    async def interrupt(self) -> None:
        for turn in list(self._turns):
            turn.cancel()
        await asyncio.gather(*self._turns, return_exceptions=True)

    async def decide(self, request_id: str, decision: Decision) -> None:
        waiting = self._decisions.get(request_id)
        if waiting is None or waiting.done():
            raise NotFound(f"no pending request {request_id!r}")
        waiting.set_result(decision)

    async def events(self) -> AsyncIterator[ToolEvent]:
        while True:
            event = await self._events.get()
            yield event
            if isinstance(event, Exited):
                return

    async def _turn(self, text: str, prompt_id: str | None) -> None:
        self._put(UserPrompt(id=self._id(), at=_now(), text=text, prompt_id=prompt_id))
        if self._approval is not None and not await self._allowed(self._approval):
            self._end("denied")
            return
        self._put(AssistantText(id=self._id(), at=_now(), text=self._reply(text)))
        self._end("end_turn")

    async def _allowed(self, command: str) -> bool:
        if self._context.permission_mode == "bypass":
            return True
        request = ApprovalRequest(id=self._id(), tool="Bash", title=command, at=_now())
        waiting: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._pending[request.id] = request
        self._decisions[request.id] = waiting
        self._put(ApprovalRequested(request))
        try:
            decision = await waiting
        except asyncio.CancelledError:
            self._put(ApprovalResolved(request.id, "cancelled"))
            raise
        finally:
            del self._pending[request.id]
        self._put(ApprovalResolved(request.id, decision.behavior))
        return decision.behavior != "deny"

    def _end(self, stop_reason: str) -> None:
        usage = UsageNote(id=self._id(), at=_now(), estimated=True)
        self._put(TurnEnded(usage, stop_reason, self._session_id, tool_point=usage.id))

    def _put(self, event: ToolEvent) -> None:
        self._events.put_nowait(event)

    def _id(self) -> str:
        return f"fake-{next(self._ids)}"


def _now() -> datetime:
    return datetime.now(UTC)


def _is_an_adapter(adapter: FakeToolAdapter) -> ToolAdapter:
    return adapter  # mypy checks the fake keeps up with the interface
