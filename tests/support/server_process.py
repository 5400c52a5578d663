"""Run the real server as a subprocess (``python server.py``), as a person would.

Used where a test must restart or ``kill -9`` the server, or drive the CLI.
"""

from __future__ import annotations

import fcntl
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from trace_sync.bridge.local import stop_bridge

ROOT = Path(__file__).resolve().parents[2]


#: Ports are taken below the kernel's ephemeral range (32768 up), where no outgoing
#: connection and no other ``bind(0)`` lands, each xdist worker from a slice of its
#: own, and not again soon by one process: a port is only bound when its server
#: starts, and meanwhile ``bind(0)`` offered one port to a cluster test's two servers.
#: A test run beside another (two checkouts' ``make test``) has workers of the same
#: names: each port handed out is also claimed with a lock file, held until the port
#: leaves ``_handed_out`` or the process ends.
_LOW, _SLICE, _SLICES = 20_000, 750, 16
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0) % _SLICES
_handed_out: deque[tuple[int, int]] = deque()  # (port, its claim's file descriptor)
_CLAIMS = Path(tempfile.gettempdir()) / "trace-test-ports"
#: Every server log this test process started, in order: a failing test's report
#: ends with the tails of those its test started (tests/conftest.py).
LOGS: list[Path] = []


def free_port() -> int:
    """A loopback port free now that no test process has been handed lately."""
    first = _LOW + _WORKER * _SLICE
    mine = {port for port, _ in _handed_out}
    for port in random.sample(range(first, first + _SLICE), _SLICE):
        if port in mine or not _bindable(port):
            continue
        claim = _claim(port)
        if claim is not None:
            if len(_handed_out) == _SLICE // 2:
                os.close(_handed_out.popleft()[1])
            _handed_out.append((port, claim))
            return port
    raise RuntimeError(f"no free port left in {first}-{first + _SLICE - 1}")


def _claim(port: int) -> int | None:
    """A lock on ``port`` that no other test process holds, or ``None``."""
    _CLAIMS.mkdir(exist_ok=True)
    fd = os.open(_CLAIMS / str(port), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class ServerProcess:
    data_dir: Path
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    #: Start the owner's local bridge as ``python server.py`` does by default (off
    #: here, so tests that do not host sessions run no bridge).
    local_bridge: bool = False
    process: subprocess.Popen[str] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        return (self.data_dir / "local-token").read_text().strip()

    def env(self) -> dict[str, str]:
        env = dict(os.environ, TRACE_DATA_DIR=str(self.data_dir), TRACE_PORT=str(self.port))
        env["TRACE_HOST"] = "127.0.0.1"
        env["TRACE_LOCAL_BRIDGE"] = "1" if self.local_bridge else "0"
        # Where the server announces itself (server.json): this test's own.
        env["XDG_STATE_HOME"] = str(self.data_dir.parent / "state")
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 120.0) -> None:
        # A hang detector (a crash is seen at once): with two whole runs on two
        # cores, servers on PostgreSQL took over 60 s to answer /healthz.
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"server-{self.port}-{time.monotonic_ns()}.log"
        log = self.log_path.open("w")
        LOGS.append(self.log_path)
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "server.py")],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        log.close()
        try:
            self._wait_healthy(timeout)
        except BaseException:  # never leave a half-started server behind
            self.process.kill()
            self.process.wait(10)
            self.process = None
            raise

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # polling a condition under a deadline, not synchronising
        raise TimeoutError(f"server not healthy after {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text() if self.log_path else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Stop the server (SIGTERM: graceful; SIGKILL: a crash) and return its exit code."""
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self.process = None
        return code

    def close(self) -> None:
        """Kill the server if it runs, and stop the local bridge it started (which
        outlives the server on purpose)."""
        if self.process is not None:
            self.stop(signal.SIGKILL)
        if self.local_bridge:
            stop_bridge(self.data_dir / "bridge", timeout=5)


@contextmanager
def running_server(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    server = ServerProcess(data_dir, extra_env=env or {})
    server.start()
    try:
        yield server
    finally:
        server.close()


def from_a_terminal() -> None:
    """``preexec_fn`` for a program a person starts from a terminal, where Ctrl+C is
    not ignored: a test run started in the background (``&`` in a script) ignores
    SIGINT, a child inherits that, and Python keeps it ignored (a Ctrl+C test then
    saw exit 0, not 130)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
