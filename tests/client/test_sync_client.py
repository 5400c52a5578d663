"""The public sync client against the real server: convergence, refusals,
and reconnecting after a server restart with an edit made while offline."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from pycrdt import Text

from tests.conftest import eventually
from tests.support.live import LiveServer, serve
from tests.support.server_process import ServerProcess, running_server
from tests.sync.conftest import new_session, settings_for
from trace_sync.client.sync_client import Disconnected, SyncClient
from trace_sync.settings import sqlite_url
from trace_sync.store import Store


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with serve(settings_for(tmp_path)) as server:
        yield server


def text(client: SyncClient) -> Text:
    return client.doc.get("t", type=Text)


async def test_two_clients_converge_and_remote_changes_are_not_sent_back(
    live: LiveServer,
) -> None:
    name = f"session/{await new_session(live)}/notes"
    base = f"{live.ws_url}/sync"
    async with SyncClient(base, name, live.token) as a, SyncClient(base, name, live.token) as b:
        await a.wait_synced()
        await b.wait_synced()
        text(a).insert(0, "from a ")
        with b.doc.transaction(origin="b"):
            text(b).insert(0, "from b ")
        await eventually(lambda: str(text(a)) == str(text(b)) and len(str(text(a))) == 14)
        before = live.ctx.metrics.updates_in._value.get()
        text(a).insert(0, "!")
        await eventually(lambda: str(text(b)).startswith("!"))
        text(b).insert(0, "?")  # b's outbox is FIFO: an echo of "!" would arrive first
        await eventually(lambda: str(text(a)).startswith("?"))
        assert live.ctx.metrics.updates_in._value.get() == before + 2


async def test_a_refusal_ends_the_client_with_its_close_code(live: LiveServer) -> None:
    client = SyncClient(f"{live.ws_url}/sync", "session/s_nope/notes", live.token, reconnect=True)
    async with client:
        with pytest.raises(Disconnected) as refused:
            await client.wait_synced()
        assert refused.value.close_code == 4404 and client.closed.is_set()
    with pytest.raises(Disconnected, match="cannot connect"):
        async with SyncClient("ws://127.0.0.1:9/sync", "workspace/w_x", live.token):
            pass


@pytest.fixture
def process(tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "data") as server:
        yield server


async def test_it_reconnects_after_a_restart_and_sends_what_was_written_offline(
    process: ServerProcess,
) -> None:
    headers = {"Authorization": f"Bearer {process.token}"}
    async with httpx.AsyncClient(base_url=process.url, headers=headers) as api:
        [workspace] = (await api.get("/api/workspaces")).json()["items"]
    # notes need a session: made through the server's own database file
    async with Store(sqlite_url(process.data_dir / "trace.db")) as store:
        [owner] = await store.accounts.list_users()
        sid = (await store.sessions.create(workspace["id"], owner.id)).id
    name = f"session/{sid}/notes"
    base = f"{process.ws_url}/sync"
    async with SyncClient(base, name, process.token, reconnect=True) as client:
        await client.wait_synced()
        text(client).insert(0, "before ")
        await process_flushed(process, name, "before ")
        await asyncio.to_thread(process.stop)
        await eventually(lambda: not client.synced.is_set())
        text(client).insert(len(text(client)), "offline")
        await asyncio.to_thread(process.start)
        await client.wait_synced(timeout=60)
        await process_flushed(process, name, "before offline")


async def process_flushed(process: ServerProcess, name: str, expected: str) -> None:
    """What a fresh reader of the server sees reaches ``expected``."""

    async def check() -> bool:
        async with SyncClient(f"{process.ws_url}/sync", name, process.token) as reader:
            await reader.wait_synced()
            return str(text(reader)) == expected

    await eventually(check, within=30)
