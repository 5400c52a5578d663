"""The changed files of a worktree against the merge-base with its base branch.

One refresh is a fixed family of git calls whatever the number of files:
list untracked files, mark them intent-to-add in a private copy of the index
(so they diff as new files while nothing is written to the object store or
the person's index), then one ``diff-index`` for statuses and +/- counts and
one for the patches of the files small enough to inline. Binary files and
big diffs are summarized instead (``diff`` absent, ``summary`` says why).
Plumbing commands are used so a person's diff settings (colour, prefixes,
external drivers) cannot change what is parsed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pycrdt import Doc

from trace_sync.bridge.git.gitexec import git, nul_split, out, resolve, temp_index
from trace_sync.bridge.git.worktrees import Worktree
from trace_sync.docs.entries import FileChange
from trace_sync.docs.layouts import SESSION_IO
from trace_sync.docs.typed import delete, put, root_of

DIFF_BYTES_LIMIT = 256 * 1024
DIFF_LINES_LIMIT = 5000
#: Inlined diffs of one change set together stay under this, so the ``io``
#: document stays small enough to open on a phone; later files are summarized.
DIFF_BUDGET = 4 * 1024 * 1024

ChangeSet = dict[str, FileChange]
Status = Literal["added", "modified", "deleted", "renamed", "untracked"]

_STATUS: dict[str, Status] = {"A": "added", "D": "deleted", "R": "renamed"}
_QUOTED = {7: "a", 8: "b", 9: "t", 10: "n", 11: "v", 12: "f", 13: "r", 34: '"', 92: "\\"}
_CHUNK = re.compile(rb"^(?=diff --git )", re.MULTILINE)
#: Keep file names unquoted in patch headers except where git must quote them.
_NAMES = ("-c", "core.quotePath=false")


@dataclass(frozen=True)
class _Entry:
    letter: str
    path: str
    old_path: str | None
    added: int
    removed: int
    binary: bool

    @property
    def names(self) -> tuple[str, ...]:
        return (self.path,) if self.old_path is None else (self.old_path, self.path)


async def collect_changes(tree: Worktree) -> ChangeSet:
    """Path -> change of every file that differs from the merge-base with the base branch."""
    return await asyncio.to_thread(_collect, tree.path, tree.base)


def apply_changes(doc: Doc[Any], changes: Mapping[str, FileChange], *, origin: object) -> int:
    """Make the ``io`` document's ``files`` Map equal ``changes``, touching only what differs.

    Returns how many keys were written or deleted (0: no update at all).
    """
    files = root_of(doc, SESSION_IO, "files")
    stale = [path for path in files if path not in changes]
    fresh = {
        path: change
        for path, change in changes.items()
        if files.get(path) != change.model_dump(mode="json", exclude_none=True)
    }
    if stale or fresh:
        with doc.transaction(origin=origin):
            for path in stale:
                delete(doc, SESSION_IO, "files", path, origin=origin)
            for path, change in fresh.items():
                put(doc, SESSION_IO, "files", path, change, origin=origin)
    return len(stale) + len(fresh)


def _collect(worktree: Path, base: str) -> ChangeSet:
    point = out(worktree, "merge-base", resolve(worktree, f"refs/heads/{base}"), "HEAD")
    untracked = _untracked(worktree)
    with temp_index(worktree) as env:
        if untracked:
            listed = b"".join(_raw(path) + b"\0" for path in untracked)
            git(
                worktree,
                "add",
                "--intent-to-add",
                "--pathspec-from-file=-",
                "--pathspec-file-nul",
                env={**env, "GIT_LITERAL_PATHSPECS": "1"},
                stdin=listed,
            )
        # Stat-only differences (a touched file) must not show as modifications.
        git(worktree, "update-index", "-q", "--refresh", env=env, ok=(0, 1))
        entries = _entries(worktree, point, env)
        patches = _patches(worktree, point, env, entries)
    return _changes(worktree, entries, untracked, patches)


def _untracked(worktree: Path) -> set[str]:
    listed = git(worktree, "ls-files", "-z", "--others", "--exclude-standard").out
    return {path for path in nul_split(listed) if not path.endswith("/")}  # not nested repos


def _entries(worktree: Path, point: str, env: dict[str, str]) -> list[_Entry]:
    args = ("diff-index", "-M", "--raw", "--numstat", "-z", point)
    tokens = git(worktree, *_NAMES, *args, env=env).out.split(b"\0")
    records: list[tuple[str, list[str]]] = []
    counts: list[tuple[bytes, bytes]] = []
    i = 0
    while i < len(tokens) and tokens[i]:
        token = tokens[i]
        if token.startswith(b":"):
            letter = token.split()[-1][:1].decode()
            width = 2 if letter in "RC" else 1
            records.append((letter, nul_split(b"\0".join(tokens[i + 1 : i + 1 + width]))))
            i += 1 + width
        else:
            added, removed, name = token.split(b"\t", 2)
            counts.append((added, removed))
            i += 1 if name else 3  # a rename's two names follow its counts
    return [
        _entry(letter, names, *count)
        for (letter, names), count in zip(records, counts, strict=True)
    ]


def _entry(letter: str, names: list[str], added: bytes, removed: bytes) -> _Entry:
    binary = added == b"-"
    old = names[0] if len(names) == 2 else None
    return _Entry(
        letter, names[-1], old, 0 if binary else int(added), 0 if binary else int(removed), binary
    )


def _patches(
    worktree: Path, point: str, env: dict[str, str], entries: list[_Entry]
) -> dict[str, bytes]:
    inline = [entry for entry in entries if _inlinable(entry)]
    if not inline:
        return {}
    args = ["diff-index", "-p", "-M", point]
    if len(inline) < len(entries):
        skipped = [name for entry in entries if not _inlinable(entry) for name in entry.names]
        args += ["--", ".", *(f":(exclude,literal){name}" for name in skipped)]
    chunks = _CHUNK.split(git(worktree, *_NAMES, *args, env=env).out)
    by_header = {chunk.split(b"\n", 1)[0]: chunk for chunk in chunks if chunk}
    found = {entry.path: by_header.get(_header(entry)) for entry in inline}
    return {path: chunk for path, chunk in found.items() if chunk is not None}


def _inlinable(entry: _Entry) -> bool:
    return not entry.binary and entry.added + entry.removed <= DIFF_LINES_LIMIT


def _changes(
    worktree: Path, entries: list[_Entry], untracked: set[str], patches: dict[str, bytes]
) -> ChangeSet:
    budget = DIFF_BUDGET
    changes: ChangeSet = {}
    for entry in entries:
        patch = patches.get(entry.path)
        summary = _why_summarized(worktree, entry, patch, budget)
        if summary is None and patch is not None:
            budget -= len(patch)
        changes[entry.path] = FileChange(
            path=entry.path,
            status=_status(entry, untracked),
            old_path=entry.old_path,
            added=entry.added,
            removed=entry.removed,
            binary=entry.binary,
            diff=None if summary or patch is None else patch.decode("utf-8", "replace"),
            summary=summary,
        )
    return changes


def _why_summarized(worktree: Path, entry: _Entry, patch: bytes | None, budget: int) -> str | None:
    if entry.binary:
        size = _size(worktree / entry.path)
        return "binary file" + ("" if size is None else f", {size} bytes")
    lines = entry.added + entry.removed
    if lines > DIFF_LINES_LIMIT:
        return f"{lines} lines changed; diffs over {DIFF_LINES_LIMIT} lines are not inlined"
    if patch is None:
        return "diff unavailable"
    if len(patch) > DIFF_BYTES_LIMIT:
        limit = DIFF_BYTES_LIMIT // 1024
        return f"diff of {len(patch) // 1024} KiB; diffs over {limit} KiB are not inlined"
    if len(patch) > budget:
        return f"diffs of this change set are over {DIFF_BUDGET // (1024 * 1024)} MiB; not inlined"
    return None


def _status(entry: _Entry, untracked: set[str]) -> Status:
    if entry.letter == "A" and entry.path in untracked:
        return "untracked"
    return _STATUS.get(entry.letter, "modified")


def _header(entry: _Entry) -> bytes:
    old = entry.old_path or entry.path
    return b"diff --git " + _quote(b"a/" + _raw(old)) + b" " + _quote(b"b/" + _raw(entry.path))


def _quote(name: bytes) -> bytes:
    """A name as git writes it in a patch header (C-style quoting only when needed)."""
    if not any(byte < 32 or byte == 127 or byte in (34, 92) for byte in name):
        return name
    parts = []
    for byte in name:
        if byte in _QUOTED:
            parts.append(b"\\" + _QUOTED[byte].encode())
        elif byte < 32 or byte == 127:
            parts.append(b"\\%03o" % byte)
        else:
            parts.append(bytes([byte]))
    return b'"' + b"".join(parts) + b'"'


def _raw(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


def _size(path: Path) -> int | None:
    try:
        return path.lstat().st_size
    except FileNotFoundError:
        return None
