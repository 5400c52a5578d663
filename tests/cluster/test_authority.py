"""Who may do what, across server processes: a change made through one process
closes or downgrades sockets on the other and is refused there at once (its
cache of authority forgets), sign-in links work once on any process, and
failed sign-ins add up across processes. Two real processes, one PostgreSQL
schema, a private redis-server."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.cluster.test_documents import make_session, notes_url, two_members
from tests.conftest import StoreTarget, eventually
from tests.support.py_client import PyClient
from tests.support.redis_server import RedisServer
from tests.support.server_process import ServerProcess
from trace_sync.services.signin import MAX_FAILURES


@dataclass
class Member:
    """A member added through process A: their user id, token and token id."""

    user_id: str
    token: str
    token_id: str


@asynccontextmanager
async def api(server: ServerProcess, token: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as client:
        yield client


async def add_member(a: ServerProcess) -> tuple[str, Member]:
    async with api(a, a.token) as owner:
        wid = (await owner.get("/api/workspaces")).json()["items"][0]["id"]
        added = await owner.post(f"/api/workspaces/{wid}/members", json={"name": "mia"})
        assert added.status_code == 201, added.text
    token = added.json()["token"]
    async with api(a, token) as mia:
        token_id = (await mia.get("/api/me")).json()["token_id"]
    return wid, Member(added.json()["user"]["id"], token, token_id)


async def signed_in(server: ServerProcess, token: str) -> bool:
    async with api(server, token) as client:
        return (await client.get("/api/me")).status_code == 200


async def signed_out(server: ServerProcess, token: str) -> bool:
    return not await signed_in(server, token)


async def editing(url: str, token: str) -> PyClient:
    """A member's socket, synced, that has written once (so it may write)."""
    client = PyClient(url, token)
    await client.__aenter__()
    await client.synced.wait()
    client.edit(0, "before ")
    return client


async def test_a_token_revoked_through_one_process_is_refused_by_the_other(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    a, b = await two_members(postgres, redis_server, tmp_path, servers)
    sid = await make_session(postgres)
    _, mia = await add_member(a)
    on_b = await editing(notes_url(b, sid), mia.token)
    try:
        assert await signed_in(b, mia.token)  # B holds her token in its cache now
        async with api(a, mia.token) as client:
            revoked = await client.post(f"/api/tokens/{mia.token_id}/revoke")
        assert revoked.status_code == 200, revoked.text
        # At once (B hears it as the call returns), though B had it cached for 30 s.
        await eventually(lambda: signed_out(b, mia.token), within=2.0)
        assert await on_b.wait_closed(timeout=3.0) == 4401
        async with PyClient(notes_url(b, sid), mia.token) as again:
            assert await again.wait_closed() == 4401
    finally:
        await on_b.close()


async def test_a_member_demoted_or_removed_through_one_process_loses_access_on_the_other(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    a, b = await two_members(postgres, redis_server, tmp_path, servers)
    sid = await make_session(postgres)
    wid, mia = await add_member(a)
    member = f"/api/workspaces/{wid}/members/{mia.user_id}"
    on_b = await editing(notes_url(b, sid), mia.token)
    try:
        async with api(a, a.token) as owner:
            demoted = await owner.patch(member, json={"role": "viewer"})
        assert demoted.status_code == 200, demoted.text
        await asyncio.sleep(1.0)  # "within seconds"
        on_b.edit(0, "after ")  # a viewer's write: the downgraded socket refuses it
        assert await on_b.wait_closed(timeout=2.0) == 4403
        reader = await editing(notes_url(b, sid), mia.token)  # joins again: reads...
        assert await reader.wait_closed(timeout=2.0) == 4403  # ...but cannot write
        await reader.close()

        on_b = PyClient(notes_url(b, sid), mia.token)
        await on_b.__aenter__()
        await on_b.synced.wait()
        async with api(a, a.token) as owner:
            removed = await owner.delete(member)
        assert removed.status_code == 204, removed.text
        assert await on_b.wait_closed(timeout=3.0) == 4403  # closed without writing
    finally:
        await on_b.close()


async def test_a_change_made_while_redis_is_down_is_not_served_from_a_cache(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    a, b = await two_members(postgres, redis_server, tmp_path, servers)
    sid = await make_session(postgres)
    _, mia = await add_member(a)
    on_b = await editing(notes_url(b, sid), mia.token)
    try:
        assert await signed_in(b, mia.token)
        await asyncio.to_thread(redis_server.stop)
        await asyncio.sleep(1.0)  # B notices its subscription is gone
        async with api(a, mia.token) as client:
            revoked = await client.post(f"/api/tokens/{mia.token_id}/revoke")
        assert revoked.status_code == 200, revoked.text  # the change cannot be published
        assert not await signed_in(b, mia.token)  # B asks the database meanwhile
        await asyncio.to_thread(redis_server.start)
        # Once Redis is back, B checks its open sockets again.
        assert await on_b.wait_closed(timeout=10.0) == 4401
    finally:
        await on_b.close()


def link_path(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.path}?{parsed.query.decode()}"


async def test_a_sign_in_link_from_one_process_works_once_on_any(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    a, b = await two_members(postgres, redis_server, tmp_path, servers)
    async with api(a, a.token) as owner:
        minted = await owner.post("/api/signin-links")
    printed = re.search(r"sign in: (\S+)", a.output())
    assert printed is not None, a.output()
    for link in (minted.json()["url"], printed.group(1)):
        async with api(b) as browser_b, api(a) as browser_a:
            first = await browser_b.get(link_path(link))
            assert first.status_code == 303 and "trace_token" in first.cookies
            assert (await browser_a.get(link_path(link))).status_code == 401
            assert (await browser_b.get(link_path(link))).status_code == 401


async def test_failed_sign_ins_spread_over_processes_are_held_off_as_by_one(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    a, b = await two_members(postgres, redis_server, tmp_path, servers)
    async with api(a, a.token) as owner:
        good = link_path((await owner.post("/api/signin-links")).json()["url"])
    async with api(a) as on_a, api(b) as on_b:
        guesses = [
            await (on_a, on_b)[n % 2].get(f"/signin?code=guess{n}") for n in range(MAX_FAILURES)
        ]
        assert {r.status_code for r in guesses} == {401}
        for browser in (on_a, on_b):
            held_off = await browser.get(good)
            assert held_off.status_code == 429, held_off.text
