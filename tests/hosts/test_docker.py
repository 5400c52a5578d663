"""The docker host: its ``docker run`` command line exactly, the image's Dockerfile
and base, and cloud sessions in real containers on a real Docker engine (the image
built by deploy/bridge/build.py; the lifecycle itself is in test_lifecycle.py).
The containers have no network but the relays to the server (test_docker_confined.py),
which listens on 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from adapters.hosts.bridge_command import bridge_command
from adapters.hosts.docker import (
    IMAGE_PYTHON,
    Container,
    DockerHost,
    DockerSettings,
    container_url,
    docker_run_argv,
)
from adapters.hosts.session_dir import SessionDir
from deploy.bridge.sources import debian_sources
from tests.bridges.conftest import Bed, open_bed, settings_for
from tests.conftest import StoreTarget, eventually
from tests.hosting.conftest import IoView
from tests.support.git import git
from tests.support.live import LiveServer, serve
from tests.support.parts import missing
from tests.support.server_process import ROOT, free_port
from trace_sync.bridge.hosts import HostConfig, Launch
from trace_sync.client.sync_client import SyncClient
from trace_sync.contract.errors import Conflict
from trace_sync.settings import sqlite_url

TOKEN = "rt-docker-secret-42"


def test_the_docker_run_command_line_on_the_hosts_network() -> None:
    settings = DockerSettings(root=Path("/srv/c"), image="trace-bridge:0.1.0", network="host")
    data = Path("/srv/c/s_1/bridge")
    launch = Launch("http://127.0.0.1:4000", "rt_1", TOKEN, "s_1")
    box = Container(
        name="trace-s_1",
        session_id="s_1",
        runtime_id="rt_1",
        command=tuple(bridge_command(IMAGE_PYTHON, launch, data, "docker")),
        data=data,
        repo=Path("/home/ann/app"),
        user=(10001, 10001),
        passed=("TRACE_TOOL_CLAUDE_CODE_MODEL",),
    )
    assert docker_run_argv(settings, box) == [
        "docker", "run", "--detach", "--rm", "--name", "trace-s_1", "--init",
        "--label", "trace.session=s_1", "--label", "trace.runtime=rt_1",
        "--user", "10001:10001", "--workdir", "/srv/c/s_1/bridge",
        "--env", "HOME=/srv/c/s_1/bridge/home",
        "--mount", "type=bind,src=/srv/c/s_1/bridge,dst=/srv/c/s_1/bridge",
        "--mount", "type=bind,src=/home/ann/app,dst=/home/ann/app,readonly",
        "--network", "host",
        "--read-only", "--tmpfs", "/tmp:rw,nosuid,nodev,size=1g",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "--memory", "4g", "--memory-swap", "4g", "--cpus", "2", "--pids-limit", "1024",
        "trace-bridge:0.1.0",
        "/opt/trace/bin/python", "-P", "-B", "-m", "trace_sync.bridge.supervisor", "--",
        "/opt/trace/bin/python", "-P", "-B", "-m", "trace_sync.cli", "bridge",
        "--server", "http://127.0.0.1:4000", "--data-dir", "/srv/c/s_1/bridge",
        "--name", "docker-s_1",
    ]  # fmt: skip


def test_a_confined_containers_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No network but routes: the server and an http model server rewritten to relays
    inside, an https provider kept by name (TLS end to end) on a loopback of its own."""
    for name in [n for n in os.environ if n.startswith("TRACE_TOOL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TRACE_TOOL_CLAUDE_CODE_BASE_URL", "http://127.0.0.1:5005")
    monkeypatch.setenv("TRACE_TOOL_CODEX_BASE_URL", "https://llm.example.com/v1")
    monkeypatch.setenv("TRACE_TOOL_CODEX_MODEL", "gpt-5-codex")
    host = DockerHost(HostConfig(tmp_path, {"image": "trace-bridge:0.1.0"}))
    folder = SessionDir(host.settings.root, "s_1")
    launch = Launch("http://127.0.0.1:4000", "rt_1", TOKEN, "s_1")
    box = host.container(launch, folder, (10001, 10001))
    base, python = str(folder.base), IMAGE_PYTHON
    assert docker_run_argv(host.settings, box) == [
        "docker", "run", "--detach", "--rm", "--name", "trace-s_1", "--init",
        "--label", "trace.session=s_1", "--label", "trace.runtime=rt_1",
        "--user", "10001:10001", "--workdir", f"{base}/bridge",
        "--env", f"HOME={base}/bridge/home",
        "--env", "TRACE_TOOL_CLAUDE_CODE_BASE_URL=http://127.0.0.1:8621",
        "--mount", f"type=bind,src={base}/bridge,dst={base}/bridge",
        "--mount", f"type=bind,src={base}/sockets,dst={base}/sockets,readonly",
        "--network", "none",
        "--add-host", "llm.example.com:127.0.0.4",
        "--sysctl", "net.ipv4.ip_unprivileged_port_start=0",
        "--read-only", "--tmpfs", "/tmp:rw,nosuid,nodev,size=1g",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "--memory", "4g", "--memory-swap", "4g", "--cpus", "2", "--pids-limit", "1024",
        "trace-bridge:0.1.0",
        python, "-P", "-B", "-m", "trace_sync.bridge.socket_relay",
        "--forward", f"127.0.0.1:8620={base}/sockets/server.sock",
        "--forward", f"127.0.0.1:8621={base}/sockets/provider-1.sock",
        "--forward", f"127.0.0.4:443={base}/sockets/provider-2.sock", "--",
        python, "-P", "-B", "-m", "trace_sync.bridge.supervisor", "--",
        python, "-P", "-B", "-m", "trace_sync.cli", "bridge",
        "--server", "http://127.0.0.1:8620", "--data-dir", f"{base}/bridge",
        "--name", "docker-s_1",
    ]  # fmt: skip
    upstreams = {r.name: r.upstream for r in box.confinement.routes}  # type: ignore[union-attr]
    assert upstreams == {
        "server.sock": "127.0.0.1:4000",
        "provider-1.sock": "127.0.0.1:5005",
        "provider-2.sock": "llm.example.com:443",
    }
    # The https provider's settings go in as they are, in the bridge's environment file.
    assert box.passed == ("TRACE_TOOL_CODEX_BASE_URL", "TRACE_TOOL_CODEX_MODEL")


def test_the_server_as_a_container_reaches_it() -> None:
    assert container_url("http://127.0.0.1:4000", network="host") == "http://127.0.0.1:4000"
    bridged = "http://host.docker.internal:4000"
    assert container_url("http://127.0.0.1:4000", network="trace") == bridged
    assert container_url("http://localhost:4000/", network="trace") == bridged + "/"
    assert (
        container_url("https://trace.example.com", network="trace") == "https://trace.example.com"
    )
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


def test_one_dockerfile_serves_a_registry_base_and_the_debian_one() -> None:
    steps = _instructions(ROOT / "deploy" / "bridge" / "Dockerfile")
    assert steps[0] == ("ARG", "BASE=python:3.11-slim")
    assert [arg for op, arg in steps if op == "FROM"] == ["${BASE} AS venv", "${BASE}"]
    runs = " ".join(arg for op, arg in steps if op == "RUN")
    assert "pip install --no-index" in runs  # the staged wheels only: nothing fetched
    assert "if ! command -v git" in runs  # apt only on a base without git and Node
    [user] = [arg for op, arg in steps if op == "USER"]
    assert user == "10001:10001"  # never root
    copied = {arg.split()[0] for op, arg in steps if op == "COPY" and "--from" not in arg}
    assert copied == {"wheels", "tools/node_modules"}  # what deploy/bridge/build.py stages


def test_the_base_is_built_from_the_mirrors_apt_uses(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "deb http://mirror.example/debian bookworm main contrib\n"
        "# deb http://old.example/debian bookworm main\n"
        "deb [arch=amd64] https://vendor.example/apt cloud-sdk-bookworm main\n"
    )
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://sec.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\nSigned-By: /usr/share/keyrings/k.gpg\n\n"
        "Types: deb\nURIs: https://node.example\nSuites: nodistro\nComponents: main\n"
    )
    (tmp_path / "sources.list.d" / "off.list.disabled").write_text("deb http://x bookworm main\n")
    assert debian_sources(tmp_path, "bookworm") == [
        "deb http://mirror.example/debian bookworm main contrib",
        "deb [signed-by=/usr/share/keyrings/k.gpg] http://sec.example/debian-security"
        " bookworm-security main",
    ]


#: The first engine test may build the image (a minute or two when the sources changed).
BUILDS = pytest.mark.timeout(900)


@pytest.fixture
async def cloud(tmp_path: Path, server_home: Path, bridge_image: str) -> AsyncIterator[Bed]:
    """A server on 127.0.0.1 whose cloud sessions run in containers."""
    options = {"image": bridge_image, "memory": "768m", "cpus": "1", "pids": "256"}
    options |= {"pass_env": "PROVIDER_KEY"}
    async with docker_server(tmp_path, options) as bed:
        try:
            yield bed
        finally:  # containers outlive their server on purpose
            await DockerHost(HostConfig(bed.live.ctx.settings.data_dir, options)).stop_all()


@asynccontextmanager
async def docker_server(
    tmp_path: Path, options: dict[str, str], port: int | None = None
) -> AsyncIterator[Bed]:
    async with docker_live(tmp_path, options, port) as live, open_bed(live, tmp_path) as bed:
        yield bed


@asynccontextmanager
async def docker_live(
    tmp_path: Path, options: dict[str, str], port: int | None = None
) -> AsyncIterator[LiveServer]:
    port = port or free_port()
    target = StoreTarget(sqlite_url(tmp_path / "data" / "trace.db"))
    changes: dict[str, Any] = {"cloud_host": "docker", "cloud_host_options": options}
    async with serve(settings_for(tmp_path, target, port=port, **changes), port=port) as live:
        yield live


def _inspect(name: str) -> dict[str, Any]:
    found = subprocess.run(["docker", "inspect", name], capture_output=True, text=True)
    return dict(json.loads(found.stdout)[0]) if found.returncode == 0 else {}


async def _idle(bed: Bed, sid: str) -> None:
    async def idle() -> bool:
        return await bed.status(sid) == "idle"

    await eventually(idle, 120)


@BUILDS
async def test_a_container_session_has_its_limits_and_no_token_in_sight(
    cloud: Bed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVIDER_KEY", "sk-canary-7")  # TRACE_DOCKER_PASS_ENV names it
    prompt = "echo uid=$(id -u) key=$PROVIDER_KEY"
    session = await cloud.start(cloud.owner, location="cloud", prompt=prompt)
    await _idle(cloud, session.id)
    facts = _inspect(f"trace-{session.id}")
    limits = facts["HostConfig"]
    assert (limits["Memory"], limits["NanoCpus"], limits["PidsLimit"]) == (768 << 20, 10**9, 256)
    assert limits["NetworkMode"] == "none" and limits["ReadonlyRootfs"] is True
    assert limits["CapDrop"] == ["ALL"] and facts["Config"]["User"] == "10001:10001"
    folder = cloud.live.ctx.settings.data_dir / "containers" / session.id / "bridge"
    token = json.loads((folder / "runtime.json").read_text())["token"]
    assert token not in json.dumps(facts)  # neither its command line nor its environment
    assert "sk-canary-7" not in json.dumps(facts)  # nor a passed variable's value
    runtime = await cloud.live.ctx.store.runtimes.get((await cloud.row(session.id)).runtime_id)
    assert runtime.kind == "docker"
    url = f"session/{session.id}/io"
    async with SyncClient(cloud.live.url, url, cloud.owner.token, read_only=True) as client:
        await client.wait_synced()
        # The tool ran as the image's user, with the variable passed to it.
        assert "uid=10001 key=sk-canary-7" in IoView(client).lines()


@BUILDS
async def test_deleting_a_session_removes_its_container_and_directory(cloud: Bed) -> None:
    session = await cloud.start(cloud.owner, location="cloud", prompt="echo kept > kept.txt")
    await _idle(cloud, session.id)
    assert _inspect(f"trace-{session.id}")["State"]["Running"]
    sockets = cloud.live.ctx.settings.data_dir / "containers" / session.id / "sockets"
    assert (sockets / "server.sock").is_socket()
    stopped = await cloud.http.post(
        f"/api/sessions/{session.id}/stop", headers=cloud.headers(cloud.owner)
    )
    assert stopped.status_code == 200 and _inspect(f"trace-{session.id}") == {}
    assert not sockets.exists()  # its relays went with it: the server no longer listens
    deleted = await cloud.http.delete(
        f"/api/sessions/{session.id}",
        headers=cloud.headers(cloud.owner) | {"Prefer": "return=representation"},
    )
    assert deleted.status_code == 200, deleted.text
    assert _inspect(f"trace-{session.id}") == {}
    assert not (cloud.live.ctx.settings.data_dir / "containers" / session.id).exists()
    checkpoints = f"refs/trace/checkpoints/{session.id}/"
    assert git(Path(cloud.repo.path), "for-each-ref", checkpoints) == ""


@BUILDS
async def test_a_restarted_server_adopts_its_running_containers(
    tmp_path: Path, server_home: Path, bridge_image: str
) -> None:
    options, port = {"image": bridge_image, "cpus": "1"}, free_port()
    async with docker_server(tmp_path, options, port) as bed:
        session = await bed.start(bed.owner, location="cloud", prompt="echo one-$((1))")
        await _idle(bed, session.id)
        started = _inspect(f"trace-{session.id}")["Id"]
    try:
        assert _inspect(f"trace-{session.id}")["Id"] == started  # it outlived its server
        async with docker_live(tmp_path, options, port) as again:
            owner = await again.ctx.gate.authenticate(again.token)
            await again.ctx.sessions.send(owner, session.id, "echo two-$((2))")
            url = f"session/{session.id}/io"
            async with SyncClient(again.url, url, again.token, read_only=True) as client:
                await client.wait_synced()
                io = IoView(client)
                await eventually(lambda: "two-2" in io.lines(), 120)
            assert _inspect(f"trace-{session.id}")["Id"] == started  # adopted, not replaced
    finally:
        await DockerHost(HostConfig(tmp_path / "data", options)).stop_all()
    assert _inspect(f"trace-{session.id}") == {}


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
