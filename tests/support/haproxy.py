"""HAProxy in front of server processes, run with the config ``deploy/cluster``
ships (its ports come from the environment, as in the compose file)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.parts import missing
from tests.support.server_process import ROOT, free_port

CONFIG = ROOT / "deploy" / "cluster" / "haproxy.cfg"


def find_haproxy() -> str:
    """Debian installs it in /usr/sbin, which a user's PATH may lack."""
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if found is None:
        missing("haproxy not installed: apt-get install haproxy")
    return found


@dataclass
class HaProxy:
    backends: list[int]
    log_path: Path
    port: int = field(default_factory=free_port)
    #: Processes of role web: every path but the API's goes to them (none: all to ``backends``).
    web: list[int] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        ports = {f"SERVER_{n}_PORT": str(p) for n, p in enumerate(self.backends, 1)}
        ports |= {f"WEB_{n}_PORT": str(p) for n, p in enumerate(self.web, 1)}
        # A test needs few connections, and CI may allow fewer descriptors than 20,000 need.
        return {**os.environ, "FRONT_PORT": str(self.port), "HAPROXY_MAXCONN": "1000", **ports}

    def start(self, timeout: float = 10.0) -> None:
        with self.log_path.open("wb") as log:  # -db: foreground, no daemon
            self.process = subprocess.Popen(
                [find_haproxy(), "-db", "-f", str(CONFIG)], env=self.env(), stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"haproxy did not start:\n{self.log_path.read_text()}")
            time.sleep(0.05)  # polling a condition under a deadline

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@contextmanager
def haproxy(
    backends: list[int], log_path: Path, *, web: list[int] | None = None, port: int | None = None
) -> Iterator[HaProxy]:
    proxy = HaProxy(backends, log_path, port=port or free_port(), web=web or [])
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
