"""Merging a session into its base: clean merges land, conflicts change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.git import commit_all, git, tree_files, write
from trace_sync.bridge.git.merges import merge_branch, merge_session
from trace_sync.bridge.git.worktrees import Worktree
from trace_sync.contract.errors import Conflict


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


async def test_a_squash_lands_one_commit_with_the_base_as_its_only_parent(
    tree: Worktree, checkout: Path
) -> None:
    write(tree.path, {"a.txt": "first\n"})
    commit_all(tree.path, "step one")
    write(tree.path, {"b.txt": "second\n"})
    before = git(checkout, "rev-parse", "trunk")
    result = await merge_session(tree, "Add a and b", "squash")
    assert result.merged and result.strategy == "squash"
    assert git(checkout, "rev-parse", "trunk^@") == before  # one parent: the old base
    assert git(checkout, "log", "-1", "--format=%s", "trunk") == "Add a and b"
    assert (checkout / "a.txt").read_text() == "first\n" and (checkout / "b.txt").exists()


async def test_a_rebase_replays_the_session_on_the_base_and_keeps_history_linear(
    tree: Worktree, checkout: Path
) -> None:
    write(tree.path, {"feature.txt": "done\n"})
    commit_all(tree.path, "the session's step")
    write(checkout, {"theirs.txt": "meanwhile\n"})
    theirs = commit_all(checkout, "the person works on trunk")
    result = await merge_session(tree, "Add the feature", "rebase")
    assert result.merged and git(checkout, "rev-parse", "trunk") == result.commit
    assert git(checkout, "rev-list", "--merges", "--count", f"{theirs}..trunk") == "0"
    assert git(checkout, "log", "-1", "--format=%s", "trunk") == "the session's step"
    assert git(tree.path, "rev-parse", "HEAD") == result.commit  # the session sits on it
    assert (checkout / "feature.txt").read_text() == "done\n"


async def test_a_rebase_with_conflicts_lists_them_and_moves_no_base(
    tree: Worktree, checkout: Path
) -> None:
    write(tree.path, {"notes.txt": "session notes\n"})
    write(checkout, {"notes.txt": "person notes\n"})
    base = commit_all(checkout, "the person edits the same line")
    result = await merge_session(tree, "Try", "rebase")
    assert (result.merged, result.conflicts) == (False, ["notes.txt"])
    assert git(checkout, "rev-parse", "trunk") == base
    assert (tree.path / "notes.txt").read_text() == "session notes\n"


@pytest.mark.parametrize("strategy", ["merge", "squash", "rebase"])
async def test_a_branch_without_a_worktree_here_merges_and_stays_as_it_was(
    tree: Worktree, checkout: Path, strategy: str
) -> None:
    write(tree.path, {"feature.txt": "done\n"})
    tip = commit_all(tree.path, "the cloud session's step")
    write(checkout, {"theirs.txt": "meanwhile\n"})
    commit_all(checkout, "the base moved on since")
    result = await merge_branch(checkout, tree.branch, "trunk", "Land it", strategy)  # type: ignore[arg-type]
    assert result.merged and git(checkout, "rev-parse", "trunk") == result.commit
    assert (checkout / "feature.txt").read_text() == "done\n"
    assert (checkout / "theirs.txt").read_text() == "meanwhile\n"
    assert git(checkout, "rev-parse", tree.branch) == tip  # the branch is left as it was
    assert git(checkout, "worktree", "list", "--porcelain").count("worktree ") == 2
