"""The bridge process itself: one per data dir, a clean environment, what it says about
itself, a graceful stop, and registering again when its runtime token is revoked."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest

from tests.bridges.conftest import Bed
from tests.conftest import eventually
from tests.hosting.conftest import Hosting, owner_bridge
from tests.hosting.test_restarts import bridged, start_shell
from tests.support.server_process import ServerProcess
from tests.support.waiting_tools import follow, reaches
from trace_sync.contract.errors import Conflict


async def test_one_bridge_per_data_dir(hosting: Hosting) -> None:
    with pytest.raises(Conflict, match=f"pid {os.getpid()}"):
        async with owner_bridge(hosting.bed, hosting.data_dir):
            pass


async def test_git_variables_of_the_bridges_environment_do_not_leak_into_sessions(
    bed: Bed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere.git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(tmp_path))
    async with owner_bridge(bed, tmp_path / "bridge") as bridge:
        assert "GIT_DIR" not in os.environ and "GIT_WORK_TREE" not in os.environ
        hosting = Hosting(bed, bridge, tmp_path / "bridge")
        sid = await hosting.start(prompt="git rev-parse --abbrev-ref HEAD")
        async with hosting.io(sid) as io:
            await eventually(lambda: any(line.startswith("trace/") for line in io.lines()))


async def test_the_workspace_shows_the_bridge_online_with_its_tools(hosting: Hosting) -> None:
    async def listed() -> bool:
        runtimes = await hosting.bed.workspace("runtimes")
        entry = runtimes.get(hosting.bridge.runtime_id) or {}
        tools = {t["name"]: t["available"] for t in entry.get("tools", [])}
        return bool(entry.get("online")) and tools.get("shell") is True

    await eventually(listed)


async def test_sigterm_stops_tools_and_flushes_what_they_did(tmp_path: Path) -> None:
    async with bridged(tmp_path) as (server, bridge, checkout):
        sid = await start_shell(server, checkout, "echo before-stop")
        async with follow(server, f"session/{sid}/io") as io:
            await eventually(lambda: "before-stop" in io.lines(), within=60)
            await reaches(server, sid, "idle")
            assert bridge.stop(signal.SIGTERM) == 0
            await eventually(lambda: io.terminals()["tool"]["state"] == "exited", within=30)
        await eventually(lambda: offline(server), within=60)  # its lease ran out
        await reaches(server, sid, "idle")  # nothing ran: nothing is lost or failed
        assert "Trace bridge stopped" in bridge.output()


async def offline(server: ServerProcess) -> bool:
    headers = {"Authorization": f"Bearer {server.token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
        runtimes = (await http.get("/api/runtimes")).json()["items"]
    return bool(runtimes) and not any(r["online"] for r in runtimes)


async def test_a_revoked_runtime_token_makes_the_bridge_register_again(tmp_path: Path) -> None:
    async with bridged(tmp_path) as (server, bridge, checkout):
        await eventually(lambda: (tmp_path / "bridge" / "runtime.json").exists(), within=30)
        headers = {"Authorization": f"Bearer {server.token}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
            tokens = (await http.get("/api/tokens")).json()["items"]
            [runtime_token] = [t for t in tokens if t["kind"] == "runtime" and not t["revoked_at"]]
            await http.post(f"/api/tokens/{runtime_token['id']}/revoke")
        server.stop(signal.SIGKILL)  # its socket goes: the next connect meets the revocation
        server.start()
        sid = await start_shell(server, checkout, "echo registered-again")
        async with follow(server, f"session/{sid}/io") as io:
            await eventually(lambda: "registered-again" in io.lines(), within=60)
        assert bridge.process is not None and bridge.process.poll() is None
        assert "registering again" in bridge.output()
