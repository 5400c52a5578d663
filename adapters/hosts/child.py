"""A bridge the host started in a sandbox (or found still running), and how it is stopped.

The sandbox is detached (trace_sync/bridge/detach.py): it runs in a session
of its own, reparented to init, so it outlives the server and the server has
no child to reap. It is known by its pid and that process's start time (a
pid alone may be another process's by then), and its end is seen through a
pidfd, which works for a process that is not one's child.

bwrap does not pass signals on, so a graceful stop signals the bridge itself:
the first process under bwrap's own that is not bwrap. It then stops its tools
(their resume ids kept), flushes its documents and exits, and bwrap with it.
A bridge that does not finish in time is killed with its whole sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

#: Process names that are the sandbox's plumbing, not the bridge.
PLUMBING = frozenset({"bwrap", "prlimit", "setpriv"})


@dataclass
class BridgeChild:
    """One sandboxed bridge: bwrap's pid and start time, where its output goes."""

    session_id: str
    runtime_id: str
    pid: int
    #: ``psutil.Process.create_time()`` of ``pid`` when it was started.
    started: float
    log_path: Path
    watcher: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    stopping: bool = field(default=False, init=False, repr=False)

    @classmethod
    def of(cls, session_id: str, runtime_id: str, pid: int, log_path: Path) -> BridgeChild:
        """The sandbox just started as ``pid``."""
        try:
            started = psutil.Process(pid).create_time()
        except psutil.NoSuchProcess:
            started = 0.0  # it ended at once: never alive
        return cls(session_id, runtime_id, pid, started, log_path)

    def alive(self) -> bool:
        """Whether the sandbox still runs (the same process, not a reused pid)."""
        return _process(self.pid, self.started) is not None

    def is_sandbox_of(self, data_dir: Path) -> bool:
        """Whether the process is a live sandbox around ``data_dir`` (adopting one
        from a pid file: the pid is checked to be what the file says)."""
        process = _process(self.pid, self.started)
        try:
            return (
                process is not None
                and process.name() in PLUMBING
                and str(data_dir) in process.cmdline()
            )
        except psutil.Error:
            return False

    def watch(self) -> None:
        """Note in the log when the bridge ends by itself (a crash, a refusal)."""
        self.watcher = asyncio.create_task(self._wait(), name=f"bridge {self.session_id}")

    def unwatch(self) -> None:
        """The server is stopping; the sandbox runs on."""
        if self.watcher is not None:
            self.watcher.cancel()

    async def stop(self, timeout: float) -> None:
        """SIGTERM the bridge inside; SIGKILL the sandbox after ``timeout``."""
        self.stopping = True
        if not self.alive():
            return
        bridge = await asyncio.to_thread(_bridge_process, self.pid)
        if bridge is None:  # not started yet, or gone: nothing inside to be gentle with
            await asyncio.to_thread(_kill_tree, self.pid)
        else:
            _signal(bridge, signal.SIGTERM)
        try:
            await asyncio.wait_for(self._ended(), timeout)
        except TimeoutError:
            log.warning("a bridge did not stop in time", extra={"session": self.session_id})
            await asyncio.to_thread(_kill_tree, self.pid)
            await self._ended()
        if self.watcher is not None:
            await asyncio.gather(self.watcher, return_exceptions=True)

    def kill(self) -> None:
        """SIGKILL the whole sandbox at once (no stop of its tools, no flush)."""
        if self.alive():
            _kill_tree(self.pid)

    async def _ended(self) -> None:
        """Return once the sandbox has ended."""
        try:
            fd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            return
        try:
            if not self.alive():  # the pid was reused before the pidfd was opened
                return
            loop = asyncio.get_running_loop()
            ended: asyncio.Future[None] = loop.create_future()

            def readable() -> None:
                if not ended.done():
                    ended.set_result(None)

            loop.add_reader(fd, readable)
            try:
                await ended
            finally:
                loop.remove_reader(fd)
        finally:
            os.close(fd)

    async def _wait(self) -> None:
        await self._ended()
        if self.stopping:
            return
        tail = await asyncio.to_thread(_tail, self.log_path)
        facts = {"session": self.session_id}
        log.warning("a hosted bridge ended by itself; its last output:\n%s", tail, extra=facts)


def _process(pid: int, started: float) -> psutil.Process | None:
    try:
        process = psutil.Process(pid)
        same = abs(process.create_time() - started) < 0.01
        if same and process.status() != psutil.STATUS_ZOMBIE:
            return process
    except psutil.Error:
        pass  # it ended
    return None


def _bridge_process(pid: int) -> psutil.Process | None:
    """The shallowest process under ``pid`` that is not the sandbox's plumbing."""
    try:
        level = [psutil.Process(pid)]
        while level:
            level = [child for process in level for child in process.children()]
            for process in level:
                if process.name() not in PLUMBING:
                    return process
    except psutil.Error:
        pass  # it ended meanwhile
    return None


def _kill_tree(pid: int) -> None:
    """SIGKILL the sandbox: bwrap, and its init inside (whose end ends every
    process of the sandbox's pid namespace), and whatever runs under them."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    for process in tree:
        _signal(process, signal.SIGKILL)


def _signal(process: psutil.Process, signum: int) -> None:
    with contextlib.suppress(psutil.Error):
        process.send_signal(signum)


def _tail(path: Path, size: int = 2000) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - size))
            return f.read().decode(errors="replace")
    except OSError:
        return ""
