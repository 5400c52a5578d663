"""The update log: durable, group-committed, failures raised to every appender."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import text

from tests.conftest import StoreTarget
from tests.store.crdt import edits, rebuild, same
from trace_sync.contract.errors import InvalidInput, StoreError
from trace_sync.metrics import Metrics
from trace_sync.store import Store
from trace_sync.store.schema import updates as updates_table
from trace_sync.store.writer import GroupCommit, Pending

NAME = "session/s_test/notes"


async def test_a_reopened_store_loads_the_same_document(store_target: StoreTarget) -> None:
    doc, updates = edits(300)
    async with store_target.store() as store:
        for start in range(0, len(updates), 50):
            await asyncio.gather(
                *(store.updates.append(NAME, u) for u in updates[start : start + 50])
            )
    async with store_target.store() as store:
        assert same(rebuild(await store.updates.load(NAME)), doc)
        assert await store.updates.load("session/never/notes") == []


async def test_concurrent_appends_share_commits(store_target: StoreTarget) -> None:
    metrics = Metrics()
    _, updates = edits(2000)
    async with store_target.store(metrics=metrics) as store:
        await asyncio.gather(*(store.updates.append(NAME, u) for u in updates))
        assert await store.updates.log_length(NAME) == 2000
    commits = metrics.registry.get_sample_value("trace_store_commit_seconds_count")
    assert commits is not None and 1 <= commits <= 10
    assert metrics.registry.get_sample_value("trace_store_committed_updates_total") == 2000


async def test_appends_to_many_documents_share_commits(store: Store) -> None:
    _, updates = edits(500)
    names = [f"session/s_{i % 50}/notes" for i in range(len(updates))]
    await asyncio.gather(*(store.updates.append(n, u) for n, u in zip(names, updates, strict=True)))
    assert store.updates.commits <= 5
    assert sum([await store.updates.log_length(n) for n in set(names)]) == 500


async def test_an_idle_writer_commits_at_once_and_what_arrives_meanwhile_shares_the_next() -> None:
    """No window to wait out: a lone update is committed in the loop's next turns (a
    10 ms window, the old default, would hold it), and the rest wait only for the
    commit running when they arrived."""
    batches: list[list[bytes]] = []
    release = asyncio.Event()

    async def commit(batch: list[Pending]) -> None:
        batches.append([p.data for p in batch])
        await release.wait()

    async with GroupCommit(commit, delay_s=0) as writer:
        first = writer.submit("d", b"1")
        for _ in range(3):
            await asyncio.sleep(0)
        at_once = list(batches)
        later = [writer.submit("d", n) for n in (b"2", b"3", b"4")]
        release.set()
        await asyncio.gather(first, *later)
    assert at_once == [[b"1"]]
    assert batches == [[b"1"], [b"2", b"3", b"4"]]


async def test_flush_waits_for_submitted_updates(store_target: StoreTarget) -> None:
    doc, updates = edits(50)
    async with store_target.store() as store:
        futures = [store.updates.submit(NAME, u) for u in updates]
        await store.updates.flush()
        assert all(f.done() and f.exception() is None for f in futures)
    async with store_target.store() as store:
        assert same(rebuild(await store.updates.load(NAME)), doc)


async def test_a_failed_commit_reaches_every_appender_and_the_log(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    _, updates = edits(10)
    await store.updates.append(NAME, updates[0])
    async with store.db.begin() as conn:
        await conn.execute(text("DROP TABLE updates"))
    with caplog.at_level(logging.ERROR):
        results = await asyncio.gather(
            *(store.updates.append(NAME, u) for u in updates[1:5]), return_exceptions=True
        )
    assert all(isinstance(r, StoreError) for r in results)
    [record] = [r for r in caplog.records if r.message == "store commit failed"]
    assert record.exc_info is not None and getattr(record, "updates") == 4  # noqa: B009
    async with store.db.begin() as conn:  # the database comes back: so do appends
        await conn.run_sync(updates_table.create)
    await store.updates.append(NAME, updates[5])
    assert await store.updates.log_length(NAME) == 1


async def test_leaving_the_store_raises_when_pending_updates_fail(
    store_target: StoreTarget,
) -> None:
    _, updates = edits(3)
    store = store_target.store()
    with pytest.raises(StoreError, match="did not commit"):
        async with store:
            await store.updates.append(NAME, updates[0])
            async with store.db.begin() as conn:
                await conn.execute(text("DROP TABLE updates"))
            pending = store.updates.submit(NAME, updates[1])
    assert isinstance(pending.exception(), StoreError)
    with pytest.raises(StoreError, match="closed"):
        await store.updates.append(NAME, updates[2])


async def test_the_commit_delay_is_bounded(store_target: StoreTarget) -> None:
    with pytest.raises(InvalidInput):
        store_target.store(commit_delay_s=0.5)


async def test_a_load_right_after_a_write_sees_it(store_target: StoreTarget) -> None:
    # A room unloaded and loaded again while its last update still waits for
    # the group commit (20 ms here) must not come back without it.
    doc, updates = edits(3)
    async with store_target.store(commit_delay_s=0.02) as store:
        for update in updates:
            store.updates.submit(NAME, update)
        assert same(rebuild(await store.updates.load(NAME)), doc)
        assert await store.updates.load("session/other/notes") == []
