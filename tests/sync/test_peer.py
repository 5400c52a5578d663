"""A peer's send order and folding, against a sink whose readiness the test
controls (the real sinks are exercised by tests/sync/test_fanout.py)."""

from __future__ import annotations

import asyncio

from tests.conftest import eventually
from trace_sync.metrics import Metrics
from trace_sync.sync.peer import Peer
from trace_sync.sync.wire import Frame


class GatedSink:
    """A fake connection: takes frames at once while ``open``, else when the gate opens."""

    def __init__(self) -> None:
        self.open = True
        self.gate = asyncio.Event()
        self.written: list[bytes] = []

    def write_now(self, frame: Frame) -> bool:
        if self.open:
            self.written.append(frame.message)
        return self.open

    async def send(self, frame: Frame) -> None:
        await self.gate.wait()
        self.written.append(frame.message)

    async def close(self, code: int, reason: str) -> None:
        self.open = False


def catch_up(state: bytes) -> list[Frame]:
    return [Frame(b"caught up from " + state)]


async def test_frames_queued_while_the_socket_was_full_go_out_before_newer_ones() -> None:
    sink, metrics = GatedSink(), Metrics()
    peer = Peer(sink, max_queued=100, metrics=metrics, catch_up=catch_up)
    peer.send(Frame(b"1"))
    sink.open = False  # the client stopped reading
    peer.send(Frame(b"2"))
    sink.open = True  # its socket drained, but "2" still waits in the queue
    peer.send(Frame(b"3"))
    sink.gate.set()
    await eventually(lambda: len(sink.written) == 3)
    peer.send(Frame(b"4"))  # the queue is empty again: straight out
    assert sink.written == [b"1", b"2", b"3", b"4"]
    assert metrics.queued_frames._value.get() == 0
    peer.discard()


async def test_a_backlog_past_the_limit_is_folded_from_its_first_update() -> None:
    sink, metrics = GatedSink(), Metrics()
    peer = Peer(sink, max_queued=3, metrics=metrics, catch_up=catch_up)
    peer.send(Frame(b"handshake"), state_before=b"S0")
    sink.open = False
    for i in range(5):
        peer.send(Frame(b"update %d" % i), state_before=b"S%d" % (i + 1))
    assert metrics.folds._value.get() == 1
    assert metrics.queued_frames._value.get() == 0  # the backlog is gone, not kept
    sink.gate.set()
    await eventually(lambda: len(sink.written) == 2)
    # Updates 0-3 overflowed and were folded from S1; update 4 came after the
    # fold and is covered by it, since the fold is computed when it is sent.
    assert sink.written == [b"handshake", b"caught up from S1"]
    peer.discard()


async def test_a_backlog_of_presence_alone_is_folded_from_the_last_update_sent() -> None:
    sink, metrics = GatedSink(), Metrics()
    peer = Peer(sink, max_queued=3, metrics=metrics, catch_up=catch_up)
    peer.send(Frame(b"update"), state_before=b"S7")
    sink.open = False
    for _ in range(4):
        peer.send(Frame(b"presence"))
    sink.gate.set()
    await eventually(lambda: len(sink.written) == 2)
    assert sink.written == [b"update", b"caught up from S7"]
    peer.discard()


async def test_a_peer_that_keeps_up_runs_no_task_and_one_left_behind_ends_its_own() -> None:
    """A join costs no sender task while the client reads (most never need one); a
    peer discarded with a backlog on a socket that never drains leaves no task."""
    sink = GatedSink()
    before = len(asyncio.all_tasks())
    peer = Peer(sink, max_queued=100, metrics=Metrics(), catch_up=catch_up)
    for i in range(50):
        peer.send(Frame(b"%d" % i))
    assert len(asyncio.all_tasks()) == before
    sink.open = False  # the gate never opens: the sender waits on the socket
    peer.send(Frame(b"stuck"))
    assert len(asyncio.all_tasks()) == before + 1
    peer.discard()
    await eventually(lambda: len(asyncio.all_tasks()) == before)
