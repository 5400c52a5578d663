"""The shared sync client on the real server: convergence, offline edits, refusals, presence."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from pycrdt import Text

from tests.conftest import eventually
from tests.support.live import LiveServer
from tests.support.server_process import ServerProcess
from tests.sync.conftest import new_member, new_session
from trace_sync.client.reconnect import Backoff, LinkState
from trace_sync.client.sync_client import SyncClient
from trace_sync.contract.errors import Forbidden, NotFound, Unauthorized
from trace_sync.settings import sqlite_url
from trace_sync.store import Store
from trace_sync.store.records import Role

FAST = Backoff(first=0.05, longest=0.5)


def draft(client: SyncClient) -> Text:
    return client.doc.get("draft", type=Text)


def type_into(client: SyncClient, text: str) -> None:
    with client.doc.transaction(origin="person"):
        draft(client).insert(len(draft(client)), text)


async def test_two_clients_converge_and_see_each_others_presence(server: LiveServer) -> None:
    name = f"session/{await new_session(server)}/notes"
    async with (
        SyncClient(server.url, name, server.token) as ada,
        SyncClient(server.url, name, server.token) as bob,
    ):
        await ada.wait_synced()
        await bob.wait_synced()
        type_into(ada, "hello ")
        type_into(bob, "world")
        await eventually(lambda: str(draft(ada)) == str(draft(bob)) and len(draft(ada)) == 11)
        owner = await server.ctx.store.accounts.get_user(server.ctx.owner.user_id)
        ada.set_presence({"name": "ada", "cursor": 3})
        # The server relays the authenticated name, not the one claimed.
        stamped = {"name": owner.name, "cursor": 3, "user_id": owner.id}
        await eventually(lambda: stamped in bob.peers.values())


async def test_a_renewed_presence_that_did_not_change_tells_nobody(server: LiveServer) -> None:
    """Each client renews its presence every 15 s unchanged; every other tab on the
    document redrew its page on each renewal (with 16 tabs, 16 renewals per tab)."""
    name = f"session/{await new_session(server)}/notes"
    heard: list[int] = []
    async with (
        SyncClient(server.url, name, server.token) as ada,
        SyncClient(server.url, name, server.token, on_presence=lambda: heard.append(1)) as bob,
    ):
        await ada.wait_synced()
        await bob.wait_synced()
        ada.set_presence({"name": "ada", "cursor": 3})
        await eventually(lambda: any(p.get("cursor") == 3 for p in bob.peers.values()))
        told = len(heard)
        ada.set_presence({"name": "ada", "cursor": 3})  # a renewal: the same state again
        await asyncio.sleep(0.5)  # sent on its own (were it merged, the test could not fail)
        ada.set_presence({"name": "ada", "cursor": 4})  # then a move, after it on the wire
        await eventually(lambda: any(p.get("cursor") == 4 for p in bob.peers.values()))
        assert len(heard) == told + 1


@pytest.mark.process
async def test_an_edit_made_while_the_server_is_down_arrives_after_it_returns(
    tmp_path: Path,
) -> None:
    server = ServerProcess(tmp_path / "data")
    server.start()
    async with Store(sqlite_url(tmp_path / "data" / "trace.db")) as store:
        [owner] = await store.accounts.list_users()
        [workspace] = await store.directory.list_workspaces()
        name = f"session/{(await store.sessions.create(workspace.id, owner.id)).id}/notes"
    states: list[LinkState] = []
    client = SyncClient(server.url, name, server.token, on_state=states.append, backoff=FAST)
    async with client as a:
        await a.wait_synced()
        type_into(a, "before ")
        await a.flush()
        server.stop(signal.SIGKILL)
        await eventually(lambda: a.state is not LinkState.SYNCED)
        type_into(a, "offline")
        server.start()
        await eventually(lambda: a.state is LinkState.SYNCED, within=20)
        async with SyncClient(server.url, name, server.token) as b:
            await b.wait_synced()
            await eventually(lambda: str(draft(b)) == "before offline")
    server.stop()
    assert LinkState.OFFLINE in states


@pytest.mark.parametrize(
    ("who", "error"),
    [("stranger", Unauthorized), ("viewer-writes", Forbidden), ("missing", NotFound)],
)
async def test_a_refusal_is_raised_and_not_retried(
    server: LiveServer, who: str, error: type[Exception]
) -> None:
    session = await new_session(server)
    token, name = server.token, f"session/{session}/notes"
    if who == "stranger":
        token = "not-a-token"
    elif who == "missing":
        name = "session/s_missing/notes"
    else:
        token = await new_member(server, "vic", Role.VIEWER)
    async with SyncClient(server.url, name, token, backoff=FAST) as client:
        if who == "viewer-writes":
            await client.wait_synced()
            type_into(client, "not allowed")
            await eventually(lambda: client.state is LinkState.REFUSED)
        with pytest.raises(error):
            await client.wait_synced(timeout=5)
        assert client.state is LinkState.REFUSED


async def test_updates_from_the_server_are_never_sent_back(server: LiveServer) -> None:
    name = f"session/{await new_session(server)}/notes"
    async with (
        SyncClient(server.url, name, server.token) as ada,
        SyncClient(server.url, name, server.token) as bob,
    ):
        await ada.wait_synced()
        await bob.wait_synced()
        before = server.ctx.metrics.updates_in._value.get()
        type_into(ada, "!")
        await eventually(lambda: str(draft(bob)) == "!")
        type_into(bob, "?")  # bob's sends are in order: an echo of "!" would come first
        await eventually(lambda: str(draft(ada)) == "!?")
        assert server.ctx.metrics.updates_in._value.get() == before + 2


async def test_a_read_only_follower_keeps_following(server: LiveServer) -> None:
    """A viewer's client must not echo what it receives: the server would refuse it (4403)."""
    name = f"session/{await new_session(server)}/notes"
    viewer = await new_member(server, "vera", Role.VIEWER)
    async with (
        SyncClient(server.url, name, server.token) as writer,
        SyncClient(server.url, name, viewer) as follower,
    ):
        await writer.wait_synced()
        await follower.wait_synced()
        for word in ("one ", "two "):
            type_into(writer, word)
            await eventually(lambda w=word: str(draft(follower)).endswith(w))  # type: ignore[misc]
        assert follower.state is LinkState.SYNCED and follower.close_code is None
