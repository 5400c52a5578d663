"""Run ``trace bridge`` as a subprocess, as a person would (to ``kill -9`` it, say)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.server_process import ROOT


@dataclass
class BridgeProcess:
    server_url: str
    token: str
    data_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[str] | None = None
    log_path: Path | None = None

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"bridge-{time.monotonic_ns()}.log"
        env = dict(os.environ, TRACE_TOKEN=self.token, **self.extra_env)
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "trace_sync.cli", "bridge", "--name", "test-bridge"]
                + ["--server", self.server_url, "--data-dir", str(self.data_dir)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )

    def output(self) -> str:
        return self.log_path.read_text() if self.log_path else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Stop it (SIGTERM: gracefully; SIGKILL: a crash) and return its exit code."""
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self.process = None
        return code

    def __enter__(self) -> BridgeProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.stop(signal.SIGKILL)
