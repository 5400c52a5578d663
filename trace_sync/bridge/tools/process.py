"""A coding tool's child process: lines on stdout, lines to stdin, stderr kept bounded."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from trace_sync.bridge.guard import freeze_with_parent, hold_input
from trace_sync.contract.errors import Conflict, NotFound

#: A line longer than this (a huge tool result) is dropped whole, not half-parsed.
LINE_LIMIT = 32 * 1024 * 1024
#: How much of stderr is kept: the tail, for error messages.
STDERR_LIMIT = 64 * 1024
#: Marker yielded in place of a line over :data:`LINE_LIMIT`.
OVERLONG = b"\x00overlong line dropped"


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without Trace's own settings (tokens among them),
    plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACE_")}
    env.update(extra)
    return env


class ToolProcess:
    """``async with ToolProcess(argv, cwd, env) as proc``: started on enter; on exit stdin
    is closed, then the process group gets SIGTERM and, if still alive, SIGKILL. Should
    the bridge die instead, its guard holds the tool's input open and the kernel stops
    the process at once (see guard.py)."""

    def __init__(
        self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], *, grace: float = 2.0
    ) -> None:
        self.argv = list(argv)
        self.cwd = cwd
        self.env = dict(env)
        self.grace = grace
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr = bytearray()
        self._drain: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()
        self._let_go: Callable[[], None] = lambda: None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc else None

    @property
    def stderr_tail(self) -> str:
        return self._stderr.decode(errors="replace")

    async def __aenter__(self) -> ToolProcess:
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                limit=LINE_LIMIT,
                start_new_session=True,  # its own process group: we end the tool's children too
                preexec_fn=freeze_with_parent(),  # a bridge's death freezes it (see guard.py)
            )
        except OSError as exc:
            raise NotFound(f"cannot start {self.argv[0]}: {exc.strerror or exc}") from exc
        assert self._proc.stdin is not None
        self._let_go = hold_input(self.env, self._proc.stdin.get_extra_info("pipe").fileno())
        self._drain = asyncio.create_task(self._keep_stderr())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close_stdin()
        if not await self._exited_within(self.grace):
            self._signal(signal.SIGTERM)
            if not await self._exited_within(self.grace):
                self._signal(signal.SIGKILL)
                await self.wait()
        if self._drain is not None:
            await self._drain

    async def lines(self) -> AsyncIterator[bytes]:
        """Stdout line by line (without the newline) until the tool closes it."""
        stdout = self._running().stdout
        while stdout is not None:
            try:
                line = await stdout.readline()
            except ValueError:  # over LINE_LIMIT: asyncio dropped it
                yield OVERLONG
                continue
            if not line:
                return
            yield line.rstrip(b"\r\n")

    async def write_line(self, data: bytes) -> None:
        stdin = self._running().stdin
        async with self._write_lock:
            if stdin is None or stdin.is_closing():
                raise Conflict("the tool has exited")
            try:
                stdin.write(data + b"\n")
                await stdin.drain()
            except (BrokenPipeError, ConnectionResetError) as exc:
                raise Conflict("the tool has exited") from exc

    async def close_stdin(self) -> None:
        if self._proc is None or self._proc.stdin is None:
            return
        async with self._write_lock:
            # The guard's copy first, so closing ours ends the input; once, whatever
            # closed ours (a broken pipe does), so the guard keeps nothing of it.
            self._let_go, let_go = (lambda: None), self._let_go
            let_go()
            if not self._proc.stdin.is_closing():
                self._proc.stdin.close()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await self._proc.stdin.wait_closed()

    async def wait(self) -> int:
        return await self._running().wait()

    def _running(self) -> asyncio.subprocess.Process:
        if self._proc is None:
            raise Conflict("the tool process is not started: use it inside `async with`")
        return self._proc

    async def _exited_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(asyncio.shield(self.wait()), seconds)
        except TimeoutError:
            return False
        return True

    def _signal(self, sig: int) -> None:
        if self._proc is None or self._proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    async def _keep_stderr(self) -> None:
        stderr = self._running().stderr
        while stderr is not None and (chunk := await stderr.read(8192)):
            self._stderr += chunk
            if len(self._stderr) > STDERR_LIMIT:
                del self._stderr[: len(self._stderr) - STDERR_LIMIT]
