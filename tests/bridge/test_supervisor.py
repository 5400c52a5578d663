"""The supervisor a host runs its bridge under: real processes, killed for real."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

SUPERVISOR = [sys.executable, "-m", "trace_sync.bridge.supervisor", "--"]


def program(tmp_path: Path, body: str) -> list[str]:
    """A stand-in bridge: stops on SIGTERM, counts its starts in ``starts``, runs ``body``."""
    script = tmp_path / "bridge.py"
    script.write_text(
        "import os, pathlib, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
        f"starts = pathlib.Path({str(tmp_path / 'starts')!r})\n"
        "starts.write_text(starts.read_text() + 'x' if starts.exists() else 'x')\n" + body
    )
    return [sys.executable, str(script)]


def starts(tmp_path: Path) -> int:
    return len((tmp_path / "starts").read_text())


def test_a_bridge_killed_with_9_is_started_again(tmp_path: Path) -> None:
    # Killed by a signal on its first start (as an out-of-memory kill does); fine after.
    body = "if len(starts.read_text()) == 1: os.kill(os.getpid(), signal.SIGKILL)\n"
    done = subprocess.run(SUPERVISOR + program(tmp_path, body), timeout=30, capture_output=True)
    assert done.returncode == 0 and starts(tmp_path) == 2
    assert b"died of signal 9; starting it again" in done.stdout


def test_a_bridge_that_exits_by_itself_is_not_started_again(tmp_path: Path) -> None:
    # The server refused it: starting it again would only be refused again.
    done = subprocess.run(SUPERVISOR + program(tmp_path, "sys.exit(1)\n"), timeout=30)
    assert done.returncode == 1 and starts(tmp_path) == 1


def test_sigterm_stops_the_bridge_and_the_supervisor(tmp_path: Path) -> None:
    supervisor = subprocess.Popen(SUPERVISOR + program(tmp_path, "time.sleep(60)\n"))
    deadline = time.monotonic() + 20
    while not (tmp_path / "starts").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # polling a condition under a deadline
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(20) == 0 and starts(tmp_path) == 1
