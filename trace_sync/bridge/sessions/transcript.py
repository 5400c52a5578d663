"""The transcript's live window in ``session/<sid>/io``: appends, replacements, sealing.

A tool re-sends a streamed entry with the same ``id`` as its text grows, and
a tool call with the same ``id`` as its status changes: such an entry is
replaced where it stands. Streamed text (``streaming`` true) is coalesced:
at most one replacement per entry every ``coalesce_s``, so a long message
costs a few document updates, not one per token; anything else is written at
once, after whatever streamed text waits (order is kept).

The window holds the last ``window`` entries. Once it is half as long again,
the oldest entries are sealed into a ``session/<sid>/log/transcript-<n>``
document first and only then removed from ``io``, in the transaction that
records their :class:`SegmentRef`: the segments in order, then the window,
are the whole transcript. A segment a seal wrote without reaching ``io`` (the
bridge died in between) is emptied and written again, so nothing appears twice.

>>> async with TranscriptWindow(io_doc, segments) as transcript:
...     transcript.write(entry)
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from typing import Any

from pycrdt import Array, Doc

from trace_sync.bridge.sessions.log_segments import ORIGIN, LogSegments, entries
from trace_sync.contract.errors import TraceError
from trace_sync.docs.entries import AssistantText, SegmentRef, Thinking, TranscriptEntry
from trace_sync.docs.layouts import SESSION_IO
from trace_sync.docs.typed import append, read_array, root_of

log = logging.getLogger(__name__)

WINDOW = 500
COALESCE_S = 0.05
_NAME = re.compile(r"transcript-(\d+)")


class TranscriptWindow:
    """``async with TranscriptWindow(io, segments) as window``: write entries with :meth:`write`."""

    def __init__(
        self,
        io: Doc[Any],
        segments: LogSegments,
        *,
        window: int = WINDOW,
        coalesce_s: float = COALESCE_S,
    ) -> None:
        self._io = io
        self._segments = segments
        self._window = window
        self._coalesce_s = coalesce_s
        self._index: dict[str, int] = {}
        self._waiting: dict[str, TranscriptEntry] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._wake = asyncio.Event()
        self._sealer: asyncio.Task[None] | None = None

    @property
    def array(self) -> Array[Any]:
        found: Array[Any] = root_of(self._io, SESSION_IO, "transcript")
        return found

    async def __aenter__(self) -> TranscriptWindow:
        self._index = {
            str(e["id"]): i for i, e in enumerate(self.array) if isinstance(e, dict) and "id" in e
        }
        self._sealer = asyncio.create_task(self._seal_loop(), name="transcript seals")
        self._wake.set()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.flush()
        if self._sealer is not None:
            self._sealer.cancel()
            await asyncio.gather(self._sealer, return_exceptions=True)

    def write(self, entry: TranscriptEntry) -> None:
        """Append ``entry``, or replace the entry with its id (coalesced while streaming)."""
        if isinstance(entry, AssistantText | Thinking) and entry.streaming:
            self._waiting[entry.id] = entry
            if self._timer is None:
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(self._coalesce_s, self.flush)
            return
        self._waiting.pop(entry.id, None)
        with self._io.transaction(origin=ORIGIN):
            self.flush()
            self._put(entry)

    def flush(self) -> None:
        """Write the streamed entries that wait."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._waiting:
            waiting, self._waiting = self._waiting, {}
            with self._io.transaction(origin=ORIGIN):
                for entry in waiting.values():
                    self._put(entry)

    def _put(self, entry: TranscriptEntry) -> None:
        value = entry.model_dump(mode="json", exclude_none=True)
        array = self.array
        at = self._index.get(entry.id)
        if at is not None and at < len(array) and array[at].get("id") == entry.id:
            array[at] = value
            return
        self._index[entry.id] = len(array)
        append(self._io, SESSION_IO, "transcript", entry, origin=ORIGIN)
        if len(array) >= self._window + self._window // 2:
            self._wake.set()

    # -- sealing -------------------------------------------------------------------------

    async def _seal_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                while len(self.array) >= self._window + self._window // 2:
                    await self._seal(len(self.array) - self._window)
            except (TraceError, OSError) as exc:  # nothing is lost: the window grows meanwhile
                log.error("sealing the transcript failed", exc_info=exc)

    async def _seal(self, count: int) -> None:
        number, first = self._next_segment()
        name = f"transcript-{number}"
        sealed = [dict(value) for value in self.array[0:count]]
        async with self._segments.open(name) as segment:
            with segment.doc.transaction(origin=ORIGIN):
                kept = entries(segment.doc)
                if len(kept):  # written by a seal that never reached io
                    del kept[0 : len(kept)]
                kept.extend(sealed)
            await segment.flush()
        ref = SegmentRef(
            name=name, kind="transcript", first=first, count=count, at=datetime.now(UTC)
        )
        with self._io.transaction(origin=ORIGIN):
            del self.array[0:count]
            append(self._io, SESSION_IO, "segments", ref, origin=ORIGIN)
        self._index = {k: i - count for k, i in self._index.items() if i >= count}
        log.info("transcript sealed", extra={"segment": name, "entries": count})

    def _next_segment(self) -> tuple[int, int]:
        """The number of the next transcript segment and the position of its first entry."""
        number, first = 0, 0
        for ref in read_array(self._io, SESSION_IO, "segments"):
            if isinstance(ref, SegmentRef) and ref.kind == "transcript":
                match = _NAME.fullmatch(ref.name)
                if match:
                    number, first = int(match[1]) + 1, ref.first + ref.count
        return number, first
