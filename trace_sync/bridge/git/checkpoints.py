"""Checkpoints: commits of a worktree's whole state on private refs.

A checkpoint is a commit of everything git would see after ``git add -A``
(tracked changes, new untracked files, deletions; ignored files left out),
whose parent is the session branch's head, stored at
``refs/trace/checkpoints/<sid>/<n>``. Taking one moves no branch and leaves
the person's index and files alone: the tree is built in a private copy of
the index (``GIT_INDEX_FILE``). Its message carries the label and the tool's
conversation point as ``Trace-*`` trailers, so listing needs only git.

>>> cp = await create_checkpoint(tree, "before refactor")  # doctest: +SKIP
>>> [c.n for c in await list_checkpoints(tree.checkout, tree.sid)]  # doctest: +SKIP
[1]
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

from trace_sync.bridge.git.gitexec import GitFailed, commit_tree, git, out, rev, temp_index
from trace_sync.bridge.git.worktrees import Worktree, check_name
from trace_sync.contract.errors import Conflict, NotFound
from trace_sync.docs.entries import Checkpoint, ToolPoint

REF_PREFIX = "refs/trace/checkpoints"
_TRAILER = re.compile(r"^Trace-([A-Za-z-]+): (.*)$", re.MULTILINE)
_CREATE_ATTEMPTS = 5


def checkpoint_ref(sid: str, n: int) -> str:
    return f"{REF_PREFIX}/{check_name(sid, 'session id')}/{n}"


async def create_checkpoint(
    tree: Worktree,
    label: str = "",
    *,
    tool_session_id: str | None = None,
    tool_point: str | None = None,
) -> Checkpoint:
    """Record the worktree's state as checkpoint ``n`` (the next number of the session)."""
    point = {"Tool-Session": tool_session_id, "Tool-Point": tool_point}
    return await asyncio.to_thread(_create, tree, label, point)


async def list_checkpoints(checkout: Path, sid: str) -> list[Checkpoint]:
    """The session's checkpoints, oldest first (works with the worktree archived)."""
    return await asyncio.to_thread(_list, checkout, sid)


async def restore_checkpoint(
    tree: Worktree, n: int, *, keep_current: bool = True, point: ToolPoint | None = None
) -> Checkpoint | None:
    """Bring the worktree's files back to checkpoint ``n``, exactly.

    Modified, added and deleted files return to their recorded state; files
    git would track that the checkpoint lacks are removed; ignored files stay.
    The session branch and the person's index are not touched. Unless
    ``keep_current`` is false, the state being replaced is first kept as a new
    checkpoint (returned), so a restore can itself be undone; ``point`` is where
    the tool's conversation stood, for that checkpoint's trailers.
    """
    kept: dict[str, str | None] = {}
    if point is not None:
        kept = {"Tool-Session": point.tool_session_id, "Tool-Point": point.tool_point}
    return await asyncio.to_thread(_restore, tree, n, keep_current, kept)


async def has_changes(tree: Worktree) -> bool:
    """Whether the worktree's state differs from its branch head (ignored files aside)."""
    return await asyncio.to_thread(_has_changes, tree.path)


def snapshot(worktree: Path) -> str:
    """The tree object of the worktree's full state (built in a private index)."""
    with temp_index(worktree) as env:
        git(worktree, "add", "--all", env=env)
        return out(worktree, "write-tree", env=env)


def checkpoint_commit(checkout: Path, sid: str, n: int) -> str:
    """The commit of checkpoint ``n``; :class:`NotFound` if there is none."""
    commit = rev(checkout, checkpoint_ref(sid, n) + "^{commit}")
    if commit is None:
        raise NotFound(f"session {sid} has no checkpoint {n}")
    return commit


def _has_changes(worktree: Path) -> bool:
    return snapshot(worktree) != rev(worktree, "HEAD^{tree}")


def _create(tree: Worktree, label: str, point: dict[str, str | None]) -> Checkpoint:
    return _record(tree, snapshot(tree.path), label, point)


def _record(tree: Worktree, state: str, label: str, point: dict[str, str | None]) -> Checkpoint:
    head = rev(tree.path, "HEAD^{commit}")
    if head is None:
        raise Conflict(f"the worktree at {tree.path} has no commit to build on")
    label = _one_line(label)
    for _ in range(_CREATE_ATTEMPTS):
        n = _next_number(tree.checkout, tree.sid)
        at = datetime.now(UTC).replace(microsecond=0)
        commit = _commit(tree, state, head, n, at, label, point)
        ref = checkpoint_ref(tree.sid, n)
        try:  # the empty old value makes this fail if another writer took ``n`` first
            git(tree.checkout, "update-ref", ref, commit, "")
        except GitFailed:
            continue
        return Checkpoint(n=n, ref=ref, commit=commit, at=at, label=label, **_present(point))
    raise Conflict(f"could not number a checkpoint of session {tree.sid}: too many writers")


def _commit(
    tree: Worktree,
    state: str,
    head: str,
    n: int,
    at: datetime,
    label: str,
    point: dict[str, str | None],
) -> str:
    trailers = {"Session": tree.sid, "Checkpoint": str(n), "Label": label, **point}
    lines = [f"Trace-{key}: {_one_line(value)}" for key, value in trailers.items() if value]
    message = f"{label or f'Checkpoint {n}'}\n\n" + "\n".join(lines) + "\n"
    stamp = f"@{int(at.timestamp())} +0000"
    env = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    return commit_tree(tree.path, state, [head], message, env=env)


def _list(checkout: Path, sid: str) -> list[Checkpoint]:
    prefix = f"{REF_PREFIX}/{check_name(sid, 'session id')}/"
    fmt = "%(refname)%00%(objectname)%00%(committerdate:unix)%00%(contents)%00"
    fields = git(checkout, "for-each-ref", f"--format={fmt}", prefix).out.split(b"\0")
    found = []
    for i in range(0, len(fields) - 4, 4):
        ref, commit, stamp, message = (f.decode("utf-8", "replace") for f in fields[i : i + 4])
        ref = ref.lstrip("\n")
        number = ref.removeprefix(prefix)
        if number.isdigit():
            found.append(_parse(ref, int(number), commit, int(stamp), message))
    return sorted(found, key=lambda cp: cp.n)


def _parse(ref: str, n: int, commit: str, stamp: int, message: str) -> Checkpoint:
    trailers = dict(_TRAILER.findall(message))
    return Checkpoint(
        n=n,
        ref=ref,
        commit=commit,
        at=datetime.fromtimestamp(stamp, UTC),
        label=trailers.get("Label", ""),
        tool_session_id=trailers.get("Tool-Session"),
        tool_point=trailers.get("Tool-Point"),
    )


def _next_number(checkout: Path, sid: str) -> int:
    return max((cp.n for cp in _list(checkout, sid)), default=0) + 1


def _restore(
    tree: Worktree, n: int, keep_current: bool, point: dict[str, str | None]
) -> Checkpoint | None:
    target = checkpoint_commit(tree.checkout, tree.sid, n)
    with temp_index(tree.path) as env:
        # The private index first describes the worktree as it is, so that the
        # two-tree reset below knows which files to delete and which to write.
        git(tree.path, "add", "--all", env=env)
        current = out(tree.path, "write-tree", env=env)
        if current == rev(tree.checkout, target + "^{tree}"):
            return None
        kept = None
        if keep_current:
            kept = _record(tree, current, f"Before restoring checkpoint {n}", point)
        git(tree.path, "read-tree", "--reset", "-u", target, env=env)
    return kept


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def _present(point: dict[str, str | None]) -> dict[str, str]:
    names = {"Tool-Session": "tool_session_id", "Tool-Point": "tool_point"}
    return {names[key]: _one_line(value) for key, value in point.items() if value}
