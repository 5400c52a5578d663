"""Appends a terminal's sealed output to its log segments, in order.

Segments are ``<terminal id>-<n>``, each holding up to ``segment_chars``
characters as strings of at most ``piece_chars`` (one update each). Opening
a segment costs a connection and a handshake, so the next one is opened
as soon as the current one is written to, and a full one is closed in the
background once flushed: a flood never waits for either.

A segment is opened knowing how much of it ``io`` references: whatever a
seal wrote past that without reaching ``io`` (the bridge died in between)
is cut away first, so nothing appears twice.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from pycrdt import Doc

from trace_sync.bridge.sessions.log_segments import ORIGIN, LogSegment, LogSegments, entries

log = logging.getLogger(__name__)


@dataclass
class SegmentState:
    """What ``io`` says (or will say) about one segment of a terminal."""

    name: str
    number: int
    first: int
    count: int
    #: Position of its reference in ``io`` ``segments``; None until referenced.
    index: int | None = None


@dataclass(frozen=True)
class _Open:
    handle: LogSegment
    stack: AsyncExitStack


class SegmentWriter:
    """Writes sealed text after ``last`` (the terminal's latest segment, if any)."""

    def __init__(
        self,
        segments: LogSegments,
        terminal_id: str,
        *,
        last: SegmentState | None,
        first: int,
        segment_chars: int,
        piece_chars: int,
    ) -> None:
        self._segments = segments
        self._terminal_id = terminal_id
        self._last = last
        self._first = first  # where a first segment starts when there is no last
        self._segment_chars = segment_chars
        self._piece_chars = piece_chars
        self._current: tuple[SegmentState, _Open] | None = None
        self._next: asyncio.Task[_Open] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    async def write(self, sealed: str) -> list[SegmentState]:
        """Append ``sealed``; return the segments it went to once the server has it."""
        touched: list[tuple[SegmentState, _Open]] = []
        position = 0
        while position < len(sealed):
            state, opened = await self._with_room()
            piece = sealed[position : position + min(self._room(state), self._piece_chars)]
            with opened.handle.doc.transaction(origin=ORIGIN):
                entries(opened.handle.doc).append(piece)
            # Each piece leaves alone: merged with the next it could pass the frame limit.
            await opened.handle.flush()
            state.count += len(piece)
            position += len(piece)
            if not touched or touched[-1][0] is not state:
                touched.append((state, opened))
        for state, opened in touched:
            if self._room(state) == 0:
                self._close_later(opened)
        return [state for state, _ in touched]

    async def idle(self) -> None:
        """Close what is open (it is reopened on the next write)."""
        current, self._current = self._current, None
        following, self._next = self._next, None
        if current is not None:
            await current[1].stack.aclose()
        if following is not None:
            following.cancel()  # a no-op if it is open already: then close it
            [opened] = await asyncio.gather(following, return_exceptions=True)
            if isinstance(opened, _Open):
                await opened.stack.aclose()

    async def aclose(self) -> None:
        await self.idle()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _room(self, state: SegmentState) -> int:
        return max(0, self._segment_chars - state.count)

    async def _with_room(self) -> tuple[SegmentState, _Open]:
        if self._current is not None and self._room(self._current[0]):
            state = self._current[0]
            if self._next is None:  # opening takes a handshake: have the next one ready
                self._next = asyncio.create_task(self._open(self._name(state.number + 1), 0))
            return self._current
        last = self._last
        if last is not None and self._room(last):
            # Continue the latest segment (after idling, or a bridge restart).
            self._current = (last, await self._open(last.name, last.count))
            return self._current
        number = last.number + 1 if last else 1
        first = last.first + last.count if last else self._first
        state = SegmentState(self._name(number), number, first, 0)
        following, self._next = self._next, None
        opened = await following if following is not None else await self._open(state.name, 0)
        self._current, self._last = (state, opened), state
        return self._current

    async def _open(self, name: str, count: int) -> _Open:
        stack = AsyncExitStack()
        handle = await stack.enter_async_context(self._segments.open(name))
        cut_back(handle.doc, name, count)
        return _Open(handle, stack)

    def _close_later(self, opened: _Open) -> None:
        if self._current is not None and self._current[1] is opened:
            self._current = None
        task = asyncio.create_task(opened.stack.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _name(self, number: int) -> str:
        return f"{self._terminal_id}-{number}"


def cut_back(doc: Doc[Any], name: str, count: int) -> None:
    """Keep the first ``count`` characters of a segment's entries (whole strings)."""
    items = entries(doc)
    total = kept = 0
    for item in items:
        if total >= count:
            break
        total += len(item)
        kept += 1
    if total != count:
        log.warning(
            "log segment does not match its reference",
            extra={"segment": name, "has": total, "expected": count},
        )
    if kept < len(items):
        with doc.transaction(origin=ORIGIN):
            del items[kept:]
