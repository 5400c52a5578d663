"""Session worktrees: a git worktree per session, on its own branch ``trace/<slug>``.

Worktrees live under the caller's data dir (``<data>/worktrees/<sid>``) and
share the object store and refs of the person's checkout, so checkpoints,
branches and merges are visible from the checkout too.

>>> tree = await create_worktree(checkout, data, "s_1", "fix-login", "main")  # doctest: +SKIP
>>> tree.branch
'trace/fix-login'
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from trace_sync.bridge.git.gitexec import git, nul_split, rev
from trace_sync.contract.errors import Conflict, InvalidInput, NotFound

#: Session ids and slugs become directory names and ref components.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
BRANCH_PREFIX = "trace/"


@dataclass(frozen=True)
class Worktree:
    """Where a session's files are, its branch, and the base branch it merges into."""

    sid: str
    #: The person's checkout the worktree belongs to (shares its objects and refs).
    checkout: Path
    path: Path
    branch: str
    base: str


def worktree_path(data_dir: Path, sid: str) -> Path:
    return data_dir / "worktrees" / check_name(sid, "session id")


def branch_name(slug: str) -> str:
    return BRANCH_PREFIX + check_name(slug, "branch slug")


def check_name(name: str, what: str) -> str:
    if not _NAME.match(name) or ".." in name or name.endswith(".lock"):
        raise InvalidInput(f"bad {what} {name!r}: letters, digits, '.', '_', '-' (max 80)")
    return name


def slugify(title: str, sid: str) -> str:
    """A branch slug from a session title, made unique by the session id's tail."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:40].strip("-")
    tail = re.sub(r"[^a-z0-9]", "", sid.lower())[-6:] or "session"
    return f"{words}-{tail}" if words else tail


async def create_worktree(
    checkout: Path, data_dir: Path, sid: str, slug: str, base: str, *, start: str | None = None
) -> Worktree:
    """A new worktree on a new branch ``trace/<slug>`` made from ``start`` (default: ``base``)."""
    return await asyncio.to_thread(_create, checkout, data_dir, sid, slug, base, start)


async def open_worktree(
    checkout: Path, data_dir: Path, sid: str, branch: str, base: str
) -> Worktree:
    """The record of an existing session (after a restart, say): its branch must exist;
    its directory need not (an archived session has none)."""
    return await asyncio.to_thread(_open, checkout, data_dir, sid, branch, base)


async def recreate_worktree(tree: Worktree) -> Worktree:
    """The worktree of an archived session, checked out again from its kept branch."""
    return await asyncio.to_thread(_recreate, tree)


async def remove_worktree(tree: Worktree) -> None:
    """Delete the worktree directory (uncommitted files included); the branch stays."""
    await asyncio.to_thread(_remove, tree)


async def disk_usage(path: Path) -> int:
    """Bytes on disk under ``path`` (hard links once, symlinks not followed)."""
    return await asyncio.to_thread(_disk_usage, path)


def toplevel(checkout: Path) -> Path:
    """The top of the checkout containing ``checkout``; a clear error if there is none."""
    if not checkout.is_dir():
        raise NotFound(f"no checkout at {checkout}")
    result = git(checkout, "rev-parse", "--show-toplevel", ok=(0, 128))
    if result.status != 0 or not result.text:
        raise InvalidInput(f"{checkout} is not a git checkout")
    return Path(result.text).resolve()


def checked_out_at(checkout: Path, branch: str) -> Path | None:
    """The worktree (the main checkout included) that has ``branch`` checked out."""
    fields = nul_split(git(checkout, "worktree", "list", "--porcelain", "-z").out)
    path: Path | None = None
    for field in fields:
        if field.startswith("worktree "):
            path = Path(field.removeprefix("worktree "))
        elif field == f"branch refs/heads/{branch}":
            return path
    return None


def _create(
    checkout: Path, data_dir: Path, sid: str, slug: str, base: str, start: str | None
) -> Worktree:
    tree = _planned(checkout, data_dir, sid, slug, base)
    origin = start or f"refs/heads/{base}"
    if rev(tree.checkout, f"refs/heads/{base}") is None:
        raise NotFound(f"no branch {base!r} in {tree.checkout}")
    if rev(tree.checkout, f"{origin}^{{commit}}") is None:
        raise NotFound(f"no commit {origin!r} in {tree.checkout}")
    if rev(tree.checkout, f"refs/heads/{tree.branch}") is not None:
        raise Conflict(f"branch {tree.branch!r} already exists")
    tree.path.parent.mkdir(parents=True, exist_ok=True)
    git(
        tree.checkout,
        "worktree",
        "add",
        "-q",
        "--no-track",
        "-b",
        tree.branch,
        str(tree.path),
        origin,
    )
    return tree


def _open(checkout: Path, data_dir: Path, sid: str, branch: str, base: str) -> Worktree:
    if not branch.startswith(BRANCH_PREFIX):
        raise InvalidInput(f"{branch!r} is not a session branch ({BRANCH_PREFIX}<slug>)")
    tree = Worktree(
        sid,
        toplevel(checkout),
        worktree_path(data_dir, sid).absolute(),
        branch_name(branch.removeprefix(BRANCH_PREFIX)),
        base,
    )
    if rev(tree.checkout, f"refs/heads/{branch}") is None:
        raise NotFound(f"no branch {branch!r} in {tree.checkout}")
    return tree


def _recreate(tree: Worktree) -> Worktree:
    if tree.path.exists():
        raise Conflict(f"{tree.path} already exists")
    if rev(tree.checkout, f"refs/heads/{tree.branch}") is None:
        raise NotFound(f"no branch {tree.branch!r} to restore the worktree from")
    git(tree.checkout, "worktree", "prune")  # forget a worktree whose directory vanished
    where = checked_out_at(tree.checkout, tree.branch)
    if where is not None:
        raise Conflict(f"branch {tree.branch!r} is already checked out at {where}")
    tree.path.parent.mkdir(parents=True, exist_ok=True)
    git(tree.checkout, "worktree", "add", "--quiet", str(tree.path), tree.branch)
    return tree


def _planned(checkout: Path, data_dir: Path, sid: str, slug: str, base: str) -> Worktree:
    path = worktree_path(data_dir, sid).absolute()
    branch = branch_name(slug)
    top = toplevel(checkout)
    if path.exists():
        raise Conflict(f"{path} already exists")
    named = git(top, "check-ref-format", "--branch", base, ok=(0, 128))
    if named.status != 0 or named.text != base:
        raise InvalidInput(f"bad base branch {base!r}")
    return Worktree(sid, top, path, branch, base)


def _remove(tree: Worktree) -> None:
    if tree.path.exists():
        git(tree.checkout, "worktree", "remove", "--force", str(tree.path))
    git(tree.checkout, "worktree", "prune")


def _disk_usage(path: Path) -> int:
    if not path.is_dir():
        raise NotFound(f"no directory at {path}")
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [path]
    while stack:
        for info in _entries(stack.pop()):
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
                if stat.S_ISDIR(info.st_mode):
                    stack.append(Path(info.path))
    return total


@dataclass(frozen=True)
class _Stat:
    path: str
    st_dev: int
    st_ino: int
    st_mode: int
    st_blocks: int


def _entries(directory: Path) -> list[_Stat]:
    """What is in ``directory``, skipping what vanishes while we look (tools delete files)."""
    found = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                found.append(
                    _Stat(entry.path, info.st_dev, info.st_ino, info.st_mode, info.st_blocks)
                )
    except (FileNotFoundError, NotADirectoryError):
        pass
    return found
