"""Presence is owned, bounded and stamped: nobody sets or removes another
connection's presence, nobody grows it without limit, and the name shown is
the one the server authenticated."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.live import LiveServer, serve
from tests.support.py_client import PyClient
from tests.sync.conftest import new_member, new_session, notes_url, settings_for
from trace_sync.contract import sync_protocol as p
from trace_sync.store.records import Role


def presence(client_id: int, clock: int, state: object) -> bytes:
    return p.awareness_message([p.AwarenessEntry(client_id, clock, json.dumps(state))])


async def test_nobody_sets_or_removes_another_connections_presence(server: LiveServer) -> None:
    url = notes_url(server, await new_session(server))
    viewer_token = await new_member(server, "vera", Role.VIEWER)
    async with (
        PyClient(url, server.token) as victim,
        PyClient(url, server.token) as bystander,
        PyClient(url, viewer_token) as attacker,
    ):
        await victim.set_presence({"cursor": 1})
        victim_id = victim.doc.client_id
        await bystander.wait_for(lambda: victim_id in bystander.awareness)
        shown = bystander.awareness[victim_id]

        await attacker.send_raw(presence(victim_id, 50, {"name": "owner-root"}))
        await attacker.send_raw(p.awareness_message([p.AwarenessEntry(victim_id, 51, "null")]))
        # Frames of one connection are handled in order: once its own presence
        # is relayed, the two before it were handled.
        await attacker.set_presence({"cursor": 2})
        await bystander.wait_for(lambda: attacker.doc.client_id in bystander.awareness)

        assert bystander.awareness[victim_id] == shown
        assert attacker.close_code is None  # still served


async def test_a_presence_state_over_16_kib_closes_with_4413_and_is_not_relayed(
    server: LiveServer,
) -> None:
    url = notes_url(server, await new_session(server))
    viewer_token = await new_member(server, "vera", Role.VIEWER)
    async with PyClient(url, server.token) as bystander, PyClient(url, viewer_token) as attacker:
        await bystander.synced.wait()
        await attacker.set_presence({"blob": "x" * (16 * 1024)})
        assert await attacker.wait_closed() == 4413
        async with PyClient(url, server.token) as newcomer:
            await newcomer.synced.wait()
            await newcomer.set_presence({"here": True})
            await bystander.wait_for(lambda: newcomer.doc.client_id in bystander.awareness)
        assert attacker.doc.client_id not in bystander.awareness


async def test_a_connection_claims_at_most_4_client_ids(server: LiveServer) -> None:
    url = notes_url(server, await new_session(server))
    async with PyClient(url, server.token) as client:
        await client.synced.wait()
        for client_id in range(1, 6):
            await client.send_raw(presence(client_id, 1, {"tab": client_id}))
        assert await client.wait_closed() == 4413


async def test_a_documents_presence_is_capped_in_total(tmp_path: Path) -> None:
    async with serve(settings_for(tmp_path, max_room_presence_bytes=40_000)) as live:
        url = notes_url(live, await new_session(live))
        async with PyClient(url, live.token) as first, PyClient(url, live.token) as second:
            await first.set_presence({"blob": "a" * 15_000})
            await second.wait_for(lambda: first.doc.client_id in second.awareness)
            await second.set_presence({"blob": "b" * 15_000})
            await first.wait_for(lambda: second.doc.client_id in first.awareness)
            async with PyClient(url, live.token) as third:
                await third.set_presence({"blob": "c" * 15_000})
                assert await third.wait_closed() == 4413


async def test_after_an_attacker_leaves_a_newcomer_gets_no_trace_of_them(
    server: LiveServer,
) -> None:
    name = f"session/{await new_session(server)}/notes"
    url = f"{server.ws_url}/sync/{name}"
    viewer_token = await new_member(server, "vera", Role.VIEWER)
    async with PyClient(url, server.token) as stays:
        await stays.set_presence({"cursor": 0})
        async with PyClient(url, viewer_token) as attacker:
            for client_id in range(1, 5):
                await attacker.send_raw(presence(client_id, 1, {"blob": "z" * 15_000}))
            await stays.wait_for(lambda: all(i in stays.awareness for i in range(1, 5)))
        await stays.wait_for(lambda: not any(i in stays.awareness for i in range(1, 5)))
        async with PyClient(url, server.token) as newcomer:
            await newcomer.wait_for(lambda: stays.doc.client_id in newcomer.awareness)
            assert set(newcomer.awareness) == {stays.doc.client_id}
        room = server.ctx.sync.rooms.get(name)
        assert room is not None and len(room.awareness) == 1
        # Claimed ids are forgotten with their clocks: the same id, from its
        # first clock, is held again and shown to the next newcomer.
        async with PyClient(url, server.token) as later:
            await later.send_raw(presence(1, 1, {"fresh": True}))
            await stays.wait_for(lambda: 1 in stays.awareness)
            async with PyClient(url, server.token) as next_one:
                await next_one.wait_for(lambda: 1 in next_one.awareness)
                assert next_one.awareness[1]["fresh"] is True


async def test_presence_carries_the_authenticated_name_whatever_the_client_claims(
    server: LiveServer,
) -> None:
    url = notes_url(server, await new_session(server))
    viewer_token = await new_member(server, "vera", Role.VIEWER)
    vera = await server.ctx.store.accounts.find_user("vera")
    async with PyClient(url, server.token) as bystander, PyClient(url, viewer_token) as liar:
        claimed = {
            "name": "owner-root",
            "user_id": server.ctx.owner.user_id,
            "user": {"name": "owner-root", "color": "#f00"},
        }
        await liar.set_presence(claimed)
        await bystander.wait_for(lambda: liar.doc.client_id in bystander.awareness)
        assert bystander.awareness[liar.doc.client_id] == {
            "name": "vera",
            "user_id": vera.id,
            "user": {"name": "vera", "id": vera.id, "color": "#f00"},
        }
