"""A session branch kept in step: pushed to a real remote (file:// and smart
HTTP), updated from its base by merge or rebase, its standing counted."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.git import commit_all, git, write
from tests.support.git_http import git_http_server
from trace_sync.bridge.git.branch_sync import branch_status, fetch, push, update
from trace_sync.bridge.git.worktrees import Worktree
from trace_sync.contract.errors import Conflict


@pytest.fixture
def bare(tmp_path: Path, checkout: Path) -> Path:
    remote = tmp_path / "served" / "proj.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(remote, "config", "http.receivepack", "true")  # smart HTTP pushes
    return remote


@pytest.fixture(params=["file", "http"])
def remote_url(request: pytest.FixtureRequest, bare: Path) -> Iterator[str]:
    if request.param == "file":
        yield bare.as_uri()
        return
    with git_http_server(bare.parent) as base:
        yield f"{base}/proj.git"


async def test_push_sends_the_session_work_to_the_remote(
    tree: Worktree, checkout: Path, bare: Path, remote_url: str
) -> None:
    git(checkout, "remote", "add", "origin", remote_url)
    write(tree.path, {"feature.txt": "done\n"})
    pushed = await push(tree, "Add the feature")
    assert (pushed.remote, pushed.branch) == ("origin", "trace/first-task")
    assert git(bare, "rev-parse", "refs/heads/trace/first-task") == pushed.commit
    assert git(bare, "show", f"{pushed.commit}:feature.txt") == "done"
    status = await branch_status(tree)
    assert (status.pushed, status.ahead_remote, status.behind_remote) == (True, 0, 0)
    assert (status.ahead_base, status.behind_base) == (1, 0)


async def test_push_never_overwrites_a_remote_that_moved_on(
    tree: Worktree, checkout: Path, bare: Path, tmp_path: Path
) -> None:
    git(checkout, "remote", "add", "origin", bare.as_uri())
    await push(tree, "first push")
    other = tmp_path / "teammate"
    git(tmp_path, "clone", "-q", "-b", "trace/first-task", bare.as_uri(), str(other))
    write(other, {"theirs.txt": "teammate\n"})
    theirs = commit_all(other, "a teammate's commit")
    git(other, "push", "-q", "origin", "trace/first-task")
    write(tree.path, {"mine.txt": "session\n"})
    with pytest.raises(Conflict, match="has commits the session lacks"):
        await push(tree, "second push")
    assert git(bare, "rev-parse", "refs/heads/trace/first-task") == theirs


async def test_push_without_a_remote_says_so(tree: Worktree) -> None:
    with pytest.raises(Conflict, match="no remote"):
        await push(tree, "nowhere")


@pytest.mark.parametrize("mode", ["merge", "rebase"])
async def test_update_brings_the_base_in(tree: Worktree, checkout: Path, mode: str) -> None:
    write(tree.path, {"feature.txt": "session\n"})
    write(checkout, {"theirs.txt": "meanwhile\n"})
    base = commit_all(checkout, "the person works on trunk")
    assert (await branch_status(tree)).behind_base == 1
    result = await update(tree, mode, "the session's work")  # type: ignore[arg-type]
    assert result.updated and result.conflicts == []
    assert (tree.path / "theirs.txt").read_text() == "meanwhile\n"
    assert (tree.path / "feature.txt").read_text() == "session\n"
    assert git(tree.path, "status", "--porcelain") == ""
    merges = git(tree.path, "rev-list", "--merges", "--count", f"{base}..HEAD")
    assert merges == ("1" if mode == "merge" else "0")
    status = await branch_status(tree)
    assert (status.ahead_base, status.behind_base) == (2 if mode == "merge" else 1, 0)


async def test_update_conflicts_are_listed_and_nothing_changes(
    tree: Worktree, checkout: Path
) -> None:
    write(tree.path, {"notes.txt": "session notes\n", "src/app.py": "session app\n"})
    write(checkout, {"notes.txt": "person notes\n", "src/app.py": "person app\n"})
    commit_all(checkout, "the person edits the same lines")
    head = git(tree.path, "rev-parse", "HEAD")
    result = await update(tree, "merge", "work")
    assert (result.updated, result.conflicts) == (False, ["notes.txt", "src/app.py"])
    assert not result.left_in_worktree
    assert git(tree.path, "rev-parse", "HEAD") == head
    assert (tree.path / "notes.txt").read_text() == "session notes\n"


@pytest.mark.parametrize("mode", ["merge", "rebase"])
async def test_update_can_leave_conflicts_for_the_tool(
    tree: Worktree, checkout: Path, mode: str
) -> None:
    write(tree.path, {"notes.txt": "session notes\n"})
    write(checkout, {"notes.txt": "person notes\n"})
    commit_all(checkout, "the person edits the same line")
    result = await update(tree, mode, "work", leave_conflicts=True)  # type: ignore[arg-type]
    assert (result.conflicts, result.left_in_worktree) == (["notes.txt"], True)
    assert "<<<<<<<" in (tree.path / "notes.txt").read_text()
    assert (await branch_status(tree)).conflicts == ["notes.txt"]
    with pytest.raises(Conflict, match="conflicts to resolve first"):
        await update(tree, mode, "again")  # type: ignore[arg-type]


async def test_a_fetch_of_a_remote_that_never_answers_gives_up_in_time(
    tree: Worktree, checkout: Path
) -> None:
    """A remote that accepts the connection and then says nothing (a dead proxy) does
    not hold the session: the fetch is killed at its timeout and says so."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        git(checkout, "remote", "add", "origin", f"http://127.0.0.1:{port}/proj.git")
        began = time.monotonic()
        with pytest.raises(Conflict, match="could not reach origin"):
            await fetch(tree, timeout=1.5)
        took = time.monotonic() - began
    assert took < 10, f"the fetch took {took:.1f} s"
    print(f"\nsilent remote: fetch gave up after {took:.1f} s")
