"""The transcript's live window: replacement by id, coalesced streaming, sealing into segments."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pycrdt import Doc

from tests.conftest import eventually
from trace_sync.bridge.sessions.log_segments import MemoryLogSegments, entries
from trace_sync.bridge.sessions.transcript import TranscriptWindow
from trace_sync.bridge.tools.run import now
from trace_sync.docs.entries import AssistantText, ErrorNote, SegmentRef, ToolCall, UserPrompt
from trace_sync.docs.layouts import SESSION_IO
from trace_sync.docs.typed import read_array


@pytest.fixture
def io() -> Doc[Any]:
    return Doc()


@pytest.fixture
def segments() -> MemoryLogSegments:
    return MemoryLogSegments()


@pytest.fixture
async def window(io: Doc[Any], segments: MemoryLogSegments) -> AsyncIterator[TranscriptWindow]:
    async with TranscriptWindow(io, segments, window=10, coalesce_s=0.05) as opened:
        yield opened


def prompt(n: int) -> UserPrompt:
    return UserPrompt(id=f"p{n}", at=now(), text=f"prompt {n}")


def ids(window: TranscriptWindow) -> list[str]:
    return [entry["id"] for entry in window.array]


async def test_an_entry_sent_again_with_its_id_is_replaced_where_it_stands(
    window: TranscriptWindow,
) -> None:
    call = ToolCall(id="c1", at=now(), call_id="x", name="Bash", status="pending")
    window.write(prompt(1))
    window.write(call)
    window.write(prompt(2))
    window.write(call.model_copy(update={"status": "done"}))
    assert ids(window) == ["p1", "c1", "p2"]
    assert window.array[1]["status"] == "done"


async def test_streamed_text_costs_a_few_updates_and_keeps_its_place(
    io: Doc[Any], window: TranscriptWindow
) -> None:
    updates: list[bytes] = []
    subscription = io.observe(lambda event: updates.append(event.update))
    text = ""
    for word in range(200):
        text += f"word{word} "
        window.write(AssistantText(id="a1", at=now(), text=text, streaming=True))
    window.write(ErrorNote(id="e1", at=now(), message="after the text"))
    io.unobserve(subscription)
    assert ids(window) == ["a1", "e1"]  # the waiting text went first
    assert window.array[0]["text"] == text and len(updates) <= 2
    window.write(AssistantText(id="a1", at=now(), text=text + "end.", streaming=False))
    assert window.array[0] == {**window.array[0], "text": text + "end.", "streaming": False}


async def test_streamed_text_alone_reaches_the_document_within_the_coalescing_time(
    window: TranscriptWindow,
) -> None:
    window.write(AssistantText(id="a1", at=now(), text="Hel", streaming=True))
    assert ids(window) == []
    await eventually(lambda: ids(window) == ["a1"])


async def test_old_entries_are_sealed_into_segments_and_nothing_is_lost(
    io: Doc[Any], segments: MemoryLogSegments, window: TranscriptWindow
) -> None:
    for n in range(15):
        window.write(prompt(n))
    await eventually(lambda: len(window.array) == 10)
    [ref] = [r for r in read_array(io, SESSION_IO, "segments") if isinstance(r, SegmentRef)]
    assert (ref.name, ref.kind, ref.first, ref.count) == ("transcript-0", "transcript", 0, 5)
    sealed = [e["id"] for e in entries(segments.docs["transcript-0"])]
    assert sealed + ids(window) == [f"p{n}" for n in range(15)]
    window.write(prompt(3).model_copy(update={"text": "again"}))  # sealed: appended anew
    window.write(prompt(12).model_copy(update={"text": "edited"}))  # still in the window
    assert ids(window) == [f"p{n}" for n in range(5, 15)] + ["p3"]
    assert window.array[7]["text"] == "edited"


async def test_a_seal_that_never_reached_io_is_written_again_not_twice(
    io: Doc[Any], segments: MemoryLogSegments
) -> None:
    async with segments.open("transcript-0") as stale:  # a seal cut short by a crash
        entries(stale.doc).extend([{"id": "stale-a"}, {"id": "stale-b"}, {"id": "stale-c"}])
    async with TranscriptWindow(io, segments, window=4) as window:
        for n in range(6):
            window.write(prompt(n))
        await eventually(lambda: len(window.array) == 4)
    assert [e["id"] for e in entries(segments.docs["transcript-0"])] == ["p0", "p1"]
    async with TranscriptWindow(io, segments, window=4) as reopened:
        for n in range(6, 8):
            reopened.write(prompt(n))
        await eventually(lambda: len(reopened.array) == 4)
        assert ids(reopened) == ["p4", "p5", "p6", "p7"]
    assert [e["id"] for e in entries(segments.docs["transcript-1"])] == ["p2", "p3"]
