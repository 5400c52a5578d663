"""One connected client: frames go straight out while it keeps up, else into
a bounded queue drained by the peer's sender task.

While the client's socket takes what the room sends, :meth:`Peer.send`
writes each frame at once (see ``wire.py``): no task switch, no queue. Once
its transport holds more than its high-water mark, frames wait in the
peer's queue, in order, and a sender task (started then: most peers never
need one, and a join is cheaper without) sends them as the socket drains.
A client that reads slower than the room writes never grows memory and
never stalls others: past ``max_queued`` frames its backlog is folded into a
single "everything since state vector S" update, computed when it is finally
sent, so updates arriving meanwhile are covered too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from trace_sync.contract.sync_protocol import EMPTY_STATE
from trace_sync.metrics import Metrics
from trace_sync.sync.wire import ConnectionGone, Frame, Sink

log = logging.getLogger(__name__)


class Peer:
    def __init__(
        self,
        sink: Sink,
        *,
        max_queued: int,
        metrics: Metrics,
        catch_up: Callable[[bytes], list[Frame]],
    ) -> None:
        self._sink = sink
        self._max_queued = max_queued
        self._metrics = metrics
        #: Builds the frames that replace a folded backlog: the diff since a
        #: state vector, then the full awareness.
        self._catch_up = catch_up
        self._queue: deque[tuple[Frame, bytes | None]] = deque()
        self._fold_from: bytes | None = None
        #: Where the last update frame handed to this peer starts; an empty
        #: state vector (the whole document) until the handshake.
        self._last_state = EMPTY_STATE
        #: The sender task is between taking a frame and having sent it.
        self._sending = False
        self._wake = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self.last_sent = time.monotonic()
        self.joined = False
        self.closed = False

    def send(self, frame: Frame, state_before: bytes | None = None) -> None:
        """Send ``frame`` now if the client keeps up, else queue it; ``state_before``
        is the doc state an update frame starts from (None for other frames)."""
        if self.closed or (self._fold_from is not None and state_before is not None):
            return  # the pending fold is computed at send time and covers it
        if state_before is not None:
            self._last_state = state_before
        if not self._queue and not self._sending and self._sink.write_now(frame):
            self._sent(frame)
            return
        self._queue.append((frame, state_before))
        self._metrics.queued_frames.inc()
        if len(self._queue) > self._max_queued:
            self._fold()
        self._wake.set()
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._run())

    def _sent(self, frame: Frame) -> None:
        self._metrics.bytes_out.inc(len(frame.message))
        self.last_sent = time.monotonic()

    def _fold(self) -> None:
        states = [state for _, state in self._queue if state is not None]
        self._metrics.queued_frames.dec(len(self._queue))
        self._queue.clear()
        # With no update queued, the client has all but (perhaps) the last one sent.
        self._fold_from = states[0] if states else self._last_state
        self._metrics.folds.inc()

    async def _run(self) -> None:
        """Send queued frames until the connection closes."""
        try:
            while not self.closed:
                await self._wake.wait()
                self._wake.clear()
                while (frame := self._next()) is not None:
                    self._sending = True
                    await self._sink.send(frame)
                    self._sending = False
                    self._sent(frame)
        except ConnectionGone as exc:
            # The socket went away under us; the receive loop ends the connection.
            log.debug("send failed", extra={"error": str(exc)})
            self.discard()

    def _next(self) -> Frame | None:
        if self._fold_from is not None:
            frames = self._catch_up(self._fold_from)
            self._fold_from = None
            for frame in reversed(frames[1:]):
                self._queue.appendleft((frame, None))
                self._metrics.queued_frames.inc()
            return frames[0]
        if not self._queue:
            return None
        self._metrics.queued_frames.dec()
        return self._queue.popleft()[0]

    async def close(self, code: int, reason: str = "") -> None:
        self.discard()
        await self._sink.close(code, reason)

    def discard(self) -> None:
        """Stop sending and drop what is queued (the connection is over)."""
        self.closed = True
        self._metrics.queued_frames.dec(len(self._queue))
        self._queue.clear()
        self._wake.set()
        if self._sender is not None and self._sender is not asyncio.current_task():
            self._sender.cancel()  # it may wait on a socket that never drains
