"""Bridges across server processes: a bridge connected to one process runs what
comes in through another; a newer connection on either closes the older one;
a process that dies stops answering for its bridges within seconds."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.bridges.conftest import FAST, Recorder
from tests.cluster.conftest import server_on
from tests.cluster.test_authority import add_member
from tests.conftest import StoreTarget, eventually
from tests.support.bridge_process import BridgeProcess
from tests.support.git import make_repo
from tests.support.redis_server import RedisServer
from tests.support.server_process import ServerProcess
from tests.support.waiting_tools import follow, reaches, trace
from trace_sync.bridge.link import BridgeLink
from trace_sync.bridge.registration import RuntimeCredentials, load_credentials
from trace_sync.contract.bridge_protocol import Hello
from trace_sync.docs.layouts import WORKSPACE
from trace_sync.docs.typed import root_of

#: Quick leases: a process that wrongly waited one out would lose the runtime within seconds.
QUICK = {"TRACE_BRIDGE_HEARTBEAT_S": "0.5", "TRACE_BRIDGE_LEASE_S": "2"}


async def members(
    target: StoreTarget,
    redis: RedisServer,
    tmp_path: Path,
    servers: list[ServerProcess],
    **env: str,
) -> tuple[ServerProcess, ServerProcess]:
    """Two cluster members; the ``trace`` CLI run for one talks to that one."""
    a, b = (server_on(target, tmp_path / n, redis.url) for n in ("a", "b"))
    servers += [a, b]
    for server in (a, b):
        server.extra_env |= env | {"TRACE_URL": server.url}
        await asyncio.to_thread(server.start)
    return a, b


async def api(server: ServerProcess, method: str, path: str, **body: Any) -> httpx.Response:
    return await api_as(server, server.token, method, path, **body)


async def online(server: ServerProcess) -> set[str]:
    """The runtimes ``server`` shows online."""
    listed = (await api(server, "GET", "/api/runtimes")).json()["items"]
    return {r["id"] for r in listed if r["online"]}


async def start_shell(server: ServerProcess, checkout: Path, prompt: str) -> str:
    await trace(server, "repo", "add", str(checkout))
    started = await trace(
        server, "session", "start", "--repo", str(checkout), "--tool", "shell", "-m", prompt
    )
    return str(started["id"])


async def credentials(bridge: BridgeProcess) -> RuntimeCredentials:
    """The runtime token the bridge keeps, once it has registered."""

    def kept() -> RuntimeCredentials | None:
        return load_credentials(bridge.data_dir, bridge.server_url)

    await eventually(lambda: kept() is not None, within=30)
    found = kept()
    assert found is not None
    return found


@asynccontextmanager
async def link_to(
    server: ServerProcess, creds: RuntimeCredentials, recorder: Recorder
) -> AsyncIterator[BridgeLink]:
    """A bridge connection of ``creds``'s runtime to ``server``."""

    def hello() -> Hello:
        return Hello(instance_id=creds.instance_id, name="second connection")

    async with BridgeLink(server.url, creds.token, hello, recorder, backoff=FAST) as link:
        yield link


@asynccontextmanager
async def idle_on_bs_bridge(
    a: ServerProcess, b: ServerProcess, tmp_path: Path, prompt: str
) -> AsyncIterator[tuple[BridgeProcess, RuntimeCredentials, str]]:
    """The owner's bridge on B, shown on A, and a shell session started through A
    that ran ``prompt`` on it and is idle: the bridge, its credentials, the session."""
    checkout = make_repo(tmp_path / "shop", branch="main")
    with BridgeProcess(b.url, b.token, tmp_path / "bridge") as bridge:
        creds = await credentials(bridge)
        await eventually(lambda: _shown(a, creds.runtime_id), within=30)
        sid = await start_shell(a, checkout, prompt)
        await reaches(a, sid, "idle")
        yield bridge, creds, sid


async def test_a_session_started_through_one_process_runs_on_a_bridge_of_the_other(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    a, b = await members(postgres, redis_server, tmp_path, servers)
    async with idle_on_bs_bridge(a, b, tmp_path, "echo hi > x.txt") as (bridge, creds, sid):
        # A request with a reply, through A: the bridge on B reads its worktree.
        read = await api(a, "GET", f"/api/sessions/{sid}/files/x.txt")
        assert read.status_code == 200 and read.json()["text"] == "hi\n", read.text
        missing = await api(a, "GET", f"/api/sessions/{sid}/files/nothing.txt")
        assert missing.status_code == 404, missing.text
        # Keystrokes through A reach the tool's terminal on B.
        typed = await api(
            a, "POST", f"/api/sessions/{sid}/terminals/tool/input", data="echo typed-$((6*7))\r"
        )
        assert typed.status_code == 204, typed.text
        async with follow(a, f"session/{sid}/io") as io:
            await eventually(lambda: "typed-42" in io.lines(), within=30)
            sent = await api(a, "POST", f"/api/sessions/{sid}/prompts", text="sleep 300")
            assert sent.status_code == 201, sent.text
            await eventually(lambda: io.runtime().get("status") == "running", within=30)
            shell = psutil.Process(int(io.runtime()["pid"]))
            # Pausing through A stops the tool on B's bridge.
            assert (await api(a, "POST", f"/api/sessions/{sid}/pause")).status_code == 200
            await eventually(lambda: shell.status() == psutil.STATUS_STOPPED, within=30)
            await eventually(lambda: io.runtime().get("status") == "paused", within=30)
            # Stopping through A ends it there.
            assert (await api(a, "POST", f"/api/sessions/{sid}/stop")).status_code == 200
            await eventually(lambda: io.runtime().get("status") == "stopped", within=30)
            await eventually(lambda: not _alive(shell), within=30)
    assert "took over" not in bridge.output()


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def _shown(server: ServerProcess, runtime_id: str) -> bool:
    return runtime_id in await online(server)


async def test_a_newer_connection_to_one_process_takes_over_from_the_other(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    a, b = await members(postgres, redis_server, tmp_path, servers, **QUICK)
    async with idle_on_bs_bridge(a, b, tmp_path, "echo hi") as (bridge, creds, sid):
        recorder = Recorder()
        async with link_to(a, creds, recorder) as second:
            await second.wait_welcomed()
            # The bridge on B is closed with 4409 and stops, as it would on one process.
            assert bridge.process is not None
            code = await asyncio.to_thread(bridge.process.wait, 30)
            assert code != 0 and "took over" in bridge.output(), bridge.output()
            # Commands through B now reach the connection on A.
            typed = await api(b, "POST", f"/api/sessions/{sid}/terminals/tool/input", data="ls\r")
            assert typed.status_code == 204, typed.text
            [received] = recorder.of_type("terminal_input")
            assert (received.session_id, received.data) == (sid, "ls\r")
            # B let its old connection go without waiting out a lease and losing the runtime.
            await asyncio.sleep(3 * float(QUICK["TRACE_BRIDGE_LEASE_S"]))  # nothing may happen
            assert creds.runtime_id in await online(a) and creds.runtime_id in await online(b)
            for server in (a, b):
                assert (await shown_in_workspace(server, creds.runtime_id))["online"]


async def shown_in_workspace(server: ServerProcess, runtime_id: str) -> dict[str, Any]:
    """The runtime as the workspace document shows it to people."""
    [workspace] = (await api(server, "GET", "/api/me")).json()["workspaces"]
    async with follow(server, f"workspace/{workspace['id']}") as view:
        return dict(root_of(view.client.doc, WORKSPACE, "runtimes")[runtime_id])


async def test_a_bridge_on_a_killed_process_is_unavailable_within_seconds(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    a, b = await members(postgres, redis_server, tmp_path, servers)
    async with idle_on_bs_bridge(a, b, tmp_path, "echo hi") as (bridge, creds, sid):
        b.stop(signal.SIGKILL)
        began = time.monotonic()
        typed = await api(a, "POST", f"/api/sessions/{sid}/terminals/tool/input", data="ls\r")
        waited = time.monotonic() - began
        assert typed.status_code == 409, typed.text
        assert "runtime unavailable" in typed.json()["error"]["message"]
        assert waited < 10  # the registry forgets a dead process in seconds, not at a timeout
        assert creds.runtime_id not in await online(a)


async def test_a_grant_revoked_through_one_process_closes_the_terminal_held_on_the_other(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    """The member's terminal was opened through B, where the owner's bridge is; the
    grant ends through A, which never heard of that terminal."""
    a, b = await members(postgres, redis_server, tmp_path, servers)
    _, mia = await add_member(a)
    async with idle_on_bs_bridge(a, b, tmp_path, "echo hi") as (bridge, creds, sid):
        asked = await api_as(a, mia.token, "POST", f"/api/runtimes/{creds.runtime_id}/grants",
                             capabilities=["terminal"], session_id=sid)  # fmt: skip
        grant = f"/api/grants/{asked.json()['id']}"
        assert (await api(a, "POST", f"{grant}/approve")).status_code == 200
        opened = await api_as(b, mia.token, "POST", f"/api/sessions/{sid}/terminals")
        assert opened.status_code == 201, opened.text
        tid = opened.json()["terminal_id"]
        async with follow(a, f"session/{sid}/io") as io:
            await eventually(lambda: _state(io.terminals(), tid) == "running", within=30)
            assert (await api(a, "POST", f"{grant}/revoke")).status_code == 200
            await eventually(lambda: _state(io.terminals(), tid) != "running", within=10)
        typed = await api_as(b, mia.token, "POST", f"/api/sessions/{sid}/terminals/{tid}/input",
                             data="ls\r")  # fmt: skip
        assert typed.status_code == 403, typed.text


async def api_as(
    server: ServerProcess, token: str, method: str, path: str, **body: Any
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        headers = {"Authorization": f"Bearer {token}"}
        return await http.request(method, path, json=body or None, headers=headers)


def _state(terminals: dict[str, dict[str, Any]], tid: str) -> str | None:
    return terminals.get(tid, {}).get("state")
