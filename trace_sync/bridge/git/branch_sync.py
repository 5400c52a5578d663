"""Keeping a session branch in step with its repo's remote and its base branch.

- :func:`push` sends the session branch (with the worktree's state committed
  on it) to the repo's remote under the same name; a remote that moved on is
  never overwritten.
- :func:`update` brings the base branch into the session branch, by a merge
  commit or by replaying the session's commits on it (the repo chooses).
  Conflicts change nothing, unless the caller asks to leave them in the
  worktree for the tool (or a person) to resolve.
- :func:`fetch` brings the remote's copies of the session branch and of the
  base into the repo's remote-tracking refs (no local branch moves).
- :func:`branch_status` counts commits ahead of and behind the base and the
  remote's copy of the branch (as of the last push or fetch: it never touches
  the network). The base is the local branch, or the remote's copy when a
  fetch found commits on it the local branch lacks; an update brings in the same.

The remote is ``origin``, else the repo's only remote; its URL never leaves
the bridge (it may hold credentials).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from trace_sync.bridge.git.branches import (
    advance_session,
    commit_state,
    counts,
    in_progress,
    is_ancestor,
    merge_tree,
    rebase_onto,
    state_commit,
    unmerged,
)
from trace_sync.bridge.git.gitexec import commit_tree, git, identity, resolve, rev
from trace_sync.bridge.git.worktrees import Worktree
from trace_sync.contract.errors import Conflict, InvalidInput, NotFound
from trace_sync.docs.entries import BranchStatus

UpdateMode = Literal["merge", "rebase"]
UPDATE_MODES: tuple[UpdateMode, ...] = ("merge", "rebase")
#: A push that hangs on a dead network gives up rather than hold the session.
PUSH_TIMEOUT_ENV = {"GIT_HTTP_LOW_SPEED_LIMIT": "1", "GIT_HTTP_LOW_SPEED_TIME": "60"}
#: A fetch is only a look: it is killed after this long whatever the transport
#: (under the server's 30 s wait for a bridge's answer, so the answer says why).
FETCH_TIMEOUT_S = 20.0
#: A URL's user and password, as git may echo them in an error.
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


@dataclass(frozen=True)
class PushResult:
    remote: str
    branch: str
    commit: str


@dataclass(frozen=True)
class UpdateResult:
    updated: bool
    mode: UpdateMode
    #: The session branch's new head, when updated.
    commit: str | None = None
    conflicts: list[str] = field(default_factory=list)
    #: True when the conflicts were left in the worktree (a merge or rebase stopped).
    left_in_worktree: bool = False


async def push(tree: Worktree, message: str) -> PushResult:
    """Commit the worktree's state with ``message`` and push the session branch.

    Raises :class:`Conflict` when the repo has no remote, or when the remote's
    branch has commits the session lacks (update, then push again)."""
    return await asyncio.to_thread(_push, tree, message)


async def update(
    tree: Worktree, mode: UpdateMode, message: str, *, leave_conflicts: bool = False
) -> UpdateResult:
    """Bring the base branch into the session branch by ``mode``."""
    if mode not in UPDATE_MODES:
        raise InvalidInput(f"an update is one of {', '.join(UPDATE_MODES)}")
    return await asyncio.to_thread(_update, tree, mode, message, leave_conflicts)


async def fetch(tree: Worktree, timeout: float = FETCH_TIMEOUT_S) -> None:
    """Bring the remote's copies of the session branch and its base into the repo's
    remote-tracking refs. Raises :class:`Conflict` (the remote's URL left out) when
    there is no remote or it cannot be reached; then no ref has moved."""
    await asyncio.to_thread(_fetch, tree, timeout)


async def branch_status(tree: Worktree) -> BranchStatus:
    """Where the session branch stands against its base and the remote."""
    return await asyncio.to_thread(_status, tree)


def remote_of(tree: Worktree) -> str | None:
    """The remote pushes go to: ``origin``, else the only one, else none."""
    names = git(tree.checkout, "remote").text.split()
    if "origin" in names:
        return "origin"
    return names[0] if len(names) == 1 else None


def _push(tree: Worktree, message: str) -> PushResult:
    remote = remote_of(tree)
    if remote is None:
        raise Conflict(f"the repo at {tree.checkout} has no remote to push to")
    if in_progress(tree):
        raise Conflict("the worktree has conflicts to resolve first")
    tip = commit_state(tree, message)
    spec = f"{tip}:refs/heads/{tree.branch}"
    env = identity(tree.path) | PUSH_TIMEOUT_ENV | {"GIT_TERMINAL_PROMPT": "0"}
    done = git(tree.checkout, "push", "--porcelain", remote, spec, env=env, ok=(0, 1, 128))
    if done.status != 0:
        rejected = "[rejected]" in done.text or "non-fast-forward" in done.err
        why = "it has commits the session lacks" if rejected else done.err.strip()[-500:]
        raise Conflict(f"{remote} refused {tree.branch}: {why}")
    # A remote without a fetch refspec for it keeps no tracking ref: keep one anyway.
    git(tree.checkout, "update-ref", f"refs/remotes/{remote}/{tree.branch}", tip)
    return PushResult(remote, tree.branch, tip)


def _fetch(tree: Worktree, timeout: float) -> None:
    remote = remote_of(tree)
    if remote is None:
        raise Conflict(f"the repo at {tree.checkout} has no remote to fetch from")
    tracking = f"refs/remotes/{remote}/{tree.branch}"
    seen = rev(tree.checkout, tracking)
    heads = [f"refs/heads/{name}" for name in dict.fromkeys([tree.branch, tree.base])]
    listed = _from_remote(tree, remote, timeout, "ls-remote", "--heads", remote, *heads)
    found = {line.split()[1] for line in listed.splitlines() if line.strip()}
    specs = [f"+{ref}:refs/remotes/{remote}/{ref.removeprefix('refs/heads/')}" for ref in found]
    if specs:
        _from_remote(tree, remote, timeout, "fetch", "--quiet", "--no-tags", remote, *specs)
    if seen is not None and f"refs/heads/{tree.branch}" not in found:
        # Gone from the remote; a push made meanwhile (from a terminal) keeps its ref.
        git(tree.checkout, "update-ref", "-d", tracking, seen, ok=(0, 1, 128))


def _from_remote(tree: Worktree, remote: str, timeout: float, *args: str) -> str:
    """``git args`` that talk to ``remote``; its failure said without its URL."""
    env = PUSH_TIMEOUT_ENV | {"GIT_TERMINAL_PROMPT": "0"}
    done = git(tree.checkout, *args, env=env, ok=range(-64, 256), timeout=timeout)
    if done.status != 0:
        url = git(tree.checkout, "remote", "get-url", remote).text
        why = _USERINFO.sub("", done.err.replace(url, remote)).strip()[-500:]
        raise Conflict(f"could not reach {remote}: {why or f'git exited with {done.status}'}")
    return done.text


def base_tip(tree: Worktree) -> str | None:
    """The base branch's newest known tip: the local branch, or the remote's copy
    when that only adds commits to it."""
    local = rev(tree.checkout, f"refs/heads/{tree.base}")
    remote = remote_of(tree)
    fetched = rev(tree.checkout, f"refs/remotes/{remote}/{tree.base}") if remote else None
    if local is None or fetched is None or fetched == local:
        return local or fetched
    return fetched if is_ancestor(tree.checkout, local, fetched) else local


def _update(tree: Worktree, mode: UpdateMode, message: str, leave: bool) -> UpdateResult:
    if in_progress(tree):
        raise Conflict("the worktree has conflicts to resolve first")
    onto = _base_for_update(tree)
    head, tip = state_commit(tree, message)
    if is_ancestor(tree.checkout, onto, tip):
        return UpdateResult(True, mode, head)  # nothing new on the base
    merged, conflicts = merge_tree(tree.checkout, tip, onto)
    if conflicts and not leave:
        return UpdateResult(False, mode, conflicts=conflicts)
    if tip != head:
        advance_session(tree, tip, head)
    if mode == "rebase":
        left = rebase_onto(tree, onto, keep_conflicts=leave)
        return _ended(tree, mode, left)
    if conflicts:  # left for the tool: git's own merge writes the markers
        env = identity(tree.path)
        git(tree.path, "merge", "--no-edit", "--quiet", onto, env=env, ok=(0, 1))
        return _ended(tree, mode, unmerged(tree.path))
    title = f"Merge {tree.base} into {tree.branch}\n"
    commit = commit_tree(tree.checkout, merged, [tip, onto], title)
    git(tree.path, "merge", "--ff-only", "--quiet", commit)
    return UpdateResult(True, mode, commit)


def _base_for_update(tree: Worktree) -> str:
    found = base_tip(tree)
    if found is None:
        raise NotFound(f"the base branch {tree.base} does not exist in {tree.checkout}")
    return found


def _ended(tree: Worktree, mode: UpdateMode, conflicts: list[str]) -> UpdateResult:
    if conflicts:
        return UpdateResult(False, mode, conflicts=conflicts, left_in_worktree=True)
    return UpdateResult(True, mode, resolve(tree.path, "HEAD"))


def _status(tree: Worktree) -> BranchStatus:
    head = resolve(tree.path, "HEAD")
    base = base_tip(tree)
    ahead_base, behind_base = counts(tree.checkout, head, base) if base else (None, None)
    remote = remote_of(tree)
    tracked = rev(tree.checkout, f"refs/remotes/{remote}/{tree.branch}") if remote else None
    ahead, behind = counts(tree.checkout, head, tracked) if tracked else (None, None)
    return BranchStatus(
        branch=tree.branch,
        base=tree.base,
        ahead_base=ahead_base,
        behind_base=behind_base,
        remote=remote,
        pushed=tracked is not None,
        ahead_remote=ahead,
        behind_remote=behind,
        conflicts=unmerged(tree.path) if in_progress(tree) else [],
        checked_at=datetime.now(UTC).replace(microsecond=0),
    )
