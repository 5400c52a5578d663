"""Real processes: ``python server.py`` with its local bridge, ``trace bridge`` killed with -9,
the server killed with -9 while a session runs."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.conftest import eventually
from tests.hosting.conftest import IoView
from tests.support.bridge_process import BridgeProcess
from tests.support.git import make_repo
from tests.support.server_process import ROOT, ServerProcess
from trace_sync.client import Backoff, SyncClient
from trace_sync.docs.layouts import SESSION
from trace_sync.docs.typed import root_of

FAST = Backoff(first=0.05, longest=0.5)
#: Quick leases, so a killed bridge is lost within seconds.
QUICK = {"TRACE_BRIDGE_HEARTBEAT_S": "0.5", "TRACE_BRIDGE_LEASE_S": "4"}


async def trace(server: ServerProcess, *args: str) -> Any:
    """Run the ``trace`` CLI against ``server``; its JSON output."""
    argv = [sys.executable, "-m", "trace_sync.cli", *args, "--json"]
    done = await asyncio.to_thread(
        subprocess.run, argv, cwd=ROOT, env=server.env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@asynccontextmanager
async def follow(server: ServerProcess, name: str, *, io: bool = True) -> AsyncIterator[IoView]:
    client = SyncClient(server.url, name, server.token, read_only=True, backoff=FAST)
    async with client:
        await client.wait_synced(30)
        yield IoView(client)


async def session_status(server: ServerProcess, sid: str) -> str:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        response = await http.get(
            f"/api/sessions/{sid}", headers={"Authorization": f"Bearer {server.token}"}
        )
        return str(response.json()["status"])


async def reaches(server: ServerProcess, sid: str, status: str, within: float = 60) -> None:
    async def reached() -> bool:
        return await session_status(server, sid) == status

    await eventually(reached, within)


async def test_right_after_python_server_py_a_shell_session_runs(tmp_path: Path) -> None:
    checkout = make_repo(tmp_path / "shop", branch="main")
    server = ServerProcess(tmp_path / "data", local_bridge=True)
    server.start()
    try:
        await eventually(lambda: "bridge:  running (pid" in server.output(), within=20)
        await trace(server, "repo", "add", str(checkout))
        began = time.monotonic()
        started = await trace(
            server, "session", "start", "--repo", str(checkout), "--tool", "shell", "-m", "echo hi"
        )
        async with follow(server, f"session/{started['id']}/io") as io:
            await eventually(lambda: "hi" in io.lines(), within=60)
            first = time.monotonic() - began
            worktree = io.runtime()["worktree"]
        assert worktree == str(tmp_path / "data" / "bridge" / "worktrees" / started["id"])
        await reaches(server, started["id"], "idle")
        bridge_pid = int(server.output().split("bridge:  running (pid ")[1].split(")")[0])
    finally:
        server.stop(signal.SIGTERM)
    assert not psutil.pid_exists(bridge_pid) or psutil.Process(bridge_pid).status() == "zombie"
    print(f"\ntrace session start (CLI) -> first output in io: {first * 1000:.0f} ms")


async def test_the_local_bridge_does_not_outlive_a_killed_server(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", local_bridge=True)
    server.start()
    try:
        await eventually(lambda: "bridge:  running (pid" in server.output(), within=20)
        bridge_pid = int(server.output().split("bridge:  running (pid ")[1].split(")")[0])
        log = tmp_path / "data" / "bridge" / "bridge.log"
        await eventually(lambda: log.exists() and "welcomed" in log.read_text(), within=30)
    finally:
        server.stop(signal.SIGKILL)

    def gone() -> bool:
        return not psutil.pid_exists(bridge_pid) or psutil.Process(bridge_pid).status() == "zombie"

    await eventually(gone, within=30)
    assert "Trace bridge stopped" in log.read_text()


async def start_shell(server: ServerProcess, checkout: Path, prompt: str) -> str:
    await trace(server, "repo", "add", str(checkout))
    started = await trace(
        server, "session", "start", "--repo", str(checkout), "--tool", "shell", "-m", prompt
    )
    return str(started["id"])


@asynccontextmanager
async def bridged(tmp_path: Path) -> AsyncIterator[tuple[ServerProcess, BridgeProcess, Path]]:
    """A server with quick leases, a ``trace bridge`` process of its owner and a repo;
    both processes are killed on leaving."""
    checkout = make_repo(tmp_path / "shop", branch="main")
    server = ServerProcess(tmp_path / "data", extra_env=QUICK)
    server.start()
    bridge = BridgeProcess(server.url, server.token, tmp_path / "bridge")
    try:
        bridge.start()
        yield server, bridge, checkout
    finally:
        bridge.__exit__()
        server.stop(signal.SIGKILL)


async def test_a_bridge_killed_mid_session_is_lost_and_reconciles_when_it_comes_back(
    tmp_path: Path,
) -> None:
    async with bridged(tmp_path) as (server, bridge, checkout):
        sid = await start_shell(server, checkout, "echo one-$((1))")
        async with follow(server, f"session/{sid}/io") as io:
            await eventually(lambda: "one-1" in io.lines(), within=60)
            await reaches(server, sid, "idle")
            bridge.stop(signal.SIGKILL)
            await reaches(server, sid, "failed")
            bridge.start()
            restarted = "the bridge restarted; resume to continue"
            await eventually(lambda: io.runtime().get("error") == restarted, within=60)
            assert io.runtime().get("pid") is None  # no tool started by itself
            assert await session_status(server, sid) == "failed"
            await trace(server, "session", "resume", sid)
            await reaches(server, sid, "idle")
            await trace(server, "session", "send", sid, "echo two-$((2))")
            await eventually(lambda: "two-2" in io.lines(), within=60)
            lines, transcript = io.lines(), io.transcript()
        async with follow(server, f"session/{sid}") as session:
            meta = dict(root_of(session.client.doc, SESSION, "meta").items())
            timeline = [e["kind"] for e in root_of(session.client.doc, SESSION, "timeline")]
    assert lines.count("one-1") == 1 and lines.index("one-1") < lines.index("two-2")
    prompts = [e["text"] for e in transcript if e["kind"] == "user_prompt"]
    assert prompts == ["echo one-$((1))", "echo two-$((2))"]
    assert "runtime.lost" in timeline or "session.interrupted" in timeline
    assert meta["interrupted"] is False  # the resume cleared it


async def test_a_server_killed_mid_session_loses_nothing_the_bridge_recorded(
    tmp_path: Path,
) -> None:
    checkout = make_repo(tmp_path / "shop", branch="main")
    server = ServerProcess(tmp_path / "data", extra_env={"TRACE_BRIDGE_LEASE_S": "30"})
    server.start()
    bridge = BridgeProcess(server.url, server.token, tmp_path / "bridge")
    ticks = "for i in $(seq 1 60); do echo tick-$i; sleep 0.1; done"
    try:
        bridge.start()
        sid = await start_shell(server, checkout, ticks)
        async with follow(server, f"session/{sid}/io") as io:
            await eventually(lambda: "tick-3" in io.lines(), within=60)
        server.stop(signal.SIGKILL)
        server.start()
        async with follow(server, f"session/{sid}/io") as io:
            await eventually(lambda: "tick-60" in io.lines(), within=60)
            lines = io.lines()
            await eventually(lambda: io.runtime().get("status") == "idle", within=30)
        await reaches(server, sid, "idle")
    finally:
        bridge.__exit__()
        server.stop(signal.SIGKILL)
    for i in range(1, 61):
        assert lines.count(f"tick-{i}") == 1, f"tick-{i}"


def sleepers(*seconds: int) -> dict[int, int]:
    """The living ``sleep N`` processes among ``seconds``: N by pid."""
    found = {}
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        # Other tests (and other workers) run sleeps too, some of "0.1" seconds.
        if len(cmdline) == 2 and cmdline[0].endswith("sleep") and cmdline[1] in map(str, seconds):
            found[process.pid] = int(cmdline[1])
    return found


async def test_a_restarted_bridge_ends_what_the_killed_ones_tool_left_running(
    tmp_path: Path,
) -> None:
    # Ignoring SIGHUP, nohup'd, in a session of its own: each outlives the tool's PTY.
    left = "(trap '' HUP; exec sleep 3001) & nohup sleep 3002 >/dev/null 2>&1 & "
    left += "setsid sleep 3003 >/dev/null 2>&1 & echo left-$((3))"
    unrelated = None
    try:
        async with bridged(tmp_path) as (server, bridge, checkout):
            sid = await start_shell(server, checkout, left)
            async with follow(server, f"session/{sid}/io") as io:
                await eventually(lambda: "left-3" in io.lines(), within=60)
                await eventually(lambda: len(sleepers(3001, 3002, 3003)) == 3)
                worktree = io.runtime()["worktree"]
                # Not the session's, though it runs in its worktree: it must be left alone.
                unrelated = await asyncio.create_subprocess_exec("sleep", "3004", cwd=worktree)
                bridge.stop(signal.SIGKILL)
                await reaches(server, sid, "failed")
                survived = sorted(sleepers(3001, 3002, 3003).values())
                bridge.start()
                restarted = "the bridge restarted; resume to continue"
                await eventually(lambda: io.runtime().get("error") == restarted, within=60)
                await eventually(lambda: not sleepers(3001, 3002, 3003), within=10)
        assert unrelated.returncode is None
    finally:
        if unrelated is not None:
            unrelated.kill()
            await unrelated.wait()
        for pid in sleepers(3001, 3002, 3003):
            psutil.Process(pid).kill()
    print(f"\nleft running after kill -9 of the bridge: sleep {survived}")
    assert survived  # else this test proves nothing
