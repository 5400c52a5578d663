"""A cloud session's directory: what the host seeds there, never through a link the
sandbox planted, and how the session's work comes back into the repo."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from adapters.hosts.session_dir import SessionDir
from tests.support.git import commit_all, git, make_repo, write
from trace_sync.bridge.hosts import Launch
from trace_sync.contract.bridge_protocol import RepoRef

TOKEN = "rt-secret-77"


def _launch(repo: Path, branch: str = "trace/fix-1") -> Launch:
    ref = RepoRef(id="rp_1", name="app", source=str(repo), path=str(repo), default_branch="main")
    return Launch("http://127.0.0.1:4000", "rt_1", TOKEN, "s_1", "sandbox-s_1", ref, branch)


def test_the_bridge_gets_its_credentials_and_a_home(tmp_path: Path) -> None:
    folder = SessionDir(tmp_path / "boxes", "s_1")
    folder.prepare(_launch(tmp_path / "app"))
    creds = json.loads((folder.data / "runtime.json").read_text())
    assert creds == {
        "server_url": "http://127.0.0.1:4000",
        "runtime_id": "rt_1",
        "token": TOKEN,
        "instance_id": "sandbox-s_1",
    }
    assert (folder.data / "instance-id").read_text() == "sandbox-s_1\n"
    for seeded in (folder.data / "runtime.json", folder.home / ".gitconfig"):
        assert stat.S_IMODE(seeded.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.base.stat().st_mode) == 0o700  # nobody else gets in
    folder.forget_credentials()
    assert not (folder.data / "runtime.json").exists()


def test_links_planted_by_a_sandbox_are_never_followed(tmp_path: Path) -> None:
    victim_file, victim_dir = tmp_path / "victim.txt", tmp_path / "victim"
    victim_file.write_text("untouched\n")
    victim_dir.mkdir()
    folder = SessionDir(tmp_path / "boxes", "s_1")
    folder.prepare(_launch(tmp_path / "app"))
    for name in ("runtime.json", "instance-id"):
        (folder.data / name).unlink()
        (folder.data / name).symlink_to(victim_file)
    os.rename(folder.home, folder.data / "old-home")
    folder.home.symlink_to(victim_dir)
    folder.prepare(_launch(tmp_path / "app"))
    assert victim_file.read_text() == "untouched\n" and list(victim_dir.iterdir()) == []
    assert not folder.home.is_symlink() and (folder.home / ".gitconfig").is_file()
    assert json.loads((folder.data / "runtime.json").read_text())["token"] == TOKEN


def test_stopping_brings_the_branch_and_checkpoints_back_and_nothing_else(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "app", branch="main")
    folder = SessionDir(tmp_path / "boxes", "s_1")
    folder.prepare(_launch(repo))
    clone = folder.data / "repos" / "rp_1"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "checkout", "-q", "-b", "trace/fix-1")
    write(clone, {"fix.txt": "fixed\n"})
    commit_all(clone, "fix")
    head = git(clone, "rev-parse", "HEAD")
    git(clone, "update-ref", "refs/trace/checkpoints/s_1/1", head)
    git(clone, "update-ref", "refs/trace/checkpoints/s_2/1", head)  # another session's
    git(clone, "branch", "-q", "-f", "main", head)  # a merge made in the sandbox
    main_before = git(repo, "rev-parse", "main")
    brought = folder.bring_back(_launch(repo).repo, "trace/fix-1")
    assert sorted(brought) == ["refs/heads/trace/fix-1", "refs/trace/checkpoints/s_1/1"]
    assert git(repo, "show", "trace/fix-1:fix.txt") == "fixed"
    assert git(repo, "rev-parse", "main") == main_before  # only the session's own refs
    assert git(repo, "for-each-ref", "refs/trace/checkpoints/s_2") == ""
