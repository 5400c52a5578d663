"""A live terminal: a program in a PTY whose output streams into the ``io`` document.

It joins a :class:`PtyProcess` and a :class:`TerminalRecorder` with one pump
task: whatever the PTY gives is fed to the recorder (which coalesces and
seals it); when the program ends, its exit code is recorded after its last
output. This is the object the bridge keeps per terminal; input, resize and
pause/resume go to the program, resizes are also recorded.

>>> async with Terminal(io, segments, "sh1", None, cwd=worktree, title="shell") as term:
...     await term.write(b"ls\\r")
...     code = await term.wait()
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pycrdt import Doc

from trace_sync.bridge.sessions.log_segments import LogSegments
from trace_sync.bridge.terminals.output import DEFAULT_LIMITS, OutputLimits, TerminalRecorder
from trace_sync.bridge.terminals.pty_process import GRACE_S, PtyProcess
from trace_sync.contract.errors import Conflict

#: After the program exits, how long output of what it left behind is still
#: read before those processes are killed (a terminal that ended leaves nothing running).
DRAIN_S = 1.0


class Terminal:
    """``async with Terminal(io, segments, terminal_id, argv, cwd=...) as term``.

    ``argv`` None runs the user's shell. Leaving the block terminates the
    program (SIGTERM, SIGKILL after ``grace`` s) and records its exit.
    """

    def __init__(
        self,
        io: Doc[Any],
        segments: LogSegments,
        terminal_id: str,
        argv: Sequence[str] | None,
        *,
        cwd: str | os.PathLike[str],
        env: Mapping[str, str] | None = None,
        title: str = "",
        kind: Literal["tool", "shell"] = "shell",
        cols: int = 80,
        rows: int = 24,
        limits: OutputLimits = DEFAULT_LIMITS,
        grace: float = GRACE_S,
        opened_by: str | None = None,
    ) -> None:
        self.pty = PtyProcess(argv, cwd=cwd, env=env, cols=cols, rows=rows, grace=grace)
        self.recorder = TerminalRecorder(
            io,
            segments,
            terminal_id,
            # Not the command line by default: arguments may hold secrets.
            title=title or os.path.basename(self.pty.argv[0]),
            kind=kind,
            cols=cols,
            rows=rows,
            limits=limits,
            opened_by=opened_by,
        )
        self._pump: asyncio.Task[int] | None = None
        self._close_timeout = limits.close_timeout_s

    @property
    def terminal_id(self) -> str:
        return self.recorder.terminal_id

    async def __aenter__(self) -> Terminal:
        await self.recorder.__aenter__()
        try:
            await self.pty.__aenter__()
        except BaseException:
            await self.recorder.__aexit__(None, None, None)
            raise
        self._pump = asyncio.create_task(self._run(), name=f"terminal {self.terminal_id}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.pty.terminate()
            if self._pump is not None:
                # Bounded: a pump held up by a server that is down must not hold us.
                await asyncio.wait({self._pump}, timeout=self._close_timeout)
                self._pump.cancel()
                await asyncio.gather(self._pump, return_exceptions=True)
        finally:
            await self.pty.__aexit__(None, None, None)
            await self.recorder.__aexit__(None, None, None)

    async def write(self, data: bytes) -> None:
        """Type ``data`` into the terminal."""
        await self.pty.write(data)

    def resize(self, cols: int, rows: int) -> None:
        self.pty.resize(cols, rows)
        self.recorder.resized(cols, rows)

    def pause(self) -> None:
        self.pty.pause()

    def resume(self) -> None:
        self.pty.resume()

    async def wait(self) -> int:
        """The exit code, once the program ended and all its output is recorded."""
        if self._pump is None:
            raise Conflict("the terminal is not running (use `async with`)")
        return await asyncio.shield(self._pump)

    async def _run(self) -> int:
        reaper = asyncio.create_task(self._reap_leftovers())
        try:
            while chunk := await self.pty.read():
                await self.recorder.feed(chunk)
        finally:
            reaper.cancel()
            await asyncio.gather(reaper, return_exceptions=True)
        code = await self.pty.wait()
        await self.recorder.finish(code)
        return code

    async def _reap_leftovers(self) -> None:
        # The PTY reports its end only when every process holding it is gone.
        await self.pty.wait()
        await asyncio.sleep(DRAIN_S)
        with contextlib.suppress(Conflict):
            self.pty.signal(signal.SIGKILL)
