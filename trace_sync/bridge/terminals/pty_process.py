"""A program in a pseudo-terminal, driven from asyncio without a thread.

The master side of the PTY is a non-blocking fd watched with
``loop.add_reader``: each wake-up reads what the kernel holds in big chunks
into a bounded buffer. When nobody calls :meth:`PtyProcess.read` the buffer
fills, reading pauses, and the program blocks on its own writes — the PTY's
flow control, so a flood never grows memory.

Signals go to every process group of the terminal's session: an interactive
shell runs each job in a group of its own, and pausing the shell alone would
leave its job running.

>>> async with PtyProcess(["echo", "hi"], cwd="/tmp") as pty:
...     while chunk := await pty.read():
...         print(chunk)
...     code = await pty.wait()
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import pwd
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil
import ptyprocess

from trace_sync.contract.errors import Conflict, InvalidInput, NotFound, TooLarge

log = logging.getLogger(__name__)

#: Output held for a reader that is busy; past it the program waits.
READ_BUFFER = 1 << 20
#: Bytes read per wake-up at most, so one flooding terminal cannot hold the loop.
READ_BURST = 256 << 10
#: One read(2) at most; a PTY hands out a few KiB at a time anyway.
READ_SIZE = 64 << 10
MAX_SIZE = 1000  # columns or rows
#: One write of input at most (a paste); the bridge splits nothing bigger.
MAX_INPUT = 1 << 20
#: How long a terminated program gets to exit before SIGKILL.
GRACE_S = 3.0
#: Where pidfds are missing (macOS), how often the exit is looked for.
EXIT_POLL_S = 0.05


class PtyProcess:
    """``async with PtyProcess(argv, cwd=...) as pty``: a program in a new PTY.

    ``argv`` None runs the user's login shell. ``env`` replaces the
    environment (default: ours without ``TRACE_TOKEN``), with ``TERM`` set
    when it is missing.
    Leaving the block terminates the program (SIGHUP and SIGTERM, then
    SIGKILL after ``grace`` seconds), kills what it left running, reaps it
    and closes the PTY.
    """

    def __init__(
        self,
        argv: Sequence[str] | None = None,
        *,
        cwd: str | os.PathLike[str],
        env: Mapping[str, str] | None = None,
        cols: int = 80,
        rows: int = 24,
        grace: float = GRACE_S,
    ) -> None:
        _check_size(cols, rows)
        self.argv = list(argv) if argv else [user_shell()]
        self.cwd = Path(cwd)
        self.env = dict(os.environ if env is None else env)
        if env is None:
            self.env.pop("TRACE_TOKEN", None)  # the runtime's credential is not the program's
        self.env.setdefault("TERM", "xterm-256color")
        self.cols, self.rows = cols, rows
        self.grace = grace
        self.returncode: int | None = None
        self._proc: Any = None
        self._buffer = bytearray()
        self._eof = False
        self._reading = False
        self._data = asyncio.Event()
        self._exited = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._watcher: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return int(self._running().pid)

    async def __aenter__(self) -> PtyProcess:
        if not self.cwd.is_dir():
            raise NotFound(f"no directory {self.cwd}")
        self._proc = _spawn(self.argv, self.cwd, self.env, self.cols, self.rows)
        os.set_blocking(self._proc.fd, False)
        self._resume_reading()
        self._watcher = asyncio.create_task(self._watch_exit(), name=f"pty {self._proc.pid}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._proc is None:
            return
        try:
            await self.terminate()
        finally:
            await self._close()

    # -- output and input ------------------------------------------------------

    async def read(self) -> bytes:
        """Output not read yet, waiting for some; ``b""`` once the PTY is closed."""
        while not self._buffer and not self._eof:
            self._data.clear()
            await self._data.wait()
        data = bytes(self._buffer)
        self._buffer.clear()
        if not self._eof and not self._reading:
            self._resume_reading()
        return data

    async def write(self, data: bytes) -> None:
        """Type ``data`` into the terminal, waiting while the program does not read."""
        if len(data) > MAX_INPUT:
            raise TooLarge(f"terminal input of {len(data)} bytes is over {MAX_INPUT}")
        fd = self._running().fd
        async with self._write_lock:
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(fd, view) :]
                except BlockingIOError:
                    await self._writable(fd)
                except OSError as exc:
                    raise Conflict(f"the terminal is closed: {exc}") from exc

    def resize(self, cols: int, rows: int) -> None:
        """Set the window size; the program gets SIGWINCH."""
        _check_size(cols, rows)
        self._running().setwinsize(rows, cols)
        self.cols, self.rows = cols, rows

    def foreground_group(self) -> int | None:
        """The process group in the terminal's foreground: the shell's own (its
        pid) while it shows its prompt, a job's while that runs; None once closed."""
        try:
            return os.tcgetpgrp(self._running().fd)
        except (OSError, Conflict):
            return None

    # -- the process -------------------------------------------------------------

    def pause(self) -> None:
        """Stop every process of the terminal (SIGSTOP); output stops too."""
        for group in self._groups(leader_first=True):
            _signal_group(group, signal.SIGSTOP)

    def resume(self) -> None:
        """Continue after :meth:`pause` (SIGCONT); the shell last, so it sees no stopped job."""
        for group in self._groups(leader_first=False):
            _signal_group(group, signal.SIGCONT)

    def signal(self, signum: int) -> None:
        """Send ``signum`` to every process group of the terminal."""
        for group in self._groups(leader_first=True):
            _signal_group(group, signum)

    async def wait(self) -> int:
        """The exit code once the program ended (``-N`` if signal N killed it)."""
        await self._exited.wait()
        assert self.returncode is not None  # set before the event
        return self.returncode

    async def terminate(self, grace: float | None = None) -> int:
        """End the program: SIGHUP and SIGTERM, then SIGKILL after ``grace`` s."""
        if self._exited.is_set():
            self._kill_leftovers()
            return await self.wait()
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGCONT):
            self.signal(signum)
        try:
            await asyncio.wait_for(self.wait(), self.grace if grace is None else grace)
        except TimeoutError:
            self.signal(signal.SIGKILL)
        self._kill_leftovers()
        return await self.wait()

    def _groups(self, *, leader_first: bool) -> list[int]:
        """The process groups of the terminal's session (its own first or last)."""
        sid = self.pid
        others: set[int] = set()
        for pid in psutil.pids():
            with contextlib.suppress(OSError):
                if pid != sid and os.getsid(pid) == sid:
                    others.add(os.getpgid(pid))
        others.discard(sid)
        ordered = sorted(others)
        return [sid, *ordered] if leader_first else [*ordered, sid]

    def _kill_leftovers(self) -> None:
        # Background jobs outlive the shell; a closed terminal leaves nothing running.
        for group in self._groups(leader_first=True):
            _signal_group(group, signal.SIGKILL)

    async def _watch_exit(self) -> None:
        # The exit is read without reaping (WNOWAIT): while the program is a
        # zombie its pid, the session id, cannot be reused, so signalling what
        # it left behind never hits a stranger. It is reaped on close.
        pid = self._proc.pid
        try:
            pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        try:
            flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
            while (ended := os.waitid(os.P_PID, pid, flags)) is None:  # noqa: ASYNC222 - WNOHANG
                await (_readable(pidfd) if pidfd is not None else asyncio.sleep(EXIT_POLL_S))
        finally:
            if pidfd is not None:
                os.close(pidfd)
        exited = ended.si_code == os.CLD_EXITED
        self.returncode = ended.si_status if exited else -ended.si_status
        self._exited.set()

    # -- the PTY fd ----------------------------------------------------------------

    def _resume_reading(self) -> None:
        asyncio.get_running_loop().add_reader(self._proc.fd, self._on_readable)
        self._reading = True

    def _pause_reading(self) -> None:
        asyncio.get_running_loop().remove_reader(self._proc.fd)
        self._reading = False

    def _on_readable(self) -> None:
        fd, burst = self._proc.fd, 0
        while burst < READ_BURST and len(self._buffer) < READ_BUFFER:
            try:
                chunk = os.read(fd, READ_SIZE)
            except BlockingIOError:
                break
            except OSError as exc:
                # Linux reports a PTY whose every slave end is closed as EIO.
                if exc.errno != errno.EIO:
                    log.warning("terminal read failed", extra={"error": str(exc)})
                chunk = b""
            if not chunk:
                self._eof = True
                break
            self._buffer += chunk
            burst += len(chunk)
        if self._eof or len(self._buffer) >= READ_BUFFER:
            self._pause_reading()
        self._data.set()

    async def _writable(self, fd: int) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        loop.add_writer(fd, _settle, ready)
        try:
            await ready
        finally:
            loop.remove_writer(fd)

    async def _close(self) -> None:
        if self._reading:
            self._pause_reading()
        if self._watcher is not None:
            await self._watcher
        self._proc.delayafterclose = 0
        self._proc.close(force=True)
        self._eof = True
        self._data.set()

    def _running(self) -> Any:
        if self._proc is None or self._proc.closed:
            raise Conflict("the terminal is not running (use `async with`)")
        return self._proc


def user_shell() -> str:
    """The user's login shell: ``$SHELL``, else the password database, else /bin/sh."""
    shell = os.environ.get("SHELL")
    if not shell:
        with contextlib.suppress(KeyError):
            shell = pwd.getpwuid(os.getuid()).pw_shell
    return shell or "/bin/sh"


def _spawn(argv: list[str], cwd: Path, env: dict[str, str], cols: int, rows: int) -> Any:
    try:
        return ptyprocess.PtyProcess.spawn(
            argv, cwd=str(cwd), env=env, dimensions=(rows, cols), preexec_fn=_default_signals
        )
    except FileNotFoundError as exc:
        raise NotFound(f"no program {argv[0]!r} on PATH") from exc
    except OSError as exc:
        raise InvalidInput(f"cannot run {argv[0]!r}: {exc}") from exc


#: Signals a program in a terminal expects to end it. A bridge started under
#: ``nohup`` (or by a service manager) ignores some; like any terminal emulator,
#: the terminal's program starts without that inheritance.
_TERMINAL_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGPIPE)


def _default_signals() -> None:
    for signum in _TERMINAL_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


def _check_size(cols: int, rows: int) -> None:
    if not (1 <= cols <= MAX_SIZE and 1 <= rows <= MAX_SIZE):
        raise InvalidInput(f"terminal size {cols}x{rows} out of 1..{MAX_SIZE}")


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)


async def _readable(fd: int) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    loop.add_reader(fd, _settle, ready)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


def _settle(future: asyncio.Future[None]) -> None:
    # A level-triggered fd can fire again before the waiter runs.
    if not future.done():
        future.set_result(None)
