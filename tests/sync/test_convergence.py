"""Clients on one document converge; presence reaches newcomers and leaves with its owner."""

from __future__ import annotations

import asyncio

from pycrdt import Text

from tests.support.live import LiveServer
from tests.support.py_client import PyClient
from tests.support.state import same_state
from tests.sync.conftest import new_session, notes_url


async def test_two_clients_converge_and_a_late_joiner_gets_everything(server: LiveServer) -> None:
    url = notes_url(server, await new_session(server))
    async with PyClient(url, server.token) as a, PyClient(url, server.token) as b:
        await asyncio.gather(a.synced.wait(), b.synced.wait())
        a.edit(0, "hello ")
        b.edit(0, "world")
        await a.wait_for(lambda: len(str(a.text)) == 11 and str(a.text) == str(b.text))
        owner = await server.ctx.store.accounts.get_user(server.ctx.owner.user_id)
        await a.set_presence({"name": "ada", "cursor": 3})
        await b.wait_for(lambda: a.doc.client_id in b.awareness)
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with PyClient(url, server.token) as late:
            await late.wait_for(lambda: str(late.text) == str(a.text) and bool(late.awareness))
            assert loop.time() - started < 1.0
            # The server relays the authenticated name, not the one claimed.
            stamped = {"name": owner.name, "cursor": 3, "user_id": owner.id}
            assert late.awareness[a.doc.client_id] == stamped
            assert same_state(late.doc, a.doc)


async def test_each_joiner_with_nothing_gets_the_document_as_it_is_when_it_joins(
    server: LiveServer,
) -> None:
    """While a document is unchanged its joiners share one prepared copy of it (a
    crowd reconnecting after a restart); every change in between reaches the next."""
    url = notes_url(server, await new_session(server))
    async with PyClient(url, server.token) as writer:
        await writer.synced.wait()
        for word in ("one ", "two ", "three "):
            writer.edit(len(str(writer.text)), word)
            for _ in range(2):
                async with PyClient(url, server.token) as joiner:
                    await joiner.wait_for(lambda j=joiner: str(j.text) == str(writer.text))
        assert str(writer.text) == "one two three "


async def test_a_closed_clients_presence_is_removed_for_the_others(server: LiveServer) -> None:
    url = notes_url(server, await new_session(server))
    async with PyClient(url, server.token) as stays:
        leaver = PyClient(url, server.token)
        async with leaver:
            await leaver.set_presence({"name": "bob"})
            await stays.wait_for(lambda: leaver.doc.client_id in stays.awareness)
        await stays.wait_for(lambda: leaver.doc.client_id not in stays.awareness)


async def test_a_service_write_reaches_clients_and_the_store(server: LiveServer) -> None:
    name = f"session/{await new_session(server)}/notes"
    async with PyClient(f"{server.ws_url}/sync/{name}", server.token) as client:
        await client.synced.wait()
        async with server.ctx.sync.rooms.open(name) as room, room.doc.transaction(origin="svc"):
            room.doc.get("t", type=Text).insert(0, "from the server")
        await client.wait_for(lambda: str(client.text) == "from the server")
    await server.ctx.store.updates.flush()
    assert len(await server.ctx.store.updates.load(name)) >= 1


async def test_an_idle_room_unloads_after_its_grace_period(server: LiveServer) -> None:
    name = f"session/{await new_session(server)}/notes"
    rooms = server.ctx.sync.rooms
    async with PyClient(f"{server.ws_url}/sync/{name}", server.token) as client:
        await client.synced.wait()
        client.edit(0, "kept")
        room = rooms.get(name)
        await client.wait_for(
            lambda: len(str(room.doc.get("t", type=Text))) == 4 if room else False
        )
    async with PyClient(f"{server.ws_url}/sync/{name}", server.token) as again:
        await again.synced.wait()
        assert rooms.get(name) is room  # back within the grace period: the same room
    await again.wait_for(lambda: rooms.get(name) is None)
    async with PyClient(f"{server.ws_url}/sync/{name}", server.token) as reloaded:
        await reloaded.wait_for(lambda: str(reloaded.text) == "kept")
