"""Session worktrees and their setup step, on real git checkouts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.git import git, write
from trace_sync.bridge.git.setups import run_setup
from trace_sync.bridge.git.worktrees import Worktree, create_worktree, disk_usage, slugify
from trace_sync.contract.errors import Conflict, InvalidInput, NotFound


async def test_a_worktree_is_on_a_new_branch_from_the_base(
    checkout: Path, tree: Worktree, data_dir: Path
) -> None:
    assert tree.path == data_dir / "worktrees" / "s1"
    assert git(tree.path, "branch", "--show-current") == "trace/first-task"
    assert git(tree.path, "rev-parse", "HEAD") == git(checkout, "rev-parse", "trunk")
    assert (tree.path / "src" / "app.py").read_text().startswith("line 1\n")
    assert not (tree.path / ".env").exists()  # ignored files need the setup step
    assert git(checkout, "branch", "--show-current") == "trunk"  # the person's checkout stays


async def test_a_worktree_grows_from_the_chosen_base(checkout: Path, data_dir: Path) -> None:
    git(checkout, "checkout", "-q", "-b", "release")
    write(checkout, {"release.txt": "1.0\n"})
    git(checkout, "add", "release.txt")
    git(checkout, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "release")
    git(checkout, "checkout", "-q", "trunk")
    tree = await create_worktree(checkout, data_dir, "s2", "on-release", "release")
    assert (tree.path / "release.txt").read_text() == "1.0\n"
    assert tree.base == "release"


async def test_taken_names_missing_bases_and_bad_names_are_refused(
    checkout: Path, tree: Worktree, data_dir: Path
) -> None:
    with pytest.raises(Conflict, match="already exists"):
        await create_worktree(checkout, data_dir, "s2", "first-task", "trunk")
    with pytest.raises(Conflict, match="already exists"):
        await create_worktree(checkout, data_dir, "s1", "other", "trunk")
    with pytest.raises(NotFound, match="no branch 'nope'"):
        await create_worktree(checkout, data_dir, "s3", "x", "nope")
    for sid, slug in (("../up", "x"), ("s4", "a/../b"), ("s5", "x.lock"), ("", "x")):
        with pytest.raises(InvalidInput):
            await create_worktree(checkout, data_dir, sid, slug, "trunk")
    with pytest.raises(InvalidInput, match="not a git checkout"):
        await create_worktree(data_dir, data_dir, "s6", "y", "trunk")


async def test_setup_copies_ignored_files_and_runs_the_command(
    tree: Worktree, checkout: Path
) -> None:
    write(checkout, {"build/cache/data.bin": "cached\n"})
    result = await run_setup(
        tree,
        copy=[".env", "*.log", "build/**/*", "notes.txt", "missing.cfg"],
        command="cat .env && echo setup-done >&2 && touch ready",
    )
    # notes.txt is tracked (not ignored) and missing.cfg does not exist: neither is copied.
    assert result.copied == [".env", "build/cache/data.bin", "debug.log"]
    assert (tree.path / ".env").read_text() == "SECRET=1\n"
    assert (tree.path / "build" / "cache" / "data.bin").read_text() == "cached\n"
    assert result.ok and result.exit_code == 0
    assert "SECRET=1" in result.output and "setup-done" in result.output
    assert (tree.path / "ready").exists()


async def test_setup_never_copies_from_outside_the_checkout(
    tree: Worktree, checkout: Path, tmp_path: Path
) -> None:
    (tmp_path / "outside.log").write_text("private\n")
    os.symlink(tmp_path / "outside.log", checkout / "leak.log")
    result = await run_setup(tree, copy=["*.log"])
    assert result.copied == ["debug.log"]
    with pytest.raises(InvalidInput):
        await run_setup(tree, copy=["../outside.log"])
    with pytest.raises(InvalidInput):
        await run_setup(tree, copy=[str(tmp_path / "outside.log")])


async def test_a_failing_or_endless_setup_command_is_reported(tree: Worktree) -> None:
    failed = await run_setup(tree, command="echo broken; exit 3")
    assert (failed.ok, failed.exit_code, failed.output) == (False, 3, "broken\n")
    endless = await run_setup(tree, command="echo started; sleep 60", timeout=1.0)
    assert endless.timed_out and not endless.ok and "started" in endless.output


async def test_disk_use_counts_the_worktree_files(tree: Worktree) -> None:
    before = await disk_usage(tree.path)
    (tree.path / "big.bin").write_bytes(os.urandom(1024 * 1024))
    assert await disk_usage(tree.path) >= before + 1024 * 1024


def test_slugs_are_readable_and_unique_per_session() -> None:
    assert slugify("Fix the login bug!", "s_8f3a2b91") == "fix-the-login-bug-3a2b91"
    assert slugify("Ünïcödé ✨", "abc") == "unicode-abc"
    assert slugify("", "s_1") == "s1"
