"""Merging a session's work into its base branch.

The merge is computed by ``git merge-tree --write-tree``, in the object
store only: no working tree ever holds a half-merged state, so a conflict
needs no abort and leaves the base branch, the person's checkout and the
session's worktree exactly as they were. Only when the merge is clean do
refs move, in this order:

1. the worktree's state becomes a commit on the session branch (if it
   differs from the branch head), with the caller's message;
2. a merge commit of the session branch into the base is made (``squash``:
   one commit with the base as its only parent; ``rebase``: the session's
   commits are replayed on the base in its own worktree, so the base moves
   forward to them);
3. the base branch moves to it: by ``git merge --ff-only`` in the checkout
   that has the base checked out (so its files follow; refused if that
   checkout has uncommitted changes to tracked files), else by a
   compare-and-swap ``update-ref``.

A cloud session's branch is brought back from its sandbox's clone and merged
in the repo with :func:`merge_branch`: the clone's base may be behind.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from trace_sync.bridge.git.branches import (
    advance_session,
    is_ancestor,
    merge_tree,
    rebase_onto,
    replay,
    state_commit,
)
from trace_sync.bridge.git.gitexec import commit_tree, git, resolve
from trace_sync.bridge.git.worktrees import Worktree, checked_out_at
from trace_sync.contract.errors import Conflict, InvalidInput

#: How the session's work joins its base: a merge commit, one squashed commit,
#: or its commits replayed on the base (the base then only moves forward).
Strategy = Literal["merge", "squash", "rebase"]
STRATEGIES: tuple[Strategy, ...] = ("merge", "squash", "rebase")


@dataclass(frozen=True)
class MergeResult:
    merged: bool
    #: The base branch's new head, when merged.
    commit: str | None = None
    #: Paths in conflict, when not merged (nothing was changed then).
    conflicts: list[str] = field(default_factory=list)
    #: The commit of the worktree's state added to the session branch, if one was needed.
    session_commit: str | None = None
    strategy: Strategy = "merge"


async def merge_session(tree: Worktree, message: str, strategy: Strategy = "merge") -> MergeResult:
    """Commit the worktree's state with ``message`` and bring the session branch into its base.

    On conflicts returns ``merged=False`` and the conflicting paths, having
    changed nothing (a rebase keeps the worktree's state as a commit on the
    session branch). Raises :class:`Conflict` if the base branch is checked out
    with uncommitted changes, or if it moved while merging.
    """
    if not message.strip():
        raise InvalidInput("a merge needs a commit message")
    if strategy not in STRATEGIES:
        raise InvalidInput(f"a merge strategy is one of {', '.join(STRATEGIES)}")
    return await asyncio.to_thread(_merge, tree, message, strategy)


def _merge(tree: Worktree, message: str, strategy: Strategy) -> MergeResult:
    if tree.branch == tree.base:
        raise InvalidInput(f"the session branch {tree.branch!r} is its own base")
    base_checkout = _clean_checkout_of(tree.checkout, tree.base)
    head, tip = state_commit(tree, message)
    base_tip = resolve(tree.checkout, f"refs/heads/{tree.base}")
    if is_ancestor(tree.checkout, tip, base_tip):
        return MergeResult(True, base_tip, strategy=strategy)
    merged_tree, conflicts = merge_tree(tree.checkout, base_tip, tip)
    if conflicts:
        return MergeResult(False, conflicts=conflicts, strategy=strategy)
    if tip != head:
        advance_session(tree, tip, head)
    made = tip if tip != head else None
    if strategy == "rebase":
        return _rebase(tree, base_checkout, base_tip, made)
    commit = _join(tree, merged_tree, base_tip, tip, message, strategy)
    _advance_base(tree, base_checkout, commit, base_tip)
    return MergeResult(True, commit, session_commit=made, strategy=strategy)


async def merge_branch(
    checkout: Path, branch: str, base: str, message: str, strategy: Strategy = "merge"
) -> MergeResult:
    """Bring ``branch``, which has no worktree here, into ``base`` (a cloud session's
    branch brought back from its clone). As :func:`merge_session`, except that a
    rebase replays the commits in a scratch worktree and leaves ``branch`` as it is."""
    if strategy not in STRATEGIES:
        raise InvalidInput(f"a merge strategy is one of {', '.join(STRATEGIES)}")
    tree = Worktree("", checkout, checkout, branch, base)
    return await asyncio.to_thread(_merge_branch, tree, message, strategy)


def _merge_branch(tree: Worktree, message: str, strategy: Strategy) -> MergeResult:
    if tree.branch == tree.base:
        raise InvalidInput(f"the session branch {tree.branch!r} is its own base")
    base_checkout = _clean_checkout_of(tree.checkout, tree.base)
    tip = resolve(tree.checkout, f"refs/heads/{tree.branch}")
    base_tip = resolve(tree.checkout, f"refs/heads/{tree.base}")
    if is_ancestor(tree.checkout, tip, base_tip):
        return MergeResult(True, base_tip, strategy=strategy)
    merged_tree, conflicts = merge_tree(tree.checkout, base_tip, tip)
    if conflicts:
        return MergeResult(False, conflicts=conflicts, strategy=strategy)
    if strategy == "rebase":
        commit, conflicts = replay(tree.checkout, base_tip, tip)
        if commit is None:
            return MergeResult(False, conflicts=conflicts, strategy=strategy)
    else:
        commit = _join(tree, merged_tree, base_tip, tip, message, strategy)
    _advance_base(tree, base_checkout, commit, base_tip)
    return MergeResult(True, commit, strategy=strategy)


def _join(
    tree: Worktree, merged_tree: str, base_tip: str, tip: str, message: str, strategy: Strategy
) -> str:
    """The commit the base moves to: a merge of both, or (squash) one on the base."""
    if strategy == "squash":
        return commit_tree(tree.checkout, merged_tree, [base_tip], f"{message.strip()}\n")
    title = f"Merge {tree.branch} into {tree.base}\n\n{message.strip()}\n"
    return commit_tree(tree.checkout, merged_tree, [base_tip, tip], title)


def _rebase(
    tree: Worktree, base_checkout: Path | None, base_tip: str, made: str | None
) -> MergeResult:
    conflicts = rebase_onto(tree, base_tip, keep_conflicts=False)
    if conflicts:  # one of the replayed commits clashes though the whole does not
        return MergeResult(False, conflicts=conflicts, session_commit=made, strategy="rebase")
    commit = resolve(tree.path, "HEAD")
    _advance_base(tree, base_checkout, commit, base_tip)
    return MergeResult(True, commit, session_commit=made, strategy="rebase")


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
