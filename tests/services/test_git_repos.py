"""Connecting repositories: real git checkouts and clones."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.git import make_repo
from trace_sync.errors import InvalidInput, NotFound
from trace_sync.services.git_repos import clone, inspect_checkout


def test_a_checkout_is_found_with_its_branch_from_a_subdirectory(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "proj")
    (repo / "src").mkdir()
    info = inspect_checkout(repo / "src")
    assert (info.path, info.name, info.default_branch) == (repo, "proj", "trunk")


def test_a_clone_takes_the_remote_default_branch(tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "origin.git-src", branch="develop")
    info = clone(f"file://{origin}", tmp_path / "data" / "clone")
    assert info.default_branch == "develop"
    assert (info.path / "README.md").read_text() == "hello\n"


def test_not_a_repository_and_missing_paths_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(InvalidInput, match="not a git repository"):
        inspect_checkout(tmp_path / "plain")
    with pytest.raises(NotFound):
        inspect_checkout(tmp_path / "missing")


def test_bad_urls_and_failed_clones_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not a remote git URL"):
        clone("/etc", tmp_path / "x")
    with pytest.raises(InvalidInput, match="cannot clone"):
        clone(f"file://{tmp_path}/nothing-here", tmp_path / "y")
    assert not (tmp_path / "y").exists()
