"""The cluster as deploy/cluster/docker-compose.yml runs it, brought up for real: three
server containers, PostgreSQL, Redis and HAProxy on this engine with Debian's
docker-compose (host networking on free loopback ports), the images built here
from the Debian archive. Through HAProxy a person signs in and starts a session
that a bridge in a container runs; every server follows it. Then all of it goes.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import eventually
from tests.support.git import make_repo
from tests.support.parts import missing
from tests.support.server_process import free_port
from trace_sync.client.sync_client import SyncClient
from trace_sync.docs.layouts import SESSION_IO
from trace_sync.docs.typed import root_of

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "cluster" / "docker-compose.yml"
#: Where each server container keeps its data (the compose file's TRACE_DATA_DIR).
DATA = "/tmp/trace"
SERVERS = ("server-1", "server-2", "server-3")
SERVER_PORTS = ("SERVER_1_PORT", "SERVER_2_PORT", "SERVER_3_PORT")
#: The images' user (deploy/bridge/Dockerfile).
IMAGE_USER = 10001

pytestmark = pytest.mark.timeout(900)


@dataclass
class Cluster:
    project: str
    env: dict[str, str]
    ports: dict[str, int]
    files: list[Path]

    def compose(self, *argv: str, check: bool = True) -> str:
        chosen = [arg for f in self.files for arg in ("-f", str(f))]
        command = ["docker-compose", *chosen, "-p", self.project, *argv]
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=300)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(argv)}: {done.stderr[-3000:]}")
        return done.stdout

    def url(self, port: str) -> str:
        return f"http://127.0.0.1:{self.ports[port]}"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A repo the servers and the bridge's container see at the same path, owned by
    the images' user (10001)."""
    repo = make_repo(tmp_path / "shop", branch="main")
    for path in [repo, *repo.rglob("*")]:
        os.chown(path, IMAGE_USER, IMAGE_USER, follow_symlinks=False)
    return repo


@pytest.fixture
def cluster(
    bridge_image: str, services_image: str, checkout: Path, tmp_path: Path
) -> Iterator[Cluster]:
    shown = tmp_path / "checkout.yml"  # this test's only addition to the shipped file
    mount = {"volumes": [f"{checkout}:{checkout}"]}
    shown.write_text(json.dumps({"version": "2.4", "services": dict.fromkeys(SERVERS, mount)}))
    with compose_up([COMPOSE, shown], bridge_image, services_image, tmp_path) as cluster:
        yield cluster


@contextmanager
def compose_up(
    files: list[Path],
    bridge_image: str,
    services_image: str,
    log_dir: Path,
    more_ports: tuple[str, ...] = (),
) -> Iterator[Cluster]:
    """The stack of ``files`` up on free loopback ports (``more_ports`` too), then down."""
    if shutil.which("docker-compose") is None:
        missing("no docker-compose: apt install docker-compose")
    names = ("FRONT_PORT", *SERVER_PORTS, "PG_PORT", "REDIS_PORT", *more_ports)
    ports = {name: free_port() for name in names}
    images = {f"{name}_IMAGE": services_image for name in ("POSTGRES", "REDIS", "HAPROXY")}
    env = os.environ | {name: str(port) for name, port in ports.items()} | images
    env |= {"TRACE_IMAGE": bridge_image, "TRACE_SECRET_KEY": secrets.token_hex(32)}
    cluster = Cluster(f"trace-test-{secrets.token_hex(4)}", env, ports, files)
    try:
        cluster.compose("up", "-d")
        yield cluster
    finally:
        logs = cluster.compose("logs", "--no-color", check=False)
        (log_dir / "compose.log").write_text(logs)
        cluster.compose("down", "--volumes", "--timeout", "5", check=False)


@pytest.fixture
def bridge(cluster: Cluster, bridge_image: str, checkout: Path) -> Iterator[str]:
    """Starts ``trace bridge`` in a container (reaching the cluster through HAProxy)
    when called with the owner's token; removed at the end."""
    name = f"{cluster.project}-bridge"

    def start(token: str) -> None:
        subprocess.run(
            ["docker", "run", "--detach", "--rm", "--name", name, "--network", "host",
             "--volume", f"{checkout}:{checkout}", "--env", "TRACE_TOKEN", bridge_image,
             "trace", "bridge", "--server", cluster.url("FRONT_PORT"), "--name", "compose"],
            env={**os.environ, "TRACE_TOKEN": token}, check=True, capture_output=True,
        )  # fmt: skip

    try:
        yield start  # type: ignore[misc]
    finally:
        subprocess.run(["docker", "rm", "--force", name], capture_output=True)


async def test_the_cluster_comes_up_behind_haproxy_and_runs_a_session(
    cluster: Cluster, bridge: Any, checkout: Path
) -> None:
    async with httpx.AsyncClient(base_url=cluster.url("FRONT_PORT"), timeout=30) as http:
        await eventually(lambda: healthy(http), within=180)
        token = await owner_token(cluster)
        auth = {"Authorization": f"Bearer {token}"}
        link = (await http.post("/api/signin-links", headers=auth)).json()["url"]
        signed_in = await http.get(link, follow_redirects=True)  # through HAProxy: any server
        assert signed_in.status_code == 200 and "trace_token" in http.cookies, signed_in
        bridge(token)
        [workspace] = (await http.get("/api/workspaces", headers=auth)).json()["items"]
        wid = workspace["id"]
        repo = await http.post(f"/api/workspaces/{wid}/repos", json={"source": str(checkout)},
                               headers=auth)  # fmt: skip
        assert repo.status_code == 201, repo.text
        body = {"repo_id": repo.json()["id"], "tool": "shell", "prompt": "echo made > made.txt"}
        started = await http.post(f"/api/workspaces/{wid}/sessions", json=body, headers=auth)
        assert started.status_code == 201, started.text
        sid = started.json()["id"]
        for server in SERVER_PORTS:  # each process follows it
            await _sees_idle(cluster.url(server), sid, token)
        made = await http.get(f"/api/sessions/{sid}/files/made.txt", headers=auth)
        assert made.status_code == 200 and made.json()["text"] == "made\n", made.text


async def _sees_idle(url: str, sid: str, token: str) -> None:
    async with SyncClient(url, f"session/{sid}/io", token, read_only=True) as io:
        await io.wait_synced()
        runtime = root_of(io.doc, SESSION_IO, "runtime")
        await eventually(lambda: runtime.get("status") == "idle", within=180)


async def healthy(http: httpx.AsyncClient) -> bool:
    try:
        return (await http.get("/healthz")).status_code == 200
    except httpx.HTTPError:
        return False


async def owner_token(cluster: Cluster) -> str:
    """The owner's token the first server wrote on its first start."""
    found: list[str] = []

    def written() -> bool:
        read = cluster.compose("exec", "-T", "server-1", "cat", f"{DATA}/local-token", check=False)
        found[:] = [read.strip()] if read.strip() else []
        return bool(found)

    await eventually(written, within=60)
    return found[0]
