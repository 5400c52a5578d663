"""The checkpoint registry: two processes' copies of ``session/<sid>`` on one
store (two sets of rooms, nothing syncing them), each recording what its
runtime reported. Each checkpoint is stored once, and none is lost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pycrdt import Doc

from trace_sync.docs import typed
from trace_sync.docs.entries import Checkpoint
from trace_sync.docs.layouts import SESSION
from trace_sync.metrics import Metrics
from trace_sync.services.checkpoint_registry import CheckpointRegistry, claim_key
from trace_sync.store import Store, idempotency
from trace_sync.sync.rooms import Rooms


@pytest.fixture
async def sid(store: Store) -> str:
    owner = await store.accounts.create_user("olga")
    workspace = await store.directory.create_workspace("Team", owner.id)
    return (await store.sessions.create(workspace.id, owner.id)).id


@pytest.fixture
async def two_rooms(store: Store) -> AsyncIterator[tuple[Rooms, Rooms]]:
    async with (
        Rooms(store.updates, Metrics(), grace_s=60) as first,
        Rooms(store.updates, Metrics(), grace_s=60) as second,
    ):
        yield first, second


def made(sid: str, *numbers: int) -> list[Checkpoint]:
    at = datetime.now(UTC)
    ref = f"refs/trace/checkpoints/{sid}/"
    return [Checkpoint(n=n, ref=f"{ref}{n}", commit=f"abc123{n}", at=at) for n in numbers]


async def stored(store: Store, sid: str) -> tuple[list[int], list[int]]:
    """The registry's numbers and those the timeline says were recorded, as stored."""
    await store.updates.flush()
    doc: Doc = Doc()
    for update in await store.updates.load(f"session/{sid}"):
        doc.apply_update(update)
    events = typed.root_of(doc, SESSION, "timeline")
    recorded = [
        n for ev in events if ev["kind"] == "checkpoints.recorded" for n in ev["payload"]["numbers"]
    ]
    return [c["n"] for c in typed.root_of(doc, SESSION, "checkpoints")], recorded


async def test_a_process_whose_copy_is_behind_records_nothing_twice(
    store: Store, sid: str, two_rooms: tuple[Rooms, Rooms]
) -> None:
    first, second = (CheckpointRegistry(store, rooms) for rooms in two_rooms)
    async with two_rooms[1].document(f"session/{sid}"):
        pass  # loaded before the first process records: it stays behind
    assert await first.record(sid, made(sid, 1, 2)) == {1, 2}
    assert await second.record(sid, made(sid, 1, 2)) == set()  # the first one's: not settled
    assert await stored(store, sid) == ([1, 2], [1, 2])
    room = two_rooms[1].get(f"session/{sid}")
    assert room is not None
    await room.reload()  # what the other processes' updates bring
    assert await second.record(sid, made(sid, 1, 2, 3)) == {1, 2, 3}
    assert await stored(store, sid) == ([1, 2, 3], [1, 2, 3])


async def test_a_claim_left_by_a_process_that_died_is_taken_over(
    store: Store, sid: str, two_rooms: tuple[Rooms, Rooms], monkeypatch: pytest.MonkeyPatch
) -> None:
    creator = (await store.sessions.get(sid)).creator_id
    assert await store.idempotency.claim(creator, claim_key(sid, 1), "checkpoint") is None
    survivor = CheckpointRegistry(store, two_rooms[1])
    assert await survivor.record(sid, made(sid, 1)) == set()  # its holder may still append
    monkeypatch.setattr(idempotency, "ABANDONED_AFTER", timedelta(0))  # time has passed
    assert await survivor.record(sid, made(sid, 1)) == {1}
    assert await stored(store, sid) == ([1], [1])
