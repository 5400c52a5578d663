"""What deleting a session removes from git: its worktree, the worktree's entry,
its checkpoint refs, and its branch unless that branch still means something.

A branch is kept when it was pushed (it has an upstream, or a remote has a
branch of that name) or merged (it moved since it was made and its tip is in
the base branch); otherwise it only holds the session's unmerged work, which
the person deleted. Removing what is already gone is not an error, so a
removal can be asked again (after a bridge restart, say).

>>> await remove_session(checkout, data_dir, "s_1", "trace/fix-login", "main")  # doctest: +SKIP
Removal(worktree=True, checkpoints=3, branch='deleted')
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from trace_sync.bridge.git.gitexec import git, rev
from trace_sync.bridge.git.worktrees import worktree_path

BranchFate = Literal["deleted", "kept: pushed", "kept: merged", "none"]


@dataclass(frozen=True)
class Removal:
    #: Whether a worktree directory was there to remove.
    worktree: bool
    #: How many checkpoint refs were removed.
    checkpoints: int
    branch: BranchFate

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def remove_session(
    checkout: Path | None, data_dir: Path, sid: str, branch: str | None, base: str | None
) -> Removal:
    """Remove what session ``sid`` made in ``checkout`` and under ``data_dir``."""
    return await asyncio.to_thread(remove_now, checkout, data_dir, sid, branch, base)


def remove_now(
    checkout: Path | None, data_dir: Path, sid: str, branch: str | None, base: str | None
) -> Removal:
    path = worktree_path(data_dir, sid).absolute()
    had_tree = path.exists()
    if checkout is None:
        _drop_directory(path)
        return Removal(had_tree, 0, "none")
    if had_tree:
        git(checkout, "worktree", "remove", "--force", str(path), ok=(0, 128))
        _drop_directory(path)  # not a worktree of this checkout (any more): files only
    git(checkout, "worktree", "prune")
    refs = _checkpoint_refs(checkout, sid)
    for ref in refs:
        git(checkout, "update-ref", "-d", ref)
    fate = _branch_fate(checkout, branch, base) if branch else "none"
    if fate == "deleted":
        git(checkout, "branch", "--quiet", "-D", branch or "")
    return Removal(had_tree, len(refs), fate)


def _checkpoint_refs(checkout: Path, sid: str) -> list[str]:
    found = git(checkout, "for-each-ref", "--format=%(refname)", f"refs/trace/checkpoints/{sid}/")
    return [line for line in found.text.splitlines() if line]


def _branch_fate(checkout: Path, branch: str, base: str | None) -> BranchFate:
    tip = rev(checkout, f"refs/heads/{branch}")
    if tip is None:
        return "none"
    if _pushed(checkout, branch):
        return "kept: pushed"
    if base and _merged(checkout, branch, tip, base):
        return "kept: merged"
    return "deleted"


def _pushed(checkout: Path, branch: str) -> bool:
    upstream = git(checkout, "config", "--get", f"branch.{branch}.remote", ok=(0, 1))
    if upstream.text:
        return True
    remote = git(checkout, "for-each-ref", "--format=%(refname)", "refs/remotes/")
    return any(ref.endswith(f"/{branch}") for ref in remote.text.splitlines())


def _merged(checkout: Path, branch: str, tip: str, base: str) -> bool:
    """The branch moved since it was made (its reflog's first entry) and the base has it."""
    log = git(checkout, "reflog", "show", "--format=%H", f"refs/heads/{branch}", ok=(0, 128))
    made_at = log.text.splitlines()[-1] if log.status == 0 and log.text else None
    if made_at == tip:
        return False  # never moved: nothing of its own was merged
    contained = git(checkout, "merge-base", "--is-ancestor", tip, f"refs/heads/{base}", ok=(0, 1))
    return contained.status == 0


def _drop_directory(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
