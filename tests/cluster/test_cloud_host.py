"""The cloud host across server processes: whichever process a person's command
comes in through, it reaches the boxes the cluster's cloud host runs, and a
new leader takes over the boxes of a leader that died (real processes,
PostgreSQL, a private Redis, bubblewrap sandboxes in a directory they share)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from adapters.hosts.sandbox import SandboxHost
from adapters.hosts.session_dir import SessionDir
from tests.cluster.conftest import server_on
from tests.cluster.test_bridges import api
from tests.cluster.test_leader_jobs import FAST_LEASES, one_leader
from tests.conftest import StoreTarget, eventually
from tests.hosts.conftest import need_bwrap
from tests.support.git import git, make_repo
from tests.support.haproxy import haproxy
from tests.support.redis_server import RedisServer
from tests.support.server_process import ServerProcess, free_port
from tests.support.waiting_tools import reaches, trace
from trace_sync.bridge.hosts import HostConfig


@pytest.fixture
async def boxes(tmp_path: Path) -> AsyncIterator[Path]:
    """The sandboxes' directory the members share; every box still running there
    is stopped at the end (boxes outlive their servers on purpose)."""
    need_bwrap()
    shared = tmp_path / "sandboxes"
    try:
        yield shared
    finally:
        await SandboxHost(HostConfig(tmp_path, {"dir": str(shared)})).stop_all()


def box_alive(shared: Path, sid: str) -> bool:
    noted = SessionDir(shared, sid).recall()
    if noted is None:
        return False
    try:
        return bool(psutil.Process(noted[0]).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


@dataclass
class Pair:
    """Two members behind HAProxy, each with the sandbox host on a shared directory,
    and a repo added to their workspace."""

    leader: ServerProcess
    follower: ServerProcess
    checkout: Path


@pytest.fixture
async def pair(
    postgres: StoreTarget,
    redis_server: RedisServer,
    tmp_path: Path,
    servers: list[ServerProcess],
    boxes: Path,
) -> AsyncIterator[Pair]:
    """The boxes' bridges dial the balancer, as in a real deployment, so they
    reconnect to whichever member lives."""
    port = free_port()
    env = {"TRACE_CLOUD_HOST": "sandbox", "TRACE_SANDBOX_DIR": str(boxes)} | FAST_LEASES
    env["TRACE_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    members = [server_on(postgres, tmp_path / n, redis_server.url) for n in ("a", "b")]
    servers += members
    for server in members:
        server.extra_env |= env | {"TRACE_URL": server.url}
        await asyncio.to_thread(server.start)
    with haproxy([m.port for m in members], tmp_path / "haproxy.log", port=port):
        leader = await one_leader(members)
        (follower,) = (m for m in members if m is not leader)
        checkout = make_repo(tmp_path / "shop", branch="main")
        await trace(leader, "repo", "add", str(checkout))
        yield Pair(leader, follower, checkout)


async def cloud_session(server: ServerProcess, checkout: Path, prompt: str) -> str:
    argv = ("session", "start", "--repo", str(checkout), "--tool", "shell", "--cloud", "-m", prompt)
    sid = str((await trace(server, *argv))["id"])
    await reaches(server, sid, "idle", within=90)
    return sid


async def merged_through(server: ServerProcess, sid: str, checkout: Path) -> bool:
    """Merge the session through ``server``: True once it landed on main (a
    refusal, while no process holds the host, is False)."""
    response = await api(server, "POST", f"/api/sessions/{sid}/merge")
    if response.status_code != 200:
        return False
    assert response.json()["merged"], response.text
    assert git(checkout, "rev-parse", "main") == response.json()["commit"]
    return True


async def stopped_through(server: ServerProcess, sid: str, boxes: Path) -> None:
    stopped = await api(server, "POST", f"/api/sessions/{sid}/stop")
    assert stopped.status_code == 200, stopped.text
    await eventually(lambda: not box_alive(boxes, sid), within=30)


async def test_a_box_started_through_one_process_is_merged_and_stopped_through_the_other(
    pair: Pair, boxes: Path
) -> None:
    sid = await cloud_session(pair.follower, pair.checkout, "echo made > made.txt")
    assert box_alive(boxes, sid)
    assert await merged_through(pair.leader, sid, pair.checkout)
    assert git(pair.checkout, "show", "main:made.txt") == "made"
    await stopped_through(pair.follower, sid, boxes)


async def test_a_new_leader_takes_over_the_boxes_of_one_that_died(pair: Pair, boxes: Path) -> None:
    sid = await cloud_session(pair.leader, pair.checkout, "echo made > made.txt")
    pair.leader.stop(signal.SIGKILL)
    assert await one_leader([pair.follower], within=30) is pair.follower
    assert box_alive(boxes, sid)  # the box outlived the process that held the host
    # Its bridge reconnects through the balancer; the survivor holds the host.
    await eventually(lambda: merged_through(pair.follower, sid, pair.checkout), within=60)
    await stopped_through(pair.follower, sid, boxes)
    # And the survivor, now holding the host, starts new boxes.
    again = await cloud_session(pair.follower, pair.checkout, "echo again > again.txt")
    assert box_alive(boxes, again)
