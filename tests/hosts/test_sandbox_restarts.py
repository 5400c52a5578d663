"""A cloud session's sandbox outlives ``python server.py``: stopped (SIGTERM, as an
upgrade does) or killed (SIGKILL, as an out-of-memory kill does), the server comes
back on the same data, adopts the sandbox still running, and the session runs on."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from adapters.hosts.sandbox import SandboxHost
from tests.conftest import eventually
from tests.hosting.test_restarts import alive
from tests.hosts.conftest import need_bwrap
from tests.support.git import git, make_repo
from tests.support.server_process import ROOT, ServerProcess
from tests.support.waiting_tools import follow, reaches, session_status, trace
from trace_sync.bridge.hosts import HostConfig

TICKS = "for i in $(seq 1 100); do echo tick-$i; sleep 0.1; done"


@pytest.fixture
async def sandboxed(tmp_path: Path, server_home: Path) -> AsyncIterator[ServerProcess]:
    """``python server.py`` with ``TRACE_CLOUD_HOST=sandbox``; on leaving, the server
    is killed and every sandbox still running on its data is stopped (they outlive it)."""
    need_bwrap()
    server = ServerProcess(tmp_path / "data", extra_env={"TRACE_CLOUD_HOST": "sandbox"})
    server.start()
    try:
        yield server
    finally:
        server.close()
        await SandboxHost(HostConfig(server.data_dir)).stop_all()


def sandbox_dir(server: ServerProcess, sid: str) -> Path:
    return server.data_dir / "sandboxes" / sid


def sandbox_pid(server: ServerProcess, sid: str) -> int:
    return int(json.loads((sandbox_dir(server, sid) / "sandbox.json").read_text())["pid"])


def sandboxes_of(server: ServerProcess, sid: str) -> list[int]:
    """The pids of the outermost bwrap of every sandbox around the session's data dir."""
    data = str(sandbox_dir(server, sid) / "bridge")
    found = []
    for process in psutil.process_iter(["name", "cmdline", "ppid"]):
        if process.info["name"] != "bwrap" or data not in (process.info["cmdline"] or []):
            continue
        try:
            parent = psutil.Process(process.info["ppid"]).name()
        except psutil.Error:
            parent = ""
        if parent != "bwrap":  # bwrap forks its init inside: one sandbox, two bwraps
            found.append(process.pid)
    return found


async def timeline(server: ServerProcess, sid: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        response = await http.get(
            f"/api/sessions/{sid}/timeline", headers={"Authorization": f"Bearer {server.token}"}
        )
    return list(response.json()["items"])


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_a_cloud_session_runs_on_across_a_server_restart_in_its_adopted_sandbox(
    sandboxed: ServerProcess, tmp_path: Path, how: signal.Signals
) -> None:
    server = sandboxed
    checkout = make_repo(tmp_path / "shop", branch="main")
    await trace(server, "repo", "add", str(checkout))
    argv = ["session", "start", "--repo", str(checkout), "--tool", "shell", "--cloud"]
    sid = (await trace(server, *argv, "-m", TICKS))["id"]
    async with follow(server, f"session/{sid}/io") as io:
        await eventually(lambda: "tick-3" in io.lines(), within=90)
    # What the person saw before the restart (output can come before the status is kept)
    await reaches(server, sid, "running")
    pid = sandbox_pid(server, sid)
    assert server.process is not None
    assert pid not in [p.pid for p in psutil.Process(server.process.pid).children(True)]
    server.stop(how)
    assert alive(pid)  # the sandbox outlived its server
    server.start()
    assert await session_status(server, sid) == "running"
    async with follow(server, f"session/{sid}/io") as io:
        await eventually(lambda: "tick-100" in io.lines(), within=60)
        lines = io.lines()
    await reaches(server, sid, "idle")
    assert sandboxes_of(server, sid) == [pid]  # adopted: no second sandbox
    events = await timeline(server, sid)
    kinds = {e["kind"] for e in events}
    assert not {"runtime.lost", "session.interrupted", "status.failed"} & kinds, kinds
    reported = [e["payload"].get("status") for e in events if e["kind"] == "status.reported"]
    assert "failed" not in reported and reported[-2:] == ["running", "idle"], reported
    for i in range(1, 101):
        assert lines.count(f"tick-{i}") == 1, f"tick-{i}"

    await trace(server, "session", "stop", sid)  # the restarted server stops what it adopted
    await eventually(lambda: not alive(pid), within=30)
    assert not (sandbox_dir(server, sid) / "sandbox.json").exists()
    assert not (sandbox_dir(server, sid) / "bridge" / "runtime.json").exists()
    await trace(server, "session", "delete", sid)
    assert not sandbox_dir(server, sid).exists()


async def test_an_adopted_sandbox_running_a_tool_stops_and_goes_with_its_session(
    sandboxed: ServerProcess, tmp_path: Path
) -> None:
    server = sandboxed
    checkout = make_repo(tmp_path / "shop", branch="main")
    await trace(server, "repo", "add", str(checkout))
    argv = ["session", "start", "--repo", str(checkout), "--tool", "shell", "--cloud"]
    sid = (await trace(server, *argv, "-m", "sleep 300"))["id"]
    await reaches(server, sid, "running", 90)
    pid = sandbox_pid(server, sid)
    server.stop(signal.SIGTERM)
    server.start()
    assert alive(pid) and sandboxes_of(server, sid) == [pid]
    await trace(server, "session", "stop", sid)
    await trace(server, "session", "delete", sid)
    assert not alive(pid)
    assert not sandbox_dir(server, sid).exists()


async def test_trace_bridge_stop_sandboxes_stops_what_a_stopped_server_left_running(
    sandboxed: ServerProcess, tmp_path: Path
) -> None:
    server = sandboxed
    checkout = make_repo(tmp_path / "shop", branch="main")
    await trace(server, "repo", "add", str(checkout))
    argv = ["session", "start", "--repo", str(checkout), "--tool", "shell", "--cloud"]
    started = await trace(server, *argv, "-m", "sleep 300")
    sid = started["id"]
    await reaches(server, sid, "running", 90)
    pid = sandbox_pid(server, sid)
    server.stop(signal.SIGTERM)
    assert alive(pid)
    stop = [sys.executable, "-m", "trace_sync.cli", "bridge", "stop", "--sandboxes"]
    done = await asyncio.to_thread(
        subprocess.run, stop, cwd=ROOT, env=server.env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert f"stopped the sandbox bridge of session {sid}" in done.stdout
    assert not alive(pid) and sandboxes_of(server, sid) == []
    assert git(checkout, "branch", "--list", "trace/*").strip(" *") == started["branch"]
    assert not (sandbox_dir(server, sid) / "bridge" / "runtime.json").exists()
