"""A server killed with -9: a surviving bridge reconnects and keeps its sessions;
the sessions of a bridge that never returns are lost after one lease."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from pycrdt import Array

from tests.bridges.conftest import FAST, Recorder
from tests.conftest import StoreTarget, eventually
from tests.support.server_process import ServerProcess
from trace_sync.bridge.link import BridgeLink
from trace_sync.bridge.registration import register
from trace_sync.client.reconnect import LinkState
from trace_sync.client.sync_client import SyncClient
from trace_sync.contract.bridge_protocol import Hello
from trace_sync.store import Store

LEASE_S = 3.0


def server_for(target: StoreTarget, tmp_path: Path) -> ServerProcess:
    env = {
        "TRACE_DATABASE_URL": target.url,
        "TRACE_BRIDGE_HEARTBEAT_S": "0.2",
        "TRACE_BRIDGE_LEASE_S": str(LEASE_S),
    }
    if target.schema:
        env["TRACE_DATABASE_SCHEMA"] = target.schema
    return ServerProcess(tmp_path / "data", extra_env=env)


async def running_on(store: Store, runtime_id: str) -> str:
    """A session the store holds as running on ``runtime_id``."""
    [owner] = await store.accounts.list_users()
    [workspace] = await store.directory.list_workspaces()
    session = await store.sessions.create(workspace.id, owner.id, status="running")
    await store.sessions.assign_runtime(session.id, runtime_id)
    return session.id


async def status(store: Store, session_id: str) -> str:
    return (await store.sessions.get(session_id)).status


async def test_a_surviving_bridge_keeps_its_sessions_across_a_server_crash(
    store_target: StoreTarget, tmp_path: Path
) -> None:
    server = server_for(store_target, tmp_path)
    await asyncio.to_thread(server.start)
    try:
        survivor = await register(server.url, server.token, "survivor", "survivor")
        gone = await register(server.url, server.token, "gone", "gone")
        async with store_target.store() as store:
            kept = await running_on(store, survivor.runtime_id)
            lost = await running_on(store, gone.runtime_id)
            recorder = Recorder()

            def hello() -> Hello:
                return Hello(instance_id="survivor", name="survivor", hosting=[kept])

            async with BridgeLink(
                server.url, survivor.token, hello, recorder, backoff=FAST
            ) as link:
                await link.wait_welcomed()
                await asyncio.to_thread(server.stop, signal.SIGKILL)
                await eventually(lambda: link.state is not LinkState.ONLINE)
                await asyncio.to_thread(server.start)
                await eventually(lambda: len(recorder.welcomes) == 2, within=30)
                assert [a.session_id for a in recorder.welcomes[1].assignments] == [kept]
                await eventually(lambda: _is(store, lost, "interrupted"), within=10 * LEASE_S)
                assert await status(store, kept) == "running"
                assert link.state is LinkState.ONLINE
                async with SyncClient(server.url, f"session/{lost}", server.token) as client:
                    await client.wait_synced()
                    timeline = client.doc.get("timeline", type=Array)
                    assert [e["kind"] for e in timeline] == ["runtime.lost"]
    finally:
        if server.process is not None:
            await asyncio.to_thread(server.stop, signal.SIGKILL)


async def _is(store: Store, session_id: str, wanted: str) -> bool:
    return await status(store, session_id) == wanted
