"""What a session's processes left behind when their bridge died, found and ended.

A bridge killed with SIGKILL cannot end its tools. Their PTYs hang up, but a
process that ignores SIGHUP, a ``nohup`` job or one that moved to a session of
its own (``setsid``) keeps running, and pipes only close. So every process
the bridge starts for a session carries ``TRACE_SESSION_ID=<sid>`` in its
environment (inherited by everything it starts), and a session host that
opens ends the processes marked with its session before anything runs
again. The mark — not a pid, a process group or a working directory, which
another program may have by then — decides: nothing unmarked is touched.

>>> ended = reap("s_1")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Mapping

import psutil

#: The variable naming the session a process belongs to.
MARKER = "TRACE_SESSION_ID"
#: How long a leftover gets to exit after SIGTERM before SIGKILL.
GRACE_S = 2.0


def marked(session_id: str, env: Mapping[str, str] | None = None, **more: str) -> dict[str, str]:
    """``env`` with the mark of ``session_id`` added (and ``more`` marks, such as
    the bridge's of :mod:`.guard`)."""
    return {**(env or {}), **more, MARKER: session_id}


def find(session_id: str) -> list[psutil.Process]:
    """This user's processes marked with ``session_id`` (never this process)."""
    return find_marked(MARKER, session_id)


def find_marked(variable: str, value: str) -> list[psutil.Process]:
    """This user's processes whose environment has ``variable=value`` (never this one)."""
    found = []
    for process in psutil.process_iter(["uids"]):
        with contextlib.suppress(psutil.Error):
            if process.pid == os.getpid() or process.info["uids"].real != os.getuid():
                continue
            if process.environ().get(variable) == value:
                found.append(process)
    return found


def reap(session_id: str, grace: float = GRACE_S) -> list[int]:
    """End the processes marked with ``session_id`` (SIGTERM, then SIGKILL after
    ``grace`` seconds); return their pids. Blocking: run it in a thread."""
    leftovers = find(session_id)
    for process in leftovers:
        with contextlib.suppress(psutil.Error):
            process.send_signal(signal.SIGTERM)
            process.send_signal(signal.SIGCONT)  # a paused one gets its SIGTERM now
    _, alive = psutil.wait_procs(leftovers, timeout=grace)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=grace)
    return [process.pid for process in leftovers]
