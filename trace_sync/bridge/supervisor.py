"""Keeps a hosted bridge running: one killed in its box is started again.

A sandbox or a container has no systemd to restart what dies in it, and a
cloud session's box ends with its bridge. So a host runs ``trace bridge``
under this small process (``python -m trace_sync.bridge.supervisor -- ARGV``):
when the bridge dies of a signal it did not ask for (SIGKILL from an
out-of-memory kill, a crash), it starts it again on the same data dir, and the
bridge resumes its sessions as after any restart (their tools resumed, their
approvals asked again). A bridge that exits by itself (stopped, or refused by
the server) is not started again: a refusal would only repeat.

Signals to this process go to the bridge (SIGTERM and SIGINT stop both, SIGHUP
reloads the bridge's settings). After ``MAX_RESTARTS`` restarts within
``WINDOW_S`` it gives up, and the server sees the runtime lost as before.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence

MAX_RESTARTS = 5
WINDOW_S = 600.0
#: The pause before the n-th restart in a row: 1, 2, 4 ... s, at most this.
MAX_PAUSE_S = 30.0


def supervise(argv: Sequence[str]) -> int:
    """Run ``argv`` until it exits by itself or is stopped; its exit code."""
    restarts: deque[float] = deque()
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = stopping or signum != signal.SIGHUP
        if child is not None:
            child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    while True:
        child = subprocess.Popen(argv)
        code = child.wait()
        now = time.monotonic()
        while restarts and now - restarts[0] > WINDOW_S:
            restarts.popleft()
        if stopping or code >= 0 or len(restarts) >= MAX_RESTARTS:
            return code if code >= 0 else 128 - code
        pause = min(2.0 ** len(restarts), MAX_PAUSE_S)
        print(f"trace: the bridge died of signal {-code}; starting it again in {pause:g} s")
        sys.stdout.flush()
        time.sleep(pause)
        if stopping:
            return 128 - code
        restarts.append(now)


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        sys.exit("usage: python -m trace_sync.bridge.supervisor -- COMMAND [ARG...]")
    sys.exit(supervise(argv))


if __name__ == "__main__":
    main()
