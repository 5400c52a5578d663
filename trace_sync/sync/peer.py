"""One connected client: a bounded send queue drained by one sender task.

A client that reads slower than the room writes never grows memory and
never stalls others: past ``max_queued`` frames its backlog is folded into
a single "everything since state vector S" update, computed when it is
finally sent, so updates arriving meanwhile are covered too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable

from starlette.websockets import WebSocket, WebSocketState

from trace_sync.metrics import Metrics
from trace_sync.sync.protocol import close_reason, update_message

log = logging.getLogger(__name__)


class Peer:
    def __init__(
        self,
        websocket: WebSocket,
        *,
        max_queued: int,
        metrics: Metrics,
        catch_up: Callable[[bytes], list[bytes]],
    ) -> None:
        self.websocket = websocket
        self._max_queued = max_queued
        self._metrics = metrics
        #: Builds the frames that replace a folded backlog: the diff since a
        #: state vector, then the full awareness.
        self._catch_up = catch_up
        self._queue: deque[tuple[bytes, bytes | None]] = deque()
        self._fold_from: bytes | None = None
        self._wake = asyncio.Event()
        self.last_sent = time.monotonic()
        self.joined = False
        self.closed = False

    def send(self, frame: bytes, state_before: bytes | None = None) -> None:
        """Queue ``frame``; ``state_before`` is the doc state an update frame
        starts from (None for frames that are not document updates)."""
        if self.closed or (self._fold_from is not None and state_before is not None):
            return  # the pending fold is computed at send time and covers it
        self._queue.append((frame, state_before))
        self._metrics.queued_frames.inc()
        if len(self._queue) > self._max_queued:
            self._fold()
        self._wake.set()

    def _fold(self) -> None:
        states = [state for _, state in self._queue if state is not None]
        self._metrics.queued_frames.dec(len(self._queue))
        self._queue.clear()
        # With no update queued the client is current: fold from "now" (empty diff).
        self._fold_from = states[0] if states else b"\x00"
        self._metrics.folds.inc()

    async def run(self) -> None:
        """Send queued frames until the connection closes."""
        try:
            while not self.closed:
                await self._wake.wait()
                self._wake.clear()
                while (frame := self._next()) is not None:
                    await self.websocket.send_bytes(frame)
                    self._metrics.bytes_out.inc(len(frame))
                    self.last_sent = time.monotonic()
        except (OSError, RuntimeError) as exc:
            # The socket went away under us; the receive loop ends the connection.
            log.debug("send failed", extra={"error": str(exc)})
            self.discard()

    def _next(self) -> bytes | None:
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
        if self.closed and self.websocket.application_state == WebSocketState.DISCONNECTED:
            return
        self.discard()
        if self.websocket.application_state == WebSocketState.CONNECTED:
            await close_quietly(self.websocket, code, reason)

    def discard(self) -> None:
        """Stop sending and drop what is queued (the connection is over)."""
        self.closed = True
        self._metrics.queued_frames.dec(len(self._queue))
        self._queue.clear()
        self._wake.set()


async def close_quietly(websocket: WebSocket, code: int, reason: str) -> None:
    """Close with ``code``; a client that is already gone needs no telling."""
    with contextlib.suppress(OSError, RuntimeError):
        await websocket.close(code, close_reason(reason))


def fold_frames(update: bytes, awareness: bytes | None) -> list[bytes]:
    frames = [update_message(update)]
    return frames + [awareness] if awareness else frames
