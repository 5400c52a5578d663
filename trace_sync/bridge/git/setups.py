"""The setup step of a new worktree: copy git-ignored files, then run a command.

A fresh worktree lacks what git ignores (``.env``, local config, caches), so
the repository's settings list patterns (globs allowed, relative to the
checkout) of such files to copy from the person's checkout. Only files that
exist, are ignored by git and stay inside the checkout are copied. Then an
optional shell command (``npm ci``, ``uv sync``...) runs in the worktree
under a time limit, its output captured (the last :data:`OUTPUT_LIMIT`
bytes) and returned: a failing setup is reported, not raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from trace_sync.bridge.git.files import confine
from trace_sync.bridge.git.gitexec import git, nul_split
from trace_sync.bridge.git.worktrees import Worktree
from trace_sync.contract.errors import InvalidInput, TooLarge

MAX_FILES = 1000
MAX_BYTES = 200 * 1024 * 1024
OUTPUT_LIMIT = 64 * 1024
DEFAULT_TIMEOUT = 600.0


@dataclass(frozen=True)
class SetupResult:
    copied: list[str] = field(default_factory=list)
    command: str | None = None
    exit_code: int | None = None
    output: str = ""
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.exit_code in (0, None)


async def run_setup(
    tree: Worktree,
    *,
    copy: Sequence[str] = (),
    command: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> SetupResult:
    """Copy the ignored files matching ``copy`` into the worktree, then run ``command``."""
    copied = await asyncio.to_thread(copy_ignored, tree.checkout, tree.path, copy)
    if not command:
        return SetupResult(copied)
    code, output, timed_out = await _run(command, tree.path, timeout)
    return SetupResult(copied, command, code, output, timed_out)


def copy_ignored(source: Path, target: Path, patterns: Sequence[str]) -> list[str]:
    """Copy the git-ignored files of ``source`` matching ``patterns`` to ``target``."""
    found = sorted({path for pattern in patterns for path in _matches(source, pattern)})
    chosen = _ignored(source, found)
    if len(chosen) > MAX_FILES:
        raise TooLarge(f"{len(chosen)} files match the setup's copy list (limit {MAX_FILES})")
    size = sum((source / name).stat().st_size for name in chosen)
    if size > MAX_BYTES:
        raise TooLarge(f"the files to copy hold {size} bytes (limit {MAX_BYTES})")
    for name in chosen:
        destination = confine(target, name)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(confine(source, name), destination)
    return chosen


def _matches(source: Path, pattern: str) -> list[str]:
    relative = PurePosixPath(pattern)
    if not pattern or relative.is_absolute() or ".." in relative.parts:
        raise InvalidInput(f"copy pattern {pattern!r} must be relative to the checkout")
    try:
        matches = list(source.glob(pattern))
    except ValueError as exc:
        raise InvalidInput(f"bad copy pattern {pattern!r}: {exc}") from exc
    names = []
    for match in matches:
        name = match.relative_to(source).as_posix()
        try:
            real = confine(source, name)
        except InvalidInput:
            continue  # symlinks out of the checkout and .git stay where they are
        if real.is_file():
            names.append(name)
    return names


def _ignored(source: Path, names: list[str]) -> list[str]:
    if not names:
        return []
    stdin = b"".join(name.encode("utf-8", "surrogateescape") + b"\0" for name in names)
    # Exit 1 means none is ignored; tracked files are never reported.
    result = git(source, "check-ignore", "-z", "--stdin", stdin=stdin, ok=(0, 1))
    return sorted(nul_split(result.out))


async def _run(command: str, cwd: Path, timeout: float) -> tuple[int | None, str, bool]:
    process = await asyncio.create_subprocess_shell(
        command,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own process group, so a timeout ends all of it
    )
    tail = bytearray()
    try:
        async with asyncio.timeout(timeout):
            await _collect(process, tail)
            code = await process.wait()
    except TimeoutError:
        _kill_group(process.pid)
        await process.wait()
        return None, _text(tail), True
    except BaseException:
        _kill_group(process.pid)
        raise
    return code, _text(tail), False


async def _collect(process: asyncio.subprocess.Process, tail: bytearray) -> None:
    assert process.stdout is not None  # stdout=PIPE above
    while chunk := await process.stdout.read(65536):
        tail += chunk
        del tail[: max(0, len(tail) - OUTPUT_LIMIT)]


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _text(data: bytearray) -> str:
    return bytes(data).decode("utf-8", "replace")
