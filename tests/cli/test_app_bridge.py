"""``trace app`` runs sessions on this machine: the bridge it starts for its user."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import eventually
from tests.support.server_process import ServerProcess
from trace_sync.bridge.local import lock_holder
from trace_sync.cli.desktop import app_bridge
from trace_sync.settings import Settings


async def online_runtimes(server: ServerProcess) -> list[str]:
    headers = {"Authorization": f"Bearer {server.token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
        listed = (await http.get("/api/runtimes")).json()
    items = listed["items"] if isinstance(listed, dict) else listed
    return [r["name"] for r in items if r.get("online")]


async def test_the_app_brings_a_bridge_for_a_server_without_one(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "server")
    server.start()
    settings = Settings.from_env({"TRACE_DATA_DIR": str(tmp_path / "elsewhere")})
    bridge = app_bridge(server.url, settings, tmp_path / "app", enabled=True)
    try:
        bridge.start(server.url, server.token)
        assert bridge.data_dir == tmp_path / "app" / "bridge"
        await eventually(lambda: online_runtimes(server), within=60)
    finally:
        bridge.stop()
        server.stop()
    assert lock_holder(bridge.data_dir) is None and bridge.state == "stopped"


async def test_for_the_local_server_the_app_uses_its_running_bridge(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", local_bridge=True)
    server.start()
    settings = Settings.from_env(
        {"TRACE_DATA_DIR": str(tmp_path / "data"), "TRACE_PORT": str(server.port)}
    )
    try:
        await eventually(lambda: "bridge:  running (pid" in server.output(), within=20)
        await eventually(lambda: online_runtimes(server), within=60)
        bridge = app_bridge(settings.base_url, settings, tmp_path / "app", enabled=True)
        bridge.start(server.url, server.token)
        assert "adopted" in bridge.state
        assert len(await online_runtimes(server)) == 1
        bridge.stop()  # the app closing leaves the server's bridge running
        assert lock_holder(tmp_path / "data" / "bridge") is not None
    finally:
        server.close()
