"""Documents across server processes: an edit through one process reaches
clients of the other, through Redis, and survives Redis losing everything."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from pycrdt import Doc, Text

from tests.cluster.conftest import server_on
from tests.conftest import StoreTarget, eventually
from tests.support.held_link import HeldLink
from tests.support.py_client import PyClient
from tests.support.redis_server import RedisServer
from tests.support.server_process import ServerProcess


async def make_session(target: StoreTarget, session_id: str | None = None) -> str:
    """A session in the workspace the first server made (with ``session_id``, if given)."""
    async with target.store() as store:
        [owner] = await store.accounts.list_users()
        [workspace] = await store.directory.list_workspaces()
        return (await store.sessions.create(workspace.id, owner.id, session_id=session_id)).id


async def stored(target: StoreTarget, name: str) -> tuple[str, int]:
    """The document's text as PostgreSQL holds it, and how many updates hold it."""
    doc: Doc = Doc()
    async with target.store() as store:
        updates = await store.updates.load(name)
    for update in updates:
        doc.apply_update(update)
    return str(doc.get("t", type=Text)), len(updates)


async def two_members(
    target: StoreTarget, redis: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> tuple[ServerProcess, ServerProcess]:
    a, b = (server_on(target, tmp_path / n, redis.url) for n in ("a", "b"))
    servers += [a, b]
    for server in (a, b):
        await asyncio.to_thread(server.start)
    return a, b


@asynccontextmanager
async def synced_pair(
    a: ServerProcess, b: ServerProcess, sid: str
) -> AsyncIterator[tuple[PyClient, PyClient]]:
    """A client of the session's notes on each process, both synced."""
    async with (
        PyClient(notes_url(a, sid), a.token) as on_a,
        PyClient(notes_url(b, sid), b.token) as on_b,
    ):
        await on_a.synced.wait()
        await on_b.synced.wait()
        yield on_a, on_b


def notes_url(server: ServerProcess, sid: str) -> str:
    return f"{server.ws_url}/sync/session/{sid}/notes"


async def converged(clients: list[PyClient], length: int, timeout: float = 10.0) -> str:
    first = clients[0]

    def same() -> bool:
        texts = {str(c.text) for c in clients}
        return len(texts) == 1 and len(str(first.text)) == length

    await first.wait_for(same, timeout)
    return str(first.text)


async def test_edits_through_either_process_reach_the_other(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    a, b = await two_members(postgres, redis_server, tmp_path, servers)
    sid = await make_session(postgres)
    async with synced_pair(a, b, sid) as (on_a, on_b):
        for i in range(100):
            on_a.edit(len(on_a.text), f"a{i % 10}")
            on_b.edit(0, f"b{i % 10}")
            await asyncio.sleep(0.002)  # typing, both at once
        text = await converged([on_a, on_b], 400)
    async with PyClient(notes_url(b, sid), b.token) as late:
        await late.synced.wait()
        assert str(late.text) == text
    # Stored once, by the process each edit entered through: once per process would be 400.
    assert await stored(postgres, f"session/{sid}/notes") == (text, 200)


async def test_redis_flushed_or_restarted_loses_nothing(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    a, b = await two_members(postgres, redis_server, tmp_path, servers)
    sid = await make_session(postgres)
    async with synced_pair(a, b, sid) as (on_a, on_b):
        on_a.edit(0, "before ")
        await converged([on_a, on_b], 7)

        redis_server.client().flushall()
        on_b.edit(len(on_b.text), "flushed ")
        on_a.edit(0, "x")
        await converged([on_a, on_b], 16)

        # Down: these edits are stored but reach no stream; Redis comes back empty.
        await asyncio.to_thread(redis_server.stop)
        on_a.edit(len(on_a.text), "while-down ")
        on_b.edit(0, "y")
        await asyncio.sleep(1)
        await asyncio.to_thread(redis_server.start)
        text = await converged([on_a, on_b], 28, timeout=15)
    assert (await stored(postgres, f"session/{sid}/notes"))[0] == text
    for word in ("before", "flushed", "while-down"):
        assert word in text


async def test_an_update_committed_by_a_process_killed_before_publishing_it_still_arrives(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    """A reaches Redis through a link the test holds: what A commits then is in
    PostgreSQL and in no stream; A is killed before it can tell anyone. B's client
    still gets it, once A's presence lapses (B reloads its rooms)."""
    async with HeldLink(redis_server.port) as link:
        a = server_on(postgres, tmp_path / "a", f"redis://127.0.0.1:{link.port}/0")
        b = server_on(postgres, tmp_path / "b", redis_server.url)
        servers += [a, b]
        for server in (a, b):
            await asyncio.to_thread(server.start)
        sid = await make_session(postgres)
        async with synced_pair(a, b, sid) as (on_a, on_b):
            on_a.edit(0, "shared ")
            await converged([on_a, on_b], 7)

            # B must have heard of A (its lapse is what B acts on): A's presence shown on B.
            await on_a.set_presence({"cursor": 7})
            await on_b.wait_for(lambda: len(on_b.awareness) > 0, timeout=10)

            link.hold()
            on_a.edit(7, "committed")
            await eventually(lambda: _stored_text(postgres, sid, "shared committed"), within=10)
            await asyncio.to_thread(a.stop, signal.SIGKILL)
            await on_b.wait_for(lambda: str(on_b.text) == "shared committed", timeout=15)


async def _stored_text(target: StoreTarget, sid: str, text: str) -> bool:
    return (await stored(target, f"session/{sid}/notes"))[0] == text
