"""Cloud hosts for real: bubblewrap on this machine, a Docker engine with the bridge
image of this checkout, a server's data dir and home of the test's own, a real
repo, and a way to run a command as a sandboxed session's bridge would be.

Without ``bwrap`` or an engine these tests skip, saying what to install, except
under ``CI=true`` where they fail.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.hosts.sandbox import SandboxHost
from adapters.hosts.sandbox_argv import sandbox_argv, sandbox_env
from adapters.hosts.session_dir import SessionDir
from tests.support.git import make_repo
from tests.support.parts import missing
from trace_sync.bridge.hosts import HostConfig, Launch
from trace_sync.contract.bridge_protocol import RepoRef

TOKEN = "rt-secret-token-0123456789"


def need_bwrap() -> None:
    if shutil.which("bwrap") is None:
        missing("bubblewrap is not installed: apt install bubblewrap")


@dataclass
class Box:
    """One session's sandbox, not yet running its bridge."""

    host: SandboxHost
    folder: SessionDir
    launch: Launch
    home: Path
    data_dir: Path
    repo: Path

    def run(self, script: str) -> subprocess.CompletedProcess[str]:
        """``sh -c script`` in the sandbox the session's bridge would get."""
        plan = self.host.plan(self.folder, ["/bin/sh", "-c", script], self.launch)
        env = sandbox_env(os.environ, self.folder.home, TOKEN)
        return subprocess.run(
            sandbox_argv(plan), env=env, capture_output=True, text=True, timeout=60
        )


@pytest.fixture
def server_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The server's home directory (``$HOME``), with something private in it."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("PRIVATE KEY\n")
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def box(tmp_path: Path, server_home: Path) -> Box:
    need_bwrap()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "local-token").write_text("owner-token\n")
    repo = make_repo(server_home / "code" / "app", branch="main")
    host = SandboxHost(HostConfig(data_dir))
    ref = RepoRef(id="rp_1", name="app", source=str(repo), path=str(repo), default_branch="main")
    launch = Launch("http://127.0.0.1:9", "rt_1", TOKEN, "s_1", "sandbox-s_1", ref, "trace/t-1")
    folder = SessionDir(host.settings.root, "s_1")
    folder.prepare(launch, host.settings.user)
    return Box(host, folder, launch, server_home, data_dir, repo)


def need_docker() -> None:
    """A Docker engine this user may drive (the tests start real containers)."""
    how = (
        "apt install docker.io mmdebstrap, start the engine "
        "(setsid dockerd --bridge=none --iptables=false &; .ci/run does), then make image"
    )
    if shutil.which("docker") is None:
        missing(f"no docker CLI: {how}")
    info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True)
    if info.returncode != 0:
        missing(f"no Docker engine answers: {how}")


@pytest.fixture(scope="session")
def services_image() -> str:
    """PostgreSQL, Redis and HAProxy from the Debian archive (deploy/cluster/build.py)."""
    need_docker()
    from deploy.cluster.build import build_services

    return build_services()


@pytest.fixture(scope="session")
def bridge_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The bridge image of this checkout: built (from the Debian archive) when its
    inputs changed since the last build, once for all test workers."""
    need_docker()
    from deploy.bridge.build import IMAGE, bridge_base, build_image

    lock = tmp_path_factory.getbasetemp().parent / "trace-bridge-image.lock"
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        build_image(bridge_base())
    return IMAGE
