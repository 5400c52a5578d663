"""Real processes: ``python server.py`` with its local bridge, ``trace bridge`` killed with -9,
the server killed with -9 while a session runs."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import psutil
import pytest

from tests.conftest import eventually
from tests.support.bridge_process import BridgeProcess
from tests.support.git import make_repo
from tests.support.server_process import ServerProcess
from tests.support.waiting_tools import (
    follow,
    reaches,
    session_row,
    session_status,
    timeline,
    trace,
)
from trace_sync.docs.layouts import SESSION
from trace_sync.docs.typed import root_of

#: Quick leases, so a killed bridge is lost within seconds.
QUICK = {"TRACE_BRIDGE_HEARTBEAT_S": "0.5", "TRACE_BRIDGE_LEASE_S": "4"}


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
        bridge_pid = local_bridge_pid(server)
        server.stop(signal.SIGTERM)
        assert "keeps sessions running; `trace bridge stop` stops it" in server.output()
        assert alive(bridge_pid)  # an upgrade or a restart of the server stops no session
        stopped = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "trace_sync.cli", "bridge", "stop"],
            env=server.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert stopped.returncode == 0 and f"pid {bridge_pid}" in stopped.stdout, stopped.stderr
        assert not alive(bridge_pid)
        assert "Trace bridge stopped" in (tmp_path / "data" / "bridge" / "bridge.log").read_text()
    finally:
        server.close()
    print(f"\ntrace session start (CLI) -> first output in io: {first * 1000:.0f} ms")


def local_bridge_pid(server: ServerProcess) -> int:
    return int(server.output().split("bridge:  running (pid ")[-1].split(",")[0].split(")")[0])


def alive(pid: int) -> bool:
    return psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_local_sessions_run_on_across_a_server_restart(
    tmp_path: Path, how: signal.Signals
) -> None:
    """The local bridge outlives its server and the restarted server adopts it: the
    running session's output produced meanwhile arrives, idle stays idle, no
    timestamp moves, nothing is lost or failed."""
    checkout = make_repo(tmp_path / "shop", branch="main")
    server = ServerProcess(tmp_path / "data", local_bridge=True)
    server.start()
    try:
        await eventually(lambda: "bridge:  running (pid" in server.output(), within=20)
        bridge_pid = local_bridge_pid(server)
        idle = await start_shell(server, checkout, "echo resting")
        await reaches(server, idle, "idle")
        before = await session_row(server, idle)
        ticks = "for i in $(seq 1 60); do echo tick-$i; sleep 0.1; done"
        busy = await another_shell(server, checkout, ticks)
        async with follow(server, f"session/{busy}/io") as io:
            await eventually(lambda: "tick-3" in io.lines(), within=60)
        server.stop(how)
        assert alive(bridge_pid)
        server.start()
        assert f"running (pid {bridge_pid}, adopted)" in server.output()
        assert await session_status(server, busy) == "running"
        async with follow(server, f"session/{busy}/io") as io:
            await eventually(lambda: "tick-60" in io.lines(), within=60)
            lines = io.lines()
        await reaches(server, busy, "idle")
        after = await session_row(server, idle)
        for sid in (idle, busy):
            assert not {"runtime.lost", "session.interrupted", "status.failed"} & set(
                await timeline(server, sid)
            )
    finally:
        server.close()
    for i in range(1, 61):
        assert lines.count(f"tick-{i}") == 1, f"tick-{i}"
    assert after["status"] == "idle"
    assert after["last_activity_at"] == before["last_activity_at"]


async def start_shell(server: ServerProcess, checkout: Path, prompt: str) -> str:
    await trace(server, "repo", "add", str(checkout))
    return await another_shell(server, checkout, prompt)


async def another_shell(server: ServerProcess, checkout: Path, prompt: str) -> str:
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


async def test_a_bridge_killed_under_an_idle_session_leaves_it_idle_and_ready(
    tmp_path: Path,
) -> None:
    """Nothing ran, so nothing was cut off: no interruption, and the bridge that comes
    back starts the tool again by itself, ready for the next prompt."""
    async with bridged(tmp_path) as (server, bridge, checkout):
        sid = await start_shell(server, checkout, "echo one-$((1))")
        async with follow(server, f"session/{sid}/io") as io:
            await eventually(lambda: "one-1" in io.lines(), within=60)
            await reaches(server, sid, "idle")
            old_shell = io.runtime()["pid"]
            bridge.stop(signal.SIGKILL)
            bridge.start()
            await eventually(lambda: io.runtime().get("pid") not in (None, old_shell), 60)
            assert await session_status(server, sid) == "idle"
            await trace(server, "session", "send", sid, "echo two-$((2))")
            await eventually(lambda: "two-2" in io.lines(), within=60)
            lines, transcript = io.lines(), io.transcript()
        await reaches(server, sid, "idle")
        async with follow(server, f"session/{sid}") as session:
            meta = dict(root_of(session.client.doc, SESSION, "meta").items())
            timeline = [e["kind"] for e in root_of(session.client.doc, SESSION, "timeline")]
    assert lines.count("one-1") == 1 and lines.index("one-1") < lines.index("two-2")
    prompts = [e["text"] for e in transcript if e["kind"] == "user_prompt"]
    assert prompts == ["echo one-$((1))", "echo two-$((2))"]
    assert not {"runtime.lost", "session.interrupted"} & set(timeline)
    assert not meta.get("interrupted")


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
    # Sleeps of lengths no other test run on this machine uses (one may run beside it).
    first = random.randrange(10_000, 1_000_000, 10)
    mine = (first + 1, first + 2, first + 3)
    # Ignoring SIGHUP, nohup'd, in a session of its own: each outlives the tool's PTY.
    left = f"(trap '' HUP; exec sleep {mine[0]}) & nohup sleep {mine[1]} >/dev/null 2>&1 & "
    left += f"setsid sleep {mine[2]} >/dev/null 2>&1 & echo left-$((3))"
    unrelated = None
    try:
        async with bridged(tmp_path) as (server, bridge, checkout):
            sid = await start_shell(server, checkout, left)
            async with follow(server, f"session/{sid}/io") as io:
                await eventually(lambda: "left-3" in io.lines(), within=60)
                await eventually(lambda: len(sleepers(*mine)) == 3)
                worktree = io.runtime()["worktree"]
                # Not the session's, though it runs in its worktree: it must be left alone.
                unrelated = await asyncio.create_subprocess_exec(
                    "sleep", str(first + 4), cwd=worktree
                )
                # The whole tree killed, guard included (else the guard ends them at once).
                assert bridge.process is not None
                guards = psutil.Process(bridge.process.pid).children()
                assert guards, "the bridge started no guard"
                for guard in guards:
                    guard.kill()
                bridge.stop(signal.SIGKILL)
                survived = sorted(sleepers(*mine).values())
                bridge.start()
                await eventually(lambda: not sleepers(*mine), within=60)
        assert unrelated.returncode is None
    finally:
        if unrelated is not None:
            unrelated.kill()
            await unrelated.wait()
        for pid in sleepers(*mine):
            psutil.Process(pid).kill()
    print(f"\nleft running after kill -9 of the bridge: sleep {survived}")
    assert survived  # else this test proves nothing
