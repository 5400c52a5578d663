"""Merging a session's work into its base branch.

The merge is computed by ``git merge-tree --write-tree``, in the object
store only: no working tree ever holds a half-merged state, so a conflict
needs no abort and leaves the base branch, the person's checkout and the
session's worktree exactly as they were. Only when the merge is clean do
refs move, in this order:

1. the worktree's state becomes a commit on the session branch (if it
   differs from the branch head), with the caller's message;
2. a merge commit of the session branch into the base is made;
3. the base branch moves to it: by ``git merge --ff-only`` in the checkout
   that has the base checked out (so its files follow; refused if that
   checkout has uncommitted changes to tracked files), else by a
   compare-and-swap ``update-ref``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from trace_sync.errors import Conflict, InvalidInput
from trace_sync.runtime.checkpoints import snapshot
from trace_sync.runtime.gitexec import commit_tree, git, nul_split, resolve
from trace_sync.runtime.worktrees import Worktree, checked_out_at


@dataclass(frozen=True)
class MergeResult:
    merged: bool
    #: The base branch's new head, when merged.
    commit: str | None = None
    #: Paths in conflict, when not merged (nothing was changed then).
    conflicts: list[str] = field(default_factory=list)
    #: The commit of the worktree's state added to the session branch, if one was needed.
    session_commit: str | None = None


async def merge_session(tree: Worktree, message: str) -> MergeResult:
    """Commit the worktree's state with ``message`` and merge the session branch into its base.

    On conflicts returns ``merged=False`` and the conflicting paths, having
    changed nothing. Raises :class:`Conflict` if the base branch is checked out
    with uncommitted changes, or if it moved while merging.
    """
    if not message.strip():
        raise InvalidInput("a merge needs a commit message")
    return await asyncio.to_thread(_merge, tree, message)


def _merge(tree: Worktree, message: str) -> MergeResult:
    if tree.branch == tree.base:
        raise InvalidInput(f"the session branch {tree.branch!r} is its own base")
    base_checkout = _clean_checkout_of(tree.checkout, tree.base)
    head = resolve(tree.path, "HEAD")
    state = snapshot(tree.path)
    tip = head
    if state != resolve(tree.path, "HEAD^{tree}"):
        tip = commit_tree(tree.path, state, [head], message)
    base_tip = resolve(tree.checkout, f"refs/heads/{tree.base}")
    if _is_ancestor(tree.checkout, tip, base_tip):
        return MergeResult(True, base_tip)
    merged_tree, conflicts = _merge_tree(tree.checkout, base_tip, tip)
    if conflicts:
        return MergeResult(False, conflicts=conflicts)
    if tip != head:
        _advance_session(tree, tip, head)
    title = f"Merge {tree.branch} into {tree.base}\n\n{message.strip()}\n"
    commit = commit_tree(tree.checkout, merged_tree, [base_tip, tip], title)
    _advance_base(tree, base_checkout, commit, base_tip)
    return MergeResult(True, commit, session_commit=tip if tip != head else None)


def _clean_checkout_of(checkout: Path, base: str) -> Path | None:
    where = checked_out_at(checkout, base)
    if where is None:
        return None
    # No optional locks: looking must not rewrite the person's index.
    env = {"GIT_OPTIONAL_LOCKS": "0"}
    dirty = git(where, "status", "--porcelain", "-z", "--untracked-files=no", env=env).out
    if dirty:
        raise Conflict(
            f"{base!r} is checked out at {where} with uncommitted changes; "
            "commit or stash them, then merge again"
        )
    return where


def _is_ancestor(cwd: Path, older: str, newer: str) -> bool:
    return git(cwd, "merge-base", "--is-ancestor", older, newer, ok=(0, 1)).status == 0


def _merge_tree(cwd: Path, ours: str, theirs: str) -> tuple[str, list[str]]:
    args = ("merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", ours, theirs)
    result = git(cwd, *args, ok=(0, 1))
    tree, *paths = nul_split(result.out)
    return tree, sorted(set(paths)) if result.status == 1 else []


def _advance_session(tree: Worktree, tip: str, head: str) -> None:
    # Compare-and-swap: a commit the tool made meanwhile is never dropped.
    git(
        tree.path,
        "update-ref",
        "-m",
        "trace: commit for merge",
        f"refs/heads/{tree.branch}",
        tip,
        head,
    )
    git(tree.path, "reset", "--quiet")  # the session's index now matches its new head


def _advance_base(tree: Worktree, base_checkout: Path | None, commit: str, old: str) -> None:
    if base_checkout is None:
        git(
            tree.checkout,
            "update-ref",
            "-m",
            f"trace: merge {tree.branch}",
            f"refs/heads/{tree.base}",
            commit,
            old,
        )
        return
    # A fast-forward never loses local work: git refuses before touching a file.
    git(base_checkout, "merge", "--ff-only", "--quiet", commit)
