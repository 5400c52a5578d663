"""The real server process restarted gracefully or killed mid-storm loses nothing."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.conftest import StoreTarget
from tests.support.py_client import PyClient
from tests.support.server_process import ServerProcess
from tests.support.state import same_state


async def make_session(target: StoreTarget) -> str:
    """A session in the workspace the server made on first start."""
    async with target.store() as store:
        [owner] = await store.accounts.list_users()
        [workspace] = await store.directory.list_workspaces()
        return (await store.sessions.create(workspace.id, owner.id)).id


def server_for(target: StoreTarget, tmp_path: Path) -> ServerProcess:
    env = {"TRACE_DATABASE_URL": target.url}
    if target.schema:
        env["TRACE_DATABASE_SCHEMA"] = target.schema
    return ServerProcess(tmp_path / "data", extra_env=env)


async def test_a_restart_keeps_the_document_identical(
    store_target: StoreTarget, tmp_path: Path
) -> None:
    server = server_for(store_target, tmp_path)
    server.start()
    url = f"{server.ws_url}/sync/session/{await make_session(store_target)}/notes"
    async with PyClient(url, server.token) as writer:
        await writer.synced.wait()
        for i in range(200):
            writer.edit(len(writer.text) // 2, f"{i % 10}")
        async with PyClient(url, server.token) as check:
            await check.wait_for(lambda: same_state(check.doc, writer.doc))
    server.stop(signal.SIGTERM)  # graceful: uvicorn re-raises the signal once done
    assert "Application shutdown complete" in server.output()
    server.start()
    async with PyClient(url, server.token) as reader:
        await reader.wait_for(lambda: same_state(reader.doc, writer.doc))
        assert str(reader.text) == str(writer.text)
    server.stop()


async def test_kill_9_during_a_write_storm_loses_no_clients_edit(
    store_target: StoreTarget, tmp_path: Path
) -> None:
    server = server_for(store_target, tmp_path)
    server.start()
    url = f"{server.ws_url}/sync/session/{await make_session(store_target)}/notes"
    clients = [PyClient(url, server.token) for _ in range(3)]
    for client in clients:
        await client.__aenter__()
        await client.synced.wait()

    halfway = [asyncio.Event() for _ in clients]

    async def storm(client: PyClient, tag: str, half: asyncio.Event) -> None:
        for i in range(300):
            client.edit(0, f"{tag}{i};")
            if i == 150:
                half.set()
            await asyncio.sleep(0.001)  # the storm's pace: the kill lands inside it

    storms = [
        asyncio.create_task(storm(c, t, h)) for c, t, h in zip(clients, "abc", halfway, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(h.wait() for h in halfway)), timeout=30)
    server.stop(signal.SIGKILL)  # mid-storm: some edits never reached the server
    assert not all(s.done() for s in storms)  # the kill did land inside the storm
    await asyncio.gather(*storms)
    for client in clients:
        await client.close()
    server.start()
    reconnected = [PyClient(url, server.token, doc=c.doc) for c in clients]
    for client in reconnected:
        await client.__aenter__()
    async with PyClient(url, server.token) as observer:
        every_edit = {f"{t}{i};" for t in "abc" for i in range(300)}
        await observer.wait_for(
            lambda: all(e in str(observer.text) for e in every_edit), timeout=15
        )
    for client in reconnected:
        await client.close()
    server.stop()
    server.start()
    async with PyClient(url, server.token) as after_restart:
        await after_restart.wait_for(
            lambda: len(str(after_restart.text)) == len(str(clients[0].text))
        )
        assert all(e in str(after_restart.text) for e in every_edit)
    server.stop()
