"""``trace repo add`` with every kind of source (issue 15, item 4), against a
real server subprocess: remote URLs for any writer, the server's disk
(``file://``, bare repositories) for instance admins, cloned into a checkout."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_local_mode import trace
from tests.cli.test_sessions_cli import ok, ok_json
from tests.support.git import make_repo
from tests.support.git_http import git_http_server
from tests.support.server_process import ServerProcess, running_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "data") as live:
        yield live


def _bare(tmp_path: Path, name: str) -> Path:
    source = make_repo(tmp_path / f"{name}-src", branch="main")
    bare = tmp_path / "served" / f"{name}.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(source), str(bare)], check=True)
    return bare


def test_an_instance_admin_connects_bare_repositories_by_path_and_file_url(
    server: ServerProcess, tmp_path: Path
) -> None:
    by_url = ok_json(server, "repo", "add", f"file://{_bare(tmp_path, 'shop')}")[0]
    by_path = ok_json(server, "repo", "add", str(_bare(tmp_path, "cart")))[0]
    for repo, name in ((by_url, "shop"), (by_path, "cart")):
        assert repo["name"] == name and repo["default_branch"] == "main"
        checkout = server.data_dir / "repos" / repo["id"]
        assert (checkout / "README.md").read_text() == "hello\n"  # a checkout, not the bare repo
    started = ok_json(server, "session", "start", "--repo", "cart", "--tool", "shell")
    assert started["status"] == "starting"


def test_any_writer_clones_over_http_but_not_from_the_servers_disk(
    server: ServerProcess, tmp_path: Path
) -> None:
    bare = _bare(tmp_path, "shop")
    added = json.loads(ok(server, "user", "add", "bea", "--role", "member", "--json"))
    bea = added[0]["token"]
    with git_http_server(bare.parent) as base:
        cloned = trace(server, "repo", "add", f"{base}/shop.git", "--json", token=bea)
    assert cloned.returncode == 0, cloned.stderr
    assert json.loads(cloned.stdout)[0]["source"] == f"{base}/shop.git"
    refused = trace(server, "repo", "add", f"file://{bare}", token=bea)
    assert refused.returncode == 1 and "instance admins" in refused.stderr
    helper = trace(server, "repo", "add", f"ext::git-upload-pack {bare}")
    assert helper.returncode == 1 and "run commands" in helper.stderr
