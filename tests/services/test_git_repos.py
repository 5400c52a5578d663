"""Connecting repositories: real git checkouts and clones."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.git import make_repo
from tests.support.git_http import git_http_server
from trace_sync.contract.errors import InvalidInput, NotFound
from trace_sync.services.git_repos import clone, file_url, inspect_checkout, is_bare


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


def _bare(tmp_path: Path, branch: str = "main") -> Path:
    """A bare repository (as on a git server) holding one commit on ``branch``."""
    source = make_repo(tmp_path / "src", branch=branch)
    bare = tmp_path / "served" / "shop.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(source), str(bare)], check=True)
    return bare


def test_a_clone_over_smart_http_from_a_git_server(tmp_path: Path) -> None:
    bare = _bare(tmp_path, branch="develop")
    with git_http_server(bare.parent) as base:
        info = clone(f"{base}/shop.git", tmp_path / "data" / "clone")
    assert (info.name, info.default_branch) == ("shop", "develop")
    assert (info.path / "README.md").read_text() == "hello\n"


def test_a_bare_repository_is_cloned_into_a_checkout(tmp_path: Path) -> None:
    bare = _bare(tmp_path)
    assert is_bare(bare) and not is_bare(tmp_path / "src")
    info = clone(file_url(bare), tmp_path / "data" / "clone")
    assert (info.path / "README.md").read_text() == "hello\n"
    with pytest.raises(InvalidInput, match="bare repository"):
        inspect_checkout(bare)


def test_a_remote_clone_uses_only_network_transports(tmp_path: Path) -> None:
    """A remote URL cannot be pointed back at the server's disk through git's
    transport helpers, and a refused form is refused before git runs."""
    with pytest.raises(InvalidInput, match="not a remote git URL"):
        clone(f"ext::git-upload-pack {tmp_path}", tmp_path / "x")
    assert not (tmp_path / "x").exists()
