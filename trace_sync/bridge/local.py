"""Local mode's bridge: ``trace serve`` runs one for the owner, so sessions run at once.

Once the server accepts work it starts ``trace bridge`` with the owner's local
token (in its environment, not its arguments) and a data dir under the
server's (``<data dir>/bridge``), logging to ``<data dir>/bridge/bridge.log``.

The bridge is not the server's child in any way that matters: it runs in a
session of its own and outlives the server, so an upgrade, a crash or an
out-of-memory kill of the server never stops a session. A server starting on
the same data dir adopts the bridge already running there (one per data dir,
held by its lock file) when that bridge serves the same URL, and replaces it
otherwise. ``trace bridge stop`` (or ``trace serve --stop-bridge``) stops it:
SIGTERM, so tools stop with their resume ids kept and documents flushed.
``--no-bridge`` or ``TRACE_LOCAL_BRIDGE=0`` turn it off.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from trace_sync.bridge.process import LOCK_FILE

log = logging.getLogger(__name__)

#: How long the bridge gets to stop its tools and flush before SIGKILL.
STOP_TIMEOUT_S = 15.0
#: Which server a local bridge was started for (a bridge for another is replaced).
SERVER_FILE = "server-url"


class LocalBridge:
    """The owner's bridge on this machine, started or adopted by ``trace serve``."""

    def __init__(self, data_dir: Path, *, enabled: bool = True) -> None:
        self.data_dir = data_dir
        self.enabled = enabled
        self.state = "off (--no-bridge)" if not enabled else "not started"
        self._started = False
        self._told = False

    def start(self, server_url: str, token: str) -> None:
        """Adopt the bridge running for ``server_url``, else start one as the token's user."""
        if not self.enabled:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        holder = lock_holder(self.data_dir)
        if holder is not None and self._serves(server_url):
            self.state = f"running (pid {holder}, adopted), data {self.data_dir}"
            return
        if holder is not None:
            log.info("replacing a local bridge started for another server", extra={"pid": holder})
            stop_bridge(self.data_dir)
        pid = self._spawn(server_url, token)
        self._started = True
        self.state = f"running (pid {pid}), data {self.data_dir}"
        log.info("local bridge started", extra={"pid": pid})

    def stop(self) -> None:
        """Stop the bridge gracefully if this object started it (an adopted one runs on)."""
        if self._started:
            self.stop_all()

    def stop_all(self) -> None:
        """Stop the bridge running on this data dir, whoever started it."""
        self._started = False
        if self.enabled and stop_bridge(self.data_dir) is not None:
            self.state = "stopped"

    def leave_running(self) -> None:
        """Say where the bridge that outlives this server is (once)."""
        holder = lock_holder(self.data_dir) if self.enabled else None
        if holder is not None and not self._told:
            self._told = True
            print(
                f"The local bridge (pid {holder}) keeps sessions running; "
                "`trace bridge stop` stops it.",
                flush=True,
            )

    def _serves(self, server_url: str) -> bool:
        try:
            return (self.data_dir / SERVER_FILE).read_text().strip() == server_url
        except OSError:
            return False

    def _spawn(self, server_url: str, token: str) -> int:
        env = dict(os.environ, TRACE_TOKEN=token, TRACE_URL=server_url)
        argv = [sys.executable, "-m", "trace_sync.cli", "bridge", "--name", "local"]
        argv += ["--server", server_url, "--data-dir", str(self.data_dir)]
        (self.data_dir / SERVER_FILE).write_text(server_url + "\n")
        log_path = str(self.data_dir / "bridge.log")
        started = subprocess.run(
            [sys.executable, "-m", "trace_sync.bridge.detach", log_path, "--", *argv],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=True,
        )
        return int(started.stdout.strip())


def stop_bridge(data_dir: Path, timeout: float = STOP_TIMEOUT_S) -> int | None:
    """Stop the bridge that holds ``data_dir`` (SIGTERM, SIGKILL after ``timeout``);
    its pid, or None if none ran."""
    holder = lock_holder(data_dir)
    if holder is None or not holder.isdigit():
        return None
    pid = int(holder)
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _running(pid):
        if time.monotonic() > deadline:
            _signal(pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.05)  # polling another process's exit, bounded by the SIGKILL
    return pid


def lock_holder(data_dir: Path) -> str | None:
    """The pid in the lock file of a bridge that holds ``data_dir``, else None."""
    try:
        fd = os.open(data_dir / LOCK_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.read(fd, 32).decode(errors="replace").strip() or "?"
    finally:
        os.close(fd)
    return None


def _running(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
