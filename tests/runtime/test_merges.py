"""Merging a session into its base: clean merges land, conflicts change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.git import commit_all, git, tree_files, write
from trace_sync.errors import Conflict
from trace_sync.runtime.merges import merge_session
from trace_sync.runtime.worktrees import Worktree


async def test_a_clean_merge_lands_on_the_checked_out_base(tree: Worktree, checkout: Path) -> None:
    write(tree.path, {"feature.txt": "done\n", "src/app.py": "new app\n"})
    write(checkout, {"theirs.txt": "meanwhile\n"})
    commit_all(checkout, "the person works on trunk")
    result = await merge_session(tree, "Add the feature")
    assert result.merged and result.conflicts == [] and result.session_commit is not None
    assert git(checkout, "rev-parse", "trunk") == result.commit
    assert (checkout / "feature.txt").read_text() == "done\n"  # the checkout's files follow
    assert git(checkout, "status", "--porcelain") == ""
    assert git(checkout, "log", "-1", "--format=%s", "trunk") == "Merge trace/first-task into trunk"
    assert git(tree.path, "log", "-1", "--format=%s") == "Add the feature"
    assert git(tree.path, "status", "--porcelain") == ""


async def test_a_merge_into_a_base_not_checked_out_moves_only_the_ref(
    tree: Worktree, checkout: Path
) -> None:
    git(checkout, "checkout", "-q", "-b", "elsewhere")
    write(tree.path, {"feature.txt": "done\n"})
    result = await merge_session(tree, "Add the feature")
    assert git(checkout, "rev-parse", "trunk") == result.commit
    assert git(checkout, "show", "trunk:feature.txt") == "done"
    assert not (checkout / "feature.txt").exists()


async def test_conflicts_are_reported_and_nothing_moves(tree: Worktree, checkout: Path) -> None:
    write(tree.path, {"src/app.py": "session version\n", "notes.txt": "session notes\n"})
    write(tree.path, {"only-session.txt": "x\n"})
    write(checkout, {"src/app.py": "person version\n", "notes.txt": "person notes\n"})
    base = commit_all(checkout, "the person edits the same lines")
    head, files = git(tree.path, "rev-parse", "HEAD"), tree_files(tree.path)
    status = git(tree.path, "status", "--porcelain")
    result = await merge_session(tree, "Try to merge")
    assert (result.merged, result.commit) == (False, None)
    assert result.conflicts == ["notes.txt", "src/app.py"]
    assert git(checkout, "rev-parse", "trunk") == base
    assert git(checkout, "status", "--porcelain") == ""
    assert (checkout / "src" / "app.py").read_text() == "person version\n"
    assert git(tree.path, "rev-parse", "HEAD") == head and tree_files(tree.path) == files
    assert git(tree.path, "status", "--porcelain") == status


async def test_a_dirty_checked_out_base_is_refused(tree: Worktree, checkout: Path) -> None:
    write(tree.path, {"feature.txt": "done\n"})
    write(checkout, {"README.md": "half-written by the person\n"})
    before = git(checkout, "rev-parse", "trunk")
    with pytest.raises(Conflict, match="uncommitted changes"):
        await merge_session(tree, "Add the feature")
    assert git(checkout, "rev-parse", "trunk") == before
    assert (checkout / "README.md").read_text() == "half-written by the person\n"


async def test_merging_again_with_nothing_new_is_a_no_op(tree: Worktree, checkout: Path) -> None:
    write(tree.path, {"feature.txt": "done\n"})
    first = await merge_session(tree, "Add the feature")
    again = await merge_session(tree, "Nothing new")
    assert again.merged and again.commit == first.commit and again.session_commit is None


async def test_an_untracked_file_in_the_way_stops_the_merge_before_base_moves(
    tree: Worktree, checkout: Path
) -> None:
    write(tree.path, {"feature.txt": "session\n"})
    write(checkout, {"feature.txt": "the person's own untracked draft\n"})
    before = git(checkout, "rev-parse", "trunk")
    with pytest.raises(Conflict, match="untracked working tree files would be overwritten"):
        await merge_session(tree, "Add the feature")
    assert git(checkout, "rev-parse", "trunk") == before
    assert (checkout / "feature.txt").read_text() == "the person's own untracked draft\n"
