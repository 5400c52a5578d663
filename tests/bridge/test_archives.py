"""Archiving removes the worktree, keeps branch and checkpoints; unarchive brings it back."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.git import git, tree_files, write
from trace_sync.bridge.git.archives import archive, unarchive
from trace_sync.bridge.git.checkpoints import create_checkpoint, list_checkpoints
from trace_sync.bridge.git.worktrees import Worktree, open_worktree
from trace_sync.contract.errors import Conflict, InvalidInput, NotFound


async def test_archive_keeps_branch_refs_and_unsaved_work(
    tree: Worktree, checkout: Path, data_dir: Path
) -> None:
    write(tree.path, {"first.txt": "1\n"})
    first = await create_checkpoint(tree, "first")
    write(tree.path, {"unsaved.txt": "not committed anywhere\n"})
    files = tree_files(tree.path)
    kept = await archive(tree)
    assert not tree.path.exists()
    assert git(checkout, "branch", "--list", "trace/first-task") != ""
    assert kept is not None and kept.label == "archived"
    assert [cp.n for cp in await list_checkpoints(checkout, "s1")] == [first.n, kept.n]
    assert "s1" not in git(checkout, "worktree", "list")
    record = await open_worktree(checkout, data_dir, "s1", "trace/first-task", "trunk")
    assert record == tree  # what a restarted bridge rebuilds from the session's meta
    back = await unarchive(record, checkpoint=kept.n)
    assert back == tree and tree_files(back.path) == files
    assert git(back.path, "branch", "--show-current") == "trace/first-task"


async def test_a_clean_worktree_archives_without_a_checkpoint(tree: Worktree) -> None:
    assert await archive(tree) is None
    assert await list_checkpoints(tree.checkout, tree.sid) == []


async def test_unarchive_needs_the_kept_branch_and_a_free_place(
    tree: Worktree, checkout: Path, data_dir: Path
) -> None:
    with pytest.raises(NotFound, match="no branch"):
        await open_worktree(checkout, data_dir, "s9", "trace/never-made", "trunk")
    with pytest.raises(InvalidInput, match="not a session branch"):
        await open_worktree(checkout, data_dir, "s9", "trunk", "trunk")
    with pytest.raises(Conflict, match="already exists"):
        await unarchive(tree)
    await archive(tree)
    git(checkout, "branch", "-D", "trace/first-task")
    with pytest.raises(NotFound, match="no branch"):
        await unarchive(tree)
