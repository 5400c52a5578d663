"""A hosted session's worktree, made or found from its assignment.

- the checkout: the repo's path when it is a git checkout on this machine
  that the bridge may write to, else a clone kept in ``<data dir>/repos/<repo
  id>`` (of that checkout when the bridge only reads it, as in a sandbox; of
  the repo's source when it is elsewhere);
- the worktree ``<data dir>/worktrees/<sid>``: opened when it exists (a
  bridge restart); re-created from the kept branch when only the branch
  exists (an archived session coming back, with its unsaved work); forked
  from the parent's checkpoint (or head) for a fork; else created on the
  session's branch from the base branch, followed by the setup step.

A deleted session's worktree, checkpoints and branch go with :func:`forget`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from trace_sync.bridge.git.archives import ARCHIVE_LABEL, unarchive
from trace_sync.bridge.git.checkpoints import list_checkpoints
from trace_sync.bridge.git.forks import fork_worktree
from trace_sync.bridge.git.gitexec import git, out, rev
from trace_sync.bridge.git.removals import Removal, remove_session
from trace_sync.bridge.git.setups import SetupResult, run_setup
from trace_sync.bridge.git.worktrees import (
    BRANCH_PREFIX,
    Worktree,
    create_worktree,
    open_worktree,
    slugify,
    toplevel,
    worktree_path,
)
from trace_sync.contract.bridge_protocol import Assignment, Forget, RepoRef
from trace_sync.contract.errors import InvalidInput, NotFound

log = logging.getLogger(__name__)

#: Longest a clone or fetch of a repo's source may take.
CLONE_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class Prepared:
    tree: Worktree
    #: What the setup step did, when the worktree was made just now.
    setup: SetupResult | None = None
    #: How it was found: created, forked, opened or unarchived.
    how: str = "opened"


async def prepare(assignment: Assignment, data_dir: Path) -> Prepared:
    """The session's worktree, ready for its tool."""
    if assignment.repo is None:
        raise NotFound(f"session {assignment.session_id} has no repo (was it removed?)")
    checkout = await checkout_of(assignment.repo, data_dir)
    sid = assignment.session_id
    base = assignment.spec.base_branch or assignment.repo.default_branch
    slug = _slug(assignment)
    branch = BRANCH_PREFIX + slug
    path = worktree_path(data_dir, sid)
    if path.exists():
        return Prepared(await open_worktree(checkout, data_dir, sid, branch, base))
    if await asyncio.to_thread(rev, checkout, f"refs/heads/{branch}") is not None:
        tree = await open_worktree(checkout, data_dir, sid, branch, base)
        return Prepared(await unarchive(tree, checkpoint=await _unsaved(tree)), how="unarchived")
    if assignment.parent is not None:
        parent = assignment.parent
        # The fork's base is the parent's branch: the fork grows from its history.
        parent_path = worktree_path(data_dir, parent.session_id)
        source = Worktree(parent.session_id, checkout, parent_path, base, base)
        if parent.checkpoint is not None or source.path.is_dir():
            tree = await fork_worktree(source, data_dir, sid, slug, checkpoint=parent.checkpoint)
            return Prepared(tree, how="forked")
    tree = await create_worktree(checkout, data_dir, sid, slug, base)
    setup = assignment.setup
    done = await run_setup(tree, copy=setup.copy_files, command=setup.command)
    return Prepared(tree, done, how="created")


async def ensure_present(tree: Worktree) -> bool:
    """Bring back the worktree of an archived session; True if it had to."""
    if tree.path.exists():
        return False
    await unarchive(tree, checkpoint=await _unsaved(tree))
    return True


async def checkout_of(repo: RepoRef, data_dir: Path) -> Path:
    """Where the repo's checkout is on this machine: cloned here when it is elsewhere,
    or when this bridge may not write to it (a sandbox sees it read-only)."""
    local = await asyncio.to_thread(_local_checkout, Path(repo.path))
    if local is not None and await asyncio.to_thread(_writable, local):
        return local
    source = str(local) if local is not None else repo.source
    return await asyncio.to_thread(_clone, repo.id, source, data_dir / "repos" / repo.id)


async def forget(owed: Forget, data_dir: Path) -> Removal:
    """Remove what a deleted session made here (nothing is cloned to do it)."""
    repo, sid = owed.repo, owed.session_id
    checkout = None if repo is None else await known_checkout(repo, data_dir)
    base = owed.base_branch or (repo.default_branch if repo is not None else None)
    branch = BRANCH_PREFIX + _slug_of(owed.branch, sid)
    return await remove_session(checkout, data_dir, sid, branch, base)


async def known_checkout(repo: RepoRef, data_dir: Path) -> Path | None:
    """The checkout :func:`checkout_of` would use, if it is here already."""
    local = await asyncio.to_thread(_local_checkout, Path(repo.path))
    if local is not None and await asyncio.to_thread(_writable, local):
        return local
    clone = data_dir / "repos" / repo.id
    return clone if (clone / ".git").exists() else None


def _local_checkout(path: Path) -> Path | None:
    if not path.is_dir():
        return None
    try:
        return toplevel(path)
    except InvalidInput:
        return None  # not a checkout here: the source is cloned instead


def _writable(checkout: Path) -> bool:
    """Whether worktrees, branches and checkpoints can be made in the checkout's git dir."""
    common = out(checkout, "rev-parse", "--path-format=absolute", "--git-common-dir")
    return os.access(common, os.W_OK)


def _clone(repo_id: str, source: str, target: Path) -> Path:
    if not (target / ".git").exists():
        log.info("cloning a repo", extra={"repo": repo_id, "into": str(target)})
        target.parent.mkdir(parents=True, exist_ok=True)
        git(target.parent, "clone", "--quiet", "--no-checkout", source, str(target))
    # The base branches as the source has them, where that is a fast-forward (a merge
    # made here into a base is never undone by a fetch), and checkpoints it has that
    # this clone lacks (a fork's parent's, brought back from another sandbox).
    refs = ("refs/heads/*:refs/heads/*", "refs/trace/*:refs/trace/*")
    git(target, "fetch", "--quiet", "--update-head-ok", "origin", *refs, ok=(0, 1))
    # Its own checkout holds no files (--no-checkout): with HEAD detached no branch is
    # checked out there, so a merge moves the base by ref instead of refusing.
    git(target, "update-ref", "--no-deref", "HEAD", "HEAD", ok=(0, 128))
    return target


async def _unsaved(tree: Worktree) -> int | None:
    """The checkpoint archiving made of the worktree's unsaved work, if it is the
    state to bring back (made on top of the branch as it still is)."""
    kept = [c for c in await list_checkpoints(tree.checkout, tree.sid) if c.label == ARCHIVE_LABEL]
    if not kept:
        return None
    head = await asyncio.to_thread(rev, tree.checkout, f"refs/heads/{tree.branch}")
    parent = await asyncio.to_thread(rev, tree.checkout, f"{kept[-1].commit}^")
    return kept[-1].n if head is not None and head == parent else None


def _slug(assignment: Assignment) -> str:
    return _slug_of(assignment.branch, assignment.session_id)


def _slug_of(branch: str | None, sid: str) -> str:
    if branch and branch.startswith(BRANCH_PREFIX):
        return branch.removeprefix(BRANCH_PREFIX)
    return slugify(branch or sid, sid)
