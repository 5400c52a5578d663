"""Archiving a session's worktree and bringing it back.

Archiving removes the worktree directory but keeps the session branch and
every checkpoint ref. Work not yet committed is never lost: if the worktree
differs from its branch, it is first kept as a checkpoint labelled
``archived``, which :func:`unarchive` can restore.
"""

from __future__ import annotations

from trace_sync.bridge.git.checkpoints import create_checkpoint, has_changes, restore_checkpoint
from trace_sync.bridge.git.worktrees import Worktree, recreate_worktree, remove_worktree
from trace_sync.docs.entries import Checkpoint

ARCHIVE_LABEL = "archived"


async def archive(tree: Worktree) -> Checkpoint | None:
    """Remove the worktree; returns the checkpoint that kept its uncommitted work, if any."""
    kept = await create_checkpoint(tree, ARCHIVE_LABEL) if await has_changes(tree) else None
    await remove_worktree(tree)
    return kept


async def unarchive(tree: Worktree, *, checkpoint: int | None = None) -> Worktree:
    """Re-create the worktree from the kept branch, then restore ``checkpoint`` if given
    (the one :func:`archive` returned brings back the unsaved work)."""
    await recreate_worktree(tree)
    if checkpoint is not None:
        await restore_checkpoint(tree, checkpoint, keep_current=False)
    return tree
