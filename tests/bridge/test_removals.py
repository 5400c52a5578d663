"""Deleting a session removes its worktree, its entry, its checkpoints, and its branch
unless that was pushed or merged: with real git."""

from __future__ import annotations

from pathlib import Path

from tests.support.git import git, write
from trace_sync.bridge.git.checkpoints import create_checkpoint
from trace_sync.bridge.git.merges import merge_session
from trace_sync.bridge.git.removals import remove_session
from trace_sync.bridge.git.worktrees import Worktree


def leftovers(checkout: Path, tree: Worktree) -> dict[str, str]:
    return {
        "worktrees": git(checkout, "worktree", "list", "--porcelain"),
        "checkpoints": git(checkout, "for-each-ref", "refs/trace/checkpoints/"),
        "branch": git(checkout, "branch", "--list", tree.branch),
    }


async def test_a_plain_session_leaves_nothing(
    tree: Worktree, checkout: Path, data_dir: Path
) -> None:
    write(tree.path, {"wip.txt": "unsaved\n"})
    await create_checkpoint(tree, "one")
    await create_checkpoint(tree, "two")
    removal = await remove_session(checkout, data_dir, "s1", tree.branch, "trunk")
    assert (removal.worktree, removal.checkpoints, removal.branch) == (True, 2, "deleted")
    assert not tree.path.exists()
    left = leftovers(checkout, tree)
    assert str(tree.path) not in left["worktrees"]
    assert left["checkpoints"] == "" and left["branch"] == ""
    again = await remove_session(checkout, data_dir, "s1", tree.branch, "trunk")
    assert (again.worktree, again.checkpoints, again.branch) == (False, 0, "none")


async def test_a_merged_branch_is_kept(tree: Worktree, checkout: Path, data_dir: Path) -> None:
    write(tree.path, {"feature.txt": "done\n"})
    await create_checkpoint(tree, "turn")
    assert (await merge_session(tree, "Add the feature")).merged
    removal = await remove_session(checkout, data_dir, "s1", tree.branch, "trunk")
    assert (removal.worktree, removal.checkpoints, removal.branch) == (True, 1, "kept: merged")
    left = leftovers(checkout, tree)
    assert left["checkpoints"] == "" and tree.branch in left["branch"]
    assert not tree.path.exists() and str(tree.path) not in left["worktrees"]


async def test_a_pushed_branch_is_kept(
    tree: Worktree, checkout: Path, data_dir: Path, tmp_path: Path
) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(checkout, "remote", "add", "origin", str(remote))
    write(tree.path, {"feature.txt": "done\n"})
    git(tree.path, "add", "-A")
    git(tree.path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "wip")
    git(tree.path, "push", "-q", "-u", "origin", tree.branch)
    removal = await remove_session(checkout, data_dir, "s1", tree.branch, "trunk")
    assert removal.branch == "kept: pushed" and not tree.path.exists()
    assert tree.branch in leftovers(checkout, tree)["branch"]


async def test_a_session_branch_that_never_moved_is_not_taken_for_merged(
    tree: Worktree, checkout: Path, data_dir: Path
) -> None:
    # Its tip is in the base (it was made there), yet nothing of its own was merged.
    removal = await remove_session(checkout, data_dir, "s1", tree.branch, "trunk")
    assert removal.branch == "deleted"


async def test_without_a_checkout_the_worktree_directory_still_goes(
    tmp_path: Path, data_dir: Path
) -> None:
    stray = data_dir / "worktrees" / "s9"
    write(stray, {"file.txt": "x\n"})
    removal = await remove_session(None, data_dir, "s9", "trace/x", "trunk")
    assert removal.worktree and removal.branch == "none" and not stray.exists()
