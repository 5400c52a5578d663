"""Background jobs across server processes: one member leads them, another
takes over when it dies, and nothing they write comes twice."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pycrdt import Doc
from sqlalchemy import func, select

from tests.bridges.conftest import FAST, Recorder
from tests.cluster.conftest import server_on
from tests.cluster.test_documents import make_session, two_members
from tests.conftest import StoreTarget, eventually
from tests.support.redis_server import RedisServer
from tests.support.server_process import ServerProcess
from trace_sync.bridge.link import BridgeLink
from trace_sync.bridge.registration import register
from trace_sync.client.sync_client import SyncClient
from trace_sync.contract.bridge_protocol import Hello
from trace_sync.docs import entries as e
from trace_sync.docs import typed
from trace_sync.docs.layouts import SESSION, SESSION_IO, WORKSPACE
from trace_sync.services.accounts import AccountService
from trace_sync.services.bridges.runtimes import issue_runtime_token
from trace_sync.store.records import Capability, GrantState, Role
from trace_sync.store.schema import search_entries

NOW = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
#: Bridges' leases of 3 s, so losing one takes seconds, not a minute.
FAST_LEASES = {"TRACE_BRIDGE_HEARTBEAT_S": "0.5", "TRACE_BRIDGE_LEASE_S": "3"}


def member(
    target: StoreTarget, redis: RedisServer, data_dir: Path, servers: list[ServerProcess]
) -> ServerProcess:
    """A cluster member with fast leases (not started)."""
    server = server_on(target, data_dir, redis.url)
    server.extra_env.update(FAST_LEASES)
    servers.append(server)
    return server


def leading(server: ServerProcess) -> bool:
    text = httpx.get(f"{server.url}/metrics", timeout=5).text
    found = re.search(r"^trace_leader (\S+)$", text, re.M)
    assert found, text
    return float(found.group(1)) == 1.0


async def leaders(members: list[ServerProcess]) -> list[ServerProcess]:
    return [m for m in members if await asyncio.to_thread(leading, m)]


async def one_leader(members: list[ServerProcess], within: float = 15.0) -> ServerProcess:
    found: list[ServerProcess] = []

    async def exactly_one() -> bool:
        found[:] = await leaders(members)
        return len(found) == 1

    await eventually(exactly_one, within)
    return found[0]


async def stored_doc(target: StoreTarget, name: str) -> Doc:
    doc: Doc = Doc()
    async with target.store() as store:
        for update in await store.updates.load(name):
            doc.apply_update(update)
    return doc


async def timeline(target: StoreTarget, name: str, layout: Any) -> list[str]:
    doc = await stored_doc(target, name)
    return [event["kind"] for event in typed.root_of(doc, layout, "timeline")]


async def test_exactly_one_member_leads(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    a, b = await two_members(postgres, redis_server, tmp_path, servers)
    await one_leader([a, b])
    await asyncio.sleep(3)  # followers keep asking; still one
    assert len(await leaders([a, b])) == 1


async def hosted(target: StoreTarget, sid: str) -> str:
    """A runtime token of a runtime that hosts ``sid`` (as a bridge holds)."""
    async with target.store() as store:
        [owner] = await store.accounts.list_users()
        runtime = await store.runtimes.register(owner.id, "laptop", "laptop", "desktop")
        token = await issue_runtime_token(store, AccountService(store), runtime)
        await store.sessions.assign_runtime(sid, runtime.id)
        await store.sessions.update(sid, status="starting")
    return token


def runtime_writes(io: Doc, sid: str) -> None:
    """What a runtime writes: its status, a checkpoint and an answer."""
    with io.transaction(origin="runtime"):
        typed.root_of(io, SESSION_IO, "runtime").update({"status": "running"})
        ref = f"refs/trace/checkpoints/{sid}/1"
        made = e.Checkpoint(n=1, ref=ref, commit="abc1234", at=NOW)
        typed.append(io, SESSION_IO, "checkpoints", made, origin="runtime")
        said = e.AssistantText(id="t1", at=NOW, text="Found the flaky test.")
        typed.append(io, SESSION_IO, "transcript", said, origin="runtime")


async def search_rows(target: StoreTarget, sid: str) -> int:
    async with target.store() as store, store.db.begin() as conn:
        query = select(func.count()).where(search_entries.c.session_id == sid)
        return int((await conn.execute(query)).scalar_one())


async def test_a_write_through_one_member_is_taken_in_once_though_both_have_it_open(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    a, b = await two_members(postgres, redis_server, tmp_path, servers)
    sid = await make_session(postgres)
    token = await hosted(postgres, sid)
    name = f"session/{sid}/io"
    async with SyncClient(a.url, name, a.token) as watcher, SyncClient(b.url, name, token) as io:
        await watcher.wait_synced()
        await io.wait_synced()
        runtime_writes(io.doc, sid)
        await io.flush()

        async def taken_in() -> bool:
            return "checkpoints.recorded" in await timeline(postgres, f"session/{sid}", SESSION)

        await eventually(taken_in)
        await eventually(lambda: len(typed.root_of(watcher.doc, SESSION_IO, "checkpoints")) == 1)
        await asyncio.sleep(2)  # time for member A to (wrongly) take it in too
    kinds = await timeline(postgres, f"session/{sid}", SESSION)
    assert kinds.count("checkpoints.recorded") == 1, kinds
    assert kinds.count("status.reported") == 1, kinds
    session = await stored_doc(postgres, f"session/{sid}")
    assert [c["n"] for c in typed.root_of(session, SESSION, "checkpoints")] == [1]
    assert await search_rows(postgres, sid) == 1


async def due_work(target: StoreTarget) -> tuple[str, str, str]:
    """What the leader must handle: a grant whose expiry passed, and a runtime
    with a session at work that no member has heard from for a minute."""
    async with target.store() as store:
        [owner] = await store.accounts.list_users()
        [workspace] = await store.directory.list_workspaces()
        member = await store.accounts.create_user("mia")
        await store.directory.set_member(workspace.id, member.id, Role.MEMBER)
        silent = await store.runtimes.register(owner.id, "gone", "gone", "desktop")
        await store.runtimes.update(
            silent.id, last_seen_at=datetime.now(UTC) - timedelta(minutes=1)
        )
        session = await store.sessions.create(workspace.id, owner.id)
        await store.sessions.assign_runtime(session.id, silent.id)
        await store.sessions.update(session.id, status="running")
        past = datetime.now(UTC) - timedelta(seconds=1)
        grant = await store.grants.add(
            silent.id, member.id, [Capability.TERMINAL], session_id=session.id, expires_at=past
        )
        return grant.id, session.id, workspace.id


async def test_the_leader_killed_another_takes_over_and_handles_due_work_once(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    a, b = (member(postgres, redis_server, tmp_path / n, servers) for n in ("a", "b"))
    for server in (a, b):
        await asyncio.to_thread(server.start)
    old = await one_leader([a, b])
    survivor = b if old is a else a
    await asyncio.to_thread(old.stop, signal.SIGKILL)
    killed_at = time.monotonic()
    grant_id, sid, workspace_id = await due_work(postgres)

    assert await one_leader([survivor], within=10) is survivor
    took_over_s = time.monotonic() - killed_at

    async def handled() -> bool:
        async with postgres.store() as store:
            grant = await store.grants.get(grant_id)
            session = await store.sessions.get(sid)
        return grant.state is GrantState.EXPIRED and session.status == "interrupted"

    await eventually(handled, within=15)
    # The killed member comes back as a follower; nothing is handled again.
    again = member(postgres, redis_server, tmp_path / "again", servers)
    await asyncio.to_thread(again.start)
    await asyncio.sleep(6)  # two of the leader's sweeps and the newcomer's first ones
    assert await leaders([survivor, again]) == [survivor]
    workspace = await timeline(postgres, f"workspace/{workspace_id}", WORKSPACE)
    assert workspace.count("grant.expired") == 1, workspace
    assert (await timeline(postgres, f"session/{sid}", SESSION)).count("runtime.lost") == 1
    assert took_over_s < 10


async def test_a_bridge_is_kept_while_its_member_lives_and_lost_once_when_it_dies(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    leader, a, c = (member(postgres, redis_server, tmp_path / n, servers) for n in "lac")
    await asyncio.to_thread(leader.start)
    await one_leader([leader])
    await asyncio.to_thread(a.start)
    creds = await register(a.url, a.token, "laptop", "laptop")
    sid = await make_session(postgres)
    async with postgres.store() as store:
        await store.sessions.assign_runtime(sid, creds.runtime_id)
        await store.sessions.update(sid, status="running")

    def hello() -> Hello:
        return Hello(instance_id=creds.instance_id, name="laptop", hosting=[sid])

    async def status() -> str:
        async with postgres.store() as store:
            return (await store.sessions.get(sid)).status

    async def interrupted() -> bool:
        return await status() == "interrupted"

    async with BridgeLink(a.url, creds.token, hello, Recorder(), backoff=FAST) as link:
        await link.wait_welcomed()
        # A member starting must not count a bridge connected to another as silent,
        # and the leader sweeping all along hears of it through A's renewals.
        await asyncio.to_thread(c.start)
        await asyncio.sleep(4 * 3)  # four leases
        assert await status() == "running"
        await asyncio.to_thread(a.stop, signal.SIGKILL)  # the bridge's member dies
        # Nobody renews the runtime now: the leader loses it.
        await eventually(interrupted, within=20)
    await asyncio.sleep(3)
    assert (await timeline(postgres, f"session/{sid}", SESSION)).count("runtime.lost") == 1
