"""A terminal's output, recorded live into the session's ``io`` document.

Bytes read from the PTY are decoded incrementally (a character split across
reads is kept whole, invalid bytes become U+FFFD) and gathered; one
transaction appends them to ``output[terminal id]`` every ``flush_s`` or
once ``flush_bytes`` are waiting, never one per read. ANSI escapes are kept.

The live window holds at most ``window_bytes`` of UTF-8. Output that would
overflow it is sealed first: the oldest part (of the window, and of what is
waiting, so a flood goes straight to the log without passing through the
window) is appended to a ``session/<sid>/log/<terminal id>-<n>`` segment,
flushed, and only then removed from the window in the same ``io``
transaction that records its :class:`SegmentRef` and raises
``sealed_chars``. So the segments in order, then the window, are exactly
the output, and a viewer never sees a gap. While sealing waits (a slow or
absent server) output gathers in memory up to ``pending_bytes``; past that
:meth:`TerminalRecorder.feed` waits, and so, through the PTY, does the program.

A recorder opened on a terminal id that the document already has continues
it (a bridge restart): the window and segments stay, numbering goes on, and
a segment written by a seal that never reached ``io`` is cut back to what
``io`` references, so nothing appears twice.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pycrdt import Doc, Text

from trace_sync.bridge.sessions.log_segments import ORIGIN, LogSegments
from trace_sync.bridge.sessions.segment_writer import SegmentState, SegmentWriter
from trace_sync.contract.errors import InvalidInput, TraceError
from trace_sync.docs.entries import SegmentRef, TerminalInfo
from trace_sync.docs.layouts import SESSION_IO
from trace_sync.docs.migrations import migrate
from trace_sync.docs.names import DocKind
from trace_sync.docs.typed import put, read_array, read_map, root_of

log = logging.getLogger(__name__)

#: Terminal ids leave room for ``-<n>`` within a segment name (64 characters).
TERMINAL_ID = re.compile(r"[A-Za-z0-9_-]{1,56}")
#: A seal ends after a line break within this many characters, so the window starts on a line.
LINE_SLACK = 4096


@dataclass(frozen=True)
class OutputLimits:
    #: The live window in ``io``, in bytes of UTF-8. A seal leaves a quarter of it:
    #: seals are big and rare, and a flood churns little through the window.
    window_bytes: int = 256 << 10
    flush_s: float = 0.025
    flush_bytes: int = 64 << 10
    #: Output held in memory while sealing waits; past it the program waits.
    pending_bytes: int = 4 << 20
    #: A segment document is full (and closed) at this many characters.
    segment_chars: int = 4 << 20
    #: One string of ``entries`` at most: one update, at most 4 MiB of UTF-8
    #: (the server takes frames up to 8 MiB).
    piece_chars: int = 1 << 20
    #: An open segment with nothing to seal is closed after this long.
    idle_close_s: float = 10.0
    #: Leaving the recorder waits this long at most for the last seal.
    close_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        sizes = (self.window_bytes, self.flush_bytes, self.pending_bytes, self.piece_chars)
        if min(sizes) < 1 or self.segment_chars < self.piece_chars:
            raise InvalidInput(f"output limits must be positive, segments >= pieces: {self}")
        if self.piece_chars > 1 << 20:
            raise InvalidInput("a piece over 1 Mi characters could pass the server's frame limit")


DEFAULT_LIMITS = OutputLimits()


class TerminalRecorder:
    """``async with TerminalRecorder(io, segments, tid, ...) as rec``: feed it the PTY's bytes."""

    def __init__(
        self,
        io: Doc[Any],
        segments: LogSegments,
        terminal_id: str,
        *,
        title: str,
        kind: Literal["tool", "shell"],
        cols: int = 80,
        rows: int = 24,
        limits: OutputLimits = DEFAULT_LIMITS,
        opened_by: str | None = None,
    ) -> None:
        if not TERMINAL_ID.fullmatch(terminal_id):
            raise InvalidInput(f"terminal ids are 1-56 of A-Z a-z 0-9 _ -, got {terminal_id!r}")
        self.terminal_id = terminal_id
        self._io = io
        self._segments = segments
        self._limits = limits
        self._info = TerminalInfo(
            id=terminal_id, title=title, kind=kind, cols=cols, rows=rows, opened_by=opened_by
        )
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending: list[str] = []
        self._pending_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._sealing = False
        self._wake = asyncio.Event()
        self._settled = asyncio.Event()
        self._space = asyncio.Event()
        self._failure: Exception | None = None
        self._writer: SegmentWriter
        self._sealer: asyncio.Task[None] | None = None
        self._text: Text

    @property
    def info(self) -> TerminalInfo:
        return self._info

    async def __aenter__(self) -> TerminalRecorder:
        migrate(self._io, DocKind.SESSION_IO, origin=ORIGIN)
        with self._io.transaction(origin=ORIGIN):
            self._text = self._output_text()
            last = self._last_segment()
            sealed = last.first + last.count if last else self._sealed_before()
            self._set_info(sealed_chars=sealed)
        self._writer = SegmentWriter(
            self._segments,
            self.terminal_id,
            last=last,
            first=sealed,
            segment_chars=self._limits.segment_chars,
            piece_chars=self._limits.piece_chars,
        )
        self._sealer = asyncio.create_task(self._seal_loop(), name=f"seal {self.terminal_id}")
        if self._over_window():
            self._wake.set()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await asyncio.wait_for(self._drain(), self._limits.close_timeout_s)
        except (TimeoutError, TraceError) as error:
            log.warning("terminal output not fully sealed", extra={"error": repr(error)})
        finally:
            if self._timer is not None:
                self._timer.cancel()
            if self._sealer is not None:
                self._sealer.cancel()
                await asyncio.gather(self._sealer, return_exceptions=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._writer.aclose(), self._limits.close_timeout_s)

    # -- what the terminal reports ------------------------------------------------

    async def feed(self, data: bytes) -> None:
        """Record output read from the PTY (waits while too much is unsealed)."""
        self._check_failure()
        held = len(self._decoder.getstate()[0])
        text = self._decoder.decode(data)
        if text:
            # The bytes decoded, without encoding again; replacements change the size.
            size = len(data) + held - len(self._decoder.getstate()[0])
            self._add(text, utf8_len(text) if "\ufffd" in text else size)
        while self._pending_bytes > self._limits.pending_bytes:
            self._space.clear()
            await self._space.wait()
            self._check_failure()

    def resized(self, cols: int, rows: int) -> None:
        self._set_info(cols=cols, rows=rows)

    async def finish(self, exit_code: int | None) -> None:
        """Record the last output, then that the program ended with ``exit_code``."""
        tail = self._decoder.decode(b"", final=True)
        if tail:
            self._add(tail, utf8_len(tail))
        await self._drain()
        self._set_info(state="exited", exit_code=exit_code)

    # -- gathering and flushing ---------------------------------------------------

    def _add(self, text: str, size: int) -> None:
        self._pending.append(text)
        self._pending_bytes += size
        if self._pending_bytes >= self._limits.flush_bytes:
            self._flush()
        elif self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._limits.flush_s, self._flush)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending or self._sealing:
            return  # the seal in progress appends what waits when it is done
        if self._over_window():
            self._wake.set()
            return
        with self._io.transaction(origin=ORIGIN):
            self._append_pending()

    def _append_pending(self) -> None:
        if self._pending:
            self._text.insert(len(self._text), "".join(self._pending))
            self._pending, self._pending_bytes = [], 0
        self._space.set()

    def _over_window(self) -> bool:
        return len(self._text) + self._pending_bytes > self._limits.window_bytes

    async def _drain(self) -> None:
        """Until everything fed is in the window or sealed."""
        while True:
            self._check_failure()
            if not self._sealing:
                if not self._over_window():
                    with self._io.transaction(origin=ORIGIN):
                        self._append_pending()
                    return
                self._wake.set()
            self._settled.clear()
            await self._settled.wait()

    # -- sealing -----------------------------------------------------------------

    async def _seal_loop(self) -> None:
        try:
            while True:
                try:
                    await asyncio.wait_for(self._wake.wait(), self._limits.idle_close_s)
                except TimeoutError:
                    await self._writer.idle()
                    continue
                self._wake.clear()
                await self._seal_all()
        except Exception as error:
            # Surfaced to the next feed()/finish(), not swallowed.
            log.error("sealing terminal output failed", exc_info=error)
            self._failure = error
            self._settled.set()
            self._space.set()

    async def _seal_all(self) -> None:
        self._sealing = True
        try:
            while self._over_window():
                await self._seal_once()
            with self._io.transaction(origin=ORIGIN):
                self._append_pending()
        finally:
            self._sealing = False
            self._settled.set()

    async def _seal_once(self) -> None:
        live = str(self._text)
        waiting, waiting_bytes = "".join(self._pending), self._pending_bytes
        self._pending = [waiting] if waiting else []
        combined = live + waiting
        cut = seal_point(combined, self._limits.window_bytes // 4)
        touched = await self._writer.write(combined[:cut])
        from_live = min(cut, len(live))
        with self._io.transaction(origin=ORIGIN):
            del self._text[0 : utf8_len(live[:from_live])]
            self._drop_pending(cut - from_live, waiting_bytes)
            for segment in touched:
                self._reference(segment)
            self._set_info(sealed_chars=self._info.sealed_chars + cut)
            if not self._over_window():
                self._append_pending()

    def _drop_pending(self, chars: int, first_bytes: int) -> None:
        """Drop sealed ``chars`` from the first pending string (of ``first_bytes``)."""
        if chars:
            kept = self._pending[0][chars:]  # within the window: short
            self._pending[0] = kept
            self._pending_bytes += utf8_len(kept) - first_bytes

    def _reference(self, segment: SegmentState) -> None:
        ref = SegmentRef(
            name=segment.name,
            kind="terminal",
            terminal_id=self.terminal_id,
            first=segment.first,
            count=segment.count,
            at=datetime.now(UTC),
        )
        value = ref.model_dump(mode="json", exclude_none=True)
        refs = root_of(self._io, SESSION_IO, "segments")
        index = segment.index
        if index is not None and index < len(refs) and refs[index].get("name") == segment.name:
            refs[index] = value
        else:
            segment.index = len(refs)
            refs.append(value)

    # -- the document ------------------------------------------------------------

    def _output_text(self) -> Text:
        output = root_of(self._io, SESSION_IO, "output")
        text = output.get(self.terminal_id)
        if not isinstance(text, Text):
            output[self.terminal_id] = text = Text()
        return text

    def _last_segment(self) -> SegmentState | None:
        last: SegmentState | None = None
        ours = re.compile(rf"{re.escape(self.terminal_id)}-(\d+)")
        for index, ref in enumerate(read_array(self._io, SESSION_IO, "segments")):
            if not isinstance(ref, SegmentRef) or ref.terminal_id != self.terminal_id:
                continue
            if match := ours.fullmatch(ref.name):
                last = SegmentState(ref.name, int(match[1]), ref.first, ref.count, index)
        return last

    def _sealed_before(self) -> int:
        info = read_map(self._io, SESSION_IO, "terminals").get(self.terminal_id)
        return info.sealed_chars if isinstance(info, TerminalInfo) else 0

    def _set_info(self, **changes: Any) -> None:
        self._info = self._info.model_copy(update=changes)
        put(self._io, SESSION_IO, "terminals", self.terminal_id, self._info, origin=ORIGIN)

    def _check_failure(self) -> None:
        if self._failure is not None:
            raise self._failure


def utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


def seal_point(text: str, keep_bytes: int) -> int:
    """How many characters of ``text`` to seal so at most ``keep_bytes`` of
    UTF-8 stay, ending after a line break when one is near."""
    tail = text[-keep_bytes:] if keep_bytes > 0 else ""
    extra = utf8_len(tail) - keep_bytes
    if extra > 0:
        raw = tail.encode()
        start = extra
        while start < len(raw) and raw[start] & 0xC0 == 0x80:
            start += 1  # not inside a character
        tail = raw[start:].decode()
    cut = len(text) - len(tail)
    newline = text.find("\n", cut, cut + LINE_SLACK)
    return newline + 1 if newline != -1 else cut
