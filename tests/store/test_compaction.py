"""Compaction: one snapshot replaces the log, and nothing appended meanwhile is lost."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest
from pycrdt import Doc, Text

from tests.conftest import StoreTarget, eventually
from tests.store.crdt import edits, rebuild, same
from trace_sync.contract.errors import Conflict
from trace_sync.store import Store, folding
from trace_sync.store import updates as updates_module

NAME = "session/s_test/notes"


async def append_all(store: Store, updates: list[bytes], chunk: int = 25) -> None:
    for start in range(0, len(updates), chunk):
        await asyncio.gather(
            *(store.updates.append(NAME, u) for u in updates[start : start + chunk])
        )


async def trimmed(store: Store, to: int) -> bool:
    """The log holds at most ``to`` updates (the rest are in the snapshot)."""
    return await store.updates.log_length(NAME) <= to


async def compact_until_done(store: Store, writers: list[asyncio.Task[None]]) -> int:
    """Compact over and over while ``writers`` run; return how many compactions won."""
    won = 0
    while not all(w.done() for w in writers):
        try:
            await store.updates.compact(NAME)
            won += 1
        except Conflict:
            pass  # the log kept moving under it: nothing lost, try again
        await asyncio.sleep(0)
    await asyncio.gather(*writers)
    return won


async def test_compaction_leaves_one_snapshot_with_the_same_content(store: Store) -> None:
    doc, updates = edits(500)
    await append_all(store, updates, chunk=500)
    await store.updates.compact(NAME)
    loaded = await store.updates.load(NAME)
    assert len(loaded) == 1 and same(rebuild(loaded), doc)
    doc, more = edits(200, doc)
    await append_all(store, more)
    await store.updates.compact(NAME)
    await store.updates.compact(NAME)  # nothing new: nothing to do
    loaded = await store.updates.load(NAME)
    assert len(loaded) == 1 and same(rebuild(loaded), doc)


async def test_compaction_during_concurrent_appends_loses_nothing(
    store_target: StoreTarget,
) -> None:
    doc, updates = edits(2000)
    async with store_target.store(compact_after_updates=10**9) as store:
        writers = [asyncio.create_task(append_all(store, updates[i::4], 10)) for i in range(4)]
        assert await compact_until_done(store, writers) >= 2
        assert same(rebuild(await store.updates.load(NAME)), doc)
    async with store_target.store() as reopened:
        assert same(rebuild(await reopened.updates.load(NAME)), doc)


async def test_another_process_appending_during_compaction_loses_nothing(
    store_target: StoreTarget,
) -> None:
    doc, updates = edits(3000)
    # Two engines on one database stand in for two server processes.
    async with (
        store_target.store(compact_after_updates=10**9) as store,
        store_target.store(compact_after_updates=10**9) as other,
    ):
        writers = [
            asyncio.create_task(append_all(store, updates[0::2])),
            asyncio.create_task(append_all(other, updates[1::2])),
        ]
        await compact_until_done(store, writers)
        assert same(rebuild(await store.updates.load(NAME)), doc)
        assert same(rebuild(await other.updates.load(NAME)), doc)


@pytest.mark.parametrize("late", [0, 5, 6], ids=["insert", "typing", "deletion"])
async def test_an_update_whose_dependency_commits_late_survives(store: Store, late: int) -> None:
    doc, updates = edits(20)  # edit 6 is a deletion
    await append_all(store, updates[:late] + updates[late + 1 :])
    await store.updates.compact(NAME)
    await store.updates.append(NAME, updates[late])  # as if from a slower process
    assert same(rebuild(await store.updates.load(NAME)), doc)
    await store.updates.compact(NAME)
    loaded = await store.updates.load(NAME)
    assert len(loaded) == 1 and same(rebuild(loaded), doc)


async def test_a_deletion_of_text_committed_late_is_kept(store: Store) -> None:
    doc: Doc[Any] = Doc()
    found: list[bytes] = []
    doc.observe(lambda event: found.append(event.update))
    text = doc.get("t", type=Text)
    text += "abc"
    del text[1]
    await store.updates.append(NAME, found[1])  # the deletion arrives before its insert
    await store.updates.compact(NAME)
    await store.updates.append(NAME, found[0])
    assert str(rebuild(await store.updates.load(NAME)).get("t", type=Text)) == "ac"


async def test_compaction_starts_by_itself_after_the_threshold(store_target: StoreTarget) -> None:
    doc, updates = edits(400)
    async with store_target.store(compact_after_updates=100) as store:
        await append_all(store, updates, chunk=40)

        await eventually(lambda: trimmed(store, to=100))
        assert store.updates.compaction_error is None
        assert same(rebuild(await store.updates.load(NAME)), doc)


async def test_appends_while_a_compaction_runs_start_another_when_it_ends(
    store_target: StoreTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A document written fast and then left alone: what was appended while the
    background compaction ran is past the threshold again, and is compacted too (not
    only at the next write, which may never come)."""
    entered, go_on = threading.Event(), threading.Event()

    def held_fold(*args: Any) -> Any:  # the fold runs in a thread: held there
        entered.set()
        go_on.wait(30)
        return folding.fold(*args)

    monkeypatch.setattr(updates_module, "fold", held_fold)
    doc, updates = edits(400)
    async with store_target.store(compact_after_updates=100) as store:
        await append_all(store, updates[:120], chunk=40)
        assert await asyncio.to_thread(entered.wait, 30)  # a compaction of the first 120
        await append_all(store, updates[120:], chunk=40)  # 280 more meanwhile
        go_on.set()

        await eventually(lambda: trimmed(store, to=100))
        assert same(rebuild(await store.updates.load(NAME)), doc)


async def test_a_failing_background_compaction_is_reported_not_fatal(
    store_target: StoreTarget, caplog: pytest.LogCaptureFixture
) -> None:
    _, updates = edits(30)
    async with store_target.store(compact_after_updates=10) as store:
        with caplog.at_level(logging.WARNING):
            await store.updates.append(NAME, b"\xff\x01not an update")
            await append_all(store, updates)
            await eventually(lambda: store.updates.compaction_error is not None)
        assert any(r.message == "compaction failed" for r in caplog.records)
        await store.updates.append(NAME, updates[0])  # the writer lives on
        assert await store.updates.log_length(NAME) == 32
