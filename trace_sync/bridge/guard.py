"""A bridge's tools do not outlive it, nor act on its silence.

A bridge killed with SIGKILL cannot end its tools, and a tool left without
its bridge acts on what it sees: Claude Code and claude-code-acp take the
closed permission stream for a refusal and go on, asking the model again and
writing that into the conversation a resumed tool later loads. Three things
stop that:

- The bridge's guard holds a copy of the writing end of every piped tool's
  input (:meth:`Guard.hold`), so a dying bridge never closes it: the kernel
  closes a dying process's files *before* it sends the parent-death signal
  below, and a tool quick enough (a loaded machine, another core) read the end
  of its input in between and asked the model once more before it was frozen.
- Every piped tool starts with the kernel's parent-death signal set to
  SIGSTOP (:func:`freeze_with_parent`, Linux): the instant its bridge dies it
  is frozen; what it started waits on it (claude-code-acp's ``claude`` waits
  for the answer it relays).
- A guard process (``python -m trace_sync.bridge.guard MARK``, :class:`Guard`),
  started with the bridge, reads a socket only the bridge holds the other end
  of. When that closes — the bridge ended, however it ended — the guard ends
  every process carrying the bridge's mark in its environment
  (:data:`MARK_VARIABLE`, set beside the session mark of :mod:`.leftovers`):
  all of them stopped first, then killed, so none sees another die and reacts;
  only then does it let go of the inputs it holds.

Two limits of the parent-death signal, kept in mind where tools start: it is
set in a ``preexec_fn``, which runs between fork and exec in a process with
threads, so it does one foreign call looked up before the fork and takes no
Python lock (nothing it needs can be held by another thread); and the kernel
sends it when the *thread* that forked the tool ends, not the process. Tools
start from the event loop's thread (``asyncio.create_subprocess_exec``), which
lives as long as the bridge; one started from a worker thread
(``asyncio.to_thread``) would be frozen when that thread ends.

A bridge that leaves normally has ended its tools already; its guard then
finds nothing. Should the guard die with its bridge (a whole process tree
killed), the next session host reaps what is left (:func:`.leftovers.reap`).

>>> with Guard() as guard:  # doctest: +SKIP
...     env = {guard.variable: guard.mark}
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Mapping

import psutil

from trace_sync.bridge.leftovers import find_marked

#: The variable naming the bridge a process belongs to.
MARK_VARIABLE = "TRACE_BRIDGE_MARK"
#: How long the killed tools get to be gone before the guard exits anyway.
WAIT_S = 5.0
_PR_SET_PDEATHSIG = 1
#: The guards of this process by mark: a tool carrying a mark has its input held by
#: that bridge's guard (tests run several bridges in one process).
_GUARDS: dict[str, Guard] = {}


class Guard:
    """``with Guard() as guard``: the guard process of one bridge; leaving (or the
    bridge's death) ends what carries ``guard.mark``."""

    variable = MARK_VARIABLE

    def __init__(self) -> None:
        self.mark = uuid.uuid4().hex
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: socket.socket | None = None

    def __enter__(self) -> Guard:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "trace_sync.bridge.guard", self.mark],
                stdin=theirs.fileno(),
                start_new_session=True,  # a Ctrl-C or hang-up of the bridge's terminal spares it
            )
        ours.setblocking(False)  # never stalls the bridge's event loop; see hold()
        self._channel = ours
        _GUARDS[self.mark] = self
        return self

    def __exit__(self, *exc: object) -> None:
        _GUARDS.pop(self.mark, None)
        process, self._process = self._process, None
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if process is None:
            return
        try:
            process.wait(WAIT_S + 1)
        except subprocess.TimeoutExpired:  # a loaded machine: reap it later, never leave a zombie
            threading.Thread(target=process.wait, name="guard reaper", daemon=True).start()

    def hold(self, fd: int) -> Callable[[], None]:
        """Have the guard keep a copy of ``fd`` (a tool input's writing end) until the
        returned function is called, or the guard has ended the tools; should the guard
        not take it (gone, or too far behind), the tool is only frozen, as before."""
        key = b"%d" % os.fstat(fd).st_ino  # a pipe's inode names it while it is open
        if not self._send(b"hold " + key, [fd]):
            return lambda: None

        def let_go() -> None:
            self._send(b"release " + key)

        return let_go

    def _send(self, message: bytes, fds: list[int] | None = None) -> bool:
        try:
            return self._channel is not None and bool(
                socket.send_fds(self._channel, [message], fds or [])
            )
        except OSError:
            return False


def hold_input(env: Mapping[str, str], fd: int) -> Callable[[], None]:
    """Hand ``fd`` to the guard of the bridge whose mark ``env`` carries (see
    :meth:`Guard.hold`); what lets go of it. Nothing is held for an unmarked tool."""
    guard = _GUARDS.get(env.get(MARK_VARIABLE, ""))
    return guard.hold(fd) if guard is not None else lambda: None


def freeze_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel stop the child when its parent dies;
    None where the kernel has no parent-death signal (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    parent = os.getpid()

    def set_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGSTOP)
        if os.getppid() != parent:  # the parent died before the signal was set
            os.kill(os.getpid(), signal.SIGSTOP)

    return set_signal


def end_marked(mark: str) -> list[int]:
    """Stop, then kill, every process of this user carrying ``mark``; their pids."""
    found = find_marked(MARK_VARIABLE, mark)
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for process in found:
            with contextlib.suppress(psutil.Error):
                process.send_signal(sig)
    psutil.wait_procs(found, timeout=WAIT_S)
    return [process.pid for process in found]


def main(argv: list[str]) -> None:
    """The guard: hold the inputs the bridge hands over until its end of the socket
    closes, then end its tools, and only then let go of their inputs."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel = socket.socket(fileno=sys.stdin.fileno())
    held: dict[bytes, int] = {}
    while True:
        message, fds, _, _ = socket.recv_fds(channel, 64, 4)
        if not message:  # the bridge is gone
            break
        verb, key = message.split(b" ", 1)
        if verb == b"hold" and fds:
            held[key] = fds.pop()
        elif verb == b"release" and key in held:
            os.close(held.pop(key))
        for extra in fds:
            os.close(extra)
    end_marked(argv[1])


if __name__ == "__main__":
    main(sys.argv)
