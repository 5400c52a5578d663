"""A bridge the host started as a child process, and how it is stopped.

bwrap does not pass signals on (a SIGTERM kills bwrap, and with it everything
inside, at once), so a graceful stop signals the bridge itself: the first
process under bwrap's own that is not bwrap. It then stops its tools (their
resume ids kept), flushes its documents and exits, and bwrap with it. A
bridge that does not finish in time is killed with its whole sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

#: Process names that are the sandbox's plumbing, not the bridge.
PLUMBING = frozenset({"bwrap", "prlimit", "setpriv"})


@dataclass
class BridgeChild:
    """One started bridge: its process (bwrap's), where its output goes, how it ended."""

    session_id: str
    runtime_id: str
    process: asyncio.subprocess.Process
    log_path: Path
    watcher: asyncio.Task[int] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def exit_code(self) -> int | None:
        return self.process.returncode

    def watch(self) -> None:
        """Note in the log when the bridge ends by itself (a crash, a refusal)."""
        self.watcher = asyncio.create_task(self._wait(), name=f"bridge {self.session_id}")

    async def stop(self, timeout: float) -> int:
        """SIGTERM the bridge inside; SIGKILL the sandbox after ``timeout``; its exit code."""
        if self.exit_code is None:
            bridge = await asyncio.to_thread(_bridge_process, self.pid)
            if bridge is not None:
                _signal(bridge, signal.SIGTERM)
            else:  # not started yet, or gone: nothing inside to be gentle with
                self.process.terminate()
            try:
                await asyncio.wait_for(asyncio.shield(self.process.wait()), timeout)
            except TimeoutError:
                log.warning("a bridge did not stop in time", extra={"session": self.session_id})
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()  # bwrap dies, and the pid namespace with it
        code = await self.process.wait()
        if self.watcher is not None:
            await asyncio.gather(self.watcher, return_exceptions=True)
        return code

    async def _wait(self) -> int:
        code = await self.process.wait()
        facts = {"session": self.session_id, "code": code}
        if code == 0:
            log.info("a hosted bridge ended", extra=facts)
        else:
            tail = await asyncio.to_thread(_tail, self.log_path)
            log.warning("a hosted bridge failed; its last output:\n%s", tail, extra=facts)
        return code


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
