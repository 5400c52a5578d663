"""Checkpoints: commits of the whole worktree on private refs, restored exactly."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.support.git import git, tree_files, write
from trace_sync.bridge.git.checkpoints import (
    create_checkpoint,
    list_checkpoints,
    restore_checkpoint,
)
from trace_sync.bridge.git.worktrees import Worktree
from trace_sync.contract.errors import NotFound


def session_edits(root: Path) -> None:
    write(root, {"src/app.py": "rewritten\n", "src/added.py": "added = 1\n"})
    (root / "notes.txt").unlink()
    os.chmod(root / "old_name.txt", 0o755)


async def test_a_checkpoint_records_everything_but_moves_nothing(tree: Worktree) -> None:
    session_edits(tree.path)
    git(tree.path, "add", "src/added.py")  # the person's own staging must survive
    head, index = git(tree.path, "rev-parse", "HEAD"), git(tree.path, "ls-files", "-s")
    status = git(tree.path, "status", "--porcelain")
    cp = await create_checkpoint(tree, "after edits", tool_session_id="c-1", tool_point="m-9")
    assert (cp.n, cp.ref, cp.label) == (1, "refs/trace/checkpoints/s1/1", "after edits")
    assert git(tree.path, "rev-parse", cp.ref) == cp.commit
    assert git(tree.path, "rev-parse", f"{cp.commit}^") == head
    assert git(tree.path, "ls-tree", "-r", "--name-only", cp.commit).split("\n") == [
        ".gitignore",
        "README.md",
        "old_name.txt",
        "src/added.py",
        "src/app.py",
    ]
    assert git(tree.path, "show", f"{cp.commit}:src/app.py") == "rewritten"
    assert (git(tree.path, "rev-parse", "HEAD"), git(tree.path, "ls-files", "-s")) == (head, index)
    assert git(tree.path, "status", "--porcelain") == status


async def test_checkpoints_are_listed_with_their_labels_and_points(tree: Worktree) -> None:
    first = await create_checkpoint(tree, "one\nline", tool_session_id="c-1", tool_point="m-1")
    write(tree.path, {"more.txt": "more\n"})
    second = await create_checkpoint(tree)
    listed = await list_checkpoints(tree.checkout, tree.sid)
    assert listed == [first, second]
    assert (first.label, first.tool_point, second.n, second.label) == ("one line", "m-1", 2, "")
    assert await list_checkpoints(tree.checkout, "other") == []


async def test_restore_brings_the_files_back_exactly(tree: Worktree) -> None:
    session_edits(tree.path)
    write(tree.path, {".env": "KEEP=1\n"})
    cp = await create_checkpoint(tree, "good state")
    recorded = tree_files(tree.path)
    head, index = git(tree.path, "rev-parse", "HEAD"), git(tree.path, "ls-files", "-s")
    write(tree.path, {"src/app.py": "broken\n", "notes.txt": "back again\n", "junk/x.txt": "x\n"})
    (tree.path / "src" / "added.py").unlink()
    write(tree.path, {".env": "KEEP=2\n", "build/cache.bin": "ignored\n"})
    kept = await restore_checkpoint(tree, cp.n)
    expected = recorded | {".env": b"KEEP=2\n", "build/cache.bin": b"ignored\n"}
    assert tree_files(tree.path) == expected  # ignored files are left as they are
    assert not (tree.path / "junk").exists()
    assert os.access(tree.path / "old_name.txt", os.X_OK)
    assert (git(tree.path, "rev-parse", "HEAD"), git(tree.path, "ls-files", "-s")) == (head, index)
    assert kept is not None and kept.n == 2 and "Before restoring" in kept.label
    await restore_checkpoint(tree, kept.n)  # the restore itself can be undone
    assert (tree.path / "src" / "app.py").read_text() == "broken\n"


async def test_restoring_the_current_state_or_a_missing_checkpoint(tree: Worktree) -> None:
    cp = await create_checkpoint(tree)
    assert await restore_checkpoint(tree, cp.n) is None
    assert len(await list_checkpoints(tree.checkout, tree.sid)) == 1
    with pytest.raises(NotFound, match="no checkpoint 7"):
        await restore_checkpoint(tree, 7)


async def test_concurrent_checkpoints_get_distinct_numbers(tree: Worktree) -> None:
    taken = await asyncio.gather(*(create_checkpoint(tree, f"c{i}") for i in range(4)))
    assert sorted(cp.n for cp in taken) == [1, 2, 3, 4]
    assert [cp.n for cp in await list_checkpoints(tree.checkout, tree.sid)] == [1, 2, 3, 4]
