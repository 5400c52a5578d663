"""Local mode's bridge: ``trace serve`` runs one for the owner, so sessions run at once.

Once the server accepts work it starts ``trace bridge`` as a child process
with the owner's local token (in its environment, not its arguments) and a
data dir under the server's (``<data dir>/bridge``), logging to
``<data dir>/bridge/bridge.log``. It is stopped (SIGTERM: tools stopped with
their resume ids kept, documents flushed) before the server shuts down, and
it stops by itself if the server dies without a word (it watches its parent,
named in ``TRACE_BRIDGE_PARENT``), so no bridge is left behind.
``--no-bridge`` or ``TRACE_LOCAL_BRIDGE=0`` turn it off; a bridge already
running on that data dir is used as it is.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

from trace_sync.runtime.bridge import LOCK_FILE

log = logging.getLogger(__name__)

#: How long the bridge gets to stop its tools and flush before SIGKILL.
STOP_TIMEOUT_S = 15.0
#: The pid of the server that started a local bridge (it stops when that is gone).
PARENT_VARIABLE = "TRACE_BRIDGE_PARENT"


class LocalBridge:
    """The owner's bridge, a child of the server process."""

    def __init__(self, data_dir: Path, *, enabled: bool = True) -> None:
        self.data_dir = data_dir
        self.enabled = enabled
        self.process: subprocess.Popen[bytes] | None = None
        self.state = "off (--no-bridge)" if not enabled else "not started"

    def start(self, server_url: str, token: str) -> None:
        """Start the bridge for ``server_url`` as the token's user (the owner)."""
        if not self.enabled or self.process is not None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        holder = _lock_holder(self.data_dir / LOCK_FILE)
        if holder is not None:
            self.state = f"already running (pid {holder}), data {self.data_dir}"
            return
        env = dict(os.environ, TRACE_TOKEN=token, TRACE_URL=server_url)
        env[PARENT_VARIABLE] = str(os.getpid())
        argv = [sys.executable, "-m", "trace_sync.cli", "bridge", "--name", "local"]
        argv += ["--server", server_url, "--data-dir", str(self.data_dir)]
        with (self.data_dir / "bridge.log").open("ab") as out:
            self.process = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.state = f"running (pid {self.process.pid}), data {self.data_dir}"
        log.info("local bridge started", extra={"pid": self.process.pid})

    def stop(self) -> None:
        """Stop the bridge gracefully (SIGKILL after :data:`STOP_TIMEOUT_S`)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.state = "stopped"


def _lock_holder(path: Path) -> str | None:
    """The pid in the lock file of a bridge that holds it, else None."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.read(fd, 32).decode(errors="replace").strip() or "?"
    finally:
        os.close(fd)
    return None
