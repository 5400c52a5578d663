"""Reading and writing files confined to a worktree.

A path comes in relative to the worktree and is resolved, never
concatenated: ``..``, absolute paths, paths into ``.git`` and symlinks that
lead outside (at any component) are refused with :class:`InvalidInput`.
The final open uses ``O_NOFOLLOW`` so a symlink swapped in after the check
is refused too.
"""

from __future__ import annotations

import asyncio
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from trace_sync.contract.errors import InvalidInput, NotFound, TooLarge

READ_LIMIT = 8 * 1024 * 1024
WRITE_LIMIT = 8 * 1024 * 1024
MAX_PATH = 4096
#: Mode of a file the write creates (the umask is process-wide state; not read here).
NEW_FILE_MODE = 0o644
#: Git's own heuristic: a NUL byte in the first 8000 bytes means binary.
_SNIFF = 8000


@dataclass(frozen=True)
class FileContent:
    path: str
    size: int
    binary: bool
    data: bytes

    @property
    def text(self) -> str | None:
        """The content as text, or None for a binary file."""
        return None if self.binary else self.data.decode("utf-8")


def confine(root: Path, relative: str) -> Path:
    """The resolved path of ``relative`` inside ``root``; refused if it leads elsewhere."""
    parts = _parts(relative)
    try:
        base = root.resolve(strict=True)
    except FileNotFoundError as exc:
        raise NotFound(f"no worktree at {root}") from exc
    resolved = base.joinpath(*parts).resolve()
    if resolved == base or not resolved.is_relative_to(base):
        raise InvalidInput(f"{relative!r} leads outside the worktree")
    if _into_git(resolved.relative_to(base).parts):
        raise InvalidInput(f"{relative!r} leads into .git")
    return resolved


async def read_file(root: Path, relative: str, *, limit: int = READ_LIMIT) -> FileContent:
    """The content of a worktree file (at most ``limit`` bytes, else :class:`TooLarge`)."""
    return await asyncio.to_thread(_read, root, relative, limit)


async def write_file(
    root: Path, relative: str, content: str | bytes, *, limit: int = WRITE_LIMIT
) -> int:
    """Replace (or create) a worktree file atomically; returns the bytes written."""
    data = content.encode() if isinstance(content, str) else content
    if len(data) > limit:
        raise TooLarge(f"{len(data)} bytes is over the {limit}-byte limit for a file write")
    return await asyncio.to_thread(_write, root, relative, data)


def is_binary(data: bytes) -> bool:
    if b"\0" in data[:_SNIFF]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _parts(relative: str) -> tuple[str, ...]:
    if not relative or len(relative) > MAX_PATH or "\0" in relative:
        raise InvalidInput("a path must be 1 to 4096 characters without NUL")
    path = PurePosixPath(relative)
    if path.is_absolute():
        raise InvalidInput(f"{relative!r} is absolute; give a path inside the worktree")
    if ".." in path.parts:
        raise InvalidInput(f"{relative!r} climbs out with '..'")
    if _into_git(path.parts):
        raise InvalidInput(f"{relative!r} leads into .git")
    return path.parts


def _into_git(parts: tuple[str, ...]) -> bool:
    return any(part.lower() == ".git" for part in parts)


def _read(root: Path, relative: str, limit: int) -> FileContent:
    path = confine(root, relative)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError as exc:
        raise NotFound(f"no file {relative!r} in the worktree") from exc
    except OSError as exc:
        raise InvalidInput(f"cannot read {relative!r}: {exc.strerror}") from exc
    try:
        data = _read_regular(fd, relative, limit)
    finally:
        os.close(fd)
    return FileContent(relative, len(data), is_binary(data), data)


def _read_regular(fd: int, relative: str, limit: int) -> bytes:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise InvalidInput(f"{relative!r} is not a regular file")
    if info.st_size > limit:
        raise TooLarge(f"{relative!r} is {info.st_size} bytes, over the {limit}-byte limit")
    chunks, left = [], limit + 1
    while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
        chunks.append(chunk)
        left -= len(chunk)
    if left <= 0:
        raise TooLarge(f"{relative!r} grew over the {limit}-byte limit while being read")
    return b"".join(chunks)


def _write(root: Path, relative: str, data: bytes) -> int:
    path = confine(root, relative)
    if path.is_dir():
        raise InvalidInput(f"{relative!r} is a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace(path, data)
    except (NotADirectoryError, FileExistsError) as exc:
        raise InvalidInput(f"a parent of {relative!r} is a file") from exc
    except OSError as exc:
        raise InvalidInput(f"cannot write {relative!r}: {exc.strerror}") from exc
    return len(data)


def _replace(path: Path, data: bytes) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = NEW_FILE_MODE
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=".trace-write-")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            os.fchmod(file.fileno(), mode)
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
