"""Forks: a new session's worktree from another session's checkpoint or state."""

from __future__ import annotations

from pathlib import Path

from tests.support.git import git, tree_files, write
from trace_sync.bridge.git.checkpoints import create_checkpoint
from trace_sync.bridge.git.forks import fork_worktree
from trace_sync.bridge.git.merges import merge_session
from trace_sync.bridge.git.worktrees import Worktree


async def test_a_fork_from_a_checkpoint_has_its_files(tree: Worktree, data_dir: Path) -> None:
    write(tree.path, {"src/app.py": "at checkpoint\n", "plan.md": "step 1\n"})
    (tree.path / "notes.txt").unlink()
    cp = await create_checkpoint(tree, "plan written")
    recorded = tree_files(tree.path)
    write(tree.path, {"src/app.py": "later\n"})
    fork = await fork_worktree(tree, data_dir, "s2", "alternative", checkpoint=cp.n)
    assert (fork.branch, fork.base) == ("trace/alternative", "trunk")
    assert tree_files(fork.path) == recorded
    assert git(fork.path, "status", "--porcelain") == ""
    assert git(fork.path, "log", "-1", "--format=%s") == "Fork of checkpoint 1 of session s1"
    assert (tree.path / "src" / "app.py").read_text() == "later\n"  # the source is untouched


async def test_a_fork_of_the_current_state_can_merge_into_the_base(
    tree: Worktree, data_dir: Path, checkout: Path
) -> None:
    write(tree.path, {"shared.txt": "from the source\n"})
    fork = await fork_worktree(tree, data_dir, "s2", "alternative")
    assert (fork.path / "shared.txt").read_text() == "from the source\n"
    write(fork.path, {"fork-only.txt": "fork\n"})
    result = await merge_session(fork, "Fork's work")
    assert result.merged
    assert git(checkout, "show", "trunk:shared.txt") == "from the source"
    assert git(checkout, "show", "trunk:fork-only.txt") == "fork"


async def test_a_fork_of_an_unchanged_session_starts_at_its_head(
    tree: Worktree, data_dir: Path
) -> None:
    fork = await fork_worktree(tree, data_dir, "s2", "same")
    assert git(fork.path, "rev-parse", "HEAD") == git(tree.path, "rev-parse", "HEAD")
