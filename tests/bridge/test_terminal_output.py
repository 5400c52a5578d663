"""The output recorder on an ``io`` document, with segments kept in this process.

What travels to a server is covered in test_terminals_live.py; here the
window arithmetic is driven hard: split characters, invalid bytes, floods,
restarts and a seal cut short by a crash.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Doc

from tests.conftest import eventually
from trace_sync.bridge.sessions.log_segments import ORIGIN, MemoryLogSegments, entries
from trace_sync.bridge.terminals.output import OutputLimits, TerminalRecorder, seal_point
from trace_sync.docs.entries import SegmentRef, TerminalInfo
from trace_sync.docs.layouts import SESSION_IO
from trace_sync.docs.typed import read_array, read_map, root_of

SMALL = OutputLimits(
    window_bytes=2048, flush_bytes=512, pending_bytes=8192, segment_chars=6000, piece_chars=1500
)


def recorder(io: Doc[Any], segments: MemoryLogSegments, **limits: Any) -> TerminalRecorder:
    chosen = OutputLimits(**{**vars(SMALL), **limits})
    return TerminalRecorder(io, segments, "t1", title="build", kind="tool", limits=chosen)


def refs(io: Doc[Any]) -> list[SegmentRef]:
    return [r for r in read_array(io, SESSION_IO, "segments") if isinstance(r, SegmentRef)]


def window(io: Doc[Any]) -> str:
    return str(root_of(io, SESSION_IO, "output")["t1"])


def everything(io: Doc[Any], segments: MemoryLogSegments) -> str:
    """What a person scrolling all the way back reads: segments in order, then the window."""
    sealed = "".join("".join(entries(segments.docs[ref.name])) for ref in refs(io))
    return sealed + window(io)


def info(io: Doc[Any]) -> TerminalInfo:
    found = read_map(io, SESSION_IO, "terminals")["t1"]
    assert isinstance(found, TerminalInfo)
    return found


async def record(io: Doc[Any], segments: MemoryLogSegments, chunks: list[bytes]) -> None:
    async with recorder(io, segments) as rec:
        for chunk in chunks:
            await rec.feed(chunk)
        await rec.finish(0)


async def test_a_character_split_across_reads_arrives_whole() -> None:
    io, segments = Doc(), MemoryLogSegments()
    emoji = "🚀".encode()
    await record(io, segments, [b"caf\xc3", b"\xa9 ", emoji[:1], emoji[1:3], emoji[3:], b"!"])
    assert window(io) == "café 🚀!"


async def test_invalid_bytes_are_replaced_not_fatal() -> None:
    io, segments = Doc(), MemoryLogSegments()
    await record(io, segments, [b"ok \xff\xfe done", b" \xc3"])  # the last byte never completes
    assert window(io) == "ok \ufffd\ufffd done \ufffd"
    assert info(io).state == "exited"


async def test_output_is_coalesced_into_one_transaction_not_one_per_read() -> None:
    io, segments = Doc(), MemoryLogSegments()
    updates: list[bytes] = []
    big = {"window_bytes": 1 << 20, "flush_bytes": 1 << 20, "pending_bytes": 1 << 20}
    async with recorder(io, segments, **big) as rec:
        io.observe(lambda event: updates.append(event.update))
        for n in range(500):
            await rec.feed(f"\x1b[32mline {n}\x1b[0m\r\n".encode())
        await eventually(lambda: "line 499" in window(io))
    assert len(updates) == 1
    assert window(io).startswith("\x1b[32mline 0\x1b[0m\r\n")


async def test_a_flood_is_sealed_into_segments_and_the_window_stays_bounded() -> None:
    io, segments = Doc(), MemoryLogSegments()
    text = "".join(f"\x1b[1m{n:05d}\x1b[0m résumé → ok\r\n" for n in range(4000))
    data = text.encode()
    await record(io, segments, [data[i : i + 4096] for i in range(0, len(data), 4096)])
    assert everything(io, segments) == text
    assert len(window(io).encode()) <= SMALL.window_bytes
    sealed = refs(io)
    assert [r.name for r in sealed] == [f"t1-{n}" for n in range(1, len(sealed) + 1)]
    assert all(r.count <= SMALL.segment_chars for r in sealed)
    assert info(io).sealed_chars == sum(r.count for r in sealed) == len(text) - len(window(io))
    assert window(io).startswith("\x1b[1m")  # the window starts on a line


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=300),
            st.sampled_from(["\r\n", "\x1b[31m", "\x1b[0m", "é", "🚀", "\n" * 5]),
        ),
        max_size=60,
    ),
    st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=20),
    st.binary(max_size=3),
)
def test_segments_and_window_are_exactly_the_output(
    pieces: list[str], sizes: list[int], junk: bytes
) -> None:
    data = "".join(pieces).encode() * 3 + junk
    chunks, position = [], 0
    while position < len(data):
        size = sizes[len(chunks) % len(sizes)]
        chunks.append(data[position : position + size])
        position += size
    io, segments = Doc(), MemoryLogSegments()
    asyncio.run(record(io, segments, chunks))
    assert everything(io, segments) == data.decode(errors="replace")
    assert len(window(io).encode()) <= SMALL.window_bytes
    for before, after in zip(refs(io), refs(io)[1:], strict=False):
        assert after.first == before.first + before.count


async def test_a_restarted_recorder_continues_without_duplicating() -> None:
    io, segments = Doc(), MemoryLogSegments()
    first = "".join(f"first {n}\r\n" for n in range(800))
    second = "".join(f"second {n}\r\n" for n in range(800))
    await record(io, segments, [first.encode()])
    named = [r.name for r in refs(io)]
    # The bridge restarts: a new process, the same documents.
    await record(io, segments, [second.encode()])
    assert everything(io, segments) == first + second
    names = [r.name for r in refs(io)]
    assert names[: len(named)] == named
    assert len(names) == len(set(names))
    assert info(io).state == "exited"


async def test_a_seal_that_never_reached_io_is_not_duplicated_after_a_restart() -> None:
    io, segments = Doc(), MemoryLogSegments()
    text = "".join(f"line {n}\r\n" for n in range(600))
    await record(io, segments, [text.encode()])
    last = refs(io)[-1]
    # A seal wrote to the segment, then the bridge died before updating io.
    doc = segments.docs[last.name]
    with doc.transaction(origin=ORIGIN):
        entries(doc).append(window(io)[:100])
    nxt = segments.docs.setdefault(f"t1-{int(last.name.split('-')[1]) + 1}", Doc())
    with nxt.transaction(origin=ORIGIN):
        entries(nxt).append("stale piece of a seal that died")
    more = "".join(f"more {n}\r\n" for n in range(900))
    await record(io, segments, [more.encode()])
    assert everything(io, segments) == text + more


def test_a_seal_ends_after_a_line_break_and_keeps_at_most_the_bytes_asked() -> None:
    text = "é" * 3000 + "\r\n" + "x" * 10
    cut = seal_point(text, 1000)
    assert text[:cut].endswith("\n")
    assert len(text[cut:].encode()) <= 1000
    assert seal_point("ab" * 100, 0) == 200


async def test_terminals_whose_ids_look_alike_keep_their_own_segments() -> None:
    io, segments = Doc(), MemoryLogSegments()
    texts = {tid: "".join(f"{tid} {n}\r\n" for n in range(700)) for tid in ("a", "a-1", "a_1")}
    for round_ in range(2):  # interleaved, and each continued once
        for tid, text in texts.items():
            half = text[: len(text) // 2] if round_ == 0 else text[len(text) // 2 :]
            async with TerminalRecorder(
                io, segments, tid, title=tid, kind="shell", limits=SMALL
            ) as rec:
                await rec.feed(half.encode())
                await rec.finish(0)
    for tid, text in texts.items():
        own = [r for r in refs(io) if r.terminal_id == tid]
        sealed = "".join("".join(entries(segments.docs[r.name])) for r in own)
        assert sealed + str(root_of(io, SESSION_IO, "output")[tid]) == text
