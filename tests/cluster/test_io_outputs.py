"""What a runtime writes, taken in by two members at once, comes out once.

During a handover a bridge's io document reaches two members together: its
old link still open to one, its new link re-sending its replica to the other.
Both load the document and take in the same checkpoints, each seeing a
registry without them."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from pycrdt import Doc

from tests.cluster.test_documents import make_session, two_members
from tests.cluster.test_leader_jobs import NOW, hosted, stored_doc
from tests.conftest import StoreTarget, eventually
from tests.support.redis_server import RedisServer
from tests.support.server_process import ServerProcess
from trace_sync.client.sync_client import SyncClient
from trace_sync.docs import entries as e
from trace_sync.docs import typed
from trace_sync.docs.layouts import SESSION, SESSION_IO

#: Sessions handed over at once (before the claims, each of them came out twice).
SESSIONS = 4
CHECKPOINTS = [1, 2, 3]


def replica(sid: str) -> bytes:
    """The bridge's io replica: at work, with its checkpoints made."""
    io: Doc[Any] = Doc()
    with io.transaction(origin="runtime"):
        typed.root_of(io, SESSION_IO, "runtime").update({"status": "running"})
        for n in CHECKPOINTS:
            ref = f"refs/trace/checkpoints/{sid}/{n}"
            made = e.Checkpoint(n=n, ref=ref, commit=f"abc123{n}", at=NOW)
            typed.append(io, SESSION_IO, "checkpoints", made, origin="runtime")
    return io.get_update()


def copy_of(update: bytes) -> Doc[Any]:
    doc: Doc[Any] = Doc()
    doc.apply_update(update)
    return doc


async def outputs(target: StoreTarget, sid: str) -> tuple[list[int], list[int], list[str]]:
    """As PostgreSQL holds ``session/<sid>``: the registry's numbers, the numbers
    the timeline says were recorded, and the status reports."""
    doc = await stored_doc(target, f"session/{sid}")
    registry = [c["n"] for c in typed.root_of(doc, SESSION, "checkpoints")]
    events = list(typed.root_of(doc, SESSION, "timeline"))
    recorded = [
        n for ev in events if ev["kind"] == "checkpoints.recorded" for n in ev["payload"]["numbers"]
    ]
    reports = [ev["payload"]["status"] for ev in events if ev["kind"] == "status.reported"]
    return sorted(registry), sorted(recorded), reports


async def test_checkpoints_taken_in_by_two_members_at_once_are_recorded_once(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    a, b = await two_members(postgres, redis_server, tmp_path, servers)
    sids = [await make_session(postgres) for _ in range(SESSIONS)]
    # One runtime hosts them all; each hosting issues it a token, the newest holds.
    token = [await hosted(postgres, sid) for sid in sids][-1]
    async with AsyncExitStack() as links:
        # Both links carry the same replica: the same CRDT items, not two copies.
        replicas = {sid: replica(sid) for sid in sids}
        clients = [
            SyncClient(member.url, f"session/{sid}/io", token, copy_of(replicas[sid]))
            for sid in sids
            for member in (a, b)
        ]
        for client in clients:
            await links.enter_async_context(client)
        await asyncio.gather(*(client.wait_synced() for client in clients))

        async def all_recorded() -> bool:
            found = [await outputs(postgres, sid) for sid in sids]
            return all(set(registry) == set(CHECKPOINTS) for registry, _, _ in found)

        await eventually(all_recorded, within=15)
        await asyncio.sleep(2)  # time for the slower member to (wrongly) record them too
    for sid in sids:
        assert await outputs(postgres, sid) == (CHECKPOINTS, CHECKPOINTS, ["running"])
