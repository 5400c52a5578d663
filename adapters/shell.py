"""The ``shell`` tool: the user's shell (or a configured command, e.g. aider) in a PTY.

Its transcript is its terminal: every byte it writes becomes a
:class:`TerminalOutput` event, which the bridge records into io ``output``
(the session's ``tool`` terminal). Each prompt is typed into it as a line and
noted as a ``user_prompt`` entry; people may also type into the terminal
directly.

When is a turn over? A shell runs each command as a job in its own process
group, which holds the terminal's foreground until it ends; the shell takes
the foreground back when it shows its prompt again. So for the user's shell
a turn ends once the foreground is the shell's own, the shell sleeps (waiting
for its next line) with no child left (a job is forked before it takes the
foreground) and output has been quiet for ``settle_s``; a long silent command
stays ``running``.
With background jobs left (children that never take the foreground) it ends
after ``quiet_s`` of quiet at the prompt. A configured command that is not a
job-control shell never hands the foreground back: its turn ends after
``quiet_s`` without output. Entering a run waits until the program has
settled at start (its prompt shown), so prompts are never typed into a shell
still reading its rc files; what it prints at start is output, not a turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psutil

from trace_sync.bridge.terminals.pty_process import PtyProcess, user_shell
from trace_sync.bridge.tools.interface import (
    Capabilities,
    Exited,
    RunStarted,
    TerminalOutput,
    ToolContext,
    ToolEvent,
    TurnEnded,
    TurnStarted,
    find_binary,
)
from trace_sync.bridge.tools.process import child_env
from trace_sync.bridge.tools.run import EVENT_BUFFER, entry_id, now
from trace_sync.contract.errors import Conflict, NotFound
from trace_sync.docs.entries import ApprovalRequest, Decision, UsageNote, UserPrompt

#: Output quiet this long with the shell back at its prompt ends a turn.
SETTLE_S = 0.3
#: Output quiet this long ends a turn of a command that is not a shell.
QUIET_S = 2.0
#: How often a running turn is looked at.
CHECK_S = 0.1
#: Longest wait for the program to settle at start (a shell reading its rc files).
STARTUP_S = 10.0

_END = object()


class ShellAdapter:
    name = "shell"
    capabilities = Capabilities(interrupt=True)

    def __init__(
        self, command: str | None = None, quiet_s: float = QUIET_S, settle_s: float = SETTLE_S
    ) -> None:
        self._argv = shlex.split(command) if command else None
        self._quiet_s = quiet_s
        self._settle_s = settle_s

    def binary(self) -> Path | None:
        return find_binary(self._argv[0] if self._argv else user_shell())

    def available(self) -> bool:
        return self.binary() is not None

    def run(self, context: ToolContext) -> ShellRun:
        binary = self.binary()
        if binary is None:
            raise NotFound(f"no program {(self._argv or [user_shell()])[0]!r} found")
        argv = [str(binary), *(self._argv or [])[1:]]
        # The user's own shell shows when a command is done (see the module docstring).
        wait = self._settle_s if self._argv is None else None
        return ShellRun(context, argv, prompt_wait=wait, quiet_s=self._quiet_s)


class ShellRun:
    """One shell in a PTY; ``async with`` only."""

    def __init__(
        self, context: ToolContext, argv: list[str], *, prompt_wait: float | None, quiet_s: float
    ) -> None:
        self.context = context
        env = child_env(context.env)
        self.pty = PtyProcess(argv, cwd=context.cwd, env=env)
        self._prompt_wait = prompt_wait
        self._quiet_s = quiet_s
        self._queue: asyncio.Queue[Any] = asyncio.Queue(EVENT_BUFFER)
        self._in_turn = False
        self._at_prompt = False
        #: Until the program settled at start: its first output is no turn.
        self._starting = True
        self._last_output = 0.0
        self._pump: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None

    @property
    def tool_session_id(self) -> str | None:
        return None

    @property
    def pending(self) -> Mapping[str, ApprovalRequest]:
        return {}

    async def __aenter__(self) -> Self:
        await self.pty.__aenter__()
        await self._queue.put(RunStarted("shell", self.context.permission_mode, self.pty.pid))
        self._ready = asyncio.Event()
        self._last_output = asyncio.get_running_loop().time()
        self._pump = asyncio.create_task(self._read(), name=f"shell {self.pty.pid}")
        self._watch = asyncio.create_task(self._watch_turns())
        # Lines typed while a shell still starts would be echoed before its prompt,
        # and its start taken for a turn's end: prompts go once it has settled.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), STARTUP_S)
        self._starting = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.pty.terminate()
            while self._pump is not None and not self._pump.done():
                if self._queue.full():  # nobody reads any more: make room so the pump ends
                    self._queue.get_nowait()
                await asyncio.wait({self._pump}, timeout=0.05)
        finally:
            if self._watch is not None:
                self._watch.cancel()
                await asyncio.gather(self._watch, return_exceptions=True)
            await self.pty.__aexit__(None, None, None)

    async def events(self) -> AsyncIterator[ToolEvent]:
        while (event := await self._queue.get()) is not _END:
            yield event

    async def send(self, text: str, *, prompt_id: str | None = None) -> None:
        """Type ``text`` as a line (its line breaks become Enter presses)."""
        await self._queue.put(UserPrompt(id=entry_id(), at=now(), text=text, prompt_id=prompt_id))
        self._begin_turn()
        await self.pty.write((text.replace("\r\n", "\n").replace("\n", "\r") + "\r").encode())

    async def interrupt(self) -> None:
        """Ctrl-C: the terminal sends SIGINT to the job in the foreground."""
        await self.pty.write(b"\x03")

    async def decide(self, request_id: str, decision: Decision) -> None:
        raise NotFound(f"no pending request {request_id}: a shell asks for nothing")

    async def write(self, data: bytes) -> None:
        await self.pty.write(data)

    def resize(self, cols: int, rows: int) -> None:
        self.pty.resize(cols, rows)

    # -- output and turns -------------------------------------------------------------

    def _begin_turn(self) -> None:
        self._last_output = asyncio.get_running_loop().time()
        self._in_turn, self._at_prompt = True, False

    async def _read(self) -> None:
        try:
            while chunk := await self.pty.read():
                if not self._in_turn:
                    self._begin_turn()
                    if not self._starting:
                        await self._queue.put(TurnStarted())
                self._last_output = asyncio.get_running_loop().time()
                self._at_prompt = False
                await self._queue.put(TerminalOutput(chunk))
            code = await self.pty.wait()
            if self._in_turn:
                await self._end_turn("exited")
            await self._queue.put(Exited(code))
        finally:
            await self._queue.put(_END)

    async def _watch_turns(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(CHECK_S)  # a periodic look, not a synchronisation
            quiet = loop.time() - self._last_output
            # Seen at its prompt twice in a row with no output between: a shell
            # caught between two commands of a line (or busy) is not taken for done.
            at_prompt, self._at_prompt = self._at_prompt, self._in_turn and self._turn_over(quiet)
            if at_prompt and self._at_prompt:
                await self._end_turn("prompt" if self._prompt_wait is not None else "quiet")
                self._ready.set()
            elif not self._in_turn and quiet >= SETTLE_S:
                self._ready.set()  # it printed nothing at start

    def _turn_over(self, quiet: float) -> bool:
        if self._prompt_wait is None:
            return quiet >= self._quiet_s
        if quiet < self._prompt_wait:
            return False
        try:
            if self.pty.foreground_group() != self.pty.pid:
                return False  # a job holds the terminal
            shell = psutil.Process(self.pty.pid)
            if quiet >= self._quiet_s:
                return True  # at the prompt, with background jobs left, say
            # Reading its next line: asleep with no child. (Between reading a line and
            # forking its job the shell is runnable, even when the machine makes it wait.)
            return shell.status() == psutil.STATUS_SLEEPING and not shell.children()
        except (Conflict, psutil.Error):  # the shell is gone: the reader reports the end
            return False

    async def _end_turn(self, reason: str) -> None:
        self._in_turn = False
        if self._starting:
            return
        usage = UsageNote(id=entry_id(), at=now())
        await self._queue.put(TurnEnded(usage=usage, stop_reason=reason, tool_session_id=None))
