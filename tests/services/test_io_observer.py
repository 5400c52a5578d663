"""What the server takes from a runtime's io document: health is read, bad measures dropped."""

from __future__ import annotations

from typing import Any

from pycrdt import Doc

from trace_sync.docs.layouts import SESSION_IO
from trace_sync.docs.typed import root_of
from trace_sync.services.io_observer import read_io


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
