"""What the remote has, looked at on demand: a teammate's pushes to the session's
branch and to its base show as commits behind, after ``trace session fetch``
(a real bare remote over ``file://``, a real teammate clone)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import eventually
from tests.hosting.conftest import Hosting
from tests.hosting.test_worktrees import idle_session, trace_cli
from tests.support.git import commit_all, git, write


def teammate_pushes(remote: Path, clone: Path, branch: str, files: dict[str, str]) -> None:
    """A teammate's clone commits each file on ``branch`` (one commit each) and pushes."""
    if not clone.exists():
        git(remote.parent, "clone", "-q", remote.as_uri(), str(clone))
    git(clone, "fetch", "-q", "origin")
    git(clone, "checkout", "-q", "-B", branch, f"origin/{branch}")
    for name, text in files.items():
        write(clone, {name: text})
        commit_all(clone, f"teammate: {name}")
    git(clone, "push", "-q", "origin", branch)


def _now_to_the_second() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def pushed_session(hosting: Hosting, remote: Path) -> tuple[str, str]:
    """A session whose branch and base are both on ``remote``: (sid, branch)."""
    checkout = Path(hosting.bed.repo.path)
    git(remote.parent, "init", "-q", "--bare", str(remote))
    git(checkout, "remote", "add", "origin", remote.as_uri())
    git(checkout, "push", "-q", "origin", "main")
    sid = await idle_session(hosting)
    (hosting.worktree(sid) / "feature.txt").write_text("the session's work\n")
    pushed = await hosting.api("POST", f"/api/sessions/{sid}/push")
    assert pushed.status_code == 200, pushed.text
    return sid, pushed.json()["branch"]


async def test_a_fetch_shows_a_teammates_pushes_as_commits_behind(
    hosting: Hosting, tmp_path: Path
) -> None:
    remote, clone = tmp_path / "remote.git", tmp_path / "teammate"
    sid, branch = await pushed_session(hosting, remote)
    teammate_pushes(remote, clone, branch, {"one.txt": "1\n", "two.txt": "2\n"})
    teammate_pushes(remote, clone, "main", {"base.txt": "on main\n"})
    async with hosting.io(sid) as io:
        await eventually(lambda: dict(io.root("branch")).get("pushed") is True)
        before = dict(io.root("branch"))
        assert (before["behind_remote"], before["behind_base"]) == (0, 0)  # nobody looked yet
        # The check time is kept to the second: let one pass, so a new check shows as newer.
        await eventually(lambda: _now_to_the_second() > before["checked_at"])
        began = time.monotonic()
        done = await asyncio.to_thread(trace_cli, hosting, "session", "fetch", sid)
        took = time.monotonic() - began
        assert done.returncode == 0, done.stderr
        assert "1 ahead, 1 behind main" in done.stdout and "0 ahead, 2 behind origin" in done.stdout
        await eventually(lambda: dict(io.root("branch")).get("behind_remote") == 2)
        status = dict(io.root("branch"))
    assert (status["behind_base"], status["ahead_remote"]) == (1, 0)
    assert status["checked_at"] > before["checked_at"]
    print(f"\ntrace session fetch over file:// (CLI process included): {took * 1000:.0f} ms")
    # The update brings in the base as the remote has it, so the figure was not a promise only.
    updated = await hosting.api("POST", f"/api/sessions/{sid}/update")
    assert updated.json()["updated"] is True, updated.text
    assert (hosting.worktree(sid) / "base.txt").read_text() == "on main\n"


async def test_an_unreachable_remote_says_so_and_keeps_the_figures(
    hosting: Hosting, tmp_path: Path
) -> None:
    remote = tmp_path / "remote.git"
    sid, _ = await pushed_session(hosting, remote)
    checkout = Path(hosting.bed.repo.path)
    gone = "http://user:s3cret-token@127.0.0.1:9/nowhere.git"  # a closed loopback port
    git(checkout, "remote", "set-url", "origin", gone)
    async with hosting.io(sid) as io:
        await eventually(lambda: dict(io.root("branch")).get("pushed") is True)
        before = dict(io.root("branch"))
        refused = await hosting.api("POST", f"/api/sessions/{sid}/fetch")
        assert refused.status_code == 409 and "could not reach origin" in refused.text
        assert "s3cret-token" not in refused.text
        print(f"\nunreachable: {refused.json()['error']['message']}")
        done = await asyncio.to_thread(trace_cli, hosting, "session", "fetch", sid)
        assert done.returncode != 0 and "could not reach origin" in done.stderr
        assert "Traceback" not in done.stderr
        assert dict(io.root("branch")) == before
    assert git(checkout, "rev-parse", "--verify", "-q", "refs/remotes/origin/main")


async def test_a_viewer_may_not_fetch(hosting: Hosting, tmp_path: Path) -> None:
    sid, _ = await pushed_session(hosting, tmp_path / "remote.git")
    refused = await hosting.api("POST", f"/api/sessions/{sid}/fetch", hosting.bed.viewer)
    assert refused.status_code == 403, refused.text
    member = await hosting.api("POST", f"/api/sessions/{sid}/fetch")
    assert member.status_code == 200 and member.json()["behind_remote"] == 0, member.text


async def test_a_session_looks_at_the_remote_once_when_its_host_opens_it(
    hosting: Hosting, tmp_path: Path
) -> None:
    remote, clone = tmp_path / "remote.git", tmp_path / "teammate"
    checkout = Path(hosting.bed.repo.path)
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(checkout, "remote", "add", "origin", remote.as_uri())
    git(checkout, "push", "-q", "origin", "main")
    teammate_pushes(remote, clone, "main", {"base.txt": "on main\n"})
    sid = await idle_session(hosting)  # nobody pushes, updates or fetches
    async with hosting.io(sid) as io:
        await eventually(lambda: dict(io.root("branch")).get("behind_base") == 1)
        assert dict(io.root("branch"))["pushed"] is False
