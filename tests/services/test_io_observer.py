"""What the server takes from a runtime's io document: health is read, bad measures
dropped, a checkpoint whose claim was abandoned recorded after all."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pycrdt import Doc, Text

from trace_sync.docs.layouts import SESSION, SESSION_IO
from trace_sync.docs.typed import root_of
from trace_sync.metrics import Metrics
from trace_sync.services.checkpoint_registry import CheckpointRegistry, claim_key
from trace_sync.services.io_observer import MAX_TERMINAL, IoObserver, read_io
from trace_sync.services.sessions import SessionService
from trace_sync.store import Store, idempotency
from trace_sync.sync.rooms import Rooms

NOW = "2026-11-25T10:00:00Z"


def io_with(**runtime: Any) -> Doc[Any]:
    doc: Doc[Any] = Doc()
    with doc.transaction():
        root_of(doc, SESSION_IO, "runtime").update(runtime)
    return doc


def test_health_is_read_from_the_runtimes_heartbeat() -> None:
    doc = io_with(heartbeat_at="2026-11-25T10:00:00Z", memory_bytes=4096, disk_bytes=10)
    health = read_io("s1", doc).health
    assert health is not None and health.memory_bytes == 4096 and health.disk_bytes == 10
    assert health.cpu_percent is None  # not measured: unknown, not zero


def test_no_heartbeat_no_health_and_impossible_measures_are_dropped() -> None:
    assert read_io("s1", io_with(memory_bytes=4096)).health is None
    doc = io_with(heartbeat_at="2026-11-25T10:00:00Z", memory_bytes=-1, cpu_percent=-3.0)
    health = read_io("s1", doc).health
    assert health is not None and health.memory_bytes is None and health.cpu_percent is None


def test_diff_stats_sum_the_changed_files_and_terminal_text_loses_its_escapes() -> None:
    doc: Doc[Any] = Doc()
    with doc.transaction():
        files = root_of(doc, SESSION_IO, "files")
        files["a.py"] = {"path": "a.py", "status": "modified", "added": 3, "removed": 1}
        files["b.py"] = {"path": "b.py", "status": "modified", "added": -5, "removed": 2}
        files["bad"] = {"path": "bad", "status": "exploded"}  # not a FileChange: left out
        root_of(doc, SESSION_IO, "terminals")["t1"] = {"id": "t1", "title": "sh", "kind": "shell"}
        root_of(doc, SESSION_IO, "output")["t1"] = Text("\x1b[1;32mok\x1b[0m done\r\n" * 2)
        root_of(doc, SESSION_IO, "output")["t9"] = Text("no terminal entry: not indexed")
    reading = read_io("s1", doc)
    assert reading.diff == (3, 3)
    assert reading.terminals == {"t1": "ok done\nok done\n"}


def test_a_terminal_is_indexed_only_as_its_newest_bounded_window() -> None:
    doc: Doc[Any] = Doc()
    with doc.transaction():
        root_of(doc, SESSION_IO, "terminals")["t1"] = {"id": "t1", "title": "sh", "kind": "shell"}
        root_of(doc, SESSION_IO, "output")["t1"] = Text("old " * 10_000 + "newest")
    window = read_io("s1", doc).terminals["t1"]
    assert len(window) == MAX_TERMINAL and window.endswith("newest")


async def test_a_checkpoint_another_process_claimed_is_recorded_once_its_claim_is_abandoned(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its holder died before appending it: a later pass (the next heartbeat) records it."""
    owner = await store.accounts.create_user("olga")
    workspace = await store.directory.create_workspace("Team", owner.id)
    sid = (await store.sessions.create(workspace.id, owner.id)).id
    assert await store.idempotency.claim(owner.id, claim_key(sid, 1), "checkpoint") is None
    async with Rooms(store.updates, Metrics(), grace_s=60) as rooms:
        registry = CheckpointRegistry(store, rooms)
        async with IoObserver(SessionService(store, rooms), registry, store.search) as observer:
            rooms.on_change(observer.changed)
            made = {"n": 1, "ref": f"refs/trace/checkpoints/{sid}/1", "commit": "abc1234"}
            await runtime_writes(rooms, sid, "checkpoints", made | {"at": NOW})
            await observer.idle()
            assert await registered(rooms, sid) == []  # its holder may still append it
            monkeypatch.setattr(idempotency, "ABANDONED_AFTER", timedelta(0))  # time has passed
            await runtime_writes(rooms, sid, "runtime", {"heartbeat_at": NOW})
            await observer.idle()
            assert await registered(rooms, sid) == [1]


async def runtime_writes(rooms: Rooms, sid: str, root: str, value: dict[str, Any]) -> None:
    async with rooms.document(f"session/{sid}/io") as io, io.transaction(origin="runtime"):
        if root == "checkpoints":
            root_of(io, SESSION_IO, root).append(value)
        else:
            root_of(io, SESSION_IO, root).update(value)


async def registered(rooms: Rooms, sid: str) -> list[int]:
    async with rooms.document(f"session/{sid}") as doc:
        return [c["n"] for c in root_of(doc, SESSION, "checkpoints")]
