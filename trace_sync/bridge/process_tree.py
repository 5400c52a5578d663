"""A tool's processes, found by their session: signals for all of them, and what they use.

Every tool starts as the leader of a session of its own (``start_new_session``
for piped tools, the PTY's session for terminal ones), and what it starts —
a Bash command, a test run, a job of a shell in its own process group —
stays in that session. So pausing a tool stops every process group of its
session (SIGSTOP, the leader first so it cannot react), and resuming
continues them (the leader last, so a shell sees no stopped job).

>>> pause(run_pid); resume(run_pid)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass

import psutil


def members(leader: int) -> list[int]:
    """The pids of session ``leader`` (the leader first), living ones only."""
    found = []
    for pid in psutil.pids():
        with contextlib.suppress(OSError):
            if os.getsid(pid) == leader:
                found.append(pid)
    return sorted(found, key=lambda pid: pid != leader)


def groups(leader: int, *, leader_first: bool = True) -> list[int]:
    """The process groups of session ``leader``, its own first (or last)."""
    others: set[int] = set()
    for pid in members(leader):
        with contextlib.suppress(OSError):
            others.add(os.getpgid(pid))
    others.discard(leader)
    ordered = sorted(others)
    return [leader, *ordered] if leader_first else [*ordered, leader]


def signal_session(leader: int, signum: int, *, leader_first: bool = True) -> None:
    for group in groups(leader, leader_first=leader_first):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signum)


def pause(leader: int) -> None:
    """Stop every process of the tool (SIGSTOP)."""
    signal_session(leader, signal.SIGSTOP)


def resume(leader: int) -> None:
    """Continue every process of the tool after :func:`pause` (SIGCONT)."""
    signal_session(leader, signal.SIGCONT, leader_first=False)


def stopped(leader: int) -> bool:
    """Whether the tool's leader is stopped (paused) now."""
    try:
        return bool(psutil.Process(leader).status() == psutil.STATUS_STOPPED)
    except psutil.Error:
        return False


@dataclass(frozen=True)
class ProcessUsage:
    cpu_percent: float
    memory_bytes: int


class UsageMeter:
    """CPU and memory of a session's processes. CPU is measured between two
    samples (psutil keeps each process's last reading), so sample regularly."""

    def __init__(self) -> None:
        self._known: dict[int, psutil.Process] = {}

    def sample(self, leader: int | None) -> ProcessUsage | None:
        """What the session of ``leader`` uses now; None when no tool runs."""
        if leader is None:
            self._known.clear()
            return None
        cpu, memory = 0.0, 0
        alive: dict[int, psutil.Process] = {}
        for pid in members(leader):
            with contextlib.suppress(psutil.Error):
                process = self._known.get(pid) or psutil.Process(pid)
                with process.oneshot():
                    cpu += process.cpu_percent(None)
                    memory += process.memory_info().rss
                alive[pid] = process
        self._known = alive
        return ProcessUsage(round(cpu, 1), memory)
