"""The docker host: its ``docker run`` command line exactly, the image's Dockerfile,
and start/stop driven through a fake docker CLI — no Docker engine runs here, so
no container was ever started by these tests (see README, "Runtime hosts")."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
from pathlib import Path

import pytest

from adapters.hosts.docker import (
    Container,
    DockerHost,
    DockerSettings,
    container_url,
    docker_run_argv,
)
from adapters.hosts.session_dir import SessionDir
from tests.support.git import make_repo
from tests.support.parts import missing
from tests.support.server_process import ROOT
from trace_sync.errors import Conflict
from trace_sync.runtime.hosts import HostConfig, Launch
from trace_sync.runtime.protocol import RepoRef

TOKEN = "rt-docker-secret-42"


def test_the_docker_run_command_line() -> None:
    settings = DockerSettings(root=Path("/srv/c"), image="trace-bridge:0.1.0")
    data = Path("/srv/c/s_1/bridge")
    box = Container(
        name="trace-s_1",
        session_id="s_1",
        runtime_id="rt_1",
        server_url="http://host.docker.internal:4000",
        data=data,
        repo=Path("/home/ann/app"),
        user=(10001, 10001),
        passed=("ANTHROPIC_API_KEY",),
    )
    assert docker_run_argv(settings, box) == [
        "docker", "run", "--detach", "--rm", "--name", "trace-s_1", "--init",
        "--label", "trace.session=s_1", "--label", "trace.runtime=rt_1",
        "--user", "10001:10001",
        "--env", "TRACE_URL=http://host.docker.internal:4000",
        "--env", "TRACE_BRIDGE_DATA_DIR=/srv/c/s_1/bridge",
        "--env", "HOME=/srv/c/s_1/bridge/home",
        "--env", "TRACE_TOKEN", "--env", "ANTHROPIC_API_KEY",
        "--mount", "type=bind,src=/srv/c/s_1/bridge,dst=/srv/c/s_1/bridge",
        "--mount", "type=bind,src=/home/ann/app,dst=/home/ann/app,readonly",
        "--network", "bridge", "--add-host", "host.docker.internal:host-gateway",
        "--read-only", "--tmpfs", "/tmp:rw,nosuid,nodev,size=1g",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "--memory", "4g", "--memory-swap", "4g", "--cpus", "2", "--pids-limit", "1024",
        "trace-bridge:0.1.0", "--name", "docker-s_1",
    ]  # fmt: skip


def test_the_server_as_a_container_reaches_it() -> None:
    assert container_url("http://127.0.0.1:4000") == "http://host.docker.internal:4000"
    assert container_url("http://localhost:4000/") == "http://host.docker.internal:4000/"
    assert container_url("https://trace.example.com") == "https://trace.example.com"
    assert container_url("http://127.0.0.1:4000", "http://10.0.0.2:4000") == "http://10.0.0.2:4000"


def test_the_options_come_from_trace_docker_variables(tmp_path: Path) -> None:
    options = {"image": "reg.example/tb:1", "memory": "8g", "pids": "256", "network": "trace"}
    options |= {"run_options": "--runtime=runsc, --ulimit=nofile=1024"}
    settings = DockerSettings.read(HostConfig(tmp_path, options))
    assert (settings.image, settings.memory, settings.pids) == ("reg.example/tb:1", "8g", 256)
    assert settings.root == (tmp_path / "containers").resolve()
    assert settings.run_options == ("--runtime=runsc", "--ulimit=nofile=1024")


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(instruction, arguments) pairs, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines()]
    pairs = [line.split(" ", 1) for line in lines if line and not line.startswith("#")]
    return [(op, arg) for op, arg in pairs]


def test_the_bridge_image_dockerfile() -> None:
    dockerfile = ROOT / "deploy" / "bridge" / "Dockerfile"
    steps = _instructions(dockerfile)
    args = dict(arg.split("=", 1) for op, arg in steps if op == "ARG" and "=" in arg)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", args["PYTHON_IMAGE"])
    assert ("FROM", "${PYTHON_IMAGE}") in steps and args["WITH_TOOLS"] == "0"
    runs = " ".join(arg for op, arg in steps if op == "RUN")
    assert "install -y --no-install-recommends git" in runs and "pip install /src" in runs
    assert "npm ci --omit=dev" in runs  # the CLIs at tests/tools/package-lock.json's pins
    [user] = [arg for op, arg in steps if op == "USER"]
    assert user == "10001:10001"  # never root
    assert steps[-1] == ("ENTRYPOINT", '["trace", "bridge"]')
    for op, arg in steps:  # everything it copies is in the repo and in the build context
        if op == "COPY":
            *sources, _ = arg.split()
            assert all((ROOT / source).exists() for source in sources), arg
    ignore = (ROOT / ".dockerignore").read_text()
    assert all(f"!{name}" in ignore for name in ("trace_sync/", "adapters/", "pyproject.toml"))


FAKE_DOCKER = """#!{python}
# A FAKE docker CLI: no Docker engine runs here. It records what it was asked.
import json, os, sys
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "token": os.environ.get("TRACE_TOKEN")}}) + "\\n")
if sys.argv[1] in ("stop", "rm"):
    sys.exit(print("Error response from daemon: No such container: x", file=sys.stderr) or 1)
print("0123456789abcdef")
"""


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "fake-docker"
    script.write_text(FAKE_DOCKER.format(python=sys.executable))
    script.chmod(0o755)
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(tmp_path / "docker.log"))
    return script


def _calls(tmp_path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (tmp_path / "docker.log").read_text().splitlines()]


async def test_start_and_stop_through_a_fake_docker_cli(tmp_path: Path, fake_docker: Path) -> None:
    repo = make_repo(tmp_path / "app", branch="main")
    host = DockerHost(HostConfig(tmp_path / "data", {"binary": str(fake_docker)}))
    ref = RepoRef(id="rp_1", name="app", source=str(repo), path=str(repo), default_branch="main")
    launch = Launch("http://127.0.0.1:4000", "rt_1", TOKEN, "s_1", "docker-s_1", ref, "trace/a")
    await host.start(launch)
    *removed, run = _calls(tmp_path)
    assert [c["argv"][0] for c in removed] == ["stop", "rm"]  # type: ignore[index]
    folder = SessionDir(host.settings.root, "s_1")
    user = (10001, 10001) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    box = host.container(launch, folder, user)
    assert run["argv"] == docker_run_argv(host.settings, box)[1:]
    assert run["token"] == TOKEN and TOKEN not in json.dumps(run["argv"])
    creds = folder.data / "runtime.json"
    assert json.loads(creds.read_text())["token"] == TOKEN
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert host.bridges == {"s_1": "trace-s_1"}
    await host.stop("s_1")
    assert [c["argv"][:1] for c in _calls(tmp_path)[-2:]] == [["stop"], ["rm"]]
    assert not creds.exists() and host.bridges == {}


async def test_without_an_engine_the_real_docker_cli_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("docker") is None:
        # An optional extra: the fake CLI above covers the host; this one only shows a
        # real client's refusal reaching the caller (apt install docker.io for it).
        missing("the docker CLI is not installed (apt install docker.io; no engine needed)")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    host = DockerHost(HostConfig(tmp_path / "data"))
    launch = Launch("http://127.0.0.1:4000", "rt_1", TOKEN, "s_1", "docker-s_1")
    with pytest.raises(Conflict, match="Cannot connect to the Docker daemon"):
        await host.start(launch)
