"""Presence across server processes: who is looking at a document shows on
every process, and goes away when they leave or their process dies."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.cluster.test_documents import make_session, two_members
from tests.conftest import StoreTarget, eventually
from tests.support.redis_server import RedisServer
from tests.support.server_process import ServerProcess
from trace_sync.client.sync_client import SyncClient
from trace_sync.cluster.presence import LAPSE_S


def notes_client(server: ServerProcess, sid: str) -> SyncClient:
    return SyncClient(server.url, f"session/{sid}/notes", server.token)


async def test_a_killed_process_takes_its_clients_presence_with_it(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    a, b = await two_members(postgres, redis_server, tmp_path, servers)
    sid = await make_session(postgres)
    async with notes_client(a, sid) as on_a:
        await on_a.wait_synced()
        on_a.set_presence({"cursor": 1})
        async with notes_client(b, sid) as on_b:  # B opens the room after A's presence
            await on_b.wait_synced()
            on_b.set_presence({"cursor": 2})
            a_id, b_id = on_a.doc.client_id, on_b.doc.client_id
            await eventually(lambda: b_id in on_a.peers and a_id in on_b.peers)
            assert on_a.peers[b_id]["cursor"] == 2 and on_b.peers[a_id]["cursor"] == 1

            await asyncio.to_thread(b.stop, signal.SIGKILL)
            await eventually(lambda: b_id not in on_a.peers, within=LAPSE_S + 4)
        async with notes_client(a, sid) as newcomer:
            await newcomer.wait_synced()
            await eventually(lambda: a_id in newcomer.peers)
            assert b_id not in newcomer.peers


async def test_a_client_leaving_is_gone_from_the_other_process_at_once(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    a, b = await two_members(postgres, redis_server, tmp_path, servers)
    sid = await make_session(postgres)
    async with notes_client(a, sid) as on_a:
        async with notes_client(b, sid) as on_b:
            await on_b.wait_synced()
            on_b.set_presence({"cursor": 2})
            b_id = on_b.doc.client_id
            await eventually(lambda: b_id in on_a.peers)
        # Well before a lapse could remove it: the leaving itself crossed.
        await eventually(lambda: b_id not in on_a.peers, within=LAPSE_S - 1)


async def test_presence_set_while_redis_restarts_arrives_once_it_is_back(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    a, b = await two_members(postgres, redis_server, tmp_path, servers)
    sid = await make_session(postgres)
    async with notes_client(a, sid) as on_a, notes_client(b, sid) as on_b:
        await on_a.wait_synced()
        await on_b.wait_synced()
        redis_server.client().flushall()
        await asyncio.to_thread(redis_server.stop)
        on_b.set_presence({"cursor": "while down"})
        await asyncio.to_thread(redis_server.start)
        b_id = on_b.doc.client_id
        await eventually(lambda: on_a.peers.get(b_id, {}).get("cursor") == "while down", 15)
        on_b.set_presence({"cursor": "after"})
        await eventually(lambda: on_a.peers[b_id]["cursor"] == "after")
