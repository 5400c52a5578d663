"""A session's terminals: shells people open in its worktree, and the tool's own.

A shell (``terminal_open`` from the server) runs the user's shell in a PTY in
the worktree, recorded into io ``output[terminal id]`` by a
:class:`~trace_sync.bridge.terminals.terminal.Terminal`; the server hears
``terminal.opened`` and, when it ends, ``terminal.closed`` or
``terminal.exited``. The server decides who may type: keystrokes that reach
the bridge are from people allowed to.

The tool's own terminal (``output["tool"]``) exists while a tool that runs
in a PTY (``shell``) runs: what it writes comes as events of its run, and
one recorder per run records them (a new run continues the same terminal).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycrdt import Doc

from trace_sync.bridge.sessions.log_segments import LogSegments
from trace_sync.bridge.terminals.output import DEFAULT_LIMITS, OutputLimits, TerminalRecorder
from trace_sync.bridge.terminals.terminal import Terminal
from trace_sync.bridge.tools.process import child_env
from trace_sync.contract.bridge_protocol import HostedTerminal
from trace_sync.contract.errors import Conflict, NotFound, TraceError

log = logging.getLogger(__name__)

TOOL_TERMINAL = "tool"
#: Shells one session may have open at once.
MAX_SHELLS = 16

Notify = Callable[..., Awaitable[None]]


@dataclass
class _Shell:
    terminal: Terminal
    opened_by: str
    closing: asyncio.Event
    task: asyncio.Task[None] | None = None


class SessionTerminals:
    """``async with SessionTerminals(io, segments, notify) as terminals``; leaving closes them."""

    def __init__(
        self,
        io: Doc[Any],
        segments: LogSegments,
        notify: Notify,
        *,
        env: Mapping[str, str] | None = None,
        limits: OutputLimits = DEFAULT_LIMITS,
    ) -> None:
        self._io = io
        #: Variables for every shell opened (the session's mark among them).
        self._env = dict(env or {})
        self._segments = segments
        self._notify = notify
        self._limits = limits
        self._shells: dict[str, _Shell] = {}
        self._tool: TerminalRecorder | None = None

    async def __aenter__(self) -> SessionTerminals:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(self.close(tid) for tid in list(self._shells)))
        await self.tool_exited(None)

    def hosted(self, session_id: str) -> list[HostedTerminal]:
        return [
            HostedTerminal(session_id=session_id, terminal_id=tid, opened_by=shell.opened_by)
            for tid, shell in self._shells.items()
        ]

    # -- people's shells ---------------------------------------------------------------

    async def open(self, tid: str, opened_by: str, cwd: Path, cols: int, rows: int) -> None:
        if tid == TOOL_TERMINAL or tid in self._shells:
            raise Conflict(f"terminal {tid} is already open")
        if len(self._shells) >= MAX_SHELLS:
            raise Conflict(f"a session has at most {MAX_SHELLS} terminals open")
        terminal = Terminal(
            self._io,
            self._segments,
            tid,
            None,
            cwd=cwd,
            env=child_env(self._env),
            title="shell",
            kind="shell",
            cols=cols,
            rows=rows,
            limits=self._limits,
            opened_by=opened_by,
        )
        shell = self._shells[tid] = _Shell(terminal, opened_by, asyncio.Event())
        started = asyncio.get_running_loop().create_future()
        shell.task = asyncio.create_task(self._serve(tid, shell, started), name=f"shell {tid}")
        await started

    async def input(self, tid: str, data: str) -> None:
        await self._shell(tid).terminal.write(data.encode())

    def resize(self, tid: str, cols: int, rows: int) -> None:
        self._shell(tid).terminal.resize(cols, rows)

    async def close(self, tid: str) -> None:
        shell = self._shells.get(tid)
        if shell is not None and shell.task is not None:
            shell.closing.set()
            await asyncio.gather(shell.task, return_exceptions=True)

    def _shell(self, tid: str) -> _Shell:
        shell = self._shells.get(tid)
        if shell is None:
            raise NotFound(f"no terminal {tid} in this session")
        return shell

    async def _serve(self, tid: str, shell: _Shell, started: asyncio.Future[None]) -> None:
        kind, payload = "terminal.closed", {}
        try:
            async with shell.terminal as terminal:
                started.set_result(None)
                await self._tell("terminal.opened", terminal_id=tid, opened_by=shell.opened_by)
                ended = asyncio.ensure_future(terminal.wait())
                closing = asyncio.ensure_future(shell.closing.wait())
                await asyncio.wait({ended, closing}, return_when=asyncio.FIRST_COMPLETED)
                closing.cancel()
                if ended.done():
                    kind, payload = "terminal.exited", {"exit_code": ended.result()}
                ended.cancel()
        except (TraceError, OSError) as exc:
            if not started.done():
                started.set_exception(exc)
                return
            log.warning("terminal failed", extra={"terminal": tid, "error": str(exc)})
        finally:
            self._shells.pop(tid, None)
        await self._tell(kind, terminal_id=tid, **payload)

    async def _tell(self, kind: str, **payload: Any) -> None:
        with contextlib.suppress(Conflict):  # offline: the next hello lists what is open
            await self._notify(kind, **payload)

    # -- the tool's terminal ---------------------------------------------------------

    async def tool_output(self, data: bytes, title: str) -> None:
        if self._tool is None:
            recorder = TerminalRecorder(
                self._io,
                self._segments,
                TOOL_TERMINAL,
                title=title,
                kind="tool",
                limits=self._limits,
            )
            await recorder.__aenter__()
            self._tool = recorder
        await self._tool.feed(data)

    async def tool_exited(self, code: int | None) -> None:
        recorder, self._tool = self._tool, None
        if recorder is not None:
            try:
                await recorder.finish(code)
            finally:
                await recorder.__aexit__(None, None, None)

    def tool_resized(self, cols: int, rows: int) -> None:
        if self._tool is not None:
            self._tool.resized(cols, rows)
